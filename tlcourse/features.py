"""Features of a frozen network computed once, and lesson 03's training loop.

:class:`FeatureCache` keeps a frozen network's features in memory and on disk under a key that
covers the weights and every pixel. Saved from lesson 03: :func:`extract`, which runs the network
over images in batches, each prepared on the fly, and :func:`training_step` and
:func:`custom_fit`, its training loop. No TensorFlow on import.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np

from . import assets, config


def checked_batch(model, images, batch_size=1, dtype=np.float32):
    """``images`` as an array, after refusing a bad model, image batch, batch size or dtype."""
    import keras

    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}: pass net.model "
                         "from tlcourse.models.load_imagenet(...) or a model you built")
    images = np.asarray(images)
    if images.ndim < 2 or len(images) == 0 or images.dtype.kind not in "uif":
        raise ValueError(f"images must be a non-empty numeric batch (n, h, w[, c]), got "
                         f"{images.dtype} of shape {images.shape}")
    config.integer("batch_size", batch_size)
    if np.dtype(dtype) not in (np.float16, np.float32):
        raise ValueError(f"dtype must be float32 (default) or float16 (half the memory), got {dtype}")
    return images


def _outputs(model) -> dict:
    if isinstance(model.output, (list, tuple)):
        raise ValueError("the model returns a list of outputs: give it named outputs instead, "
                         "keras.Model(inputs, {'name': tensor, ...})")
    return model.output if isinstance(model.output, dict) else {"": model.output}


def fingerprint(model, images, extra: str = "") -> str:
    """A key for ``model``'s features of ``images``: it changes when the weights, the outputs,
    the input size or a single pixel change."""
    images = checked_batch(model, images)
    outputs = sorted((name, tuple(tensor.shape)) for name, tensor in _outputs(model).items())
    digest = hashlib.sha256(f"{model.name}|{model.input_shape}|{extra}|{images.shape}|"
                            f"{images.dtype}|{outputs}|".encode())
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
        images = checked_batch(model, images, batch_size, dtype)
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


# Defined in notebooks/03_mobilenetv2_mnist.ipynb, section "5. Compute the features once, cache them, train a small head"
def extract(model, images, prepare=None, batch_size=32, progress=True, desc="features",
            dtype=np.float32):
    """Run ``model`` (frozen) over ``images`` in batches, each prepared on the fly by ``prepare``
    (e.g. ``net.preprocess``): an array, or a dict for named outputs, as float32 or float16."""
    import keras
    from tqdm.auto import tqdm

    from tlcourse import features

    images = features.checked_batch(model, images, batch_size, dtype)
    if prepare is not None and not callable(prepare):
        raise ValueError(f"prepare must be a function (e.g. net.preprocess), got {prepare!r}")
    parts = []
    for start in tqdm(range(0, len(images), batch_size), desc, unit="batch", disable=not progress):
        batch = images[start:start + batch_size]  # prepared only when its turn comes
        out = model.predict_on_batch(batch if prepare is None else prepare(batch))
        parts.append(keras.tree.map_structure(lambda a: np.asarray(a).astype(dtype), out))
    return keras.tree.map_structure(lambda *a: np.concatenate(a), *parts)


# Defined in notebooks/03_mobilenetv2_mnist.ipynb, section "6. The custom training loop, written correctly"
def training_step(model, optimizer):
    """``step(x, y, training)``: one traced step of ``model`` (training, or with ``training=False``
    validation) that updates ``step.metrics``. ``optimizer``: a Keras optimizer created once, or a
    list of (optimizer, variables) pairs. TensorFlow keeps every trace in memory until the kernel
    stops: make one step per model and optimizers, and reuse it across runs."""
    import keras
    import tensorflow as tf
    groups = optimizer if isinstance(optimizer, list) else [(optimizer, model.trainable_variables)]
    if not groups or not all(isinstance(o, keras.optimizers.Optimizer) and g for o, g in groups):
        raise ValueError("optimizer: a keras optimizer created once, e.g. keras.optimizers.Adam(1e-3), "
                         "or a list of (optimizer, variables) pairs; something must be trainable")
    for opt, group in groups:  # the optimizer's variables now: traced once, not twice
        if not opt.built:
            opt.build(group)
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

    step.metrics = metrics
    return step


def custom_fit(model, train, val=None, *, optimizer=None, epochs, verbose=True, step=None):
    """Train ``model`` on ``train`` (validating on ``val``) with a new ``training_step(model,
    optimizer)``, or with ``step``, one made before (no new trace); return a history like ``fit``'s."""
    import tensorflow as tf
    if (optimizer is None) == (step is None):
        raise ValueError("give optimizer=... (a keras optimizer created once) or step=... (from "
                         "training_step), not both")
    step = step or training_step(model, optimizer)
    if not isinstance(train, tf.data.Dataset) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError("train: a batched tf.data.Dataset of (x, labels); epochs: a positive int")
    metrics = step.metrics
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
