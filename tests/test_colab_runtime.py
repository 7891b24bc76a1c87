"""The Colab-runtime pins and the script that refreshes them."""

import re
from pathlib import Path

from tools import colab_runtime

ROOT = Path(__file__).resolve().parents[1]


def test_pins_name_their_source_commit_and_cover_the_roots():
    text = colab_runtime.PINS.read_text()
    assert re.search(r"commit [0-9a-f]{40}", text)
    pins = colab_runtime.parse(text)
    missing = [r for r in colab_runtime.ROOTS if colab_runtime.norm(r) not in pins]
    assert not missing, missing
    assert pins["tensorflow"] == "tensorflow==2.20.0" and pins["ipywidgets"].startswith("ipywidgets==7")


def test_refresh_takes_new_versions_and_reports_dropped(tmp_path, monkeypatch):
    pins = tmp_path / "runtime.txt"
    pins.write_text("# old\nabsl-py==1.0\nsomething-gone==1.0\n")
    monkeypatch.setattr(colab_runtime, "PINS", pins)
    freeze = tmp_path / "pip-freeze.txt"
    roots = "\n".join(f"{r}==9.9" for r in colab_runtime.ROOTS)
    freeze.write_text(roots + "\nabsl_py==2.0\ngoogle-colab @ file:///colabtools/x.tar.gz\nunrelated==1\n")
    dropped = colab_runtime.refresh(str(freeze), "a" * 40, "2026-01-01", "test")
    out = pins.read_text()
    assert dropped == ["something-gone"]
    assert "absl_py==2.0" in out and "tensorflow==9.9" in out
    assert "unrelated" not in out and "google-colab" not in out and "a" * 40 in out


def test_stand_in_google_colab_keeps_google_a_namespace():
    assert (ROOT / ".ci" / "colab" / "google" / "colab" / "__init__.py").is_file()
    assert not (ROOT / ".ci" / "colab" / "google" / "__init__.py").exists()


def test_ci_runs_the_colab_job_beside_the_browser_after_make_test():
    run = (ROOT / ".ci" / "run").read_text()
    assert run.index("make test VENV") < run.index("make test-colab") < run.index("make test-browser")
    # the Colab job runs in the background: CI waits for it and fails when either job failed
    assert 'wait "$colab_pid" || colab_rc=$?' in run
    assert '[ "$browser_rc" -ne 0 ] || [ "$colab_rc" -ne 0 ]' in run
    assert "test-colab:" in (ROOT / "Makefile").read_text()
