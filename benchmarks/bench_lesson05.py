"""Lesson 05 figures: accuracies, the label-budget curve and run times, as the lesson measures them.

    .venv/bin/python benchmarks/bench_lesson05.py                  # quick and full mode
    .venv/bin/python benchmarks/bench_lesson05.py --modes quick
    .venv/bin/python benchmarks/bench_lesson05.py --save /tmp/l05  # keep the executed notebooks

Each mode runs the lesson from the top in a fresh kernel (nbclient), as a learner would; one
extra cell in the same kernel then prints the figures the lesson measured and the kernel's CPU
seconds. The solutions notebook is timed in quick mode. Writes the ``lesson05_quick`` and
``lesson05_full`` sections of benchmarks/RESULTS.md. The frozen embeddings are cached by the lesson: for a first-run time,
point TLCOURSE_CACHE at an empty folder (the Rotten Tomatoes file then comes from the mirror).
"""

from __future__ import annotations

import argparse
import os
import sys
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
_out = {
    "lesson_cpu": _ru.ru_utime + _ru.ru_stime,
    "encoder": encoder.source, "encoder_desc": encoder.description, "data": rt.source,
    "sizes": [len(train_y), len(val_y), len(test_y)], "seq_len": SEQ_LEN, "p95": int(p95),
    "acc": {"majority": acc_majority, "tfidf": acc_tfidf, "frozen": acc_frozen,
            "finetuned": acc_ft, "random_init": acc_scratch},
    "steps": fit_pre.steps, "s_per_step": [fit_pre.seconds_per_step, fit_scratch.seconds_per_step],
    "fit_s": [fit_pre.seconds, fit_scratch.seconds],
    "budgets": list(BUDGETS), "curve": curve, "ft_curve": {str(k): v for k, v in ft_curve.items()},
    "timings": timings,
    "sentences": S.classify(reloaded, SENTENCES).values.tolist(),
    "mistakes": mistakes.values.tolist(),
}
print("BENCH" + _json.dumps(_out))
'''


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", nargs="+", choices=["quick", "full"], default=["quick", "full"])
    parser.add_argument("--save", type=Path, help="folder for the executed notebooks")
    args = parser.parse_args(argv)
    for mode in args.modes:
        quick = mode == "quick"
        load0 = os.getloadavg()[0]
        lines = [f"## Lesson 05: BERT sentiment with keras-hub, {mode} mode\n\n{stamp()}; load "
                 f"average {load0:.1f} at the start ({os.cpu_count()} cores: above that, other "
                 "programs were competing for the CPU, every wall time below is inflated and "
                 "the kernel's CPU seconds are the fairer figure)."]
        keep = args.save / f"05_{mode}.ipynb" if args.save else None
        r = run_notebook(NOTEBOOK, quick, HARVEST, save=keep, raise_on_error=True)
        wall, data = r.cells_wall_s, r.data
        cpu = data["lesson_cpu"]
        print(f"{NAME} {mode}: {wall:.0f} s wall, {cpu:.0f} s kernel CPU", flush=True)
        acc = {k: f"{100 * v:.1f}%" for k, v in data["acc"].items()}
        n_tr, n_val, n_te = data["sizes"]
        lines += ["",
                  f"Lesson cells from the top: **{wall:.0f} s** wall, {cpu:.0f} s CPU of the "
                  f"kernel (load average {os.getloadavg()[0]:.1f} at the end). Encoder: "
                  f"{data['encoder']} ({data['encoder_desc']}); data: {data['data']}. "
                  f"Train / validation / test: {n_tr:,} / {n_val:,} / {n_te:,} snippets; "
                  f"95% fit in {data['p95']} tokens; sequence length {data['seq_len']}.", "",
                  "| method | test accuracy |", "|---|---|",
                  f"| majority class | {acc['majority']} |",
                  f"| TF-IDF + logistic regression | {acc['tfidf']} |",
                  f"| frozen MiniLM (mean-pooled) + logistic regression | {acc['frozen']} |",
                  f"| fine-tuned MiniLM (1 epoch, warm-started head) | {acc['finetuned']} |",
                  f"| same network from random weights, same budget | {acc['random_init']} |",
                  "",
                  f"Fine-tuning: {data['steps']} steps of 16 snippets; pretrained "
                  f"{data['fit_s'][0]:.0f} s ({data['s_per_step'][0]:.2f} s per step after the "
                  f"first three), random weights {data['fit_s'][1]:.0f} s "
                  f"({data['s_per_step'][1]:.2f} s per step).", "",
                  "| labels | " + " | ".join(data["curve"]) + " | fine-tuned |",
                  "|---|" + "---|" * (len(data["curve"]) + 1)]
        for i, b in enumerate(data["budgets"]):
            ft = data["ft_curve"].get(str(b))
            lines.append(f"| {b} | " + " | ".join(f"{100 * v[i]:.1f}%" for v in
                                                  data["curve"].values()) +
                         f" | {'-' if ft is None else f'{100 * ft:.1f}%'} |")
        lines += ["", "Stage times (s): " + "; ".join(f"{k} {v:.0f}" for k, v in
                                                      data["timings"].items()), "",
                  "Own sentences: " + "; ".join(f"\"{s}\" -> {v} ({p:.2f})" for s, v, p in
                                                data["sentences"])]
        if quick:
            r = run_notebook(SOLUTIONS, quick=True, raise_on_error=True)
            wall, cpu = r.cells_wall_s, r.cpu_s
            print(f"solutions quick: {wall:.0f} s wall, {cpu:.0f} s kernel CPU", flush=True)
            lines += ["", f"Solutions notebook, quick mode: {wall:.0f} s wall, {cpu:.0f} s "
                      "kernel CPU."]
        text = "\n".join(lines)
        print(text)
        write_section(f"lesson05_{mode}", text)  # one section per mode: rerun one, keep the other
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
