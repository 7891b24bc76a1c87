"""Lesson 02 figures: run times and peak memory of the lesson and its solutions in quick and
full mode, and the freeze-depth sweep the lesson measures (validation accuracy over several
seeds and seconds per epoch per freezing depth), with the spread and each full-mode
assertion's margin.

    .venv/bin/python benchmarks/bench_lesson02.py                 # quick and full mode
    .venv/bin/python benchmarks/bench_lesson02.py --modes quick   # quick mode only
    .venv/bin/python benchmarks/bench_lesson02.py --modes full --reruns 2

The lesson itself runs every depth with 3 seeds in full mode (the reruns the spread is
measured over); ``--reruns N`` runs the whole lesson N times on top, and the spread is then
taken over every run of every rerun.

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
_out = {"cpu_s": _ru.ru_utime + _ru.ru_stime, "peak_rss_mb": _ru.ru_maxrss / 1024}
"""
LESSON_PROBE = _CPU + """
_out.update(source=net.source, n_fit=N_FIT, n_val=N_TRAIN - N_FIT, n_test=N_TEST,
            epochs=EPOCHS, seeds=list(SEEDS), head_acc=float(head_acc), parity_acc=float(parity_acc),
            cached_epoch=float(cached_epoch), drift=float(drift), overridden=bool(overridden),
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


def sweep_table(runs: list[dict]) -> list[str]:
    """Mean and spread of the validation accuracy per depth over every run given."""
    import pandas as pd

    frame = pd.DataFrame(runs)
    rows = ["| frozen units (of 19) | training from | trainable parameters | runs "
            "| seconds per epoch (median) | validation accuracy: mean | std | min | max |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for depth, group in frame.groupby("frozen units", sort=False):
        acc = group["validation accuracy"]
        rows.append(f"| {depth} | {group['training from'].iloc[0]} "
                    f"| {group['trainable parameters'].iloc[0]:,} | {len(group)} "
                    f"| {group['seconds per epoch'].median():.2f} | {acc.mean():.3f} "
                    f"| {acc.std():.3f} | {acc.min():.3f} | {acc.max():.3f} |")
    return rows


def margins(runs: list[dict]) -> list[str]:
    """The full-mode assertions of section 9, each with its margin over the observed spread."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(runs)
    acc = frame["validation accuracy"]
    trained, frozen = acc[frame["frozen units"] < 19], acc[frame["frozen units"] == 19]
    gain = float(trained.mean() - frozen.mean())
    noise = float(np.sqrt(trained.var() / len(trained) + frozen.var() / len(frozen)))
    spread = float(frame.groupby("frozen units")["validation accuracy"].std().max())
    secs = frame.groupby("frozen units")["seconds per epoch"].median()
    return ["| assertion (full mode) | observed | threshold | margin | spread | margin / (3 x spread) |",
            "|---|---:|---:|---:|---:|---:|",
            f"| training part or all of the base beats the frozen base (mean over runs) "
            f"| {gain:+.3f} | 0 | {gain:+.3f} | {noise:.3f} (standard error of the difference) "
            f"| {gain / max(3 * noise, 1e-9):.1f} |",
            f"| every run reads digits: validation accuracy >= 0.7 | {acc.min():.3f} | 0.700 "
            f"| {acc.min() - 0.7:+.3f} | {spread:.3f} (largest std of a depth) "
            f"| {(acc.min() - 0.7) / max(3 * spread, 1e-9):.1f} |",
            "", "Not asserted (within noise): the order of the trained depths; the time per "
            f"epoch (everything trainable / frozen base: {secs[min(secs.index)] / secs[19]:.1f} x "
            "here, with single epochs varying by a factor of two or more under load)."]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", nargs="+", default=["quick", "full"], choices=["quick", "full"])
    parser.add_argument("--reruns", type=int, default=1,
                        help="whole-lesson runs per mode (each runs every depth with several seeds)")
    parser.add_argument("--only", choices=["lesson", "solutions"], default=None)
    parser.add_argument("--save", type=Path, default=None,
                        help="folder (outside the repository) for the executed notebooks")
    args = parser.parse_args(argv)
    load_start = os.getloadavg()[0]
    results = {}
    sweeps: dict = {}
    for mode in args.modes:
        for name, path, probe in (("lesson", NOTEBOOK, LESSON_PROBE),
                                  ("solutions", SOLUTIONS, SOLUTIONS_PROBE)):
            if args.only and name != args.only:
                continue
            for rerun in range(args.reruns if name == "lesson" else 1):
                res = run(path, quick=(mode == "quick"), probe=probe,
                          save=args.save / f"{name}{rerun}" if args.save else None)
                print(f"{name} {mode} #{rerun}: {res['wall_s']:.0f} s wall, "
                      f"{res.get('cpu_s', float('nan')):.0f} s CPU, "
                      f"{res.get('peak_rss_mb', float('nan')):.0f} MB peak, {res['status']}", flush=True)
                results[(name, mode, rerun)] = res
                for r in res.get("sweep", []):
                    sweeps.setdefault(mode, []).append({**r, "rerun": rerun})
    load_end = os.getloadavg()[0]

    lines = [f"## Lesson 02: Freezing layers\n\n{stamp()}; load average {load_start:.1f} at the "
             f"start and {load_end:.1f} at the end on {os.cpu_count()} cores. Above "
             f"{os.cpu_count()}, other programs were competing for the CPU: wall times are "
             "inflated, and the kernel's CPU time (user + system, all threads) is the better "
             "estimate of the wall time on an idle machine.", "",
             "| notebook | mode | run | wall (s) | kernel CPU (s) | kernel peak RSS (MB) | status |",
             "|---|---|---:|---:|---:|---:|---|"]
    for (name, mode, rerun), res in results.items():
        file = "02_freezing_layers.ipynb" if name == "lesson" else "solutions/02_freezing_layers.ipynb"
        lines.append(f"| `{file}` | {mode} | {rerun} | {res['wall_s']:.0f} "
                     f"| {res.get('cpu_s', float('nan')):.0f} | {res.get('peak_rss_mb', float('nan')):.0f} "
                     f"| {res['status']} |")
    for mode in args.modes:
        if mode not in sweeps:
            continue
        res = next(r for (n, m, _), r in results.items() if n == "lesson" and m == mode and "sweep" in r)
        lines += ["", f"Freeze-depth sweep, {mode} mode ({res['source']} weights, {res['n_fit']:,} "
                  f"training / {res['n_val']:,} validation digits at 32 px, {res['epochs']} epochs per "
                  f"run, seeds {res['seeds']} per depth in each of {args.reruns} lesson run(s), Adam "
                  "1e-4, BatchNormalization frozen; seconds per epoch = the fastest of the epochs "
                  "after the first; the test digits are not used here):", "", *sweep_table(sweeps[mode])]
        if mode == "full":
            lines += ["", "Margins of the full-mode assertions of section 9 over the observed spread:",
                      "", *margins(sweeps[mode])]
        lines += ["", f"Head on cached features: validation accuracy {res['head_acc']:.3f}, "
                  f"{1000 * res['cached_epoch']:.0f} ms per epoch; odd/even head "
                  f"{res['parity_acc']:.3f} (validation). BatchNormalization left trainable under "
                  f"`training=False`, learning rate 0: outputs moved by up to {res['drift']:.4f}, "
                  f"so this Keras {'overrides' if res['overridden'] else 'does not override'} the "
                  "recorded training=False (with BatchNormalization frozen: not at all)."]
    text = "\n".join(lines)
    print(text)
    write_section("lesson02", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
