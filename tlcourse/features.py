"""Features of a frozen network computed once, and lesson 03's training loop.

:func:`extract` runs a frozen network over images in batches, preparing each batch on the fly;
:class:`FeatureCache` keeps its features in memory and on disk under a key that covers the
weights and every pixel. :func:`custom_fit` is saved from lesson 03. No TensorFlow on import.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np

from . import assets


def _checked(model, images, batch_size=1, dtype=np.float32):
    """``images`` as an array, after refusing a bad model, image batch, batch size or dtype."""
    import keras

    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}: pass net.model "
                         "from tlcourse.models.load_imagenet(...) or a model you built")
    images = np.asarray(images)
    if images.ndim < 2 or len(images) == 0 or images.dtype.kind not in "uif":
        raise ValueError(f"images must be a non-empty numeric batch (n, h, w[, c]), got "
                         f"{images.dtype} of shape {images.shape}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if np.dtype(dtype) not in (np.float16, np.float32):
        raise ValueError(f"dtype must be float32 (default) or float16 (half the memory), got {dtype}")
    return images


def _outputs(model) -> dict:
    if isinstance(model.output, (list, tuple)):
        raise ValueError("the model returns a list of outputs: give it named outputs instead, "
                         "keras.Model(inputs, {'name': tensor, ...})")
    return model.output if isinstance(model.output, dict) else {"": model.output}


def extract(model, images, prepare=None, batch_size: int = 32, progress: bool = True,
            desc: str = "features", dtype=np.float32):
    """Run ``model`` (frozen) over ``images`` in batches, each prepared on the fly by ``prepare``
    (e.g. ``net.preprocess``): an array, or a dict for named outputs, as float32 or float16."""
    import keras
    from tqdm.auto import tqdm

    images = _checked(model, images, batch_size, dtype)
    if prepare is not None and not callable(prepare):
        raise ValueError(f"prepare must be a function (e.g. net.preprocess), got {prepare!r}")
    parts = []
    for start in tqdm(range(0, len(images), batch_size), desc, unit="batch", disable=not progress):
        batch = images[start:start + batch_size]
        out = model.predict_on_batch(batch if prepare is None else prepare(batch))
        parts.append(keras.tree.map_structure(lambda a: np.asarray(a).astype(dtype), out))
    return keras.tree.map_structure(lambda *a: np.concatenate(a), *parts)


def fingerprint(model, images, extra: str = "") -> str:
    """A key for ``model``'s features of ``images``: it changes when the weights, the outputs,
    the input size or a single pixel change."""
    images = _checked(model, images)
    digest = hashlib.sha256(f"{model.name}|{model.input_shape}|{extra}|{images.shape}|"
                            f"{images.dtype}|".encode())
    for name, tensor in sorted(_outputs(model).items()):
        digest.update(f"{name}:{tuple(tensor.shape)}|".encode())
    for w in model.weights:
        digest.update(np.ascontiguousarray(w.numpy()).tobytes())
    digest.update(np.ascontiguousarray(images).tobytes())
    return digest.hexdigest()


class FeatureCache:
    """Features computed once: kept in memory and, given a ``folder``, as ``.npy`` files (read
    with ``allow_pickle=False``) that a rerun reads back. ``log``: where each request came from."""

    def __init__(self, folder: str | os.PathLike | None = None):
        if folder is not None and not isinstance(folder, (str, os.PathLike)):
            raise ValueError(f"folder must be a path or None (memory only), got {folder!r}")
        self.folder = None if folder is None else Path(folder)
        if self.folder is not None:
            assets.make_dir(self.folder)  # may be read-only: then reads only, writes elsewhere
        self._memory, self.log = {}, []

    def get(self, name: str, model, images, prepare=None, batch_size: int = 32,
            progress: bool = True, verbose: bool = True, dtype=np.float32):
        """The features of ``images`` under ``model`` (as :func:`extract` gives them): from
        memory, from disk, or computed and stored."""
        if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"name must be a short word such as 'train' or 'test_96', got {name!r}")
        images = _checked(model, images, batch_size, dtype)
        start, key, computed = time.perf_counter(), fingerprint(model, images, np.dtype(dtype).name), []

        def compute(output):
            if not computed:
                computed.append(extract(model, images, prepare, batch_size, progress, name, dtype))
            return computed[0][output] if output else computed[0]

        value, source = self._memory.get(key), "memory"
        if value is None:
            value = {k: compute(k) if self.folder is None else assets.cached_array(
                self.folder / f"{name}-{key[:16]}{'.' * bool(k)}{k}.npy", lambda k=k: compute(k),
                f"features {name}", shape=(len(images), *tensor.shape[1:]))
                for k, tensor in _outputs(model).items()}
            value, source = value.get("", value), "computed" if computed else "disk"
        self._memory[key] = value
        seconds = time.perf_counter() - start
        self.log.append({"name": name, "source": source, "images": len(images), "seconds": seconds})
        if verbose:
            how = "computed" if source == "computed" else f"read from {source}"
            print(f"{name}: features of {len(images):,} images {how} in {seconds:.2f} s")
        return value


# ---- saved from the lessons by tools/save_cells.py: edit the cells there, not here ----


# Defined in notebooks/03_mobilenetv2_mnist.ipynb, section "6. The custom training loop, written correctly"
def custom_fit(model, train, val=None, *, optimizer, epochs, verbose=True):
    """Train ``model`` on ``train`` (validating on ``val``); return a history like ``fit``'s."""
    import keras
    import tensorflow as tf
    groups = optimizer if isinstance(optimizer, list) else [(optimizer, model.trainable_variables)]
    if not groups or not all(isinstance(o, keras.optimizers.Optimizer) and g for o, g in groups):
        raise ValueError("optimizer: a keras optimizer created once, e.g. keras.optimizers.Adam(1e-3), "
                         "or a list of (optimizer, variables) pairs; something must be trainable")
    if not isinstance(train, tf.data.Dataset) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError("train: a batched tf.data.Dataset of (x, labels); epochs: a positive int")
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)  # 1. all created once
    metrics = {"loss": keras.metrics.Mean(), "accuracy": keras.metrics.SparseCategoricalAccuracy(),
               "val_loss": keras.metrics.Mean(), "val_accuracy": keras.metrics.SparseCategoricalAccuracy()}

    @tf.function  # 3.
    def step(x, y, training):  # training=False: 5., a validation step in inference mode
        with tf.GradientTape() as tape:
            logits = model(x, training=training)
            loss = loss_fn(y, logits) + sum(model.losses)  # plus any weight regularisers
        if training:  # each optimizer applies the gradients of its own variables
            grads = tape.gradient(loss, [group for _, group in groups])  # 2. trainable only
            for (opt, group), group_grads in zip(groups, grads, strict=True):
                opt.apply_gradients(zip(group_grads, group, strict=True))
        prefix = "" if training else "val_"
        metrics[prefix + "loss"].update_state(loss, sample_weight=tf.shape(x)[0])
        metrics[prefix + "accuracy"].update_state(y, logits)

    history = {k: [] for k in metrics if val is not None or not k.startswith("val_")}
    for epoch in range(epochs):
        for metric in metrics.values():  # 4.
            metric.reset_state()
        for training, data in ((True, train), (False, val or [])):
            for x, y in data:
                step(x, y, training)
        for key in history:
            history[key].append(float(metrics[key].result()))
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in history.items()))
    return history
