"""The Colab-runtime job (`make test-colab`): every notebook, alone, on Colab's package versions.

1. A Python 3.13 venv gets exactly Colab's versions of what the course touches
   (.ci/colab/runtime.txt, taken from Colab's published pip freeze; see tools/colab_runtime.py).
2. A kernel imports a stand-in ``google.colab`` at start (.ci/colab/google/colab), so the
   lessons' Colab cell runs as on Colab, installing the course from this checkout
   (TLCOURSE_PIP_SOURCE) and only what the runtime lacks.
3. Each notebook (lessons and solutions) is copied alone into an empty folder and run there
   in quick mode, offline, with the asset mirror, as `make test` runs them.
4. The unit tests run on the same versions (this checkout on the path), beside the notebooks.
5. The job fails if any notebook or test fails or if any package the runtime had changed
   version (`pip freeze` before and after). Packages added (the course, its stand-ins) are listed.

    python3 tools/colab_job.py --python /path/to/python3.13 [--venv .colab-venv] [--fresh]
        [--mirror DIR] [notebooks...]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PINS = ROOT / ".ci" / "colab" / "runtime.txt"
STUB = ROOT / ".ci" / "colab"  # holds google/colab/__init__.py
KERNEL = "colab"

RUNNER = r"""
import sys, nbformat
from nbclient import NotebookClient
path, folder = sys.argv[1], sys.argv[2]
nb = nbformat.read(path, as_version=4)
NotebookClient(nb, kernel_name=sys.argv[3], timeout=900,
               resources={"metadata": {"path": folder}}).execute()
"""


def run(cmd, **kw):
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def freeze(py: Path) -> dict[str, str]:
    out = subprocess.run([py, "-m", "pip", "freeze", "--all"], check=True, capture_output=True,
                         text=True).stdout
    found = {}
    for line in out.splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9_.\-]*)(?:==| @ )(.+)$", line)
        if m:
            found[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2).strip()
    return found


def build(python: str, venv: Path, fresh: bool) -> float:
    """Create the venv with Colab's pins (reused when the pins did not change); seconds spent."""
    start = time.monotonic()
    stamp = venv / ".colab-runtime"
    digest = hashlib.sha256(PINS.read_bytes()).hexdigest()
    if fresh and venv.exists():
        shutil.rmtree(venv)
    if stamp.exists() and stamp.read_text() == digest:
        print(f"{venv} already holds the pins of {PINS.name}")
        return 0.0
    if venv.exists():
        shutil.rmtree(venv)
    run([python, "-m", "venv", venv])
    py = venv / "bin" / "python"
    pip_pin = next(x for x in PINS.read_text().splitlines() if x.startswith("pip=="))
    run([py, "-m", "pip", "install", "-q", pip_pin])
    run([py, "-m", "pip", "install", "-q", "-r", PINS])
    spec = venv / "share" / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(py.absolute()), "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.exec_lines=['import google.colab']"],
        "display_name": "Python 3 (Colab runtime stand-in)", "language": "python",
        "env": {"PYTHONPATH": str(STUB)},
    }, indent=1))
    stamp.write_text(digest)
    return time.monotonic() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--python", default=os.environ.get("COLAB_PYTHON", ""),
                        help="a Python 3.13 interpreter (Colab's version)")
    parser.add_argument("--venv", default=str(ROOT / ".colab-venv"))
    parser.add_argument("--fresh", action="store_true", help="rebuild the venv from nothing")
    parser.add_argument("--mirror", default=str(ROOT.parent / "shared" / "assets"))
    parser.add_argument("notebooks", nargs="*")
    args = parser.parse_args(argv)
    python = args.python or shutil.which("python3.13") or ""
    if not python or not Path(python).exists():
        print("Python 3.13 (Colab's version) not found: install it (e.g. `pyenv install 3.13`) "
              "and run `make test-colab COLAB_PYTHON=/path/to/python3.13`", file=sys.stderr)
        return 2
    version = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2])"],
                             capture_output=True, text=True).stdout.split()
    if version != ["3", "13"]:
        print(f"{python} is Python {'.'.join(version)}, not 3.13 (Colab's)", file=sys.stderr)
        return 2
    venv = Path(args.venv).absolute()
    install_s = build(python, venv, args.fresh)
    py = venv / "bin" / "python"
    before = freeze(py)
    notebooks = [Path(n).absolute() for n in args.notebooks] or sorted(
        (ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb"))
    env = dict(os.environ, TLCOURSE_QUICK="1", TLCOURSE_OFFLINE="1",
               TLCOURSE_CACHE=str(ROOT / ".cache" / "tlcourse-colab"), TF_CPP_MIN_LOG_LEVEL="3",
               TLCOURSE_PIP_SOURCE=str(ROOT), PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("MPLBACKEND", None)  # Colab's kernel draws inline
    env.pop("PYTHONPATH", None)
    if Path(args.mirror).is_dir():
        env["TLCOURSE_MIRROR"] = str(Path(args.mirror).resolve())
    # the unit tests on Colab's versions too (ipywidgets 7's FileUpload, keras-hub 0.26's
    # checkpoint names, numpy 2.1, scikit-learn 1.6...), on this checkout, beside the notebooks
    # (each notebook uses about one core): their output is printed when they end
    unit_log = tempfile.TemporaryFile(mode="w+")
    unit_start = time.monotonic()
    units = subprocess.Popen([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests",
                              "--ignore=tests/browser"], stdout=unit_log, stderr=subprocess.STDOUT,
                             env={**{k: v for k, v in env.items() if k != "TLCOURSE_OFFLINE"},
                                  "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}, cwd=ROOT)  # as make unit
    results, run_start = [], time.monotonic()
    for nb in notebooks:
        rel = nb.relative_to(ROOT) if nb.is_relative_to(ROOT) else nb
        with tempfile.TemporaryDirectory(prefix="colab-nb-") as folder:
            shutil.copy(nb, folder)  # alone: nothing of the repository beside it
            start = time.monotonic()
            done = subprocess.run([py, "-c", RUNNER, str(Path(folder) / nb.name), folder, KERNEL],
                                  env=env, cwd=folder, capture_output=True, text=True)
            took = time.monotonic() - start
        ok = done.returncode == 0
        results.append((str(rel), ok, took))
        print(f"{'PASS' if ok else 'FAIL'} {rel} ({took:.0f} s)", flush=True)
        if not ok:
            print("\n".join((done.stdout + done.stderr).splitlines()[-40:]), flush=True)
    run_s = time.monotonic() - run_start
    units.wait()
    unit_log.seek(0)
    print(unit_log.read(), flush=True)
    results.append(("unit tests (tests/, Colab's versions)", units.returncode == 0,
                    time.monotonic() - unit_start))
    print(f"{'PASS' if units.returncode == 0 else 'FAIL'} {results[-1][0]} "
          f"({results[-1][2]:.0f} s, beside the notebooks)", flush=True)
    after = freeze(py)
    changed = {n: (v, after.get(n, "REMOVED")) for n, v in before.items() if after.get(n) != v}
    added = {n: v for n, v in after.items() if n not in before}
    pinned = {re.sub(r"[-_.]+", "-", x.split("==")[0]).lower()
              for x in PINS.read_text().splitlines() if "==" in x and not x.startswith("#")}
    unpinned = sorted(n for n in before if n not in pinned)
    print(f"\nColab-runtime job: {sum(ok for _, ok, _ in results)} of {len(results)} notebooks "
          f"and unit-test runs passed; venv install {install_s:.0f} s, notebooks {run_s:.0f} s; "
          f"load {open('/proc/loadavg').read().split()[:3] if Path('/proc/loadavg').exists() else '?'}")
    print("pip freeze before vs after: " + ("no preinstalled package changed version" if not changed
          else "CHANGED: " + ", ".join(f"{n} {a} -> {b}" for n, (a, b) in changed.items())))
    print("added by the notebooks: " + (", ".join(f"{n} {v}" for n, v in sorted(added.items()))
                                        or "nothing"))
    if unpinned:
        print("in the venv but not pinned (pip chose them, not in Colab's list): " + ", ".join(unpinned))
    failed = [r for r, ok, _ in results if not ok]
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed or changed else 0


if __name__ == "__main__":
    sys.exit(main())
