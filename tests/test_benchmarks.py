"""The benchmark scripts' shared notebook runner (benchmarks/results.py), on tiny notebooks."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import results  # noqa: E402

HARVEST = ('import json, os\nprint("progress 100%", end="\\r")\n'
           'print("BENCH" + json.dumps({"quick": os.environ["TLCOURSE_QUICK"], "x": x}))')


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nbformat.write(nb, path)
    return path


def test_run_notebook_harvests_figures_and_restores_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TLCOURSE_QUICK", "keep me")
    monkeypatch.delenv("TLCOURSE_BENCH_TEST", raising=False)
    path = _notebook(tmp_path / "nb.ipynb", "x = 21 * 2",
                     "import os\nassert os.environ['TLCOURSE_BENCH_TEST'] == 'set'")
    saved = tmp_path / "out" / "executed.ipynb"
    run = results.run_notebook(path, quick=True, harvest=HARVEST, save=saved,
                               env={"TLCOURSE_BENCH_TEST": "set"})
    assert run.ok, run.status
    assert run.data == {"quick": "1", "x": 42}
    assert 0 <= run.cells_wall_s <= run.wall_s
    assert run.cpu_s > 0 and len(run.load) == 2
    # the caller's environment is as it was, and the source notebook has no outputs
    assert os.environ["TLCOURSE_QUICK"] == "keep me" and "TLCOURSE_BENCH_TEST" not in os.environ
    assert not nbformat.read(path, as_version=4).cells[0].get("outputs")
    assert nbformat.read(saved, as_version=4).cells[-1].outputs  # the executed copy has them


def test_run_notebook_records_or_raises_a_failure(tmp_path):
    path = _notebook(tmp_path / "bad.ipynb", "raise ValueError('broken lesson')")
    run = results.run_notebook(path, quick=False)
    assert not run.ok and run.status.startswith("FAILED:") and "broken lesson" in run.status
    assert run.data == {}
    with pytest.raises(Exception, match="broken lesson"):
        results.run_notebook(path, quick=False, raise_on_error=True)


def test_write_section_replaces_only_its_own_section(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "RESULTS", tmp_path / "RESULTS.md")
    results.write_section("alpha", "## A\n\nfirst-figure")
    results.write_section("beta", "## B\n\nsecond-figure")
    results.write_section("alpha", "## A\n\nthird-figure")
    text = (tmp_path / "RESULTS.md").read_text()
    assert "third-figure" in text and "first-figure" not in text and "second-figure" in text
    assert text.index("alpha:start") < text.index("beta:start")
    with pytest.raises(ValueError, match="lowercase"):
        results.write_section("Bad Name", "x")
