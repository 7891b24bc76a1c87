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


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc/<pid>/status")
def test_run_notebook_records_the_kernels_peak_memory_per_cell(tmp_path):
    # cell 1 holds 300 MB and frees it: the peak stays, the current memory falls back
    path = _notebook(tmp_path / "mem.ipynb", "x = 1",
                     "import numpy as np\nbig = np.ones(300_000_000 // 8)\ndel big", "y = 2")
    run = results.run_notebook(path, quick=True)
    assert run.ok, run.status
    assert [index for index, _peak, _now in run.cells_peak_mb] == [0, 1, 2]
    (_, peak0, now0), (_, peak1, now1), (_, peak2, now2) = run.cells_peak_mb
    assert peak1 - peak0 >= 290 and peak2 == pytest.approx(peak1)
    assert now2 < peak2 - 250  # the array was freed; the high-water mark keeps it
    assert run.peak_rss_mb == pytest.approx(peak2)


def test_process_memory_mb_reads_this_process_and_refuses_a_missing_one():
    reading = results.process_memory_mb(os.getpid())
    assert reading is not None and reading[0] >= reading[1] > 10
    assert results.process_memory_mb(2**22 + 12345) is None  # above Linux's largest pid


def test_time_notebooks_writes_time_memory_load_and_command(tmp_path, monkeypatch):
    import time_notebooks

    lessons = tmp_path / "notebooks"
    lessons.mkdir()
    _notebook(lessons / "00_tiny.ipynb", "import numpy as np\nbig = np.ones(200_000_000 // 8)")
    monkeypatch.setattr(time_notebooks, "NOTEBOOKS", lessons)
    monkeypatch.setattr(time_notebooks, "ROOT", tmp_path)
    monkeypatch.setattr(results, "RESULTS", tmp_path / "RESULTS.md")
    assert time_notebooks.main(["--modes", "quick", "--no-solutions"]) == 0
    text = (tmp_path / "RESULTS.md").read_text()
    assert "Command: `python benchmarks/time_notebooks.py --modes quick --no-solutions`" in text
    row = next(line for line in text.splitlines() if "00_tiny.ipynb" in line)
    _name, times, memory, load = [c.strip() for c in row.strip("|").split("|")]
    wall, cpu = (float(v) for v in times.split(" / "))
    assert wall > 0 and cpu >= 0
    assert float(memory.split()[0]) >= 0.2 and memory.endswith("(cell 0)")
    assert all(float(v) >= 0 for v in load.split("-"))


def test_lesson07_benchmarks_find_each_lesson_cell_they_run_exactly_once():
    # the scripts run the lesson's own cells, found by a line they contain: a renamed cell must
    # break them here, not halfway through a half-hour run
    import levers_lesson07
    import stage2_lesson07

    cells = [c.source for c in nbformat.read(levers_lesson07.NOTEBOOK, as_version=4).cells
             if c.cell_type == "code"]
    for marker in {*levers_lesson07.CELLS, *stage2_lesson07.CELLS, stage2_lesson07.SETTINGS_LINE}:
        assert sum(marker in c for c in cells) == 1, marker
    assert sum("SEED = 0" in c for c in cells) == 1


def test_stage2_summary_applies_the_lessons_rule_and_scores_the_ensemble():
    import stage2_lesson07

    y_val, y_test = [0, 0, 1, 1], [0, 1, 1, 0]
    # setting A: the better last-epoch validation accuracy, and its 8 views do not lower it
    a = {"variant": "A", "last val": 0.75, "val 1": [0.1, 0.6, 0.9, 0.8], "val 8": [0.1, 0.2, 0.9, 0.8],
         "test 1": [0.1, 0.9, 0.9, 0.1], "test 8": [0.1, 0.2, 0.9, 0.1]}
    b = {"variant": "B", "last val": 0.5, "val 1": [0.9, 0.2, 0.9, 0.9], "val 8": [0.9, 0.2, 0.9, 0.9],
         "test 1": [0.2, 0.8, 0.8, 0.2], "test 8": [0.2, 0.8, 0.8, 0.2]}
    out = stage2_lesson07.summarise({"seed": 0, "rows": [a, b], "y_val": y_val, "y_test": y_test,
                                     "seconds": 1.0, "load": 0.5})
    assert out["lesson"] == ("A", 1.0, 0.75, "8")  # val 8 views 4/4 >= 1 view 3/4: the 8 views
    assert out["variants"]["ensemble"]["test 1"] == 1.0  # the mean of A and B's probabilities
    assert out["with ensemble"][0] == "A"  # the ensemble is lower on validation (3 of 4)
    assert out["cells"] == (4, 4)


def test_layers_benchmark_names_layers_of_mobilenetv2():
    import keras
    import layers_lesson07

    names = {layer.name for layer in keras.applications.MobileNetV2(
        weights=None, include_top=False, input_shape=(64, 64, 3)).layers}
    assert set(layers_lesson07.LAYERS) <= names
    assert layers_lesson07.LAYERS[-1] == "out_relu"  # the lesson's own features come last
