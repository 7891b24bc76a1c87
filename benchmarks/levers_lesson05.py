"""Lesson 05 speed levers, each measured as a before/after ratio in one run (one process).

    .venv/bin/python benchmarks/levers_lesson05.py

Times MiniLM fine-tuning steps (batch 16, AdamW, dynamic padding to multiples of 8 up to 56
tokens, lengths drawn from the training snippets) and frozen-encoder forward passes under
float32, mixed_bfloat16, XLA and a frozen token-embedding table; prints one JSON line and
writes the ``lesson05_levers`` section of benchmarks/RESULTS.md.
"""
from __future__ import annotations

import gc
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from results import stamp, write_section  # noqa: E402

STEPS = int(os.environ.get("LEVER_STEPS", "20"))


def main():
    import keras
    import keras_hub
    import tensorflow as tf

    from tlcourse import data, text
    from tlcourse import sentiment as S

    enc = text.load_text_encoder("minilm")
    rt = data.load_rotten_tomatoes()
    pre = enc.preprocessor(56)
    feats = S.encode(pre, rt.train_text[:2048])
    y = np.asarray(rt.train_label[:2048])
    out = {}

    def build(dtype, freeze_tokens=False):
        keras.utils.set_random_seed(0)
        bb = keras_hub.models.BertBackbone.from_preset(enc.preset, dtype=dtype)
        clf = S.MeanPooledBertClassifier(bb, 2)
        if freeze_tokens:
            bb.get_layer("token_embedding").trainable = False
        return clf

    def train(name, dtype, jit=False, fixed=False, freeze_tokens=False):
        model = build(dtype, freeze_tokens)
        opt = keras.optimizers.AdamW(learning_rate=3e-5, weight_decay=0.01, clipnorm=1.0)
        opt.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
        model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=jit)
        if fixed:
            ds = tf.data.Dataset.from_tensor_slices((feats, y)).shuffle(2048, seed=0).batch(16, drop_remainder=True)
        else:
            ds = S.make_dataset(feats, y, 16, shuffle=True, seed=0)
        ds = ds.repeat().take(STEPS + 6)
        times = []
        cb = keras.callbacks.LambdaCallback(
            on_train_batch_begin=lambda b, logs: times.append(-time.perf_counter()),
            on_train_batch_end=lambda b, logs: times.__setitem__(-1, times[-1] + time.perf_counter()))
        t0 = time.process_time()
        w0 = time.perf_counter()
        model.fit(ds, epochs=1, steps_per_epoch=STEPS + 6, verbose=0, callbacks=[cb])
        wall = time.perf_counter() - w0
        out[name] = {"first_s": round(times[0], 2), "median_step_s": round(float(np.median(times[6:])), 4),
                     "fit_wall_s": round(wall, 1), "cpu_s": round(time.process_time() - t0, 1)}
        print(name, out[name], flush=True)
        del model, opt
        keras.backend.clear_session()
        gc.collect()

    def forward(name, dtype):
        bb = keras_hub.models.BertBackbone.from_preset(enc.preset, dtype=dtype)
        e = text.TextEncoder("minilm", enc.preset, bb, enc.tokenizer, "offline", "")
        texts = rt.train_text[:64]
        e.embed(texts, sequence_length=56, progress=False)  # trace
        t = time.perf_counter()
        e.embed(rt.train_text[:1024], sequence_length=56, progress=False)
        out[name] = {"s_per_1024": round(time.perf_counter() - t, 2)}
        print(name, out[name], flush=True)
        del e, bb
        keras.backend.clear_session()
        gc.collect()

    load = os.getloadavg()[0]
    forward("forward float32", "float32")
    forward("forward mixed_bfloat16", "mixed_bfloat16")
    train("float32", "float32")
    train("mixed_bfloat16", "mixed_bfloat16")
    train("mixed_bfloat16, token embeddings frozen", "mixed_bfloat16", freeze_tokens=True)
    train("float32, token embeddings frozen", "float32", freeze_tokens=True)
    train("float32, fixed length 56", "float32", fixed=True)
    train("float32, fixed length 56, XLA", "float32", jit=True, fixed=True)
    out["load"] = [load, os.getloadavg()[0]]
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print("LEVERS" + json.dumps(out))
    write_section("lesson05_levers", render(out))


def render(out: dict) -> str:
    """The RESULTS.md section from the measured figures (``LEVERS`` JSON)."""
    base, cpu0 = out["float32"]["median_step_s"], out["float32"]["cpu_s"]
    rows = ["| configuration | first step (s) | median step (s) | wall speed-up | process CPU of the "
            "fit (s) | CPU speed-up |", "|---|---|---|---|---|---|"]
    for k, v in out.items():
        if isinstance(v, dict) and "median_step_s" in v:
            rows.append(f"| {k} | {v['first_s']:.1f} | {v['median_step_s']:.3f} | "
                        f"{base / v['median_step_s']:.2f}x | {v['cpu_s']:.1f} | {cpu0 / v['cpu_s']:.2f}x |")
    f32, bf = out["forward float32"]["s_per_1024"], out["forward mixed_bfloat16"]["s_per_1024"]
    return "\n".join([
        "## Lesson 05: speed levers (one run, one process)", "",
        f"{stamp()}; load average {out['load'][0]:.1f} at the start, {out['load'][1]:.1f} at the end "
        "(2 cores). Command: `python benchmarks/levers_lesson05.py`. MiniLM fine-tuning steps of "
        f"16 snippets (AdamW, clipnorm 1), median of {STEPS} steps after 6 warm-up steps; "
        "dynamic padding (multiples of 8, at most 56 tokens) unless the row says fixed length.", "",
        *rows, "",
        f"Frozen-encoder forward pass (embeddings of 1,024 snippets, batch 64): float32 {f32:.1f} s, "
        f"mixed_bfloat16 {bf:.1f} s ({f32 / bf:.2f}x).", "",
        "The CPU seconds of each fit (its build, trace and all steps) are steadier than wall "
        "times when other programs share the machine; a load that changes during the run makes "
        "the wall ratios unreliable."])


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--render":  # re-render a saved LEVERS line
        write_section("lesson05_levers", render(json.loads(Path(sys.argv[2]).read_text())))
    else:
        main()
