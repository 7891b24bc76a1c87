"""Lesson 01 figures: the two label-budget experiments as the lesson measures them, extra seeds
of the draws (is each claim stable?), and the lesson's run times.

    .venv/bin/python benchmarks/bench_lesson01.py               # quick and full mode (~15 min idle)
    .venv/bin/python benchmarks/bench_lesson01.py --modes quick
    .venv/bin/python benchmarks/bench_lesson01.py --no-seeds    # skip the extra seeds

Each mode runs the lesson from the top in a fresh kernel (nbclient), as a learner would; then
one extra cell in the same kernel reads the curves the lesson measured and, unless --no-seeds,
redraws the labelled subsets with other seeds from the cached embeddings and features (the
frozen bases are not run again). The solutions notebook is timed in quick mode. Writes the
``lesson01`` section of benchmarks/RESULTS.md.
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
    "seeds": {},
}
for _seed in SEEDS:
    _t = ex.budget_curve("t", ex.linear_probe(pool_emb, pool_y, test_emb, test_y), pool_y,
                         TEXT_BUDGETS, TEXT_DRAWS, seed=_seed, progress=False)
    _s = ex.budget_curve("s", ex.tfidf_scorer(pool_text, pool_y, test_text, test_y), pool_y,
                         TEXT_BUDGETS, TEXT_DRAWS, seed=_seed, progress=False)
    _out["seeds"].setdefault("text", []).append([_seed, ex.advantage(_t, _s)])
for _seed in DIGIT_SEEDS:
    _t = ex.budget_curve("t", ex.linear_probe(digit_pool_feat, mnist.y_train, digit_test_feat,
                                              mnist.y_test),
                         mnist.y_train, DIGIT_BUDGETS, DIGIT_DRAWS, seed=_seed, per_class=True,
                         progress=False)
    _s = ex.budget_curve("s", ex.cnn_scorer(mnist.x_train, mnist.y_train, mnist.x_test,
                                            mnist.y_test, steps=CNN_STEPS, seed=_seed),
                         mnist.y_train, DIGIT_BUDGETS, DIGIT_DRAWS, seed=_seed, per_class=True,
                         progress=False)
    _out["seeds"].setdefault("digits", []).append(
        [_seed, ex.advantage(_t, _s), _t.percent(), _s.percent()])
print("BENCH" + _json.dumps(_out))
'''


def run(path: Path, quick: bool, harvest: str | None = None) -> tuple[float, float, dict]:
    """Execute ``path`` from the top in a fresh kernel. Returns the wall seconds of the
    notebook's own cells (kernel start and the harvest cell excluded), the kernel's CPU
    seconds (all of it, harvest included) and the harvested figures."""
    r = run_notebook(path, quick, harvest, raise_on_error=True)
    return r.cells_wall_s, r.cpu_s, r.data


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
    parser.add_argument("--no-seeds", action="store_true", help="skip the extra seeds")
    args = parser.parse_args(argv)
    load0 = os.getloadavg()
    lines = [f"## Lesson 01: transfer-learning concepts\n\n{stamp()}; load average "
             f"{load0[0]:.1f} at the start (above {os.cpu_count()}: other programs were "
             "competing for the CPU and every wall time below is inflated; kernel CPU seconds "
             "are the fairer figure)."]
    for mode in args.modes:
        quick = mode == "quick"
        seeds = "SEEDS = []\nDIGIT_SEEDS = []\n" if args.no_seeds else (
            "SEEDS = [100, 200]\nDIGIT_SEEDS = [10]\n" if not quick else
            "SEEDS = [100, 200]\nDIGIT_SEEDS = [1, 2]\n")
        wall, _, data = run(NOTEBOOK, quick, seeds + HARVEST)
        cpu = data["lesson_cpu"]
        print(f"{NAME} {mode}: {wall:.0f} s wall, {cpu:.0f} s kernel CPU", flush=True)
        src = data["source"]
        sz = data["sizes"]
        lines += ["", f"### {mode} mode", "",
                  f"Lesson cells from the top: **{wall:.0f} s** wall, {cpu:.0f} s CPU of the "
                  "kernel (start-up included, the extra seeds below excluded) "
                  f"(load average {os.getloadavg()[0]:.1f} at the end). Paths: text "
                  f"{src['text']}, encoder {src['encoder']}, MNIST {src['mnist']}, "
                  f"{src['net_name']} {src['net']}.", "",
                  f"Text: pool {sz['text_pool']:,} / test {sz['text_test']:,} snippets, "
                  f"embedded in {data['embed_s']:.0f} s.", "",
                  *_curve_rows(data["text"], "labelled snippets"), "",
                  f"Digits: pool {sz['digit_pool']:,} / test {sz['digit_test']:,} images, "
                  f"features in {data['feature_s']:.0f} s.", "",
                  *_curve_rows(data["digits"], "labels per class"), "",
                  f"Preprocessing demo ({data['preprocessing'][2]} test digits): "
                  f"{100 * data['preprocessing'][0]:.1f}% with the network's scaling, "
                  f"{100 * data['preprocessing'][1]:.1f}% with raw 0-255 pixels."]
        for kind, runs in data["seeds"].items():
            lines += ["", f"Other seeds of the draws ({kind}), transfer ahead by (points): " +
                      "; ".join(f"seed {r[0]}: {r[1]}" for r in runs)]
    wall, cpu, _ = run(SOLUTIONS, quick=True)
    print(f"solutions quick: {wall:.0f} s wall, {cpu:.0f} s kernel CPU", flush=True)
    lines += ["", f"Solutions notebook, quick mode: {wall:.0f} s wall, {cpu:.0f} s kernel CPU."]
    text = "\n".join(lines)
    print(text)
    write_section("lesson01", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
