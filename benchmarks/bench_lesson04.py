"""Lesson 04 figures: speed of the ImageNet classifiers, Grad-CAM latency, the predictions the
lesson asserts, and (with --notebooks) the lesson's run times in quick and full mode.

    .venv/bin/python benchmarks/bench_lesson04.py               # model figures only (~1 min)
    .venv/bin/python benchmarks/bench_lesson04.py --notebooks   # + lesson/solutions run times

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


def model_figures(repeats: int = 5) -> list[str]:
    import keras
    import numpy as np

    from tlcourse import data, models, vision
    from tlcourse.layers import param_counts

    start = time.perf_counter()
    clf = models.load_imagenet("resnet50")
    load_s = time.perf_counter() - start
    names = list(data.PHOTOS)
    photos = [vision.read_image(data.photo_path(n)) for n in names]
    batch = vision.to_batch(photos[:8], 224)
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
        sec = vision.seconds_per_image(model, prep(batch.astype("float32")), repeats=repeats)
        lines.append(f"| {label} | {param_counts(model)['total']:,} | {sec * 1000:.0f} |")
    cat = photos[names.index("cat")]
    vision.grad_cam(clf, cat)  # warm-up
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
    coffee = vision.to_batch([photos[names.index("coffee")]], 224)
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
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    lines = [f"## Lesson 04: ImageNet prediction\n\n{stamp()}; load average {load:.1f} at the "
             f"start (above {os.cpu_count()}, other programs were competing for the CPU and "
             "every time below is inflated).", "", *model_figures()]
    if args.notebooks:
        lines += ["", "Run times, fresh kernel (nbclient), from the top:", "", *notebook_times()]
    text = "\n".join(lines)
    print(text)
    write_section("lesson04", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
