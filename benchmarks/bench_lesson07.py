"""Lesson 07 figures: run the your-own-images lesson (and its solutions) from the top in a fresh
kernel, once per seed, and record run time, the kernel's CPU time and peak memory, and what the
lesson measured: frozen base + logistic regression, fine-tuned MobileNetV2 and the scratch CNN per
label budget, the threshold for recall >= 0.95, and the TensorFlow Lite comparison.

    .venv/bin/python benchmarks/bench_lesson07.py                       # full mode, seeds 0 1 2, and quick mode
    .venv/bin/python benchmarks/bench_lesson07.py --modes quick         # quick mode only
    .venv/bin/python benchmarks/bench_lesson07.py --seeds 0 --save /tmp/out

Writes the ``lesson07`` section of benchmarks/RESULTS.md (``--section`` names another). A seed replaces the lesson's
``SEED = 0`` (the validation split, the shuffling, the augmentation and Keras' initial weights).
The figures are read from the lesson's own variables by a cell appended in memory, so they are
the numbers the lesson asserted on. Records the load average: on a shared machine wall times are
inflated, and the kernel's CPU time is the better guide.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import run_notebook, stamp, write_section  # noqa: E402

NOTEBOOK = HERE.parent / "notebooks" / "07_your_own_images.ipynb"
SOLUTIONS = HERE.parent / "notebooks" / "solutions" / "07_your_own_images.ipynb"

REPORT_CELL = r'''
import json as _json
import resource as _resource

_ru = _resource.getrusage(_resource.RUSAGE_SELF)
_report = {"cpu_s": _ru.ru_utime + _ru.ru_stime, "peak_rss_mb": _ru.ru_maxrss / 1024}
if "fine_tuned_acc" in globals():
    _report.update({
        "seed": SEED, "size": SIZE, "n_train": int(len(y_train)), "n_test": int(len(y_test)),
        "majority": float(majority), "head_val": float(head_val),
        "runs": [{k: (float(v) if not isinstance(v, str) else v) for k, v in r.items()} for r in runs],
        "best_blocks": int(BEST_BLOCKS), "best_lr": float(BEST_LR), "best_val": float(best_val),
        "fine_tuned": float(fine_tuned_acc), "frozen_all": float(frozen_all),
        "scratch_all": float(scratch_all), "budgets": list(BUDGETS),
        "transfer": [float(v) for v in transfer.mean], "scratch": [float(v) for v in scratch.mean],
        "threshold": float(threshold), "test_recall": float(test_recall),
        "test_precision": float(test_precision),
        "seconds": {"stage 1": head_seconds, "stage 2 (all settings)": fine_tune_seconds,
                    "label-budget curve": curve_seconds},
        "lite": {m: {k: float(v) for k, v in row.items()}
                 for m, row in lite_table.to_dict(orient="index").items()},
    })
print("BENCH_JSON " + _json.dumps(_report))
'''


def _with_seed(path: Path, seed: int, folder: Path) -> Path:
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "SEED = 0" in c.source]
    if len(cells) != 1:
        raise SystemExit(f"{path.name}: expected one cell with 'SEED = 0'")
    cells[0].source = cells[0].source.replace("SEED = 0", f"SEED = {seed}", 1)
    out = folder / path.name
    nbformat.write(nb, out)
    return out


def run(path: Path, quick: bool, seed: int | None, save: Path | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        source = path if seed is None else _with_seed(path, seed, Path(tmp))
        file = None
        if save is not None:
            file = save / (f"{path.stem}{'_solutions' if 'solutions' in str(path) else ''}"
                           f"_{'quick' if quick else 'full'}_seed{seed}.ipynb")
        r = run_notebook(source, quick, REPORT_CELL, marker="BENCH_JSON ", save=file)
    status = re.sub(r"\x1b\[[0-9;]*m", "", r.status)  # no terminal colours in the table
    return {"wall_s": r.wall_s, "status": status, "load": r.load, **r.data}


def _spread(values) -> str:
    values = [100 * v for v in values]
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} (min {min(values):.1f}, max {max(values):.1f})"


def section(runs: dict) -> str:
    lines = ["## Lesson 07: Your own images", "", stamp(), "",
             "Each run: a fresh kernel; the class folders already in the cache. CPU = the kernel's "
             "user + system time; peak RSS = the kernel's peak resident memory. Load average = the "
             "machine's 1-minute load at the start / end on 2 cores: above 2, other programs "
             "shared the CPU and wall times are inflated.", "",
             "| notebook | mode | seed | status | wall (s) | kernel CPU (s) | peak RSS (MB) | load average |",
             "|---|---|---:|---|---:|---:|---:|---|"]
    for (name, mode, seed), r in runs.items():
        lines.append(f"| {name} | {mode} | {seed} | {r['status']} | {r['wall_s']:.0f} | "
                     f"{r.get('cpu_s', float('nan')):.0f} | {r.get('peak_rss_mb', float('nan')):.0f} | "
                     f"{r['load'][0]:.1f} / {r['load'][1]:.1f} |")
    for mode in ("full", "quick"):
        done = [r for (name, m, _), r in runs.items() if name == "lesson" and m == mode
                and "fine_tuned" in r]
        if not done:
            continue
        first = done[0]
        lines += ["", f"### Measured by the lesson, {mode} mode", "",
                  f"{first['n_train']:,} training cells, {first['n_test']} test cells, "
                  f"{first['size']} px; always answering 'good': {100 * first['majority']:.1f}%.",
                  "", "| seed | stage-1 val | chosen (blocks, base lr) | chosen val | frozen + LR test "
                  "| fine-tuned test | scratch test | threshold | test recall | test precision |",
                  "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in done:
            lines.append(
                f"| {r['seed']} | {100 * r['head_val']:.1f} | {r['best_blocks']}, {r['best_lr']:g} | "
                f"{100 * r['best_val']:.1f} | {100 * r['frozen_all']:.1f} | "
                f"{100 * r['fine_tuned']:.1f} | {100 * r['scratch_all']:.1f} | "
                f"{r['threshold']:.3f} | {r['test_recall']:.3f} | {r['test_precision']:.3f} |")
        lines += ["", "Settings tried on validation (validation accuracy after the last epoch):", ""]
        for r in done:
            lines.append(f"- seed {r['seed']}: " + "; ".join(
                f"top {int(x['top blocks'])} blocks, base lr {x['base lr']:g}: "
                f"{100 * x['val accuracy']:.1f}% (per epoch {x['per epoch']})" for x in r["runs"]))
        lines += ["", "| training cells per class | frozen MobileNetV2 + LR | small CNN from scratch | "
                  "fine-tuned MobileNetV2 |", "|---|---:|---:|---:|"]
        for i, b in enumerate(first["budgets"]):
            lines.append(f"| {b} | {_spread([r['transfer'][i] for r in done])} | "
                         f"{_spread([r['scratch'][i] for r in done])} | - |")
        lines.append(f"| all | {_spread([r['frozen_all'] for r in done])} | "
                     f"{_spread([r['scratch_all'] for r in done])} | "
                     f"{_spread([r['fine_tuned'] for r in done])} |")
        lines += ["", "Seconds inside the lesson: " + "; ".join(
            f"{k} {statistics.mean(r['seconds'][k] for r in done):.0f}" for k in first["seconds"]),
            "", "| TensorFlow Lite (seed " + str(first["seed"]) + ") | size (MB) | ms per image | "
            "max abs difference to Keras |", "|---|---:|---:|---:|"]
        for model, row in first["lite"].items():
            lines.append(f"| {model} | {row['size (MB)']:.1f} | {row['ms per image']:.1f} | "
                         f"{row['max |difference|']:.2g} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", nargs="+", default=["full", "quick"], choices=["quick", "full"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--save", type=Path, default=None, help="folder for the executed notebooks")
    parser.add_argument("--section", default="lesson07",
                        help="RESULTS.md section to write (another name keeps earlier runs)")
    args = parser.parse_args(argv)
    runs = {}
    for mode in args.modes:
        for seed in (args.seeds if mode == "full" else [0]):
            r = runs[("lesson", mode, seed)] = run(NOTEBOOK, mode == "quick", seed, args.save)
            print("lesson", mode, seed, {k: r.get(k) for k in ("wall_s", "status", "fine_tuned")},
                  flush=True)
        r = runs[("solutions", mode, "-")] = run(SOLUTIONS, mode == "quick", None, args.save)
        print("solutions", mode, {k: r[k] for k in ("wall_s", "status")}, flush=True)
    path = write_section(args.section, section(runs))
    print(f"wrote the {args.section} section of {path}")
    return 0 if all(r["status"] == "ok" for r in runs.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
