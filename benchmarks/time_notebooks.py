"""Time every notebook in quick and full mode and record the figures in RESULTS.md.

    .venv/bin/python benchmarks/time_notebooks.py                 # quick and full, all lessons
    .venv/bin/python benchmarks/time_notebooks.py --modes quick   # quick mode only
    .venv/bin/python benchmarks/time_notebooks.py --only 03 04    # some lessons

Each notebook runs in a fresh kernel (nbclient), as a learner would run it from the top.
Per notebook and mode it records wall time, the kernel's CPU time, the kernel process's peak
resident memory (and the cell at which it was reached), the 1-minute load average at start and
end, and the command line that produced them. A failing notebook is recorded as failed, with
the error's last line. ``--cells`` also prints every cell's peak and current memory (to find
what holds it).
"""

from __future__ import annotations

import argparse
import os
import shlex
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
    parser.add_argument("--solutions", action=argparse.BooleanOptionalAction, default=True,
                        help="also run notebooks/solutions/ (default: yes)")
    parser.add_argument("--cells", action="store_true",
                        help="print each cell's peak and current resident memory")
    parser.add_argument("--save", type=Path, default=None,
                        help="folder for the executed notebooks, outputs included")
    args = parser.parse_args(argv)
    command = "python benchmarks/time_notebooks.py " + shlex.join(
        sys.argv[1:] if argv is None else list(argv))
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if args.solutions:
        paths += sorted((NOTEBOOKS / "solutions").glob("*.ipynb"))
    if args.only:
        paths = [p for p in paths if p.name[:2] in args.only]
    rows = ["| notebook | " + " | ".join(f"{m} mode: wall / kernel CPU (s) | {m} mode: peak "
                                         "memory (GB, at cell) | load (start-end)"
                                         for m in args.modes) + " |",
            "|---|" + "---|---|---|" * len(args.modes)]
    failed = 0
    loads = [os.getloadavg()[0]]
    for path in paths:
        cells = []
        for mode in args.modes:
            save = args.save / mode / path.relative_to(NOTEBOOKS) if args.save else None
            r = run_notebook(path, quick=(mode == "quick"), save=save)
            print(f"{path.relative_to(ROOT)} [{mode}]: {r.wall_s:.0f} s wall, {r.cpu_s:.0f} s "
                  f"CPU, peak {memory_text(r)}, load {r.load[0]:.1f}-{r.load[1]:.1f}, {r.status}",
                  flush=True)
            if args.cells:
                for index, peak, now in r.cells_peak_mb:
                    print(f"    cell {index:3d}: peak {peak / 1e3:.2f} GB, now {now / 1e3:.2f} GB")
            cells.append(f"{r.wall_s:.0f} / {r.cpu_s:.0f}" + ("" if r.ok else f" ({r.status})")
                         + f" | {memory_text(r)} | {r.load[0]:.1f}-{r.load[1]:.1f}")
            failed += not r.ok
            loads.append(r.load[1])
        rows.append(f"| `{path.relative_to(NOTEBOOKS)}` | " + " | ".join(cells) + " |")
    section = "_".join(["notebooks", *args.modes, *(args.only or [])])
    write_section(section, f"## Notebook run times ({', '.join(args.modes)})\n\n{stamp()}. "
                  "Each notebook executed from the top in a fresh kernel (nbclient), offline "
                  "mirror as configured in the environment. Load average (1 min) from "
                  f"{min(loads):.1f} to {max(loads):.1f} on {os.cpu_count()} cores: above "
                  f"{os.cpu_count()}, other programs shared the CPU and wall times are "
                  "inflated. Peak memory: the kernel process's peak resident set (its "
                  "high-water mark), in GB of 10^9 bytes, and the cell (index from 0) after "
                  f"which it was first reached.\n\nCommand: `{command}`\n\n" + "\n".join(rows))
    return 1 if failed else 0


def memory_text(run) -> str:
    """``"1.23 (cell 7)"``: the run's peak resident memory in GB and the cell that reached it."""
    if run.peak_rss_mb is None:
        return "n/a"
    # the cell after which the highest per-cell reading was first seen (the kernel's own work
    # after the last cell, or a failing cell, can add a little that no cell's reading shows)
    top = max((peak for _index, peak, _now in run.cells_peak_mb), default=None)
    at = next((index for index, peak, _now in run.cells_peak_mb if peak >= top), None)
    return f"{run.peak_rss_mb / 1e3:.2f}" + (f" (cell {at})" if at is not None else "")


if __name__ == "__main__":
    raise SystemExit(main())
