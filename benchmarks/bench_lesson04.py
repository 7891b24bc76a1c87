"""Lesson 04 figures: speed of the ImageNet classifiers, Grad-CAM latency, the predictions the
lesson asserts, and (with --notebooks) the lesson's run times in quick and full mode.

    .venv/bin/python benchmarks/bench_lesson04.py               # model figures only (~1 min)
    .venv/bin/python benchmarks/bench_lesson04.py --reruns 3    # + the lesson in full mode 3x,
                                                                #   each assertion's margin
    .venv/bin/python benchmarks/bench_lesson04.py --notebooks   # + lesson/solutions run times

``--reruns N`` runs the whole lesson N times in full mode, each in a fresh kernel, and
harvests every quantity a full-mode assertion tests: its value in each run, the spread
(largest minus smallest) and the margin (distance from the assertion's threshold, smallest
over the runs). An assertion is safe when its margin exceeds 3x its spread.

Writes the ``lesson04`` section of benchmarks/RESULTS.md. Runs whichever network
``load_imagenet("resnet50")`` gives (offline: EfficientNet-Lite0) and says which.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import run_notebook, stamp, write_section  # noqa: E402

NOTEBOOK = HERE.parent / "notebooks" / "04_resnet50_imagenet.ipynb"
SOLUTIONS = HERE.parent / "notebooks" / "solutions" / "04_resnet50_imagenet.ipynb"


def seconds_per_image(model, batch, repeats: int) -> float:
    """Inference time per image of a keras.Model on a preprocessed batch: the best of
    ``repeats`` timed runs after one warm-up (other programs only ever slow a run down)."""
    model.predict_on_batch(batch)  # warm-up: builds the graph once
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_on_batch(batch)
        best = min(best, time.perf_counter() - start)
    return best / len(batch)


def model_figures(repeats: int = 5) -> list[str]:
    import cv2
    import keras
    import numpy as np

    from tlcourse import data, models, vision
    from tlcourse.layers import param_counts

    start = time.perf_counter()
    clf = models.load_imagenet("resnet50")
    load_s = time.perf_counter() - start
    names = list(data.PHOTOS)
    photos = [vision.read_image(data.photo_path(n)) for n in names]
    def to_batch(images):  # each photo resized whole to 224 x 224, as lesson 04's to_batch
        return np.stack([cv2.resize(im, (224, 224), interpolation=cv2.INTER_AREA) for im in images])

    batch = to_batch(photos[:8])
    nets = {clf.name + " (pretrained)": (clf.model, clf.preprocess)}
    if clf.source == "offline":
        nets["resnet50 architecture (untrained, speed only)"] = (
            keras.applications.ResNet50(weights=None), keras.applications.resnet50.preprocess_input)
    else:
        other = models.load_imagenet("mobilenet_v2")
        nets[other.name + " (pretrained)"] = (other.model, other.preprocess)
    lines = [f"Network in use: **{clf.name}** ({clf.source}; loaded in {load_s:.1f} s).", "",
             "| network | parameters | ms per image (batch of 8, best of "
             f"{repeats}) |", "|---|---|---|"]
    for label, (model, prep) in nets.items():
        sec = seconds_per_image(model, prep(batch.astype("float32")), repeats)
        lines.append(f"| {label} | {param_counts(model)['total']:,} | {sec * 1000:.0f} |")
    cat = photos[names.index("cat")]
    vision.grad_cam(clf, cat)  # warm-up (the lesson's cell of section 7, as the package keeps it)
    start = time.perf_counter()
    cam = vision.grad_cam(clf, cat)
    cam_s = time.perf_counter() - start
    peak = vision.heatmap_peak(cam.heatmap, cat.shape[:2])
    share = vision.share_inside(cam.heatmap, cat.shape[:2], (120, 70, 350, 280))
    lines += ["", f"Grad-CAM of one photo: {cam_s:.2f} s; cat map peak at {peak}, "
              f"{share:.0%} of its weight in the stated face box (36% of the photo).", "",
              "| photo | top-1 | probability |", "|---|---|---|"]
    for name, decoded in zip(names, clf.predict(photos, top=1), strict=True):
        lines.append(f"| {name} | {decoded[0][1]} | {decoded[0][2]:.3f} |")
    coffee = to_batch([photos[names.index("coffee")]])
    probs = {how: clf.model.predict(x, verbose=0)[0] for how, x in {
        "right": clf.preprocess(coffee),
        "BGR": clf.preprocess(coffee[..., ::-1]),
        "other network's scaling": (keras.applications.mobilenet_v2.preprocess_input
                                    if clf.name == "resnet50"
                                    else keras.applications.resnet50.preprocess_input)(
            coffee.astype("float32")),
    }.items()}
    k = int(np.argmax(probs["right"]))
    lines += ["", "Coffee photo, preprocessing mismatch: " + "; ".join(
        f"{how}: top-1 {clf.decode(p, top=1)[0][0][1]}, p(right class) {p[k]:.2f}"
        for how, p in probs.items())]
    return lines


# run in the lesson's kernel after its last cell: (value, threshold, "above"/"below") per claim
HARVEST = r"""
import json as _json
_P = clf.model.predict(clf.preprocess(batch), verbose=0)
_names = [n for _, n in models.imagenet_classes()]
def _gap(row, inside):  # best probability of the named classes minus the best of the others
    a = max(p for n, p in zip(_names, row) if n in inside)
    b = max(p for n, p in zip(_names, row) if n not in inside)
    return float(a - b)
_ws = table.set_index(["photo", "preprocessing"])
_wrong = f"wrong scaling ({wrong_name})"
_claims = {
  "cat top-1 is a cat class: p(best cat class) - p(best other)": (_gap(_P[0], CAT_CLASSES), 0.0),
  "coffee top-1 is a cup class: p(best cup class) - p(best other)": (_gap(_P[1], CUP_CLASSES), 0.0),
}
for _n in ["cat", "coffee"]:
    _r = _ws.loc[(_n, _wrong)]
    _claims[f"{_n}, wrong scaling changes top-1: p(new top-1) - p(right class)"] = (
        float(_r["top-1 prob."] - _r["prob. of the right top-1"]), 0.0)
    _claims[f"{_n}, BGR lowers p(right class): right - BGR"] = (
        float(mismatch[_n, "right"][1] - mismatch[_n, "BGR into the model"][1]), 0.0)
_claims["portraits less sure than cat and cup: min(cat, cup) - max(portraits)"] = (
    float(min(p1["cat"], p1["coffee"]) - max(p for _, _, p in people_top1.values())), 0.0)
_claims["cat upside down less sure: p(cat) - p(upright class, rotated 180)"] = (
    float(robust["cat"][1] - robust["cat rotated 180"][2]), 0.0)
for _k in ["rocket rotated 90", "temple rotated 180"]:
    _claims[f"{_k} changes top-1: p(top-1) - p(upright top-1)"] = (
        float(robust[_k][1] - robust[_k][2]), 0.0)
_var = dict(zip(variants, decoded))  # the top-5 of section 6's rotated and cropped photos
for _k in ["cat rotated 90", "cat rotated 180"]:
    _cat = max((p for _, n, p in _var[_k] if n in CAT_CLASSES), default=0.0)
    _other = max((p for _, n, p in _var[_k] if n not in CAT_CLASSES), default=0.0)
    _claims[f"{_k} still a cat class: p(best cat class) - p(best other, top-5)"] = (
        float(_cat - _other), 0.0)
_med = by_kind.median()
_claims["median p(no class) < median p(class): difference"] = (float(_med["yes"] - _med["no"]), 0.0)
_claims["max p(no class) < min p(class): difference"] = (
    float(by_kind.min()["yes"] - by_kind.max()["no"]), 0.0)
_x, _y = peak
_claims["Grad-CAM peak inside the cat's face box: pixels from the nearest edge"] = (
    float(min(_x - CAT_FACE[0], CAT_FACE[2] - 1 - _x, _y - CAT_FACE[1], CAT_FACE[3] - 1 - _y)), 0.0)
_claims["Grad-CAM weight in the face box - the box's area share"] = (
    float(weight_share - area_share), 0.0)
_claims["Grace Hopper's uniform map peaks below the middle: y - h/2 (pixels)"] = (
    float(hy - pred.image.shape[0] / 2) if pred.top1 == "military_uniform" else float("nan"), 0.0)
_small, _large = comparison["parameters (M)"].idxmin(), comparison["parameters (M)"].idxmax()
_claims["parameters: large / small (asserted > 3)"] = (
    float(comparison.loc[_large, "parameters (M)"] / comparison.loc[_small, "parameters (M)"]), 3.0)
_claims["multiply-adds: large / small (asserted > 3)"] = (float(ratios["multiply-adds (G)"]), 3.0)
_claims["CPU ms per image: large / small (printed, not asserted)"] = (
    float(comparison.loc[_large, "ms per image"] / comparison.loc[_small, "ms per image"]), 1.0)
print("BENCH" + _json.dumps({"network": clf.name, "claims": _claims}))
"""


def reruns(n: int) -> list[str]:
    """The lesson in full mode ``n`` times (fresh kernels): each assertion's values, spread and
    margin, and the run times."""
    runs = []
    for i in range(n):
        r = run_notebook(NOTEBOOK, quick=False, harvest=HARVEST, raise_on_error=True)
        print(f"full run {i + 1}/{n}: {r.wall_s:.0f} s (load {r.load[0]:.1f} -> {r.load[1]:.1f})",
              flush=True)
        runs.append(r)
    claims = list(runs[0].data["claims"])
    lines = [f"The lesson in full mode, {n} fresh kernels ({runs[0].data['network']}): wall "
             + ", ".join(f"{r.wall_s:.0f} s" for r in runs) + " (load "
             + ", ".join(f"{r.load[0]:.1f}" for r in runs) + " at the start).", "",
             "| full-mode assertion | values | spread | margin | margin / spread |",
             "|---|---|---|---|---|"]
    for claim in claims:
        values = [r.data["claims"][claim][0] for r in runs]
        threshold = runs[0].data["claims"][claim][1]
        spread = max(values) - min(values)
        margin = min(values) - threshold
        ratio = "inf (no spread)" if spread == 0 else f"{margin / spread:.0f}"
        lines.append(f"| {claim} | " + ", ".join(f"{v:.4g}" for v in values)
                     + f" | {spread:.2g} | {margin:.3g} | {ratio} |")
    return lines


def notebook_times() -> list[str]:
    rows = ["| notebook | quick mode (s) | full mode (s) |", "|---|---|---|"]
    for path in (NOTEBOOK, SOLUTIONS):
        cells = []
        for quick in (True, False):
            r = run_notebook(path, quick=quick)
            print(f"{path.name} quick={quick}: {r.wall_s:.0f} s {r.status}", flush=True)
            cells.append(f"{r.wall_s:.0f}" + ("" if r.ok else f" ({r.status})"))
        rows.append(f"| `{path.relative_to(HERE.parent / 'notebooks')}` | " + " | ".join(cells) + " |")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notebooks", action="store_true",
                        help="also time the lesson and its solutions in quick and full mode")
    parser.add_argument("--reruns", type=int, default=0,
                        help="run the lesson this many times in full mode (3 or more) and "
                             "write each assertion's spread and margin")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    lines = [f"## Lesson 04: ImageNet prediction\n\n{stamp()}; load average {load:.1f} at the "
             f"start (above {os.cpu_count()}, other programs were competing for the CPU and "
             "every time below is inflated).", "", *model_figures()]
    if args.reruns:
        lines += ["", *reruns(args.reruns)]
    if args.notebooks:
        lines += ["", "Run times, fresh kernel (nbclient), from the top:", "", *notebook_times()]
    text = "\n".join(lines)
    print(text)
    write_section("lesson04", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
