"""A classroom on one cache, with real processes: a teacher fills it with ``download`` through an
HTTP mirror and 8 kernels read it at the same moment (one as another user); then 8 kernels fill an
empty cache from a folder mirror at once. Nothing fails, every byte is right, the work is done
once. Each round runs 5 times."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import ROOT, closed_port

ROUNDS = 5
READERS = 8
NOBODY = 65534

#: run in every child: registers the classroom's two files (one with a published SHA-256, one
#: with only a structural check, like Keras' weights) and nothing else
CHILD = r"""
import hashlib, json, os, sys, time
from pathlib import Path
from tlcourse import assets, config, __main__ as cli
import pooch, filelock, requests.utils  # imported before a drop to another user

spec = json.loads(os.environ["CLASSROOM"])

def framed(path):
    data = Path(path).read_bytes()
    if not (data.startswith(b"MAGIC") and data.endswith(b"END")):
        raise ValueError("not a complete file")

assets.REGISTRY.clear()
for name, (sha, size) in spec["files"].items():
    assets.register(assets.Asset(name=name, url=spec["canonical"] + "/" + name,
                                 sha256=sha if name.endswith(".bin") else None, size=size,
                                 licence="test", description="classroom file",
                                 check=None if name.endswith(".bin") else framed))
if os.environ.get("AS_NOBODY"):
    os.setgid(65534)
    os.setuid(65534)
if sys.argv[1] == "download":
    import tlcourse.sentiment
    cli.text.ENCODERS = {}
    cli._register_all = lambda: None  # the classroom's files only
    tlcourse.sentiment.ready_made_classifier = lambda: "not part of this classroom"
    sys.exit(cli.main(["download"]))
Path(spec["go"] + f".ready{os.getpid()}").touch()
while not os.path.exists(spec["go"]):  # every reader starts at the same moment
    time.sleep(0.002)
out = {"uid": os.getuid()}
for name, (sha, size) in spec["files"].items():
    got = assets.fetch(name)
    out[name] = [got.source, hashlib.sha256(Path(got.value).read_bytes()).hexdigest() == sha,
                 assets.status(name)]
print("RESULT " + json.dumps(out))
"""


@pytest.fixture
def classroom(serve):
    """A folder every user can reach, holding the mirror's files and the child script."""
    base = Path(tempfile.mkdtemp(prefix="tlcourse-class-", dir="/tmp"))
    base.chmod(0o755)
    www = base / "www"
    www.mkdir()
    files = {}
    for name, size in (("lesson_data.bin", 300_000), ("weights.h5", 3_000_000)):
        data = b"MAGIC" + os.urandom(size) + b"END"
        (www / name).write_bytes(data)
        files[name] = (hashlib.sha256(data).hexdigest(), len(data))
    (base / "child.py").write_text(CHILD)
    yield base, files, serve(www), serve.hits
    shutil.rmtree(base, ignore_errors=True)


def can_drop_to_nobody() -> str | None:
    if not hasattr(os, "setuid") or os.geteuid() != 0:
        return "not root: cannot start a reader as another user"
    return None


def start(base, args, env, nobody=False):
    env = {**env, **({"AS_NOBODY": "1"} if nobody else {})}
    return subprocess.Popen([sys.executable, str(base / "child.py"), *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def results(procs, go: Path):
    """Let all readers go at once, when every one of them is ready; their results."""
    deadline = time.monotonic() + 120
    while len(list(go.parent.glob(go.name + ".ready*"))) < len(procs):
        assert time.monotonic() < deadline, "readers did not start"
        time.sleep(0.01)
    go.touch()
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=180)
        assert proc.returncode == 0, stderr[-3000:]
        out.append(json.loads(stdout.split("RESULT ", 1)[1]))
    return out


def child_env(base, files, canonical, cache, mirror, go=None):
    spec = {"files": files, "canonical": canonical, "go": str(go)}
    return {**os.environ, "PYTHONPATH": str(ROOT), "TLCOURSE_CACHE": str(cache),
            "TLCOURSE_MIRROR": mirror, "CLASSROOM": json.dumps(spec),
            "TMPDIR": str(base / "tmp")}


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_teacher_downloads_through_http_mirror_then_eight_readers(classroom, round_):
    base, files, url, hits = classroom
    (base / "tmp").mkdir(mode=0o777, exist_ok=True)
    (base / "tmp").chmod(0o777)
    cache = base / f"cache{round_}"
    canonical = f"http://127.0.0.1:{closed_port()}"  # the canonical host is down: mirror only
    env = child_env(base, files, canonical, cache, url)
    teacher = start(base, ["download"], env)
    out, err = teacher.communicate(timeout=180)
    assert teacher.returncode == 0, out + err
    assert "download: done" in out
    assert {path: hits[path] for path in hits} == {f"/{name}": 1 for name in files}
    for path in cache.rglob("*"):
        mode = path.stat().st_mode & 0o777
        assert mode & 0o055 == 0o055 if path.is_dir() else mode & 0o044 == 0o044, (path, oct(mode))
    skip = can_drop_to_nobody()
    go = base / "tmp" / f"go{round_}"  # a folder every reader may write in
    env = child_env(base, files, canonical, cache, url, go)
    procs = [start(base, ["read"], env, nobody=(i == 0 and skip is None)) for i in range(READERS)]
    got = results(procs, go)
    for one in got:
        for name in files:
            assert one[name] == ["cache", True, "cache"], one
    assert {path: hits[path] for path in hits} == {f"/{name}": 1 for name in files}  # no refetch
    if skip is None:
        assert got[0]["uid"] == NOBODY
    else:
        pytest.skip(f"7 readers passed; {skip}")


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_eight_kernels_fill_an_empty_cache_from_a_folder_mirror(classroom, round_):
    base, files, _url, _hits = classroom
    (base / "tmp").mkdir(mode=0o777, exist_ok=True)
    cache = base / f"empty{round_}"
    go = base / "tmp" / f"go-empty{round_}"
    env = child_env(base, files, f"http://127.0.0.1:{closed_port()}", cache, str(base / "www"), go)
    got = results([start(base, ["read"], env) for _ in range(READERS)], go)
    for name in files:
        sources = sorted(one[name][0] for one in got)
        assert sources == ["cache"] * (READERS - 1) + ["mirror"], (name, sources)  # copied once
        assert all(one[name][1] and one[name][2] == "cache" for one in got)
    assert not [p for p in cache.rglob(".part-*")]


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_eight_kernels_fill_an_empty_cache_through_an_http_mirror(classroom, round_):
    """Once 7 of 8 processes downloaded the same file again: now one downloads, 7 wait."""
    base, files, url, hits = classroom
    (base / "tmp").mkdir(mode=0o777, exist_ok=True)
    go = base / "tmp" / f"go-http{round_}"
    env = child_env(base, files, f"http://127.0.0.1:{closed_port()}", base / f"http{round_}", url, go)
    got = results([start(base, ["read"], env) for _ in range(READERS)], go)
    for name in files:
        assert sorted(one[name][0] for one in got) == ["cache"] * (READERS - 1) + ["mirror"]
        assert all(one[name][1] for one in got)
    assert {path: hits[path] for path in hits} == {f"/{name}": 1 for name in files}
