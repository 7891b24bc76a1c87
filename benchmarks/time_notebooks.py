"""Time every notebook in quick and full mode and record the figures in RESULTS.md.

    .venv/bin/python benchmarks/time_notebooks.py                 # quick and full, all lessons
    .venv/bin/python benchmarks/time_notebooks.py --modes quick   # quick mode only
    .venv/bin/python benchmarks/time_notebooks.py --only 03 04    # some lessons

Each notebook runs in a fresh kernel (nbclient), as a learner would run it from the top.
A failing notebook is recorded as failed, with the error's last line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import stamp, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def run(path: Path, quick: bool) -> tuple[float, str]:
    env_quick = os.environ.get("TLCOURSE_QUICK")
    os.environ["TLCOURSE_QUICK"] = "1" if quick else "0"
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=3600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
        status = "ok"
    except Exception as exc:  # record the failure and go on with the other notebooks
        status = "FAILED: " + str(exc).strip().splitlines()[-1][:120]
    finally:
        if env_quick is None:
            os.environ.pop("TLCOURSE_QUICK", None)
        else:
            os.environ["TLCOURSE_QUICK"] = env_quick
    return time.perf_counter() - start, status


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", nargs="+", default=["quick", "full"], choices=["quick", "full"])
    parser.add_argument("--only", nargs="*", default=None, help="notebook number prefixes, e.g. 03")
    args = parser.parse_args(argv)
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) + sorted((NOTEBOOKS / "solutions").glob("*.ipynb"))
    if args.only:
        paths = [p for p in paths if p.name[:2] in args.only]
    rows = ["| notebook | " + " | ".join(f"{m} mode (s)" for m in args.modes) + " |",
            "|---|" + "---|" * len(args.modes)]
    failed = 0
    for path in paths:
        cells = []
        for mode in args.modes:
            seconds, status = run(path, quick=(mode == "quick"))
            print(f"{path.relative_to(ROOT)} [{mode}]: {seconds:.0f} s {status}", flush=True)
            cells.append(f"{seconds:.0f}" + ("" if status == "ok" else f" ({status})"))
            failed += status != "ok"
        rows.append(f"| `{path.relative_to(NOTEBOOKS)}` | " + " | ".join(cells) + " |")
    section = "_".join(["notebooks", *args.modes, *(args.only or [])])
    write_section(section, f"## Notebook run times ({', '.join(args.modes)})\n\n{stamp()}. "
                  "Each notebook executed from the top in a fresh kernel (nbclient), offline "
                  "mirror as configured in the environment.\n\n" + "\n".join(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
