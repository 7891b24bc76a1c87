"""Lesson 06 figures: run the domain-adaptation lesson (and its solutions) from the top in a
fresh kernel, and record its run time, the kernel's CPU time and the accuracies it measured.

    .venv/bin/python benchmarks/bench_lesson06.py                  # quick and full mode
    .venv/bin/python benchmarks/bench_lesson06.py --modes quick    # quick mode only (~1 min)
    .venv/bin/python benchmarks/bench_lesson06.py --save /tmp/out  # also keep the executed notebooks

Writes the ``lesson06`` section of benchmarks/RESULTS.md. The figures are read from the
lesson's own variables (a cell appended in memory prints them as JSON), so they are the
numbers the lesson asserted on. Each mode starts with an empty feature cache, as a learner's
first run does. Records the load average: on a shared machine every time is inflated, and
the kernel's CPU time is then the better guide.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import run_notebook, stamp, write_section  # noqa: E402

NOTEBOOK = HERE.parent / "notebooks" / "06_domain_adaptation.ipynb"
SOLUTIONS = HERE.parent / "notebooks" / "solutions" / "06_domain_adaptation.ipynb"

REPORT_CELL = r'''
import json as _json
import resource as _resource

_ru = _resource.getrusage(_resource.RUSAGE_SELF)
_report = {"cpu_s": _ru.ru_utime + _ru.ru_stime}
_fig = {}
if "results" in globals():
    _fig = {
        "n_train": int(N_TRAIN), "seeds": list(SEEDS), "epochs": int(EPOCHS),
        "mnist_source": source.description, "imagenet": imagenet.name, "imagenet_source": imagenet.source,
        "imagenet_size": int(IMAGENET_SIZE),
        "so_mnist": float(100 * so_mean["MNIST"]),
        "imagenet_mnist": float(100 * imagenet_acc["MNIST"]),
        "results": {m: {t: (None if v != v else float(v)) for t, v in row.items()}
                    for m, row in results.round(2).to_dict(orient="index").items()},
        "spread": {m: {t: (None if v != v else float(v)) for t, v in row.items()}
                   for m, row in spread.round(2).to_dict(orient="index").items()},
        "gap": {k: float(v) for k, v in gap.items()},
        "dann_gain": float(dann_gain), "coral_gain": float(coral_gain),
        "curves": {k: [float(100 * s) for s in v] for k, v in curves.items()}, "budgets": BUDGETS,
        "probe": {k: float(v) for k, v in probe_acc.items()},
        "known": {m: {t: (None if v != v else float(v)) for t, v in row.items()}
                  for m, row in known.round(2).to_dict(orient="index").items()},
        "domain_acc_last": {"watching": float(watch_history["domain_acc"][-1]),
                            "dann": float(dann_history["domain_acc"][-1])},
    }
_report.update(_fig)
print("BENCH_JSON " + _json.dumps(_report))
'''


def run(path: Path, quick: bool, save: Path | None) -> dict:
    file = None
    if save is not None:
        file = save / (f"{path.stem}{'_solutions' if 'solutions' in str(path) else ''}"
                       f"_{'quick' if quick else 'full'}.ipynb")
    with tempfile.TemporaryDirectory() as cache:  # a first run: no cached ImageNet features
        r = run_notebook(path, quick, REPORT_CELL, marker="BENCH_JSON ", save=file,
                         env={"TLCOURSE_CACHE": cache})
    return {"wall_s": r.wall_s, "status": r.status, "load": r.load, **r.data}


def _cell(v) -> str:
    return "-" if v is None else f"{v:.1f}"


def section(runs: dict) -> str:
    lines = ["## Lesson 06: Domain adaptation", "", stamp(), "",
             "Each run: a fresh kernel and an empty feature cache (a learner's first run). CPU = "
             "the kernel's user + system time. Load average = the machine's 1-minute load at the "
             "start / end on 2 cores: above 2, other programs shared the CPU and wall times are "
             "inflated.", "",
             "| notebook | mode | status | wall (s) | kernel CPU (s) | load average |",
             "|---|---|---|---:|---:|---|"]
    for (name, mode), r in runs.items():
        lines.append(f"| {name} | {mode} | {r['status']} | {r['wall_s']:.0f} | "
                     f"{r.get('cpu_s', float('nan')):.0f} | {r['load'][0]:.1f} / {r['load'][1]:.1f} |")
    for (name, mode), r in runs.items():
        if name != "lesson" or "results" not in r:
            continue
        lines += ["", f"### Measured by the lesson, {mode} mode", "",
                  f"{r['n_train']:,} source digits ({r['mnist_source']}), {r['epochs']} epochs, "
                  f"seeds {r['seeds']}; ImageNet features: {r['imagenet']} ({r['imagenet_source']}) "
                  f"at {r['imagenet_size']} px.", "",
                  f"Source-only accuracy on MNIST: {r['so_mnist']:.1f}%; gap "
                  + ", ".join(f"{k} {v:.1f} points" for k, v in r["gap"].items())
                  + f". DANN gain on MNIST-M-style {r['dann_gain']:+.1f} points, CORAL gain on "
                  f"UCI digits {r['coral_gain']:+.1f} points.", "",
                  "| target test accuracy (%) | MNIST-M-style | UCI digits |", "|---|---:|---:|"]
        for method, row in r["results"].items():
            sd = r["spread"].get(method, {})
            cells = [(_cell(row.get(t)) + (f" ± {sd[t]:.1f}" if sd.get(t) is not None and len(r["seeds"]) > 1 else ""))
                     for t in ("MNIST-M-style", "UCI digits")]
            lines.append(f"| {method} | {cells[0]} | {cells[1]} |")
        lines += ["", "| few-label fine-tuning (%) | " + " | ".join(f"{b}/class" for b in r["budgets"]) + " |",
                  "|---|" + "---:|" * len(r["budgets"])]
        for name_, scores in r["curves"].items():
            lines.append(f"| {name_} | " + " | ".join(f"{s:.1f}" for s in scores) + " |")
        lines += ["", "| know your shift (%) | MNIST | MNIST-M-style | UCI digits |", "|---|---:|---:|---:|"]
        for method, row in r["known"].items():
            lines.append(f"| {method} | " + " | ".join(_cell(row.get(t)) for t in
                                                         ("MNIST", "MNIST-M-style", "UCI digits")) + " |")
        lines += ["", "Domain probe (linear, cross-validated) on MNIST vs MNIST-M-style features: "
                  + ", ".join(f"{k} {v:.3f}" for k, v in r["probe"].items())
                  + f"; domain head accuracy in the last epoch: watching "
                  f"{r['domain_acc_last']['watching']:.2f}, DANN {r['domain_acc_last']['dann']:.2f}."]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", nargs="+", default=["quick", "full"], choices=["quick", "full"])
    parser.add_argument("--save", type=Path, default=None, help="folder for the executed notebooks")
    args = parser.parse_args(argv)
    runs = {}
    for mode in args.modes:
        runs[("lesson", mode)] = run(NOTEBOOK, mode == "quick", args.save)
        print("lesson", mode, {k: runs[("lesson", mode)][k] for k in ("wall_s", "status")}, flush=True)
    runs[("solutions", "quick")] = run(SOLUTIONS, True, args.save)
    print("solutions", {k: runs[("solutions", "quick")][k] for k in ("wall_s", "status")}, flush=True)
    path = write_section("lesson06", section(runs))
    print(f"wrote the lesson06 section of {path}")
    return 0 if all(r["status"] == "ok" for r in runs.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
