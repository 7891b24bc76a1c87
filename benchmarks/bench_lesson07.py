"""Lesson 07 figures: run the your-own-images lesson (and its solutions) from the top in a fresh
kernel, once per seed, and record run time, the kernel's CPU time and peak memory, and what the
lesson measured: frozen base + logistic regression, fine-tuned MobileNetV2 and the scratch CNN per
label budget, the threshold for recall >= 0.95, and the TensorFlow Lite comparison.

    .venv/bin/python benchmarks/bench_lesson07.py                       # full mode, seeds 0 1 2, and quick mode
    .venv/bin/python benchmarks/bench_lesson07.py --modes quick         # quick mode only
    .venv/bin/python benchmarks/bench_lesson07.py --seeds 0 --save /tmp/out

Writes the ``lesson07`` section of benchmarks/RESULTS.md (``--section`` names another): per run the
times and the kernel's peak memory, overall and by the end of each section of the lesson; per
full-mode assertion its value in every run, the spread (max - min over the seeds) and the margin
(the worst run's distance to the bound), which must exceed 3 x the spread. A seed replaces the lesson's
``SEED = 0`` (the validation split, the shuffling, the augmentation and Keras' initial weights).
The figures are read from the lesson's own variables by a cell appended in memory, so they are
the numbers the lesson asserted on. Records the load average: on a shared machine wall times are
inflated, and the kernel's CPU time is the better guide.
"""

from __future__ import annotations

import argparse
import json
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
        "val_one_view": float(val_one), "val_eight_views": float(val_views),
        "use_views": bool(USE_VIEWS), "transfer_draws": transfer.scores,
        "scratch_draws": scratch.scores,
        "fine_tuned": float(fine_tuned_acc), "frozen_all": float(frozen_all),
        "scratch_all": float(scratch_all), "scratch_starts": [float(a) for a in scratch_starts],
        "budgets": list(BUDGETS),
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
    cells = nbformat.read(path, as_version=4).cells
    return {"wall_s": r.wall_s, "cells_s": r.cells_wall_s, "status": status, "load": r.load,
            "kernel_peak_mb": r.peak_rss_mb, "stages": _stages(cells, r.cells_peak_mb), **r.data}


def _stages(cells, peaks) -> dict:
    """Section number (or "setup") -> the kernel's peak resident memory (MB) by its end."""
    title, out, by_cell = "setup", {}, {i: peak for i, peak, _ in peaks}
    for i, cell in enumerate(cells):
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            title = cell.source.splitlines()[0][3:].split(" ")[0].rstrip(".")
        if i in by_cell:
            out[title] = max(out.get(title, 0.0), by_cell[i])
    return out


def _lite(r, model, key):
    return r["lite"][f"TensorFlow Lite, {model}"][key]


#: the full-mode assertions whose value changes from run to run: (text, value, bound); each
#: holds when the value is above the bound, and its margin is the worst run's distance to it
ASSERTIONS = [
    ("fine-tuned test accuracy >= 0.79", lambda r: r["fine_tuned"], 0.79),
    ("frozen base + logistic regression, all cells, test accuracy >= 0.84",
     lambda r: r["frozen_all"], 0.84),
    ("fine-tuned > scratch CNN, all cells (difference > 0)",
     lambda r: r["fine_tuned"] - r["scratch_all"], 0.0),
    ("TensorFlow Lite float32 = Keras: max abs difference < 1e-3 (value: 1e-3 - difference)",
     lambda r: 1e-3 - _lite(r, "float32", "max |difference|"), 0.0),
]


def margins(done: list) -> list:
    lines = ["| full-mode assertion | value per seed | spread (max - min) | margin (worst run - bound) "
             "| margin / (3 x spread) |", "|---|---|---:|---:|---:|"]
    for text, value, bound in ASSERTIONS:
        values = [value(r) for r in done]
        spread, margin = max(values) - min(values), min(values) - bound
        ratio = f"{margin / (3 * spread):.1f}" if spread > 0 else "no spread"
        lines.append(f"| {text} | {', '.join(f'{v:.4g}' for v in values)} | {spread:.3g} "
                     f"| {margin:.3g} | {ratio} |")
    return lines


def _spread(values) -> str:
    values = [100 * v for v in values]
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} (min {min(values):.1f}, max {max(values):.1f})"


def section(runs: dict) -> str:
    lines = ["## Lesson 07: Your own images", "", stamp(), "",
             "Each run: a fresh kernel; the class folders already in the cache. Cells = the first "
             "cell's start to the last cell's end (no kernel start); CPU = the kernel's user + "
             "system time; peak RSS = the kernel's peak resident memory. Load average = the "
             "machine's 1-minute load at the start / end on 2 cores: above 2, other programs "
             "shared the CPU and wall times are inflated.", "",
             "| notebook | mode | seed | status | wall (s) | cells (s) | kernel CPU (s) "
             "| peak RSS (MB) | load average |", "|---|---|---:|---|---:|---:|---:|---:|---|"]
    for (name, mode, seed), r in runs.items():
        peak = r.get("kernel_peak_mb") or r.get("peak_rss_mb") or float("nan")
        lines.append(f"| {name} | {mode} | {seed} | {r['status']} | {r['wall_s']:.0f} | "
                     f"{r['cells_s']:.0f} | {r.get('cpu_s', float('nan')):.0f} | {peak:.0f} | "
                     f"{r['load'][0]:.1f} / {r['load'][1]:.1f} |")
    lesson_runs = [(k, r) for k, r in runs.items() if k[0] == "lesson" and r["stages"]]
    if lesson_runs:
        titles = list(lesson_runs[0][1]["stages"])
        lines += ["", "Kernel peak resident memory (MB) by the end of each section of the lesson:",
                  "", "| mode | seed | " + " | ".join(f"§{t}" if t[0].isdigit() else t
                                                       for t in titles) + " |",
                  "|---|---:|" + "---:|" * len(titles)]
        for (_, mode, seed), r in lesson_runs:
            lines.append(f"| {mode} | {seed} | "
                         + " | ".join(f"{r['stages'].get(t, float('nan')):.0f}" for t in titles)
                         + " |")
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
                  "| val: 1 view / 8 views | fine-tuned test | scratch test | threshold | test recall "
                  "| test precision |", "|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---:|"]
        for r in done:
            lines.append(
                f"| {r['seed']} | {100 * r['head_val']:.1f} | {r['best_blocks']}, {r['best_lr']:g} | "
                f"{100 * r['best_val']:.1f} | {100 * r['frozen_all']:.1f} | "
                f"{100 * r['val_one_view']:.1f} / {100 * r['val_eight_views']:.1f}"
                f"{' (8 used)' if r['use_views'] else ''} | "
                f"{100 * r['fine_tuned']:.1f} | {100 * r['scratch_all']:.1f} | "
                f"{r['threshold']:.3f} | {r['test_recall']:.3f} | {r['test_precision']:.3f} |")
        lines += ["", "Settings tried on validation (validation accuracy after the last epoch):", ""]
        for r in done:
            lines.append(f"- seed {r['seed']}: " + "; ".join(
                f"top {int(x['top blocks'])} blocks, base lr {x['base lr']:g}: "
                f"{100 * x['val accuracy']:.1f}% (per epoch {x['per epoch']})" for x in r["runs"]))
        lines += ["", "| training cells per class | frozen MobileNetV2 + LR | small CNN from scratch | "
                  "transfer minus scratch (points) | worst draw: transfer minus scratch | "
                  "fine-tuned MobileNetV2 |", "|---|---:|---:|---|---|---:|"]
        for i, b in enumerate(first["budgets"]):
            gaps = [100 * (r["transfer"][i] - r["scratch"][i]) for r in done]
            worst = [100 * min(t - c for t, c in zip(r["transfer_draws"][i], r["scratch_draws"][i],
                                                     strict=True)) for r in done]
            lines.append(f"| {b} | {_spread([r['transfer'][i] for r in done])} | "
                         f"{_spread([r['scratch'][i] for r in done])} | "
                         f"{', '.join(f'{g:+.1f}' for g in gaps)} | "
                         f"{', '.join(f'{g:+.1f}' for g in worst)} | - |")
        gaps = [100 * (r["frozen_all"] - r["scratch_all"]) for r in done]
        lines.append(f"| all | {_spread([r['frozen_all'] for r in done])} | "
                     f"{_spread([r['scratch_all'] for r in done])} | "
                     f"{', '.join(f'{g:+.1f}' for g in gaps)} | - | "
                     f"{_spread([r['fine_tuned'] for r in done])} |")
        if mode == "full" and len(done) >= 3:
            lines += ["", f"Full-mode assertions over the {len(done)} seeds (accuracies as "
                      "fractions; a margin must exceed 3 x the spread):", "", *margins(done)]
        elif mode == "full":
            lines += ["", f"Only {len(done)} full-mode run(s): no spread (3 seeds are needed)."]
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
    if args.save is not None:  # the raw figures, should the table need redoing
        args.save.mkdir(parents=True, exist_ok=True)
        (args.save / "runs.json").write_text(json.dumps([[list(k), v] for k, v in runs.items()]))
    path = write_section(args.section, section(runs))
    print(f"wrote the {args.section} section of {path}")
    return 0 if all(r["status"] == "ok" for r in runs.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
