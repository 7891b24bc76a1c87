"""tools/memory_limit.py: each notebook under a memory limit (a cgroup, as Binder sets one).

The end-to-end tests run pytest on two tiny notebooks in a subprocess; they need permission to
create memory cgroups (root in a container) and are skipped where it is missing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools import memory_limit

ROOT = Path(__file__).resolve().parents[1]


def test_sizes_parse_and_bad_sizes_name_the_fix():
    assert memory_limit.parse_size("1.8G") == 1_800_000_000
    assert memory_limit.parse_size("1800M") == 1_800_000_000
    assert memory_limit.parse_size("2Gi") == 2 * 2**30
    for bad in ("", "lots", "-1G", "1.8T"):
        with pytest.raises(pytest.UsageError, match="1.8G"):
            memory_limit.parse_size(bad)
    with pytest.raises(pytest.UsageError, match="below 100 MB"):
        memory_limit.parse_size("50M")


def _can_limit() -> bool:
    try:
        import nbformat  # noqa: F401
        import nbval  # noqa: F401 - the notebooks run under nbval, as in make notebooks-full
    except ImportError:
        return False
    try:
        memory_limit.Limiter(200 * 10**6)
    except OSError:
        return False
    return True


needs_cgroups = pytest.mark.skipif(not _can_limit(),
                                   reason="nbval missing, or no permission to create memory cgroups")


def _notebook(path, megabytes):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell(f"block = bytearray({megabytes} * 10**6)\n"
                                          "block[::4096] = b'1' * len(block[::4096])  # touch every page"),
                nbformat.v4.new_code_cell("print(len(block))")]
    nbformat.write(nb, path)
    return path


def _run(tmp_path, limit, *notebooks):
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-p", "tools.memory_limit", "--memory-limit", limit,
                          "--nbval-lax", "--nbval-current-env", "--rootdir", str(tmp_path),
                          *map(str, notebooks)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    return out, time.monotonic() - start


@needs_cgroups
def test_a_notebook_within_the_limit_passes_and_is_reported(tmp_path):
    small = _notebook(tmp_path / "small.ipynb", 50)
    out, _ = _run(tmp_path, "400M", small)
    assert out.returncode == 0, out.stdout[-2000:]
    assert "memory limit 0.40 GB per notebook" in out.stdout
    assert "small.ipynb: cgroup peak" in out.stdout and "OUT OF MEMORY" not in out.stdout


@needs_cgroups
def test_a_notebook_over_the_limit_fails_fast_and_says_why(tmp_path):
    big = _notebook(tmp_path / "big.ipynb", 600)
    small = _notebook(tmp_path / "small.ipynb", 50)
    out, seconds = _run(tmp_path, "400M", big, small)
    assert out.returncode == 1, out.stdout[-2000:]
    assert "out of memory, this notebook needs more than the 0.40 GB limit" in out.stdout
    assert "big.ipynb: cgroup peak" in out.stdout and "OUT OF MEMORY: killed" in out.stdout
    # the next notebook gets a new cgroup and a new kernel, and passes
    assert "small.ipynb: cgroup peak" in out.stdout
    assert "2 failed, 4 passed" in out.stdout, out.stdout[-2000:]
    assert seconds < 120  # nbval alone would wait its 2,000-s cell timeout for the dead kernel
