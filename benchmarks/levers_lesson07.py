"""Lesson 07 lever at a small label budget, measured on the VALIDATION cells only.

    .venv/bin/python benchmarks/levers_lesson07.py                 # 25 cells per class, 5 draws
    .venv/bin/python benchmarks/levers_lesson07.py --per-class 25 --draws 3

With 25 labelled cells per class, does the frozen MobileNetV2 + logistic regression gain from
training on the features of all 8 rotations and mirrors of each labelled cell (8 x the rows, the
views of one cell kept in one cross-validation fold) and from averaging the 8 views' probabilities
when predicting? Each variant and the lesson's small CNN from scratch get the same draws of
labelled cells. The lesson's own cells are run in this process (folders, arrays, preprocessing,
the network, stage 1's features, ``eight_views``, the scratch CNN), so the code measured is the
lesson's. The test cells play no part. Writes the ``lesson07_levers`` section of
benchmarks/RESULTS.md and prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import nbformat
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from results import stamp, write_section  # noqa: E402

NOTEBOOK = HERE.parent / "notebooks" / "07_your_own_images.ipynb"
#: the lesson's cells this needs, each found by a line it contains, run in this order
CELLS = ["settings = tlcourse.setup(seed=SEED)", "def check_folder(", "root = imagefolders.elpv_folders(",
         "def arrays(files)", "show = np.r_[", "class RandomTranspose(", "net = models.load_imagenet(",
         "EPOCHS_HEAD = ", "def fine_tune(", "def scratch_cnn():"]


def lesson_namespace(markers=CELLS, seed: int = 0) -> dict:
    """Run the lesson's code cells named by ``markers`` (a line each contains), in that order, in
    one namespace, with ``SEED = seed`` in the first cell; return the namespace."""
    cells = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    ns: dict = {"__name__": "lesson07"}
    for marker in markers:
        found = [c for c in cells if marker in c]
        if len(found) != 1:
            raise SystemExit(f"{NOTEBOOK.name}: expected one code cell with {marker!r}")
        source = found[0].replace("SEED = 0", f"SEED = {int(seed)}", 1)
        exec(compile(source, f"<lesson cell: {marker}>", "exec"), ns)  # noqa: S102 (our own notebook)
    return ns


def probe(f, y, groups, Cs=(1.0, 10.0)):
    """Logistic regression, C chosen on stratified folds that keep each cell's views together."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
    from threadpoolctl import threadpool_limits

    folds = StratifiedGroupKFold(3, shuffle=True, random_state=0)
    with threadpool_limits(limits=1, user_api="blas"):
        return GridSearchCV(LogisticRegression(max_iter=2000), {"C": list(Cs)}, cv=folds).fit(
            f, y, groups=groups)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-class", type=int, default=25)
    parser.add_argument("--draws", type=int, default=5)
    args = parser.parse_args(argv)
    if os.environ.get("TLCOURSE_QUICK"):
        raise SystemExit("run in full mode (TLCOURSE_QUICK unset): quick mode keeps a few batches")
    start = time.perf_counter()
    ns = lesson_namespace()
    embed, eight_views, x_train, y_train = ns["embed"], ns["eight_views"], ns["x_train"], ns["y_train"]
    x_val, y_val, f_val = ns["x_val"], ns["y_val"], ns["f_val"]

    def view_features(images):  # (8, n, 1280): the frozen features of the 8 views
        return np.stack([embed.predict(v, batch_size=16, verbose=0) for v in eight_views(images)])

    fv_val = view_features(x_val)
    setup_s = time.perf_counter() - start
    ns["x_test"], ns["y_test"] = x_val, y_val  # the lesson's scratch_score then scores validation
    rows = []
    for draw in range(args.draws):
        idx = ns["experiments"].draw_per_class(y_train, args.per_class, seed=draw)
        fv = view_features(x_train[idx])  # view 0 is the cell itself
        one = probe(fv[0], y_train[idx], np.arange(len(idx)))
        eight = probe(fv.reshape(-1, fv.shape[-1]), np.tile(y_train[idx], 8),
                      np.tile(np.arange(len(idx)), 8))

        def acc(model, views):
            p = np.mean([model.predict_proba(f)[:, 1] for f in views], axis=0)
            return float(np.mean((p >= 0.5) == y_val))

        row = {"draw": draw, "1 view": acc(one, [f_val]), "1 view, 8-view mean": acc(one, fv_val),
               "8 views": acc(eight, [f_val]), "8 views, 8-view mean": acc(eight, fv_val),
               "C (1 view, 8 views)": [one.best_params_["C"], eight.best_params_["C"]]}
        row["scratch CNN"] = ns["scratch_score"](idx, seed=draw)
        rows.append(row)
        print(json.dumps(row), flush=True)
    methods = ["1 view", "1 view, 8-view mean", "8 views", "8 views, 8-view mean"]
    lines = ["## Lesson 07 lever: 8 views at 25 cells per class", "", stamp(), "",
             f"Validation accuracy ({len(y_val)} cells of the lesson's split, seed 0, "
             f"{ns['SIZE']} px; always 'good' {1 - y_val.mean():.1%}), {args.per_class} training "
             f"cells per class, draws 0 to {args.draws - 1}; frozen MobileNetV2 + logistic "
             "regression trained on the features of 1 or 8 views per cell, predicting from 1 view "
             "or the mean of 8; the scratch CNN is the lesson's (300 steps). Load average at the "
             f"end: {os.getloadavg()[0]:.1f}; {time.perf_counter() - start:.0f} s in all "
             f"({setup_s:.0f} s for the lesson's cells and the validation views).", "",
             "| draw | " + " | ".join(methods) + " | scratch CNN | 8 views, 8-view mean minus "
             "scratch (points) | C chosen |", "|---:|" + "---:|" * (len(methods) + 2) + "---|"]
    for r in rows:
        lines.append(f"| {r['draw']} | " + " | ".join(f"{100 * r[m]:.1f}" for m in methods)
                     + f" | {100 * r['scratch CNN']:.1f} | "
                     f"{100 * (r['8 views, 8-view mean'] - r['scratch CNN']):+.1f} | "
                     f"{r['C (1 view, 8 views)']} |")
    means = {m: float(np.mean([r[m] for r in rows])) for m in [*methods, "scratch CNN"]}
    lines.append("| mean | " + " | ".join(f"{100 * means[m]:.1f}" for m in methods)
                 + f" | {100 * means['scratch CNN']:.1f} | | |")
    write_section("lesson07_levers", "\n".join(lines))
    print("LEVERS_JSON " + json.dumps({"rows": rows, "means": means}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
