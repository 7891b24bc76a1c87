"""Damaged, cut-off, full, read-only and misconfigured caches: each entry is checked, a damaged
one is removed and rebuilt in one announced line, and nothing half-written is ever left or used."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SHARED_ASSETS, closed_port

from tlcourse import assets, config, efficientnet_lite


def damage(path: Path, kind: str) -> None:
    """Truncate, flip bytes in, reshape, or garble the header of a cache entry."""
    data = bytearray(path.read_bytes())
    if kind == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "flip":
        mid = len(data) // 2
        data[mid:mid + 64] = bytes(b ^ 0xFF for b in data[mid:mid + 64])
        path.write_bytes(data)
    elif kind == "reshape":
        with open(path, "wb") as fh:
            np.save(fh, np.zeros((3, 7), np.float32))
    elif kind == "header":
        path.write_bytes(b"\x93NUMPY garbage" + bytes(data[14:]))
    elif kind == "no sidecar":
        assets.sidecar(path).unlink()


def leftovers(folder: Path) -> list[str]:
    """Files in ``folder`` other than entries, their sidecars and lock files."""
    return sorted(p.name for p in folder.rglob("*") if p.is_file() and p.name.startswith(".part-"))


# --------------------------------------------------------------------------- .npy entries
@pytest.mark.parametrize("kind", ["truncate", "flip", "reshape", "header", "no sidecar"])
def test_damaged_array_entry_is_removed_rebuilt_and_announced(isolated_env, capsys, kind):
    calls = []
    expected = np.arange(6000, dtype=np.float32).reshape(1000, 6)

    def compute():
        calls.append(1)
        return expected

    dest = config.cache_dir() / "features" / "entry.npy"
    first = assets.cached_array(dest, compute, "test features", shape=(1000, 6))
    assert len(calls) == 1 and np.array_equal(first, expected)
    assert oct(dest.stat().st_mode & 0o777) == oct(assets.FILE_MODE)
    assert assets.sidecar(dest).read_text().strip() == hashlib.sha256(dest.read_bytes()).hexdigest()
    capsys.readouterr()
    damage(dest, kind)
    again = assets.cached_array(dest, compute, "test features", shape=(1000, 6))
    assert len(calls) == 2 and np.array_equal(again, expected)
    out = [line for line in capsys.readouterr().out.splitlines() if line]
    assert len(out) == 1 and out[0].startswith("damaged cache entry") and "rebuilding" in out[0]
    third = assets.cached_array(dest, compute, "test features", shape=(1000, 6))
    assert len(calls) == 2 and np.array_equal(third, expected)
    assert not leftovers(dest.parent)


def test_feature_cache_flip_is_caught(tmp_path, capsys):
    import keras

    from tlcourse import features

    inp = keras.Input((5,))
    model = keras.Model(inp, keras.layers.Dense(3)(inp))
    x = np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32)
    cache = features.FeatureCache(tmp_path / "feats")
    want = cache.get("train", model, x, progress=False, verbose=False)
    entry = next((tmp_path / "feats").glob("*.npy"))
    damage(entry, "flip")
    fresh = features.FeatureCache(tmp_path / "feats")
    got = fresh.get("train", model, x, progress=False, verbose=False)
    assert fresh.log[-1]["source"] == "computed" and np.array_equal(got, want)
    assert "damaged cache entry" in capsys.readouterr().out


# --------------------------------------------------------------------------- downloads
def add_asset(monkeypatch, url, payload, name="testfile", sha=True, check=None, fallback=None):
    asset = assets.Asset(name=name, url=url, sha256=hashlib.sha256(payload).hexdigest() if sha
                         else None, size=len(payload), licence="test", description="test file",
                         fallback=fallback, check=check)
    monkeypatch.setitem(assets.REGISTRY, name, asset)
    return asset


def starts_with_magic(path):
    """The structural check of the test files: MAGIC ... END."""
    data = Path(path).read_bytes()
    if not (data.startswith(b"MAGIC") and data.endswith(b"END")):
        raise ValueError("not a complete test file")


@pytest.mark.parametrize("kind", ["truncate", "flip"])
def test_damaged_unhashed_download_is_fetched_again(isolated_env, serve, monkeypatch, capsys, kind):
    payload = b"MAGIC" + os.urandom(20_000) + b"END"
    (isolated_env / "www").mkdir()
    (isolated_env / "www" / "w.h5").write_bytes(payload)
    url = serve(isolated_env / "www")
    add_asset(monkeypatch, f"{url}/w.h5", payload, sha=False, check=starts_with_magic)
    got = assets.fetch("testfile")
    assert got.source == "online" and assets.sidecar(got.value).is_file()
    damage(got.value, kind)
    assert assets.status("testfile") == "corrupt"
    capsys.readouterr()
    again = assets.fetch("testfile")
    assert again.source == "online" and again.value.read_bytes() == payload
    assert "damaged cache entry" in capsys.readouterr().out
    assert serve.hits["/w.h5"] == 2


@pytest.mark.parametrize("sha", [True, False])
def test_download_cut_off_without_content_length_is_never_kept(isolated_env, serve, monkeypatch,
                                                                sha):
    payload = b"MAGIC" + os.urandom(200_000) + b"END"
    (isolated_env / "www").mkdir()
    (isolated_env / "www" / "w.h5").write_bytes(payload)
    url = serve(isolated_env / "www")
    add_asset(monkeypatch, f"{url}/half/w.h5", payload, sha=sha,
              check=None if sha else starts_with_magic)
    with pytest.raises(assets.AssetUnavailable, match="damaged|checksum|complete"):
        assets.fetch("testfile")
    assert serve.hits["/half/w.h5"] == 1
    folder = assets.cached_path("testfile").parent
    assert not assets.cached_path("testfile").exists() and not leftovers(folder)
    assert assets.status("testfile") == "missing"


# --------------------------------------------------------------------------- disk full
@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB tmpfs (skipped where mounting is not allowed)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a 2 MB tmpfs needs root and mount(8)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=False)


def test_disk_full_names_the_folder_and_bytes_and_leaves_nothing(tiny_disk, monkeypatch, serve,
                                                                 tmp_path):
    monkeypatch.setenv("TLCOURSE_CACHE", str(tiny_disk))
    monkeypatch.delenv("TLCOURSE_MIRROR", raising=False)
    monkeypatch.delenv("TLCOURSE_OFFLINE", raising=False)
    assets.forget_probes()
    big = np.ones((750_000,), np.float32)  # 3 MB
    with pytest.raises(assets.CacheFull, match=r"no space left in .*features.*3,000,128 bytes"):
        assets.cached_array(tiny_disk / "features" / "big.npy", lambda: big, "big")
    payload = os.urandom(3_000_000)
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "big.bin").write_bytes(payload)
    add_asset(monkeypatch, f"{serve(tmp_path / 'www')}/big.bin", payload)
    with pytest.raises(assets.CacheFull, match=r"downloads: big.bin needs 3,000,000 bytes"):
        assets.fetch("testfile")  # the size is published: refused before downloading
    import dataclasses

    monkeypatch.setitem(assets.REGISTRY, "testfile", dataclasses.replace(
        assets.get("testfile"), size=None))  # like Keras' files: the disk fills mid-download
    with pytest.raises(assets.CacheFull, match=r"downloads: big.bin needs more than the [\d,]+ "
                                               r"bytes written, [\d,]+ bytes are free"):
        assets.fetch("testfile")
    # the converted weights are refused before HDF5 writes a byte (it can crash at exit after
    # a failed write): the conversion passes the size it needs
    model = efficientnet_lite.build(include_top=False, input_size=32)
    with pytest.raises(assets.CacheFull, match=r"x.weights.h5 needs [\d,]+ bytes"):
        assets.write_atomic(tiny_disk / "x.weights.h5", model.save_weights,
                            nbytes=efficientnet_lite._h5_bytes(model))
    kept = [p.name for p in tiny_disk.rglob("*") if p.is_file() and not p.name.endswith(".lock")]
    assert kept == []


# --------------------------------------------------------------------------- read-only cache
READ_ONLY_CHILD = r"""
import json, sys
import numpy as np
from pathlib import Path
from tlcourse import assets, config, efficientnet_lite
out = {}
calls = []
def compute(value):
    calls.append(value)
    return np.full((4, 3), value, np.float32)
feats = config.cache_dir() / "features"
out["old"] = float(assets.cached_array(feats / "old.npy", lambda: compute(-1.0), "old")[0, 0])
out["new"] = float(assets.cached_array(feats / "new.npy", lambda: compute(2.0), "new")[0, 0])
out["new2"] = float(assets.cached_array(feats / "new2.npy", lambda: compute(3.0), "new2")[0, 0])
out["calls"] = calls
got = assets.fetch("rotten_tomatoes")
out["fetch"] = [got.source, str(got.value)]
print("RESULT " + json.dumps(out))
"""


#: what a child imports before it drops to the user nobody (who cannot read root's Python)
AS_NOBODY = ("import os, json, sys, tempfile, numpy, pooch, filelock, requests.utils, "
             "tlcourse.assets, tlcourse.config, tlcourse.data; "
             "os.setgid(65534); os.setuid(65534)\n")


def run_as_nobody(code, env, cwd):
    return subprocess.run([sys.executable, "-c", AS_NOBODY + code], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def world_readable_tmp(tmp_path) -> Path:
    """A folder every user can reach (pytest's own is private to its user)."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="tlcourse-test-", dir="/tmp"))
    folder.chmod(0o755)
    return folder


@pytest.fixture
def other_user_ok():
    if not hasattr(os, "setuid") or os.geteuid() != 0:
        pytest.skip("needs root to run a child process as another user (nobody)")
    probe = run_as_nobody("import tlcourse.features", {**os.environ, "PYTHONPATH": str(ROOT)}, ROOT)
    if probe.returncode:
        pytest.skip(f"a child cannot run as the user nobody here: {probe.stderr[-300:]}")


def test_read_only_cache_reads_what_is_there_and_keeps_new_results(other_user_ok, tmp_path):
    if not SHARED_ASSETS.is_dir():
        pytest.skip("../shared/assets is not next to this checkout")
    base = world_readable_tmp(tmp_path)
    try:
        cache = base / "cache"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TLCOURSE_CACHE": str(cache),
               "TLCOURSE_MIRROR": str(SHARED_ASSETS), "TLCOURSE_OFFLINE": "1",
               "TMPDIR": str(base / "tmp")}
        (base / "tmp").mkdir(mode=0o777)
        (base / "tmp").chmod(0o777)
        # the teacher (root) fills one entry; the cache is then read-only for the student
        pre = subprocess.run([sys.executable, "-c", (
            "import numpy as np; from tlcourse import assets, config;"
            "assets.cached_array(config.cache_dir()/'features'/'old.npy',"
            " lambda: np.full((4, 3), 1.0, np.float32), 'old')")], env=env, cwd=ROOT)
        assert pre.returncode == 0
        done = run_as_nobody(READ_ONLY_CHILD, env, ROOT)
        assert done.returncode == 0, done.stderr[-2000:]
        result = json.loads(done.stdout.split("RESULT ", 1)[1])
        assert result["old"] == 1.0 and result["new"] == 2.0 and result["new2"] == 3.0
        assert result["calls"] == [2.0, 3.0]  # the cached entry was read, not recomputed
        assert result["fetch"][0] == "mirror" and result["fetch"][1].startswith(str(base / "tmp"))
        notes = [line for line in done.stdout.splitlines() if "read-only" in line]
        assert len(notes) == 1, done.stdout
        assert "Traceback" not in done.stderr
    finally:
        shutil.rmtree(base, ignore_errors=True)


# --------------------------------------------------------------------------- malformed mirror
@pytest.mark.parametrize("value", ["http://", "http://127.0.0.1:99999/assets",
                                   "~nosuchuser/x", "ftp://example.org/x"])
def test_malformed_mirror_gets_one_line_and_the_normal_fallback(isolated_env, monkeypatch,
                                                                 capsys, value):
    from tlcourse import __main__ as cli
    from tlcourse import data

    monkeypatch.setenv("TLCOURSE_MIRROR", value)
    monkeypatch.setattr(config, "_mirror_warned", set())
    monkeypatch.setattr(assets, "reachable", lambda url, timeout=None: False)
    digits = data.load_mnist(n_train=100, n_test=50)
    assert digits.source == "offline" and len(digits.y_train) == 100
    assert cli.doctor(probe_network=False) in (0, 1)
    out = capsys.readouterr().out
    assert out.count("TLCOURSE_MIRROR=") == 1 and "is ignored" in out
    assert config.mirror() is None


def test_doctor_does_not_report_a_truncated_mirror_file(isolated_env, monkeypatch, capsys):
    from tlcourse import __main__ as cli

    if not SHARED_ASSETS.is_dir():
        pytest.skip("../shared/assets is not next to this checkout")
    mirror = isolated_env / "mirror"
    mirror.mkdir()
    name = assets.get("rotten_tomatoes").filename
    (mirror / name).write_bytes((SHARED_ASSETS / name).read_bytes()[:1000])
    monkeypatch.setenv("TLCOURSE_MIRROR", str(mirror))
    code = cli.doctor(probe_network=False)
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.strip().startswith("rotten_tomatoes"))
    assert "mirror" not in row and code == 1 and "all lesson assets available" not in out


# --------------------------------------------------------------------------- probe, unpickler
def test_probe_goes_through_the_proxy_and_honours_no_proxy(monkeypatch, serve, tmp_path):
    url = serve(tmp_path)
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY",
                "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    assets.forget_probes()
    monkeypatch.setenv("HTTPS_PROXY", url)  # a listening "proxy"
    assert assets.reachable("https://unreachable.invalid/x", timeout=2)
    assets.forget_probes()
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{closed_port()}")
    start = time.monotonic()
    assert not assets.reachable("https://www.kaggle.com/x", timeout=2)
    assert time.monotonic() - start < 5
    assets.forget_probes()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert assets.reachable(url + "/x", timeout=2)  # direct, not through the dead proxy
    assets.forget_probes()


def _long1(n: int) -> bytes:
    raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw


def _text(s: str) -> bytes:
    return b"X" + len(s).to_bytes(4, "little") + s.encode()


def test_unpickler_checks_announced_storage_size(tmp_path):
    from tlcourse import torchfile

    numel = 10**12
    storage = (b"(" + _text("storage") + b"ctorch\nFloatStorage\n" + _text("0") + _text("cpu")
               + _long1(numel) + b"Nt" + b"Q")
    tensor = (b"ctorch._utils\n_rebuild_tensor_v2\n(" + storage + b"K\x00" + _long1(numel)
              + b"\x85K\x01\x85tR")
    state = b"\x80\x02ccollections\nOrderedDict\n)R" + _text("w") + tensor + b"s."
    path = tmp_path / "huge.pth"
    with open(path, "wb") as fh:
        for part in (torchfile.LEGACY_MAGIC, torchfile.LEGACY_PROTOCOL, {"little_endian": True}):
            pickle.dump(part, fh, protocol=2)
        fh.write(state)
        pickle.dump(["0"], fh, protocol=2)
        fh.write(numel.to_bytes(8, "little") + b"\0" * 64)
    with pytest.raises(pickle.UnpicklingError, match="announces 4,000,000,000,000 bytes but only 64"):
        torchfile.load_state_dict(path)
