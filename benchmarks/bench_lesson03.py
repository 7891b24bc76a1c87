"""Lesson 03 figures: run times and peak memory of the lesson and its solutions in quick and
full mode, and every figure the lesson asserts in full mode, rerun with different seeds, with
the spread over the reruns and each assertion's margin.

    .venv/bin/python benchmarks/bench_lesson03.py                  # quick once, full 3 times
    .venv/bin/python benchmarks/bench_lesson03.py --modes full --reruns 3
    .venv/bin/python benchmarks/bench_lesson03.py --modes quick --no-write   # a smoke run
    .venv/bin/python benchmarks/bench_lesson03.py --from-log bench.log  # section from a saved run

Each run executes the lesson from the top in a fresh kernel (nbclient), as a learner runs it,
with the lesson's ``SEED = 0`` replaced by the rerun's number (a copy in a temporary folder;
the notebook itself is not changed): head initialisation, batch order, dropout, the CNN and
the seeds of the learning-rate comparison all move. The train/validation split and the data
stay the same. A cell appended in memory reads the lesson's own results, so the figures
recorded here are the ones the lesson asserted. Writes the ``lesson03`` section of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import run_notebook, stamp, write_section  # noqa: E402

NOTEBOOK = HERE.parent / "notebooks" / "03_mobilenetv2_mnist.ipynb"
SOLUTIONS = HERE.parent / "notebooks" / "solutions" / "03_mobilenetv2_mnist.ipynb"
MARK = "TLCOURSE-BENCH "
SEED_LINE = "SEED = 0  #"

PROBE = """
import json as _json
_runs = pd.DataFrame(runs)
_out = dict(source=mnist.source, n_train=len(y_train), n_val=len(y_val), n_test=len(y_test),
            seed=SEED, epochs_ft=EPOCHS_FT, right_acc=right_acc, wrong_acc=wrong_acc,
            mixed_acc=mixed_acc, fit_loop_gap=gap,
            loop_test_gap=abs(accuracy(head_loop, f_test["pooled"], y_test) - acc_frozen),
            loss_once=loss_once, loss_new=loss_new, acc_once=acc_once, acc_new=acc_new,
            gap_classic=gap_classic, gap_frozen_bn=gap_frozen_bn, acc_frozen=acc_frozen,
            acc_finetuned=acc_finetuned, acc_end_to_end=acc_end_to_end, acc_mid=acc_mid,
            acc_cnn=acc_cnn, rates={k: float(v) for k, v in rates["val_mean"].items()},
            rates_std={k: float(v) for k, v in rates["val_std"].items()},
            dlr_difference=float(difference), dlr_noise=noise, verdict=verdict,
            seconds={k: float(v) for k, v in seconds.items()})
print(MARK + _json.dumps(_out))
""".replace("MARK", repr(MARK))

#: the full-mode assertions of the lesson: (text, observed value from a run, threshold);
#: each holds when observed > threshold
ASSERTIONS = [
    ("scaling forgotten at prediction only: right - mixed > 0.30",
     lambda r: r["right_acc"] - r["mixed_acc"], 0.30),
    ("scaling forgotten everywhere: right - wrong > 0.01",
     lambda r: r["right_acc"] - r["wrong_acc"], 0.01),
    ("custom loop matches fit: largest gap < 1e-3 (observed: 1e-3 - gap)",
     lambda r: -r["fit_loop_gap"], -1e-3),
    ("custom loop and fit: test accuracies within 0.005 (observed: -gap)",
     lambda r: -r["loop_test_gap"], -0.005),
    ("new optimizer every step: validation loss ratio > 1.3",
     lambda r: r["loss_new"] / r["loss_once"], 1.3),
    ("new optimizer every step: validation accuracy lower by > 0.03",
     lambda r: r["acc_once"] - r["acc_new"], 0.03),
    ("BatchNormalization frozen: training/inference gap < 1e-4 (observed: -gap)",
     lambda r: -r["gap_frozen_bn"], -1e-4),
    ("every learning-rate recipe: mean validation accuracy > 0.95",
     lambda r: min(r["rates"].values()), 0.95),
    ("end to end agrees with the cached route within 0.005 (observed: -gap)",
     lambda r: -abs(r["acc_end_to_end"] - r["acc_finetuned"]), -0.005),
    ("floor: frozen pooled vector + head >= 0.93", lambda r: r["acc_frozen"], 0.93),
    ("floor: fine-tuned (blocks 6-16) >= 0.97", lambda r: r["acc_finetuned"], 0.97),
    ("floor: frozen block_12 map + linear head >= 0.97", lambda r: r["acc_mid"], 0.97),
    ("floor: small CNN >= 0.95", lambda r: r["acc_cnn"], 0.95),
    ("fine-tuned beats the frozen pooled vector by > 0.02",
     lambda r: r["acc_finetuned"] - r["acc_frozen"], 0.02),
    ("fine-tuned beats the small CNN", lambda r: r["acc_finetuned"] - r["acc_cnn"], 0.0),
    ("frozen block_12 map beats the small CNN", lambda r: r["acc_mid"] - r["acc_cnn"], 0.0),
]


def seeded_copy(seed: int, folder: Path) -> Path:
    """A copy of the lesson with ``SEED = seed`` (the lesson's own line, changed in the copy)."""
    nb = json.loads(NOTEBOOK.read_text())
    hits = 0
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if SEED_LINE in text:
            cell["source"] = text.replace(SEED_LINE, f"SEED = {seed}  #")
            hits += 1
    if hits != 1:
        raise SystemExit(f"the lesson must have exactly one line starting {SEED_LINE!r}, found {hits}")
    path = folder / f"03_seed{seed}.ipynb"
    path.write_text(json.dumps(nb))
    return path


def margins(runs: list[dict]) -> list[str]:
    rows = ["| assertion (full mode) | observed: min over runs | mean | spread (std over runs) "
            "| threshold | margin (min - threshold) | margin / (3 x spread) |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for text, value, threshold in ASSERTIONS:
        values = [value(r) for r in runs]
        spread = statistics.stdev(values) if len(values) > 1 else float("nan")
        margin = min(values) - threshold
        ratio = margin / (3 * spread) if spread > 0 else float("inf")
        rows.append(f"| {text} | {min(values):.4f} | {statistics.mean(values):.4f} | {spread:.4f} "
                    f"| {threshold:g} | {margin:+.4f} | {ratio:.1f} |")
    return rows


def from_log(path: Path) -> list[dict]:
    """The full-mode lesson runs printed (one JSON line each) by an earlier run of this script."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
    return [r for r in rows if r.get("name") == "lesson" and r.get("mode") == "full" and r["status"] == "ok"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", nargs="+", default=["quick", "full"], choices=["quick", "full"])
    parser.add_argument("--reruns", type=int, default=3, help="full-mode lesson runs (seeds 0..N-1)")
    parser.add_argument("--no-solutions", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--from-log", type=Path, default=None,
                        help="rewrite the section from the JSON lines an earlier run printed "
                             "(new thresholds, no rerun)")
    parser.add_argument("--command", default="--modes full --reruns 3",
                        help="with --from-log: the arguments of the run that printed the log")
    args = parser.parse_args(argv)
    load_start = os.getloadavg()[0]
    table, full_runs = [], []
    if args.from_log:
        table = [json.loads(line) for line in args.from_log.read_text().splitlines()
                 if line.startswith("{")]
        full_runs = from_log(args.from_log)
        load_start = table[0]["load"][0]
        args.modes = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes:
            quick = mode == "quick"
            jobs = [("lesson", seed, seeded_copy(seed, Path(tmp)), PROBE)
                    for seed in range(1 if quick else args.reruns)]
            if not args.no_solutions:
                jobs.append(("solutions", None, SOLUTIONS, None))
            for name, seed, path, probe in jobs:
                res = run_notebook(path, quick, probe, marker=MARK)
                row = {"name": name, "mode": mode, "seed": seed, "wall_s": res.wall_s,
                       "cpu_s": res.cpu_s, "peak_mb": res.peak_rss_mb, "status": res.status,
                       "load": res.load}
                table.append(row)
                print(json.dumps({**row, **res.data}), flush=True)
                if name == "lesson" and not quick and res.ok:
                    full_runs.append(res.data)
    load_end = table[-1]["load"][1] if args.from_log else os.getloadavg()[0]
    lines = [f"## Lesson 03: MobileNetV2 on MNIST\n\n{stamp()}; load average {load_start:.1f} at "
             f"the start and {load_end:.1f} at the end on {os.cpu_count()} cores (above "
             f"{os.cpu_count()}, other programs competed for the CPU: wall times are inflated, "
             "and the kernel's CPU time is the better estimate of the time on an idle machine). "
             + (f"Runs: `python benchmarks/bench_lesson03.py {args.command}`; this section "
                "written from the figures they printed (`--from-log`), with the thresholds the "
                "lesson had before these runs." if args.from_log else "Command: `python benchmarks/bench_lesson03.py "
                + " ".join(argv if argv is not None else sys.argv[1:]) + "`."), "",
             "| notebook | mode | SEED | wall (s) | kernel CPU (s) | kernel peak RSS (MB) "
             "| load (start, end) | status |", "|---|---|---:|---:|---:|---:|---|---|"]
    for r in table:
        file = "03_mobilenetv2_mnist.ipynb" if r["name"] == "lesson" else "solutions/03_mobilenetv2_mnist.ipynb"
        peak = f"{r['peak_mb']:.0f}" if r["peak_mb"] else "?"
        lines.append(f"| `{file}` | {r['mode']} | {'' if r['seed'] is None else r['seed']} "
                     f"| {r['wall_s']:.0f} | {r['cpu_s']:.0f} | {peak} "
                     f"| {r['load'][0]:.1f}, {r['load'][1]:.1f} | {r['status']} |")
    if full_runs:
        first = full_runs[0]
        lines += ["", f"Full mode, {len(full_runs)} runs ({first['source']} data: {first['n_train']:,} "
                  f"training, {first['n_val']:,} validation, {first['n_test']:,} test digits; "
                  f"fine-tuning {first['epochs_ft']} epochs per recipe and seed):", "",
                  "| SEED | frozen pooled + head | fine-tuned (one rate, first seed) "
                  "| block_12 map + linear | small CNN | one rate: val mean | two rates: val mean "
                  "| two - one (std error) | verdict |", "|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in full_runs:
            one, two = r["rates"].values()
            lines.append(f"| {r['seed']} | {r['acc_frozen']:.4f} | {r['acc_finetuned']:.4f} "
                         f"| {r['acc_mid']:.4f} | {r['acc_cnn']:.4f} | {one:.4f} | {two:.4f} "
                         f"| {r['dlr_difference']:+.4f} ({r['dlr_noise']:.4f}) | {r['verdict']} |")
        lines += ["", "Margins of the full-mode assertions over the spread between reruns "
                  "(each assertion holds when the observed value exceeds the threshold):", "",
                  *margins(full_runs),
                  "", "Not asserted (within noise over seeds): which learning-rate recipe is "
                  "better."]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("lesson03", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
