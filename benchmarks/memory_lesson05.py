"""Lesson 05 memory levers: the peak resident memory of the fine-tuning stage under each lever,
each in a fresh process, as the lesson runs it (offline MiniLM, mixed_bfloat16, batches of 16).

    .venv/bin/python benchmarks/memory_lesson05.py            # every lever, 40 traced steps
    .venv/bin/python benchmarks/memory_lesson05.py --only base sgd --steps 20

Each process imports what the lesson imports, loads the encoder, caches the embeddings of the
first 16 x steps training snippets, frees the encoder's network, builds and warm-starts the
classifier, fine-tunes it for ``steps`` steps with the lesson's ``finetune`` and predicts the
2,562 test snippets. It reports the resident memory after the imports, after the encoder, after
building the classifier, and the high-water mark (VmHWM) after fine-tuning and after predicting.
Writes the ``lesson05_memory`` section of benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import stamp, write_section  # noqa: E402

LEVERS = {
    "base": "the lesson as it is",
    "freeze_token_embeddings": "token-embedding table (11.7 M of 22.7 M weights) frozen",
    "eager": "training steps run eagerly (no traced step)",
    "no_clipping": "no gradient clipping",
    "sgd": "plain SGD instead of AdamW (no optimizer state): the floor",
    "xla": "training step compiled with XLA (jit_compile=True)",
    "inter_op_1": "TensorFlow's inter-op threads limited to 1",
    "one_malloc_pool": "glibc malloc held to one pool (mallopt M_ARENA_MAX=1)",
    "mmap_1mb": "glibc malloc: blocks over 1 MB always mmap-ed (mallopt M_MMAP_THRESHOLD)",
}

CHILD = r'''
import ctypes, gc, json, sys, time
lever, steps = sys.argv[1], int(sys.argv[2])
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return round(int(line.split()[1]) * 1024 / 1e6)
if lever == "one_malloc_pool":
    ctypes.CDLL("libc.so.6").mallopt(-8, 1)
if lever == "mmap_1mb":
    ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)
out = {}
import tensorflow as tf
out["tensorflow_MB"] = status("VmRSS")
if lever == "inter_op_1":
    tf.config.threading.set_inter_op_parallelism_threads(1)
import keras, keras_hub, matplotlib.pyplot, pandas, sklearn.linear_model  # noqa
from tlcourse import data, text
from tlcourse import sentiment as S
out["imports_MB"] = status("VmRSS")
enc = text.load_text_encoder("minilm")
rt = data.load_rotten_tomatoes()
n = 16 * steps
pre = enc.preprocessor(56)
feats, y = S.encode(pre, rt.train_text[:n]), rt.train_label[:n]
test = S.encode(pre, rt.test_text)
emb = S.cached_embeddings(enc, rt.train_text[:n], 56)
probe, _, _ = S.fit_best_logreg(emb, y, emb, y)
out["encoder_peak_MB"] = status("VmHWM")
enc.release()
gc.collect()
keras.utils.set_random_seed(0)
model = S.warm_start(S.build_classifier(enc.preset, dtype="mixed_bfloat16"), probe[-1])
if lever == "freeze_token_embeddings":
    model.backbone.get_layer("token_embedding").trainable = False
if lever == "no_clipping":
    S.CLIPNORM = None
if lever == "sgd":
    S.make_optimizer = lambda total_steps, peak_lr=None: keras.optimizers.SGD(1e-3)
if lever == "xla":
    compile_ = model.compile
    model.compile = lambda **kw: compile_(**{**kw, "jit_compile": True})
out["classifier_MB"] = status("VmRSS")
t = time.perf_counter()
S.finetune(model, feats, y, seed=0, verbose=0, eager=(lever == "eager"))
out["finetune_s"] = round(time.perf_counter() - t, 1)
out["peak_after_finetune_MB"] = status("VmHWM")
S.predict_proba(model, test)
out["peak_after_predict_MB"] = status("VmHWM")
print("RESULT " + json.dumps(out), flush=True)
'''


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(LEVERS), default=list(LEVERS))
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg",
           "PYTHONPATH": str(HERE.parent)}
    rows = ["| lever | imports (MB) | classifier built (MB) | peak after fine-tuning (MB) | "
            "peak after predicting (MB) | fine-tuning (s) |", "|---|---|---|---|---|---|"]
    loads = [os.getloadavg()[0]]
    for lever in args.only:
        loads.append(os.getloadavg()[0])
        done = subprocess.run([sys.executable, "-c", CHILD, lever, str(args.steps)], env=env,
                              capture_output=True, text=True)
        line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(f"{lever}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            rows.append(f"| {LEVERS[lever]} | failed | | | | |")
            continue
        r = json.loads(line[7:])
        print(lever, r, flush=True)
        rows.append(f"| {LEVERS[lever]} | {r['imports_MB']} | {r['classifier_MB']} | "
                    f"{r['peak_after_finetune_MB']} | {r['peak_after_predict_MB']} | "
                    f"{r['finetune_s']} |")
    loads.append(os.getloadavg()[0])
    text = (f"## Lesson 05: memory levers of the fine-tuning stage ({args.steps} steps)\n\n"
            f"{stamp()}; load {min(loads):.1f}-{max(loads):.1f} on 2 cores, sampled before and "
            f"after each lever (times under load are upper bounds; memory hardly depends on it). Command: `python "
            f"benchmarks/memory_lesson05.py{' --steps ' + str(args.steps) if args.steps != 40 else ''}`. "
            "Each lever in a fresh process; MB = 10^6 bytes of resident memory (VmRSS, VmHWM).\n\n"
            + "\n".join(rows))
    if not args.no_write:
        write_section("lesson05_memory", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
