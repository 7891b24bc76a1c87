"""Lesson 02 figures: run times of the lesson and its solutions in quick and full mode, and the
freeze-depth sweep the lesson measures (accuracy and seconds per epoch per freezing depth).

    .venv/bin/python benchmarks/bench_lesson02.py                 # quick and full mode
    .venv/bin/python benchmarks/bench_lesson02.py --modes quick   # quick mode only (~1 min)

Each notebook runs in a fresh kernel (nbclient), from the top, as a learner runs it. A cell
appended in memory (never saved) reads the lesson's own results, so the figures recorded here
are the ones the lesson asserted. Besides wall-clock time, the kernel's CPU time is recorded:
on a shared machine it is the better estimate of the time on an idle one. Writes the
``lesson02`` section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import run_notebook, stamp, write_section  # noqa: E402

NOTEBOOK = HERE.parent / "notebooks" / "02_freezing_layers.ipynb"
SOLUTIONS = HERE.parent / "notebooks" / "solutions" / "02_freezing_layers.ipynb"
MARK = "TLCOURSE-BENCH "

_CPU = """
import json as _json, resource as _resource
_ru = _resource.getrusage(_resource.RUSAGE_SELF)
_out = {"cpu_s": _ru.ru_utime + _ru.ru_stime}
"""
LESSON_PROBE = _CPU + """
_out.update(source=net.source, n_train=N_TRAIN, n_test=N_TEST, epochs=EPOCHS,
            head_acc=float(head_acc), parity_acc=float(parity_acc),
            cached_epoch=float(cached_epoch), drift=float(np.abs(logits_drifted - logits_before).max()),
            sweep=sweep.to_dict(orient="records"))
print(MARK + _json.dumps(_out))
""".replace("MARK", repr(MARK))
SOLUTIONS_PROBE = _CPU + f"print({MARK!r} + _json.dumps(_out))\n"


def run(path: Path, quick: bool, probe: str, save: Path | None = None) -> dict:
    """Execute ``path`` in a fresh kernel; wall seconds, status and what the probe printed.
    With ``save``, the executed notebook (outputs included) is written there, outside the repo."""
    file = save / f"{path.stem}_{'quick' if quick else 'full'}.ipynb" if save else None
    r = run_notebook(path, quick, probe, marker=MARK, save=file)
    # the probe cell itself is negligible; the kernel's start-up is not in the wall time
    return {"wall_s": r.wall_s, "status": r.status, **r.data}


def sweep_table(result: dict) -> list[str]:
    rows = ["| frozen units (of 19) | training from | trainable parameters | seconds per epoch "
            "| first epoch (s) | test accuracy |", "|---:|---|---:|---:|---:|---:|"]
    for r in result.get("sweep", []):
        rows.append(f"| {r['frozen units']} | {r['training from']} | {r['trainable parameters']:,} "
                    f"| {r['seconds per epoch']:.2f} | {r['first epoch (s)']:.1f} "
                    f"| {r['test accuracy']:.3f} |")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", nargs="+", default=["quick", "full"], choices=["quick", "full"])
    parser.add_argument("--save", type=Path, default=None,
                        help="folder (outside the repository) for the executed notebooks")
    args = parser.parse_args(argv)
    load_start = os.getloadavg()[0]
    results = {}
    for mode in args.modes:
        for name, path, probe in (("lesson", NOTEBOOK, LESSON_PROBE),
                                  ("solutions", SOLUTIONS, SOLUTIONS_PROBE)):
            res = run(path, quick=(mode == "quick"), probe=probe,
                      save=args.save / name if args.save else None)
            print(f"{name} {mode}: {res['wall_s']:.0f} s wall, {res.get('cpu_s', float('nan')):.0f} s "
                  f"CPU, {res['status']}", flush=True)
            results[(name, mode)] = res
    load_end = os.getloadavg()[0]

    lines = [f"## Lesson 02: Freezing layers\n\n{stamp()}; load average {load_start:.1f} at the "
             f"start and {load_end:.1f} at the end on {os.cpu_count()} cores. Above "
             f"{os.cpu_count()}, other programs were competing for the CPU: wall times are "
             "inflated, and the kernel's CPU time (user + system, all threads) is the better "
             "estimate of the wall time on an idle machine.", "",
             "| notebook | mode | wall (s) | kernel CPU (s) | status |", "|---|---|---:|---:|---|"]
    for (name, mode), res in results.items():
        file = "02_freezing_layers.ipynb" if name == "lesson" else "solutions/02_freezing_layers.ipynb"
        lines.append(f"| `{file}` | {mode} | {res['wall_s']:.0f} | {res.get('cpu_s', float('nan')):.0f} "
                     f"| {res['status']} |")
    for mode in args.modes:
        res = results[("lesson", mode)]
        if "sweep" not in res:
            continue
        lines += ["", f"Freeze-depth sweep, {mode} mode ({res['source']} weights, {res['n_train']:,} "
                  f"training / {res['n_test']:,} test digits at 32 px, {res['epochs']} epochs per "
                  "depth, Adam 1e-4, BatchNormalization frozen; seconds per epoch = the fastest of the "
                  "epochs after the first):", "", *sweep_table(res), "",
                  f"Head on cached features: test accuracy {res['head_acc']:.3f}, "
                  f"{1000 * res['cached_epoch']:.0f} ms per epoch; odd/even head "
                  f"{res['parity_acc']:.3f}. BatchNormalization left trainable under "
                  f"`training=False`, learning rate 0: outputs moved by up to "
                  f"{res['drift']:.4f} (with BatchNormalization frozen: not at all)."]
    text = "\n".join(lines)
    print(text)
    write_section("lesson02", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
