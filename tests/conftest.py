"""Shared test set-up: an isolated cache per test session and the offline mirror when present."""

from __future__ import annotations

import collections
import functools
import http.server
import os
import socket
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_ASSETS = ROOT.parent / "shared" / "assets"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """A fresh empty cache, no mirror, automatic network mode, forgotten network probes."""
    from tlcourse import assets

    monkeypatch.setenv("TLCOURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TLCOURSE_MIRROR", raising=False)
    monkeypatch.delenv("TLCOURSE_OFFLINE", raising=False)
    assets.forget_probes()
    yield tmp_path
    assets.forget_probes()


@pytest.fixture
def mirror_env(isolated_env, monkeypatch):
    """Like isolated_env, with TLCOURSE_MIRROR at ../shared/assets (skipped where absent)."""
    if not SHARED_ASSETS.is_dir():
        pytest.skip("../shared/assets is not next to this checkout")
    monkeypatch.setenv("TLCOURSE_MIRROR", str(SHARED_ASSETS))
    return isolated_env


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; counts requests; ``/half/NAME`` sends half of NAME without a
    Content-Length and closes the connection (a download cut off halfway)."""

    hits: collections.Counter

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 - the http.server name
        self.hits[self.path] += 1
        if self.path.startswith("/half/"):
            data = (Path(self.directory) / self.path[len("/half/"):]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def serve():
    """``serve(folder)`` -> base URL of an HTTP server on 127.0.0.1 for ``folder``; the
    returned URL's server counts requests in ``serve.hits[path]``; ``serve.stop()`` stops them."""
    servers = []

    def start(folder):
        hits = collections.Counter()
        handler = type("H", (_Handler,), {"hits": hits})
        httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        start.hits = hits
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    def stop():
        while servers:
            httpd = servers.pop()
            httpd.shutdown()
            httpd.server_close()

    start.stop = stop
    yield start
    stop()


def closed_port() -> int:
    """A loopback port where nothing listens."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port
