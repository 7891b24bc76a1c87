"""Shared test set-up: an isolated cache per test session and the offline mirror when present."""

from __future__ import annotations

import os
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
