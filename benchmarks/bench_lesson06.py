"""Lesson 06 figures: run the domain-adaptation lesson (and its solutions) from the top in a
fresh kernel, record run time, kernel CPU time, peak memory and the accuracies it measured,
and rerun the lesson in full mode with other seeds to measure how far its figures move.

    .venv/bin/python benchmarks/bench_lesson06.py                          # quick + 3 full reruns
    .venv/bin/python benchmarks/bench_lesson06.py --modes quick            # quick mode only
    .venv/bin/python benchmarks/bench_lesson06.py --modes full --reruns 3  # full mode only
    .venv/bin/python benchmarks/bench_lesson06.py --save /tmp/out          # keep the executed notebooks
    .venv/bin/python benchmarks/bench_lesson06.py --from-saved /tmp/out    # the section from kept runs

Rerun k of the full mode trains every method with the seeds 3k, 3k+1, 3k+2 (the lesson's own
line ``SEEDS = ...`` is changed in a temporary copy); rerun 0 is the lesson as published. For
every full-mode assertion the section lists the value in each rerun, its spread over the
reruns, the smallest margin over the threshold and whether the margin exceeds three times the
spread. Writes the ``lesson06`` section of benchmarks/RESULTS.md. The figures are read from
the lesson's own variables (a cell appended in memory prints them as JSON), so they are the
numbers the lesson asserted on. Each run starts with an empty feature cache, as a learner's
first run does. Records the load average: on a shared machine every time is inflated, and
the kernel's CPU time is then the better guide.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import run_notebook, stamp, write_section  # noqa: E402

NOTEBOOK = HERE.parent / "notebooks" / "06_domain_adaptation.ipynb"
SOLUTIONS = HERE.parent / "notebooks" / "solutions" / "06_domain_adaptation.ipynb"

REPORT_CELL = r'''
import json as _json
import resource as _resource

_ru = _resource.getrusage(_resource.RUSAGE_SELF)
_report = {"cpu_s": _ru.ru_utime + _ru.ru_stime, "peak_rss_mb": _ru.ru_maxrss / 1024}
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
        "imagenet_gap": {k: float(v) for k, v in imagenet_gap.items()},
        "aug_gain": float(aug_gain), "flip_gain": float(flip_gain),
        "optimizers": {c: {str(i): float(v) for i, v in by_optimizer[c].items()} for c in by_optimizer},
        "sweep": {str(k): {c: float(v) for c, v in row.items()} for k, row in sweep_table.iterrows()},
        "sweep_test": {str(k): float(domain.accuracy(m, mnistm.x_test, mnistm.y_test))
                       for k, m in sweep_models.items()},
    }
_report.update(_fig)
print("BENCH_JSON " + _json.dumps(_report))
'''


SEEDS_LINE = "SEEDS = tlcourse.pick([0], [0, 1, 2])"


def with_seeds(first: int) -> Path:
    """A temporary copy of the lesson beside it whose full mode trains seeds first..first+2."""
    nb = json.loads(NOTEBOOK.read_text())
    found = 0
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if SEEDS_LINE in text:
            text = text.replace(SEEDS_LINE, f"SEEDS = tlcourse.pick([{first}], "
                                             f"[{first}, {first + 1}, {first + 2}])")
            cell["source"] = text.splitlines(keepends=True)
            found += 1
    if found != 1:
        raise SystemExit(f"the lesson should have the line {SEEDS_LINE!r} once, found {found}")
    copy = NOTEBOOK.with_name(f".bench_seeds{first}_{NOTEBOOK.name}.tmp")  # no tool lists it
    copy.write_text(json.dumps(nb))
    return copy


def run(path: Path, quick: bool, save: Path | None, rerun: int = 0) -> dict:
    file = None
    if save is not None:
        file = save / (f"{path.stem}{'_solutions' if 'solutions' in str(path) else ''}"
                       f"_{'quick' if quick else 'full'}{f'_rerun{rerun}' if rerun else ''}.ipynb")
    target = with_seeds(3 * rerun) if rerun else path
    try:
        with tempfile.TemporaryDirectory() as cache:  # a first run: no cached ImageNet features
            r = run_notebook(target, quick, REPORT_CELL, marker="BENCH_JSON ", save=file,
                             env={"TLCOURSE_CACHE": cache})
    finally:
        if target != path:
            target.unlink()
    return {"wall_s": r.wall_s, "status": r.status, "load": r.load, "kernel_peak_mb": r.peak_rss_mb,
            **r.data}


def _cell(v) -> str:
    return "-" if v is None else f"{v:.1f}"


def _load(load) -> str:
    return "not kept" if any(v != v for v in load) else f"{load[0]:.1f} / {load[1]:.1f}"


#: every full-mode assertion of the lesson: (what it claims, threshold, value from a run's figures)
ASSERTIONS = [
    ("source-only on MNIST >= 95%", 95.0, lambda r: r["so_mnist"]),
    ("MNIST-M-style gap >= 25 points", 25.0, lambda r: r["gap"]["MNIST-M-style"]),
    ("UCI gap >= 10 points", 10.0, lambda r: r["gap"]["UCI digits"]),
    ("frozen ImageNet features on MNIST >= 85%", 85.0, lambda r: r["imagenet_mnist"]),
    ("ImageNet-features gap on MNIST-M-style >= 25 points (offline weights)", 25.0,
     lambda r: r["imagenet_gap"]["MNIST-M-style"]),
    *[(f"{t}: 50 labels/class - 1 label/class > 0 points", 0.0,
       lambda r, t=t: r["curves"][f"{t}: from the source model"][-1]
       - r["curves"][f"{t}: from the source model"][0]) for t in ("MNIST-M-style", "UCI digits")],
    *[(f"{t}: source start - scratch at 5 labels/class > 3 points", 3.0,
       lambda r, t=t: r["curves"][f"{t}: from the source model"][1] - r["curves"][f"{t}: from scratch"][1])
      for t in ("MNIST-M-style", "UCI digits")],
    ("domain head accuracy, watching - DANN > 0", 0.0,
     lambda r: r["domain_acc_last"]["watching"] - r["domain_acc_last"]["dann"]),
    ("(quick mode only) SGD - Adam DANN on MNIST-M-style > 5 points, for reference", 5.0,
     lambda r: r["optimizers"]["SGD: MNIST-M-style test acc (%)"]["mean"]
     - r["optimizers"]["Adam: MNIST-M-style test acc (%)"]["mean"]),
    ("(not asserted) DANN gain on MNIST-M-style > 0 points", 0.0, lambda r: r["dann_gain"]),
    ("CORAL gain on UCI digits >= 5 points", 5.0, lambda r: r["coral_gain"]),
    ("domain probe after DANN >= 0.9", 0.9, lambda r: r["probe"]["after: DANN"]),
    ("augmentation gain >= 15 points", 15.0, lambda r: r["aug_gain"]),
    ("test-time fix gain >= 3 points", 3.0, lambda r: r["flip_gain"]),
]


def margins(reruns: list[dict]) -> list[str]:
    """One row per full-mode assertion: its value in every rerun, the spread (standard deviation
    and range over the reruns), the smallest margin and the ratio margin / (3 x std)."""
    lines = ["| full-mode assertion | value per rerun | std over reruns | range | smallest margin "
             "| margin / (3 x std) |", "|---|---|---:|---:|---:|---:|"]
    for claim, threshold, value in ASSERTIONS:
        try:
            values = np.array([value(r) for r in reruns], dtype=float)
        except (KeyError, TypeError):
            lines.append(f"| {claim} | not measured | | | | |")
            continue
        std = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
        margin = float(values.min() - threshold)
        ratio = margin / (3 * std) if std > 0 else float("inf")
        lines.append(f"| {claim} | {', '.join(f'{v:.2f}' for v in values)} | {std:.2f} | "
                     f"{values.max() - values.min():.2f} | {margin:+.2f} | {ratio:.1f} |")
    return lines


def section(runs: dict) -> str:
    lines = ["## Lesson 06: Domain adaptation", "", stamp(), "",
             "Each run: a fresh kernel and an empty feature cache (a learner's first run). CPU = "
             "the kernel's user + system time; peak = the kernel's peak resident memory. Load "
             "average = the machine's 1-minute load at the start / end on 2 cores: above 2, "
             "other programs shared the CPU and wall times are inflated. Full-mode rerun k "
             "trains with the seeds 3k, 3k+1, 3k+2 (rerun 0: the lesson as published).", "",
             "| notebook | mode | rerun (seeds) | status | wall (s) | kernel CPU (s) | peak (MB) | load average |",
             "|---|---|---|---|---:|---:|---:|---|"]
    for (name, mode, rerun), r in runs.items():
        seeds = r.get("seeds", "-")
        peak = r.get("kernel_peak_mb") or r.get("peak_rss_mb")
        lines.append(f"| {name} | {mode} | {rerun} ({seeds}) | {r['status']} | {r['wall_s']:.0f} | "
                     f"{r.get('cpu_s', float('nan')):.0f} | "
                     f"{'-' if peak is None else f'{peak:.0f}'} | {_load(r['load'])} |")
    full = [r for (name, mode, _), r in runs.items() if name == "lesson" and mode == "full"
            and "results" in r]
    if full:
        lines += ["", f"### Full-mode assertions over {len(full)} rerun(s)", "",
                  "A claim survives a rerun when its smallest margin exceeds three times the "
                  "standard deviation over the reruns (last column > 1).", "", *margins(full)]
    for (name, mode, rerun), r in runs.items():
        if name != "lesson" or "results" not in r or rerun != 0:
            continue
        lines += ["", f"### Measured by the lesson, {mode} mode (rerun 0)", "",
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
        cols = list(r["optimizers"])
        rows = list(r["optimizers"][cols[0]])
        lines += ["", "| DANN -> MNIST-M-style by optimizer | " + " | ".join(cols) + " |",
                  "|---|" + "---:|" * len(cols)]
        for row in rows:
            lines.append(f"| {row} | " + " | ".join(f"{r['optimizers'][c][row]:.2f}" for c in cols) + " |")
        lines += ["", "| DANN strength sweep (Exercise 3) | held-out source acc | domain head acc "
                  "| target test acc |", "|---|---:|---:|---:|"]
        for k, row in r["sweep"].items():
            lines.append(f"| {k} | {row['source_val_acc']:.3f} | {row['domain_acc']:.2f} | "
                         f"{r['sweep_test'][k]:.3f} |")
        lines += ["", "| know your shift (%) | MNIST | MNIST-M-style | UCI digits |", "|---|---:|---:|---:|"]
        for method, row in r["known"].items():
            lines.append(f"| {method} | " + " | ".join(_cell(row.get(t)) for t in
                                                         ("MNIST", "MNIST-M-style", "UCI digits")) + " |")
        lines += ["", "Domain probe (linear, cross-validated) on MNIST vs MNIST-M-style features: "
                  + ", ".join(f"{k} {v:.3f}" for k, v in r["probe"].items())
                  + f"; domain head accuracy in the last epoch: watching "
                  f"{r['domain_acc_last']['watching']:.2f}, DANN {r['domain_acc_last']['dann']:.2f}."]
    if full:
        lines += ["", "Spread of a three-seed mean estimated within rerun 0 (standard deviation over its "
                  "seeds / sqrt(3); for a gain, both methods' deviations combined):", ""]
        r = full[0]
        sd = r["spread"]
        for claim, mean_, parts in (
                ("DANN gain on MNIST-M-style", r["dann_gain"], [sd["DANN (no target labels)"]["MNIST-M-style"],
                                                               sd["source-only"]["MNIST-M-style"]]),
                ("CORAL gain on UCI digits", r["coral_gain"], [sd["CORAL (no target labels)"]["UCI digits"],
                                                              sd["source-only"]["UCI digits"]])):
            est = float(np.sqrt(sum(p * p for p in parts)) / np.sqrt(len(r["seeds"])))
            lines.append(f"- {claim}: {mean_:+.1f} points, estimated spread of the mean {est:.1f} points")
    return "\n".join(lines)


def from_saved(folder: Path) -> dict:
    """The runs kept by ``--save`` in ``folder``, read back from the executed notebooks: the
    figures from the harvest cell, the wall time from the cells' execution times (kernel start
    not included) and no load average (not kept in a notebook)."""
    import datetime

    runs = {}
    for file in sorted(folder.glob("*.ipynb")):
        stem = file.stem
        name = "solutions" if "_solutions" in stem else "lesson"
        mode = "quick" if "_quick" in stem else "full"
        rerun = int(stem.rsplit("_rerun", 1)[1]) if "_rerun" in stem else 0
        cells = json.loads(file.read_text())["cells"]
        times = [c["metadata"].get("execution", {}) for c in cells if c["cell_type"] == "code"]
        times = [t for t in times if "iopub.execute_input" in t and "shell.execute_reply" in t]
        stamp_ = [datetime.datetime.fromisoformat(t[k].replace("Z", "+00:00"))
                  for t in (times[0], times[-1]) for k in ("iopub.execute_input", "shell.execute_reply")]
        data: dict = {}
        for output in cells[-1].get("outputs", []):
            text = output.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            if "BENCH_JSON " in text:
                data = json.loads(text.split("BENCH_JSON ", 1)[1].splitlines()[0])
        errors = [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        runs[(name, mode, rerun)] = {
            "wall_s": (stamp_[3] - stamp_[0]).total_seconds(), "load": (float("nan"), float("nan")),
            "status": "ok" if data and not errors else "FAILED", **data}
    return dict(sorted(runs.items(), key=lambda kv: (kv[0][1] == "full", kv[0][0], kv[0][2])))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", nargs="+", default=["quick", "full"], choices=["quick", "full"])
    parser.add_argument("--reruns", type=int, default=3, help="full-mode reruns (other seeds)")
    parser.add_argument("--save", type=Path, default=None, help="folder for the executed notebooks")
    parser.add_argument("--from-saved", type=Path, default=None,
                        help="write the section from the notebooks a --save run kept, running nothing")
    args = parser.parse_args(argv)
    if args.from_saved is not None:
        runs = from_saved(args.from_saved)
        print(f"wrote the lesson06 section of {write_section('lesson06', section(runs))}")
        return 0 if runs and all(r["status"] == "ok" for r in runs.values()) else 1
    runs = {}
    for mode in args.modes:
        for rerun in range(args.reruns if mode == "full" else 1):
            key = ("lesson", mode, rerun)
            runs[key] = run(NOTEBOOK, mode == "quick", args.save, rerun)
            print(*key, {k: runs[key].get(k) for k in ("wall_s", "cpu_s", "kernel_peak_mb", "status")},
                  flush=True)
        key = ("solutions", mode, 0)
        runs[key] = run(SOLUTIONS, mode == "quick", args.save)
        print(*key, {k: runs[key].get(k) for k in ("wall_s", "status")}, flush=True)
    path = write_section("lesson06", section(runs))
    print(f"wrote the lesson06 section of {path}")
    return 0 if all(r["status"] == "ok" for r in runs.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
