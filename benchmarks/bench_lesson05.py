"""Lesson 05 figures over reruns: accuracies, margins of the full-mode assertions, times, memory.

    .venv/bin/python benchmarks/bench_lesson05.py                       # full mode, 3 seeds
    .venv/bin/python benchmarks/bench_lesson05.py --modes quick --seeds 42
    .venv/bin/python benchmarks/bench_lesson05.py --save /tmp/l05       # keep the executed notebooks

Each run executes the lesson from the top in a fresh kernel (nbclient), as a learner would,
with ``tlcourse.setup(seed=SEED)`` (the seed sets the head's dropout, the shuffle order and the
random-weights twin; the data split is fixed). One extra cell in the same kernel prints the
figures the lesson measured. Writes the ``lesson05_<mode>`` section of benchmarks/RESULTS.md
after every run: per seed the accuracies, each full-mode assertion's margin (how far the
measured value is from failing), the spread over the seeds (max - min), and the kernel's wall
and CPU seconds and peak resident memory. The frozen embeddings are cached by the lesson: for
a first-run time, point TLCOURSE_CACHE at an empty folder.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import run_notebook, stamp, write_section  # noqa: E402

NAME = "05_bert_sentiment.ipynb"
NOTEBOOK = HERE.parent / "notebooks" / NAME
SOLUTIONS = HERE.parent / "notebooks" / "solutions" / NAME

HARVEST = r'''
import json as _json
import resource as _resource

_ru = _resource.getrusage(_resource.RUSAGE_SELF)
_v = classify(reloaded, SENTENCES[:2])["p_fresh"].tolist()
_again = classify(reloaded, test_text[:16])["p_fresh"].to_numpy()
_out = {
    "lesson_cpu": _ru.ru_utime + _ru.ru_stime,
    "encoder": encoder.source, "data": rt.source, "seed": settings.seed,
    "sizes": [len(train_y), len(val_y), len(test_y)], "seq_len": SEQ_LEN, "p95": int(p95),
    "acc": {"majority": acc_majority, "tfidf": acc_tfidf, "frozen": acc_frozen,
            "finetuned": acc_ft, "small": acc_small, "twin": acc_twin},
    "steps": len(losses_ft), "seconds_ft": seconds_ft, "small": SMALL,
    "curve": curve, "budgets": list(BUDGETS), "timings": timings,
    "margins": {
        "acc_ft >= 0.78": acc_ft - 0.78,
        "acc_ft > acc_tfidf - 0.01": acc_ft - acc_tfidf + 0.01,
        "acc_tfidf > acc_majority": acc_tfidf - acc_majority,
        "acc_frozen < acc_tfidf": acc_tfidf - acc_frozen,
        "32 labels: frozen > TF-IDF": first["frozen encoder + logistic regression"]
                                     - first["TF-IDF + logistic regression"],
        "acc_small - acc_twin >= 0.08": acc_small - acc_twin - 0.08,
        "warm start: gap < 0.05": 0.05 - gap,
        "reload: |p - p| <= 0.03": 0.03 - float(abs(_again - probs_ft[:16, 1]).max()),
        "verdict 'fresh' (P > 0.5)": _v[0] - 0.5,
        "verdict 'rotten' (P < 0.5)": 0.5 - _v[1],
    },
}
print("BENCH" + _json.dumps(_out))
'''


def seeded(seed: int) -> Path:
    """A copy of the lesson whose setup uses ``seed`` (in a temporary folder)."""
    text = NOTEBOOK.read_text()
    marker = "settings = tlcourse.setup()"
    if marker not in text:
        raise SystemExit(f"{NAME}: cannot find {marker!r} to set the seed")
    path = Path(tempfile.mkdtemp(prefix="bench05-")) / NAME
    path.write_text(text.replace(marker, f"settings = tlcourse.setup(seed={seed})"))
    return path


def record(r, seed: int) -> dict:
    """What the report needs of one run, as JSON (so runs of several invocations combine)."""
    cell = max(r.cells_peak_mb, key=lambda c: c[1])[0] if r.cells_peak_mb else None
    return {"seed": seed, "status": r.status, "cells_wall_s": r.cells_wall_s, "cpu_s": r.cpu_s,
            "peak_rss_mb": r.peak_rss_mb, "peak_cell": cell, "load": list(r.load), "data": r.data,
            "cells_peak_mb": r.cells_peak_mb}


def report(mode: str, runs: list, load0: float) -> str:
    lines = [f"## Lesson 05: BERT sentiment with keras-hub, {mode} mode, {len(runs)} run(s)", "",
             f"{stamp()}; load average {load0:.1f} at the start ({os.cpu_count()} cores: above "
             "that, other programs competed for the CPU, wall times are inflated and the kernel's "
             "CPU seconds are the fairer figure). Command: `python benchmarks/bench_lesson05.py "
             f"--modes {mode}`. Each run: the lesson from the top in a fresh kernel, offline.", ""]
    ok = [r for r in runs if r["status"] == "ok" and r["data"]]
    lines += ["| seed | status | wall (s) | kernel CPU (s) | peak memory (GB, cell) | load start-end | note |",
              "|---|---|---|---|---|---|---|"]
    for r in runs:
        peak = f"{r['peak_rss_mb'] / 1000:.2f} ({r['peak_cell']})" if r["peak_rss_mb"] else "-"
        lines.append(f"| {r['seed']} | {r['status']} | {r['cells_wall_s']:.0f} | "
                     f"{r['cpu_s']:.0f} | {peak} | {r['load'][0]:.1f}-{r['load'][1]:.1f} | "
                     f"{r.get('note', '')} |")
    if not ok:
        return "\n".join(lines)
    ok = [type("Run", (), {"data": r["data"]}) for r in ok]
    d0 = ok[0].data
    n_tr, n_val, n_te = d0["sizes"]
    lines += ["", f"Encoder: {d0['encoder']}; data: {d0['data']}. Train / validation / test: "
              f"{n_tr:,} / {n_val:,} / {n_te:,} snippets; sequence length {d0['seq_len']}; "
              f"{d0['steps']} fine-tuning steps of 16 snippets; small budget {d0['small']:,} labels.",
              "", "| test accuracy | " + " | ".join(f"seed {r.data['seed']}" for r in ok) +
              " | spread (max - min) |", "|---|" + "---|" * (len(ok) + 1)]
    for key in d0["acc"]:
        vals = [r.data["acc"][key] for r in ok]
        lines.append(f"| {key} | " + " | ".join(f"{100 * v:.1f}%" for v in vals) +
                     f" | {100 * (max(vals) - min(vals)):.1f} pt |")
    lines += ["", "Full-mode assertions: margin = how far the measured value is from failing "
              "(as a fraction: 0.009 is 0.9 accuracy points; probability for the verdicts); the claim holds with "
              "room when the smallest margin exceeds 3x the spread.", "",
              "| assertion | margins | smallest | spread | smallest / spread |", "|---|---|---|---|---|"]
    for key in d0["margins"]:
        vals = [r.data["margins"][key] for r in ok]
        spread = max(vals) - min(vals)
        ratio = "exact (no spread)" if spread == 0 else f"{min(vals) / spread:.1f}x"
        lines.append(f"| `{key}` | " + ", ".join(f"{v:.3f}" for v in vals) +
                     f" | {min(vals):.3f} | {spread:.3f} | {ratio} |")
    for r in runs:  # where the peak grew: the cells that set the memory budget
        steps, last = [], 0.0
        for cell, peak, _current in r.get("cells_peak_mb") or []:
            if peak > last + 50:
                steps.append(f"cell {cell}: {peak / 1000:.2f}")
            last = max(last, peak)
        if steps:
            lines.append(f"\nPeak memory (GB) after the cells where it grew, seed {r['seed']}: "
                         + ", ".join(steps))
    lines += ["", "Stage times (s), per seed: " + " / ".join(
        "; ".join(f"{k} {v:.0f}" for k, v in r.data["timings"].items()) for r in ok)]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", nargs="+", choices=["quick", "full"], default=["full"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 1, 2])
    parser.add_argument("--save", type=Path, help="folder for the executed notebooks")
    parser.add_argument("--runs", type=Path, help="JSON file of runs: earlier runs in it are "
                        "reported with the new ones, and each new run is added to it")
    args = parser.parse_args(argv)
    for mode in args.modes:
        load0 = os.getloadavg()[0]
        runs = json.loads(args.runs.read_text()) if args.runs and args.runs.exists() else []
        for seed in args.seeds:
            keep = args.save / f"05_{mode}_seed{seed}.ipynb" if args.save else None
            r = run_notebook(seeded(seed), mode == "quick", HARVEST, save=keep)
            print(f"{NAME} {mode} seed {seed}: {r.status}, {r.cells_wall_s:.0f} s wall, "
                  f"{r.cpu_s:.0f} s kernel CPU, peak {r.peak_rss_mb} MB", flush=True)
            runs.append(record(r, seed))
            if args.runs:
                args.runs.write_text(json.dumps(runs))
            text = report(mode, runs, load0)
            write_section(f"lesson05_{mode}", text)  # after every run: partial figures survive
        print(text)
        if mode == "quick":
            r = run_notebook(SOLUTIONS, quick=True)
            print(f"solutions quick: {r.status}, {r.cells_wall_s:.0f} s wall, {r.cpu_s:.0f} s CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
