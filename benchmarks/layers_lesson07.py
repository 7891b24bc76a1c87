"""Lesson 07: which layer of the frozen base gives the best features? Measured on VALIDATION only.

    .venv/bin/python benchmarks/layers_lesson07.py                  # 25/100/all, 5/3/1 draws
    .venv/bin/python benchmarks/layers_lesson07.py --draws 3

The lesson's logistic regression (``experiments.linear_probe``, C chosen on folds of the labelled
cells) is trained on the globally averaged output of one layer of the frozen MobileNetV2: the
lesson's own (``out_relu``, the last) or an earlier block's expansion. The lesson's small CNN from
scratch gets the same draws of labelled cells. The lesson's own cells run in this process
(``levers_lesson07.lesson_namespace``), so the code measured is the lesson's; the test cells play
no part. Writes the ``lesson07_layers`` section of benchmarks/RESULTS.md and prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from levers_lesson07 import lesson_namespace  # noqa: E402
from results import stamp, write_section  # noqa: E402

LAYERS = ["block_6_expand_relu", "block_10_expand_relu", "block_13_expand_relu", "out_relu"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", type=int, default=5, help="draws at 25 cells per class")
    args = parser.parse_args(argv)
    if os.environ.get("TLCOURSE_QUICK"):
        raise SystemExit("run in full mode (TLCOURSE_QUICK unset): quick mode keeps a few batches")
    start = time.perf_counter()
    ns = lesson_namespace()
    keras, base, preprocess, experiments = (ns[k] for k in ("keras", "base", "preprocess",
                                                            "experiments"))
    x_train, y_train, x_val, y_val = (ns[k] for k in ("x_train", "y_train", "x_val", "y_val"))
    pooled = [keras.layers.GlobalAveragePooling2D()(base.get_layer(n).output) for n in LAYERS]
    extract = keras.Model(base.input, pooled)

    def features(images):  # one pass through the base: every layer's pooled output, in order
        parts = [extract(preprocess(images[s:s + 16].astype("float32")), training=False)
                 for s in range(0, len(images), 16)]
        return [np.concatenate([np.asarray(p[i]) for p in parts]) for i in range(len(LAYERS))]

    f_train, f_val = features(x_train), features(x_val)
    setup_s = time.perf_counter() - start
    ns["x_test"], ns["y_test"] = x_val, y_val  # the lesson's scratch_score then scores validation
    probes = {name: experiments.linear_probe(f_train[i], y_train, f_val[i], y_val)
              for i, name in enumerate(LAYERS)}
    rows = []
    for budget, draws in ((25, args.draws), (100, max(1, args.draws - 2)), ("all", 1)):
        for draw in range(draws):
            idx = (np.arange(len(y_train)) if budget == "all"
                   else experiments.draw_per_class(y_train, budget, seed=draw))
            row = {"budget": budget, "draw": draw}
            row.update({name: probe(idx) for name, probe in probes.items()})
            row["scratch CNN"] = ns["scratch_score"](idx, seed=draw)
            rows.append(row)
            print(json.dumps(row), flush=True)

    methods = [*LAYERS, "scratch CNN"]
    lines = ["## Lesson 07 lever: features from an earlier layer of the frozen base", "", stamp(),
             "", f"Base: {ns['net']}.", "",
             f"Validation accuracy ({len(y_val)} cells of the lesson's split, seed 0, "
             f"{ns['SIZE']} px; always 'good' {1 - y_val.mean():.1%}). The lesson's logistic "
             "regression on the globally averaged output of one layer of the frozen base "
             "(`out_relu` is the lesson's), and the lesson's scratch CNN (300 steps), on the same "
             f"draws of labelled cells. Load average at the end: {os.getloadavg()[0]:.1f}; "
             f"{time.perf_counter() - start:.0f} s in all ({setup_s:.0f} s for the lesson's cells "
             "and the features).", "",
             "| cells per class | draw | " + " | ".join(f"`{m}`" if m in LAYERS else m
                                                       for m in methods) + " |",
             "|---|---:|" + "---:|" * len(methods)]
    for r in rows:
        lines.append(f"| {r['budget']} | {r['draw']} | "
                     + " | ".join(f"{100 * r[m]:.1f}" for m in methods) + " |")
    means = {}
    for budget in (25, 100):
        group = [r for r in rows if r["budget"] == budget]
        means[budget] = {m: float(np.mean([r[m] for r in group])) for m in methods}
        ahead = {m: sum(r[m] > r["scratch CNN"] for r in group) for m in LAYERS}
        lines.append(f"| {budget}: mean of {len(group)} | | "
                     + " | ".join(f"{100 * means[budget][m]:.1f}" for m in methods) + " |")
        lines.append(f"| {budget}: draws ahead of scratch | | "
                     + " | ".join(f"{ahead[m]} of {len(group)}" for m in LAYERS) + " | |")
    write_section("lesson07_layers", "\n".join(lines))
    print("LAYERS_JSON " + json.dumps({"rows": rows, "means": means}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
