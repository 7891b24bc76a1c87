"""The download layer against a real HTTP server on 127.0.0.1 (no outside network needed)."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
import time
from functools import partial

import pytest
from conftest import closed_port

from tlcourse import assets

PAYLOAD = b"tlcourse test asset\n" * 100


@pytest.fixture
def server(tmp_path):
    """Serve tmp_path/'www' over HTTP on a free loopback port; yields the base URL."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "good.bin").write_bytes(PAYLOAD)
    (root / "corrupt.bin").write_bytes(PAYLOAD[:-5] + b"EVIL\n")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def silent_port():
    """A loopback port that accepts TCP connections and never answers (traffic 'dropped')."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


def add_asset(monkeypatch, url, name="testfile", fallback=None):
    asset = assets.Asset(name=name, url=url, sha256=hashlib.sha256(PAYLOAD).hexdigest(),
                         size=len(PAYLOAD), licence="test", description="test file",
                         fallback=fallback)
    monkeypatch.setitem(assets.REGISTRY, name, asset)
    return asset


def test_good_file_is_downloaded_then_cached(isolated_env, server, monkeypatch):
    add_asset(monkeypatch, f"{server}/good.bin")
    got = assets.fetch("testfile")
    assert got.source == "online" and got.value.read_bytes() == PAYLOAD
    assert assets.status("testfile") == "cache"
    again = assets.fetch("testfile")
    assert again.source == "cache" and again.value == got.value


def test_corrupt_download_is_rejected_and_not_kept(isolated_env, server, monkeypatch):
    add_asset(monkeypatch, f"{server}/corrupt.bin")
    with pytest.raises(assets.AssetUnavailable, match="wrong checksum|Fix"):
        assets.fetch("testfile")
    assert assets.status("testfile") == "missing"


def test_corrupt_cached_file_is_replaced(isolated_env, server, monkeypatch):
    add_asset(monkeypatch, f"{server}/good.bin")
    path = assets.cached_path("testfile")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"truncated")
    assert assets.status("testfile") == "corrupt"
    got = assets.fetch("testfile")
    assert got.source == "online" and got.value.read_bytes() == PAYLOAD


def test_corrupt_cached_file_offline_is_reported_with_fix(isolated_env, monkeypatch):
    add_asset(monkeypatch, "http://127.0.0.1:9/good.bin")
    monkeypatch.setenv("TLCOURSE_OFFLINE", "1")
    path = assets.cached_path("testfile")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"truncated")
    with pytest.raises(assets.AssetUnavailable, match="corrupt cached copy was removed.*Fix"):
        assets.fetch("testfile")


@pytest.mark.parametrize("kind", ["closed", "silent"])
def test_unreachable_host_falls_back_within_10s(isolated_env, monkeypatch, capsys, silent_port, kind):
    port = closed_port() if kind == "closed" else silent_port
    add_asset(monkeypatch, f"http://127.0.0.1:{port}/good.bin")
    # the probe alone would accept the silent port: make it do the real download attempt
    start = time.monotonic()

    def online():
        return assets.fetch("testfile")

    got = assets.with_fallback("test file", online, lambda: assets.Sourced("offline copy", "offline", "x"),
                               "the bundled copy")
    elapsed = time.monotonic() - start
    assert got.value == "offline copy" and got.source == "offline"
    assert elapsed < 10, f"fallback took {elapsed:.1f} s"
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert lines == ["offline: test file unreachable, using the bundled copy"]


def test_offline_mode_never_touches_the_network(isolated_env, monkeypatch, capsys):
    monkeypatch.setenv("TLCOURSE_OFFLINE", "1")

    def boom():
        raise AssertionError("online path called in offline mode")

    got = assets.with_fallback("X", boom, lambda: assets.Sourced(1, "offline", "y"), "Y")
    assert got.value == 1
    assert "TLCOURSE_OFFLINE=1" in capsys.readouterr().out


def test_online_only_mode_raises_instead_of_falling_back(isolated_env, monkeypatch):
    monkeypatch.setenv("TLCOURSE_OFFLINE", "0")

    def fail():
        raise assets.AssetUnavailable("host unreachable")

    with pytest.raises(assets.AssetUnavailable, match="TLCOURSE_OFFLINE=0"):
        assets.with_fallback("X", fail, lambda: assets.Sourced(1, "offline", "y"), "Y")


def test_folder_mirror_is_tried_first(isolated_env, monkeypatch, tmp_path):
    add_asset(monkeypatch, f"http://127.0.0.1:{closed_port()}/good.bin")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "good.bin").write_bytes(PAYLOAD)
    monkeypatch.setenv("TLCOURSE_MIRROR", str(mirror))
    got = assets.fetch("testfile")
    assert got.source == "mirror" and got.value.read_bytes() == PAYLOAD


def test_corrupt_mirror_file_is_refused(isolated_env, monkeypatch, tmp_path):
    add_asset(monkeypatch, f"http://127.0.0.1:{closed_port()}/good.bin")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "good.bin").write_bytes(b"wrong bytes")
    monkeypatch.setenv("TLCOURSE_MIRROR", str(mirror))
    with pytest.raises(assets.AssetUnavailable, match="fails its SHA-256 check"):
        assets.fetch("testfile")


def test_url_mirror(isolated_env, server, monkeypatch):
    add_asset(monkeypatch, f"http://127.0.0.1:{closed_port()}/good.bin")
    monkeypatch.setenv("TLCOURSE_MIRROR", server)
    got = assets.fetch("testfile")
    assert got.source == "mirror"


def test_shared_mirror_serves_rotten_tomatoes(mirror_env):
    got = assets.fetch("rotten_tomatoes")
    assert got.source == "mirror" and got.value.stat().st_size == assets.get("rotten_tomatoes").size


def test_unknown_asset_names_the_choices():
    with pytest.raises(ValueError, match="registered assets are: .*mnist"):
        assets.fetch("mnist_full")


def test_reachable_rejects_non_http():
    with pytest.raises(ValueError, match="http"):
        assets.reachable("ftp://example.org/x")


def test_offline_stand_ins_are_installed():
    for key, off in assets.OFFLINE.items():
        assert off.locate().exists(), key
