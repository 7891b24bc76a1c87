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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import run_notebook, stamp, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", nargs="+", default=["quick", "full"], choices=["quick", "full"])
    parser.add_argument("--only", nargs="*", default=None, help="notebook number prefixes, e.g. 03")
    args = parser.parse_args(argv)
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) + sorted((NOTEBOOKS / "solutions").glob("*.ipynb"))
    if args.only:
        paths = [p for p in paths if p.name[:2] in args.only]
    rows = ["| notebook | " + " | ".join(f"{m} mode: wall / kernel CPU (s)" for m in args.modes)
            + " |", "|---|" + "---|" * len(args.modes)]
    failed = 0
    loads = [os.getloadavg()[0]]
    for path in paths:
        cells = []
        for mode in args.modes:
            r = run_notebook(path, quick=(mode == "quick"))
            print(f"{path.relative_to(ROOT)} [{mode}]: {r.wall_s:.0f} s wall, {r.cpu_s:.0f} s "
                  f"CPU {r.status}", flush=True)
            cells.append(f"{r.wall_s:.0f} / {r.cpu_s:.0f}" + ("" if r.ok else f" ({r.status})"))
            failed += not r.ok
            loads.append(r.load[1])
        rows.append(f"| `{path.relative_to(NOTEBOOKS)}` | " + " | ".join(cells) + " |")
    section = "_".join(["notebooks", *args.modes, *(args.only or [])])
    write_section(section, f"## Notebook run times ({', '.join(args.modes)})\n\n{stamp()}. "
                  "Each notebook executed from the top in a fresh kernel (nbclient), offline "
                  "mirror as configured in the environment. Load average (1 min) from "
                  f"{min(loads):.1f} to {max(loads):.1f} on {os.cpu_count()} cores: above "
                  f"{os.cpu_count()}, other programs shared the CPU and wall times are "
                  "inflated.\n\n" + "\n".join(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
