"""Lesson 07, stage 2 over several seeds: the lesson's choice, and two ways to combine its settings.

    .venv/bin/python benchmarks/stage2_lesson07.py                 # seeds 0 1 2
    .venv/bin/python benchmarks/stage2_lesson07.py --seeds 3 4

For each seed, in a fresh process, the lesson's own cells run up to stage 2 (folders, arrays,
preprocessing, the network, stage 1, ``unfreeze_top``, ``fine_tune``, ``eight_views``), then every
fine-tuning setting of full mode is trained from the same stage-1 weights, as the lesson does.
Recorded per setting: the validation and test accuracy from one view and from the mean of the
8 views. Then two combinations that need no further training:

- **ensemble**: the mean of the two fine-tuned networks' probabilities (two networks to run);
- **weight average**: one network whose weights are the mean of the two (both start from the
  same stage-1 weights).

"lesson's rule" is what the lesson does: the setting with the best validation accuracy, then the
8 views if they do not lower it. Writes the ``lesson07_stage2`` section of benchmarks/RESULTS.md,
prints a JSON line per seed and, last, all of them.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from levers_lesson07 import CELLS as LEVER_CELLS  # noqa: E402
from levers_lesson07 import NOTEBOOK, lesson_namespace  # noqa: E402
from results import stamp, write_section  # noqa: E402

#: the lever script's cells, and the one that defines ``unfreeze_top`` before ``fine_tune``
CELLS = [*LEVER_CELLS[:-2], "def unfreeze_top(", "def fine_tune("]
SETTINGS_LINE = "SETTINGS = tlcourse.pick("


def one_seed(seed: int, out: Path) -> None:
    import nbformat

    start = time.perf_counter()
    ns = lesson_namespace(CELLS, seed)
    cells = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    (choose,) = [c for c in cells if SETTINGS_LINE in c]
    for line in choose.splitlines():  # the lesson's full-mode settings and epochs, as it sets them
        if line.startswith(("EPOCHS_FT", "SETTINGS", "HEAD_LR")):
            exec(line, ns)  # noqa: S102
    network, rows, weights = ns["network"], [], []
    stage1 = network.get_weights()

    def scores(name, extra):
        row = {"variant": name, **extra}
        for split in ("val", "test"):
            x = ns[f"x_{split}"]
            row[f"{split} 1"] = ns["probabilities"](x).tolist()
            row[f"{split} 8"] = ns["view_probabilities"](x).tolist()
        rows.append(row)

    for n_blocks, base_lr in ns["SETTINGS"]:
        network.set_weights(stage1)
        ns["unfreeze_top"](n_blocks)
        curve = ns["fine_tune"](ns["EPOCHS_FT"], base_lr, ns["HEAD_LR"])
        scores(f"top {n_blocks} blocks, base lr {base_lr:g}", {"last val": curve[-1]})
        weights.append(network.get_weights())
    network.set_weights([np.mean(ws, axis=0) for ws in zip(*weights, strict=True)])
    scores("weight average", {})
    out.write_text(json.dumps({"seed": seed, "rows": rows, "y_val": ns["y_val"].tolist(),
                               "y_test": ns["y_test"].tolist(), "load": os.getloadavg()[0],
                               "seconds": time.perf_counter() - start}))


def summarise(d: dict) -> dict:
    y_val, y_test = np.array(d["y_val"]), np.array(d["y_test"])
    acc = {"val": lambda p: float(np.mean((np.asarray(p) >= 0.5) == y_val)),
           "test": lambda p: float(np.mean((np.asarray(p) >= 0.5) == y_test))}
    settings = [r for r in d["rows"] if "last val" in r]
    ensemble = {"variant": "ensemble"}
    ensemble.update({k: np.mean([r[k] for r in settings], axis=0) for k in
                     ("val 1", "val 8", "test 1", "test 8")})
    out = {}
    for r in [*d["rows"], ensemble]:
        out[r["variant"]] = {f"{s} {v}": acc[s](r[f"{s} {v}"]) for s in ("val", "test")
                             for v in ("1", "8")}

    def views_rule(name):  # the 8 views if they do not lower the validation accuracy
        v = "8" if out[name]["val 8"] >= out[name]["val 1"] else "1"
        return out[name][f"val {v}"], out[name][f"test {v}"], v

    best = max(settings, key=lambda r: r["last val"])["variant"]
    lesson = (best, *views_rule(best))
    with_ensemble = max([lesson, ("ensemble", *views_rule("ensemble"))], key=lambda t: t[1])
    return {"seed": d["seed"], "variants": out, "lesson": lesson, "with ensemble": with_ensemble,
            "seconds": d["seconds"], "load": d["load"], "cells": (len(y_val), len(y_test))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if os.environ.get("TLCOURSE_QUICK"):
        raise SystemExit("run in full mode (TLCOURSE_QUICK unset): quick mode keeps a few batches")
    if args.one is not None:
        one_seed(args.one, args.out)
        return 0
    start, runs = time.perf_counter(), []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:  # one fresh process per seed, as a fresh kernel
            out = Path(tmp) / f"seed{seed}.json"
            subprocess.run([sys.executable, __file__, "--one", str(seed), "--out", str(out)],
                           check=True)
            runs.append(summarise(json.loads(out.read_text())))
            print(json.dumps({k: runs[-1][k] for k in ("seed", "lesson", "with ensemble")}),
                  flush=True)
    names = list(runs[0]["variants"])
    loads = ", ".join(f"{r['load']:.1f}" for r in runs)
    lines = ["## Lesson 07: stage 2 over seeds, and combining its two settings", "", stamp(), "",
             f"Command: `python benchmarks/stage2_lesson07.py --seeds {' '.join(map(str, args.seeds))}`"
             f"; one fresh process per seed, {time.perf_counter() - start:.0f} s in all, load "
             f"average at the ends of the seeds {loads} "
             f"(2 cores). Accuracy in percent: validation ({runs[0]['cells'][0]} cells) / test "
             f"({runs[0]['cells'][1]} cells).", "",
             "| seed | " + " | ".join(f"{n}: 1 view | {n}: 8 views" for n in names)
             + " | lesson's rule: test (choice) | with the ensemble as a candidate: test (choice) |",
             "|---:|" + "---|" * (2 * len(names) + 2)]
    for r in runs:
        v = r["variants"]
        cells = [f"{100 * v[n][f'val {k}']:.1f} / {100 * v[n][f'test {k}']:.1f}"
                 for n in names for k in ("1", "8")]
        lesson, ens = r["lesson"], r["with ensemble"]
        lines.append(f"| {r['seed']} | " + " | ".join(cells)
                     + f" | {100 * lesson[2]:.1f} ({lesson[0]}, {lesson[3]} view(s)) | "
                     f"{100 * ens[2]:.1f} ({ens[0]}, {ens[3]} view(s)) |")
    tests = [100 * r["lesson"][2] for r in runs]
    lines += ["", f"The lesson's rule gave {min(tests):.1f} to {max(tests):.1f}% on the test cells "
              f"(mean {np.mean(tests):.1f}) over {len(runs)} seeds."]
    write_section("lesson07_stage2", "\n".join(lines))
    print("STAGE2_JSON " + json.dumps(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
