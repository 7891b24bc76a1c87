"""Lesson 01 figures: the two label-budget experiments as the lesson measures them, extra seeds
of the draws (is each claim stable?), and the lesson's run times.

    .venv/bin/python benchmarks/bench_lesson01.py               # quick and full mode
    .venv/bin/python benchmarks/bench_lesson01.py --modes full

Each mode runs the lesson from the top in a fresh kernel (nbclient), as a learner would; then
one extra cell in the same kernel reruns the lesson's measured quantities with two more seeds
(seeds 100 and 200 for every labelled draw and the CNN's weights, from the embeddings and
features the lesson computed: the frozen bases are not run again), so every assertion is seen
over three seeds. Writes the spread and each assertion's margin into the ``lesson01`` section
of benchmarks/RESULTS.md. The solutions notebook is timed in quick mode.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import run_notebook, stamp, write_section  # noqa: E402

NAME = "01_transfer_learning_concepts.ipynb"
NOTEBOOK = HERE.parent / "notebooks" / NAME
SOLUTIONS = HERE.parent / "notebooks" / "solutions" / NAME

HARVEST = r'''
import json as _json
import resource as _resource

_ru = _resource.getrusage(_resource.RUSAGE_SELF)
_lesson_cpu = _ru.ru_utime + _ru.ru_stime  # the kernel's CPU time for the lesson's own cells

def _curve(c):
    return {"name": c.name, "budgets": list(c.budgets), "scores": c.scores, "seconds": c.seconds}

def _asserted(t_gap, t_mean, d_gap, pre):
    # the quantities the lesson's assertions test, for one seed of the draws (points)
    return {"text_gap_checked": t_gap[at], "text_gap_min3": min(t_gap[:3]),
            "text_gap_last": t_gap[-1], "text_shrink": round(max(t_gap) - t_gap[-1], 1),
            "text_over_majority": round(100 * (t_mean[at] - majority), 1),
            "digit_gap_first": d_gap[0], "digit_gap_first2": max(d_gap[:2]),
            "digit_gap_last": d_gap[-1], "preprocessing_drop": round(100 * pre, 1)}

_out = {
    "source": {"text": rt.source, "encoder": encoder.source, "mnist": mnist.source,
               "net": net.source, "net_name": net.name},
    "text": [_curve(text_transfer), _curve(text_scratch)],
    "digits": [_curve(digit_transfer), _curve(digit_scratch)],
    "sizes": {"text_pool": len(pool_y), "text_test": len(test_y),
              "digit_pool": len(mnist.y_train), "digit_test": len(mnist.y_test)},
    "embed_s": text_embed_s, "feature_s": digit_feature_s,
    "preprocessing": [right_acc, wrong_acc, int(n_demo)],
    "lesson_cpu": _lesson_cpu,
    "seeds": [[0, _asserted(text_gap, text_transfer.mean, digit_gap, right_acc - wrong_acc),
               text_transfer.percent(), text_scratch.percent(), digit_transfer.percent(),
               digit_scratch.percent()]],
}
for _seed in SEEDS:
    _t = budget_curve("t", linear_probe(pool_emb, pool_y, test_emb, test_y), pool_y,
                      TEXT_BUDGETS, TEXT_DRAWS, seed=_seed, progress=False)
    _s = budget_curve("s", tfidf_scorer(pool_text, pool_y, test_text, test_y), pool_y,
                      TEXT_BUDGETS, TEXT_DRAWS, seed=_seed, progress=False)
    _dt = budget_curve("t", linear_probe(digit_pool_feat, mnist.y_train, digit_test_feat,
                                         mnist.y_test),
                       mnist.y_train, DIGIT_BUDGETS, DIGIT_DRAWS, seed=_seed, per_class=True,
                       progress=False)
    _ds = budget_curve("s", cnn_scorer(mnist.x_train, mnist.y_train, mnist.x_test, mnist.y_test,
                                       steps=CNN_STEPS, seed=_seed),
                       mnist.y_train, DIGIT_BUDGETS, DIGIT_DRAWS, seed=_seed, per_class=True,
                       progress=False)
    _i = draw_per_class(mnist.y_train, DIGIT_BUDGETS[-1], seed=_seed)
    _h = choose_on_validation(LogisticRegression(max_iter=2000), {"C": [1.0, 10.0]},
                              digit_pool_feat[_i], mnist.y_train[_i])
    _pre = (_h.score(digit_test_feat[:n_demo], mnist.y_test[:n_demo])
            - _h.score(wrong_feat, mnist.y_test[:n_demo]))
    _out["seeds"].append([_seed, _asserted(advantage(_t, _s), _t.mean,
                                           advantage(_dt, _ds), _pre),
                          _t.percent(), _s.percent(), _dt.percent(), _ds.percent()])
print("BENCH" + _json.dumps(_out))
'''


#: every assertion of the lesson, mode -> (quantity, direction, threshold, what it claims); the
#: quantities are those _asserted() computes in the harvest cell, in points
ASSERTIONS = {
    "quick": [("text_gap_checked", ">=", 1.5, "transfer ahead at 128 labels"),
              ("text_over_majority", ">", 0.0, "transfer above always-'fresh' at 128 labels"),
              ("digit_gap_first", "<=", -2.0, "scratch ahead at 10 digits per class"),
              ("preprocessing_drop", ">", 20.0, "forgetting the preprocessing costs > 20 points")],
    "full": [("text_gap_checked", ">=", 3.0, "transfer ahead by >= 3 points at 32 labels"),
             ("text_over_majority", ">", 2.0, "transfer above always-'fresh' at 32 labels"),
             ("text_gap_min3", ">=", 3.0, "transfer ahead by >= 3 points up to 512 labels"),
             ("text_gap_last", "<", 1.0, "with all labels, TF-IDF catches up"),
             ("text_shrink", ">", 4.0, "the lead shrinks by > 4 points from its peak"),
             ("digit_gap_first", "<=", -4.0, "scratch ahead by >= 4 points at 10 per class"),
             ("digit_gap_first2", "<=", -0.5, "scratch ahead at 10 and 30 per class"),
             ("digit_gap_last", "<=", 3.0, "transfer not clearly ahead at 100 per class"),
             ("preprocessing_drop", ">", 20.0, "forgetting the preprocessing costs > 20 points")],
}


def margins(mode: str, seeds: list) -> list[str]:
    """The margins table: per assertion, the value of every seed, their spread and the margin
    (the closest seed's distance to the threshold, on the passing side)."""
    rows = ["| assertion | threshold | values over the seeds | spread | margin | margin / spread |",
            "|---|---|---|---:|---:|---:|"]
    for key, op, threshold, claim in ASSERTIONS[mode]:
        values = [r[1][key] for r in seeds]
        spread = max(values) - min(values)
        margin = min((v - threshold) if op.startswith(">") else (threshold - v) for v in values)
        ratio = "inf" if spread == 0 else f"{margin / spread:.1f}"
        rows.append(f"| {claim} | {op} {threshold:g} | {', '.join(f'{v:.1f}' for v in values)} | "
                    f"{spread:.1f} | {margin:.1f} | {ratio} |")
    return rows


def run(path: Path, quick: bool, harvest: str | None = None):
    """Execute ``path`` from the top in a fresh kernel (see results.run_notebook)."""
    return run_notebook(path, quick, harvest, raise_on_error=True)


def _curve_rows(curves, unit) -> list[str]:
    t, s = curves
    rows = [f"| {unit} | {t['name']} | {s['name']} | transfer ahead (points) | draws |",
            "|---|---|---|---|---|"]
    for i, b in enumerate(t["budgets"]):
        mt = [100 * v for v in t["scores"][i]]
        ms = [100 * v for v in s["scores"][i]]
        mean_t, mean_s = sum(mt) / len(mt), sum(ms) / len(ms)
        rows.append(f"| {b} | {mean_t:.1f} (worst draw {min(mt):.1f}) | {mean_s:.1f} (best draw "
                    f"{max(ms):.1f}) | {mean_t - mean_s:+.1f} | {len(mt)} |")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", nargs="+", choices=["quick", "full"], default=["quick", "full"])
    args = parser.parse_args(argv)
    load0 = os.getloadavg()
    lines = [f"## Lesson 01: transfer-learning concepts\n\n{stamp()}; load average "
             f"{load0[0]:.1f} at the start (above {os.cpu_count()}: other programs were "
             "competing for the CPU and every wall time below is inflated; kernel CPU seconds "
             "are the fairer figure). Command: `python benchmarks/bench_lesson01.py "
             f"--modes {' '.join(args.modes)}`."]
    for mode in args.modes:
        quick = mode == "quick"
        seeds = "SEEDS = [100, 200]\n"
        r = run(NOTEBOOK, quick, seeds + HARVEST)
        data, wall = r.data, r.cells_wall_s
        cpu = data["lesson_cpu"]
        peak = f"{r.peak_rss_mb / 1000:.2f} GB" if r.peak_rss_mb else "unknown"
        print(f"{NAME} {mode}: {wall:.0f} s wall, {cpu:.0f} s kernel CPU, peak {peak}", flush=True)
        src = data["source"]
        sz = data["sizes"]
        lines += ["", f"### {mode} mode", "",
                  f"Lesson cells from the top: **{wall:.0f} s** wall, {cpu:.0f} s CPU of the "
                  f"kernel (start-up included, the extra seeds below excluded), peak resident "
                  f"memory of the kernel {peak} (extra seeds included), load average "
                  f"{r.load[0]:.1f} / {r.load[1]:.1f} at the start / end. Paths: text "
                  f"{src['text']}, encoder {src['encoder']}, MNIST {src['mnist']}, "
                  f"{src['net_name']} {src['net']}.", "",
                  f"Text: pool {sz['text_pool']:,} / test {sz['text_test']:,} snippets, "
                  f"embedded in {data['embed_s']:.0f} s. Seed 0 (the lesson's draws):", "",
                  *_curve_rows(data["text"], "labelled snippets"), "",
                  f"Digits: pool {sz['digit_pool']:,} / test {sz['digit_test']:,} images, "
                  f"features in {data['feature_s']:.0f} s. Seed 0:", "",
                  *_curve_rows(data["digits"], "labels per class"), "",
                  f"Preprocessing demo ({data['preprocessing'][2]} test digits): "
                  f"{100 * data['preprocessing'][0]:.1f}% with the network's scaling, "
                  f"{100 * data['preprocessing'][1]:.1f}% with raw 0-255 pixels.", "",
                  "Mean accuracy (%) per budget, seed by seed (seed 0 is the lesson's run; "
                  "the others redraw every labelled subset and reseed the CNN, from the same "
                  "embeddings and features):", "",
                  "| seed | text: transfer | text: scratch | digits: transfer | digits: scratch |",
                  "|---|---|---|---|---|",
                  *[f"| {r_[0]} | {r_[2]} | {r_[3]} | {r_[4]} | {r_[5]} |" for r_ in data["seeds"]],
                  "", f"Every {mode}-mode assertion over the {len(data['seeds'])} seeds "
                  "(points):", "", *margins(mode, data["seeds"])]
    r = run(SOLUTIONS, quick=True)
    peak = f"{r.peak_rss_mb / 1000:.2f} GB" if r.peak_rss_mb else "unknown"
    print(f"solutions quick: {r.cells_wall_s:.0f} s wall, {r.cpu_s:.0f} s kernel CPU", flush=True)
    lines += ["", f"Solutions notebook, quick mode: {r.cells_wall_s:.0f} s wall, {r.cpu_s:.0f} s "
              f"kernel CPU, peak {peak}."]
    text = "\n".join(lines)
    print(text)
    write_section("lesson01", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
