"""Features computed once, and the training loop of lesson 03 (MobileNetV2 on MNIST done right).

Infrastructure used by lesson 03 and ``benchmarks/bench_feature_cache.py``:

* :func:`extract` runs a frozen network over images in batches, with a progress bar, turning
  each batch into the network's input on the fly (a whole 96-px MNIST set as float32 would
  need gigabytes). A network with several outputs gives a dict of arrays.
* :class:`FeatureCache` keeps features in memory and, when given a folder, on disk as
  ``.npy`` files (``np.save``; read back with ``allow_pickle=False``). Its key covers the
  network's weights and the images, so features of a changed network are never served stale.
* :func:`make_dataset` batches ``(x, y)`` in one fixed shuffled order, so that two runs can be
  fed the very same batches.
* :func:`clean_cuts` lists the layers of a network that every path goes through: the places
  where it can be cut in two (lesson 03 cuts there and fine-tunes the upper part).
* :func:`shares_weights` tells whether a model really contains a pretrained network.
* :func:`linear_probe` scores features with scikit-learn's logistic regression.

:func:`custom_fit`, the training loop itself, is written in lesson 03 (section 6) and copied
to the end of this module by tools/save_cells.py. Importing this module does not import
TensorFlow; the functions do when called.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import assets


# --------------------------------------------------------------------------- checks
def _keras_model(model, what="model"):
    import keras

    if not isinstance(model, keras.Model):
        raise ValueError(f"{what} must be a keras.Model, got {type(model).__name__}: pass "
                         "net.model from tlcourse.models.load_imagenet(...) or a model you built")
    return model


def _images(images) -> np.ndarray:
    arr = np.asarray(images)
    if arr.ndim < 2 or len(arr) == 0:
        raise ValueError(f"images must be a non-empty batch (n, h, w[, c]), got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"images must be numeric arrays, got dtype {arr.dtype}")
    return arr


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------- extraction
def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", disable=not enabled, leave=True)


def _dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float16), np.dtype(np.float32)):
        raise ValueError(f"dtype must be float32 (default) or float16 (half the memory), got {dtype}")
    return dtype


def extract(model, images, prepare: Callable | None = None, batch_size: int = 32,
            progress: bool = True, desc: str = "features", dtype=np.float32):
    """Run ``model`` (frozen, inference mode) over ``images`` in batches.

    ``prepare`` turns a batch of raw images into the model's input (e.g. ``net.preprocess``);
    it is applied batch by batch, so the resized copies never all sit in memory at once.
    Returns an array, or a dict of arrays when the model has named outputs (a dict), stored
    as ``dtype``: float32, or float16 to halve the memory of large feature maps.
    """
    _keras_model(model)
    images = _images(images)
    batch_size = _positive_int("batch_size", batch_size)
    dtype = _dtype(dtype)
    if prepare is not None and not callable(prepare):
        raise ValueError(f"prepare must be a function (e.g. net.preprocess), got {prepare!r}")
    parts = []
    with _progress(len(images), desc, progress) as bar:
        for start in range(0, len(images), batch_size):
            batch = images[start:start + batch_size]
            x = prepare(batch) if prepare is not None else batch
            out = model.predict_on_batch(x)
            if isinstance(out, dict):
                out = {k: np.asarray(v).astype(dtype, copy=False) for k, v in out.items()}
            elif not isinstance(out, (list, tuple)):
                out = np.asarray(out).astype(dtype, copy=False)
            parts.append(out)
            bar.update(len(batch))
    if isinstance(parts[0], dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    if isinstance(parts[0], (list, tuple)):
        raise ValueError("the model returns a list of outputs: give it named outputs instead, "
                         "keras.Model(inputs, {'name': tensor, ...})")
    return np.concatenate(parts)


def fingerprint(model, images, extra: str = "") -> str:
    """A key for ``model``'s features of ``images``: it changes when the weights, the outputs,
    the input size or a single pixel change."""
    _keras_model(model)
    images = _images(images)
    digest = hashlib.sha256()
    digest.update(f"{model.name}|{model.input_shape}|{extra}|".encode())
    outputs = model.output if isinstance(model.output, dict) else {"": model.output}
    for name, tensor in sorted(outputs.items()):
        digest.update(f"{name}:{tuple(tensor.shape)}|".encode())
    for w in model.weights:
        digest.update(np.ascontiguousarray(np.asarray(w.numpy())).tobytes())
    digest.update(f"{images.shape}|{images.dtype}|".encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    return digest.hexdigest()


class FeatureCache:
    """Features of a frozen network, computed once: in memory, and on disk when ``folder`` is
    given (one ``.npy`` file per output, written with ``np.save``, read with
    ``allow_pickle=False``).

    ``cache.get(name, model, images, prepare=net.preprocess)`` computes the first time and
    serves from memory (or disk, when the notebook runs again) afterwards. ``cache.log`` records where
    each request was served from and how long it took.
    """

    def __init__(self, folder: str | os.PathLike | None = None):
        if folder is not None and not isinstance(folder, (str, os.PathLike)):
            raise ValueError(f"folder must be a path or None (memory only), got {folder!r}")
        self.folder = Path(folder) if folder is not None else None
        if self.folder is not None:
            assets.make_dir(self.folder)  # may be read-only: then reads only, writes elsewhere
        self._memory: dict[str, object] = {}
        self.log: list[dict] = []

    def __len__(self) -> int:
        return len(self._memory)

    def clear(self, disk: bool = False) -> None:
        """Forget the features in memory (and delete this cache's files when ``disk``)."""
        self._memory.clear()
        if disk and self.folder is not None:
            for path in self.folder.glob("*.npy"):
                path.unlink()
                assets.sidecar(path).unlink(missing_ok=True)

    def _paths(self, name: str, key: str, outputs: list[str]) -> dict[str, Path]:
        stem = f"{name}-{key[:16]}"
        if outputs == [""]:
            return {"": self.folder / f"{stem}.npy"}
        return {k: self.folder / f"{stem}.{k}.npy" for k in outputs}

    def get(self, name: str, model, images, prepare: Callable | None = None,
            batch_size: int = 32, progress: bool = True, verbose: bool = True,
            dtype=np.float32):
        """The features of ``images`` under ``model`` (an array, or a dict for named outputs),
        stored as ``dtype`` (float32, or float16 for half the memory and disk)."""
        dtype = _dtype(dtype)
        if not isinstance(name, str) or not name or not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"name must be a short word such as 'train' or 'test_96', got {name!r}")
        start = time.perf_counter()
        key = fingerprint(model, images, extra=dtype.name)
        outputs = sorted(model.output) if isinstance(model.output, dict) else [""]
        where = "memory"
        value = self._memory.get(key)
        if value is None and self.folder is not None:
            computed = []

            def compute(k):
                if not computed:
                    computed.append(extract(model, images, prepare, batch_size, progress,
                                            desc=name, dtype=dtype))
                return computed[0] if k == "" else computed[0][k]

            loaded = {k: assets.cached_array(path, functools.partial(compute, k),
                                             f"features {name}")
                      for k, path in self._paths(name, key, outputs).items()}
            if any(len(v) != len(images) for v in loaded.values()):
                raise RuntimeError(f"cached features {name} do not match the {len(images)} images")
            value = loaded[""] if outputs == [""] else loaded
            where = "computed" if computed else "disk"
        if value is None:
            value = extract(model, images, prepare, batch_size, progress, desc=name, dtype=dtype)
            where = "computed"
        self._memory[key] = value
        seconds = time.perf_counter() - start
        self.log.append({"name": name, "source": where, "images": len(images), "seconds": seconds})
        if verbose:
            shapes = (value.shape if isinstance(value, np.ndarray)
                      else ", ".join(f"{k} {v.shape}" for k, v in value.items()))
            label = {"computed": "computed", "memory": "from memory",
                     "disk": f"from disk ({self.folder})"}[where]
            print(f"{name}: {len(images):,} images -> {shapes}, {label} in {seconds:.2f} s")
        return value


# --------------------------------------------------------------------------- datasets
def make_dataset(x, y, batch_size: int = 64, shuffle_seed: int | None = None,
                 reshuffle: bool = True):
    """A batched ``tf.data.Dataset`` of ``(x, y)``, shuffled with ``shuffle_seed`` (None: in
    order). ``reshuffle=True`` draws a new order every epoch; ``reshuffle=False`` keeps one
    shuffled order for every epoch, so that two datasets made alike feed ``model.fit`` and
    :func:`custom_fit` the very same batches (``fit`` iterates a dataset in its own way, which
    shifts a reshuffling dataset's sequence of orders)."""
    import tensorflow as tf

    batch_size = _positive_int("batch_size", batch_size)
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must be non-empty and equally long ({len(x)} vs {len(y)})")
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(x), seed=int(shuffle_seed), reshuffle_each_iteration=bool(reshuffle))
    return ds.batch(batch_size)


# --------------------------------------------------------------------------- networks
def _inbound_layers(model) -> dict[str, list[str]]:
    """For each layer of ``model``: the names of the layers feeding it inside ``model``."""
    names = {layer.name for layer in model.layers}
    inbound = {}
    for layer in model.layers:
        parents = []
        for node in layer._inbound_nodes:
            for tensor in node.input_tensors:
                parent = tensor._keras_history.operation.name
                if parent in names and parent not in parents:
                    parents.append(parent)
        inbound[layer.name] = parents
    return inbound


def clean_cuts(model) -> list[str]:
    """Names of the layers of a functional ``model`` whose output every path goes through:
    the places where it can be cut in two, ``keras.Model(model.input, layer.output)`` and
    ``keras.Model(layer.output, model.output)`` (in MobileNetV2, block ends outside the
    residual connections, such as ``block_5_add`` or ``block_12_add``)."""
    _keras_model(model)
    order = [layer.name for layer in model.layers]
    position = {name: i for i, name in enumerate(order)}
    edges = [(position[p], position[c]) for c, ps in _inbound_layers(model).items() for p in ps]
    cuts = []
    for i, name in enumerate(order[:-1]):
        if i == 0:
            continue  # the input itself
        crossing = [a for a, b in edges if a <= i < b]
        if crossing and all(a == i for a in crossing):
            cuts.append(name)
    return cuts


def shares_weights(model, pretrained) -> float:
    """The share (0 to 1) of ``pretrained``'s weights that ``model`` really contains.

    1.0: the pretrained network is part of ``model``; 0.0: ``model`` was built next to it and
    never uses it (loading a network does nothing until you put it in your model)."""
    _keras_model(model)
    _keras_model(pretrained, "pretrained")
    if not pretrained.weights:
        raise ValueError(f"{pretrained.name} has no weights to look for")
    mine = {id(w) for w in model.weights}
    return sum(id(w) in mine for w in pretrained.weights) / len(pretrained.weights)


def linear_probe(train_x, train_y, test_x, test_y, C: float = 0.1, max_iter: int = 1000,
                 return_model: bool = False):
    """Test accuracy of a logistic regression (scikit-learn, standardised inputs) trained on
    ``train_x`` features: a quick, deterministic score for a set of features. With
    ``return_model=True`` returns ``(accuracy, fitted_pipeline)``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    if not (len(train_x) and len(test_x) and len(train_y) and len(test_y)):
        raise ValueError("linear_probe needs non-empty features and labels for both train and "
                         "test: e.g. linear_probe(f_train, y_train, f_test, y_test)")
    train_x = np.asarray(train_x).reshape(len(train_x), -1)
    test_x = np.asarray(test_x).reshape(len(test_x), -1)
    if len(train_x) != len(train_y) or len(test_x) != len(test_y) or not len(train_x) or not len(test_x):
        raise ValueError("features and labels must be non-empty and equally long")
    if train_x.shape[1] != test_x.shape[1]:
        raise ValueError(f"train features have {train_x.shape[1]} values per image, test features "
                         f"{test_x.shape[1]}: compute both with the same network and size")
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    # One BLAS thread: these matrices are small, and on a 2-core machine where TensorFlow's
    # threads are also spinning, OpenBLAS's waiting threads made this 30x slower (measured).
    with threadpool_limits(limits=1, user_api="blas"):
        clf.fit(train_x, train_y)
    with threadpool_limits(limits=1, user_api="blas"):
        accuracy = float(clf.score(test_x, test_y))
    return (accuracy, clf) if return_model else accuracy


# ---- saved from the lessons by tools/save_cells.py: edit the cells there, not here ----


# Defined in notebooks/03_mobilenetv2_mnist.ipynb, section "6. The custom training loop, written correctly"
def custom_fit(model, train, val=None, *, optimizer, epochs, verbose=True):
    """Train ``model`` on the batched datasets of (x, labels) ``train`` with a hand-written loop
    (validation on ``val`` if given); return a history dict like ``model.fit``'s. ``optimizer``:
    one optimizer, or a list of ``(optimizer, variables)`` pairs, created once by the caller."""
    import keras
    import tensorflow as tf

    groups = optimizer if isinstance(optimizer, list) else [(optimizer, model.trainable_variables)]
    if not all(isinstance(opt, keras.optimizers.Optimizer) for opt, _ in groups):
        raise ValueError("optimizer: a keras optimizer created once before the loop, e.g. "
                         "keras.optimizers.Adam(1e-3), or a list of (optimizer, variables) pairs")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive whole number, got {epochs!r}")
    if not isinstance(train, tf.data.Dataset):
        raise ValueError("train: a batched tf.data.Dataset of (x, labels), e.g. "
                         "tf.data.Dataset.from_tensor_slices((x, y)).batch(64)")
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    metrics = {"loss": keras.metrics.Mean(), "accuracy": keras.metrics.SparseCategoricalAccuracy(),
               "val_loss": keras.metrics.Mean(), "val_accuracy": keras.metrics.SparseCategoricalAccuracy()}
    variables = [v for _, group in groups for v in group]  # 1. and 2.: once; trainable only
    if not variables:
        raise ValueError("nothing to train: unfreeze the head (or the blocks) first")

    @tf.function  # 3.
    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = loss_fn(y, logits) + sum(model.losses)  # plus any weight regularisers
        grads = iter(tape.gradient(loss, variables))
        for opt, group in groups:  # each optimizer applies the gradients of its own variables
            opt.apply_gradients([(next(grads), v) for v in group])
        metrics["loss"].update_state(loss, sample_weight=tf.shape(x)[0])
        metrics["accuracy"].update_state(y, logits)

    @tf.function
    def val_step(x, y):
        logits = model(x, training=False)  # 5.
        metrics["val_loss"].update_state(loss_fn(y, logits), sample_weight=tf.shape(x)[0])
        metrics["val_accuracy"].update_state(y, logits)

    history = {k: [] for k in metrics if val is not None or not k.startswith("val_")}
    for epoch in range(epochs):
        for metric in metrics.values():  # 4.
            metric.reset_state()
        for x, y in train:
            train_step(x, y)
        for x, y in val if val is not None else []:
            val_step(x, y)
        for key in history:
            history[key].append(float(metrics[key].result()))
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in history.items()))
    return history
