"""Lesson 06's three digit domains, built offline from real data: MNIST (the source), an
MNIST-M-style domain (each digit blended ``|patch - digit|`` with a patch of a bundled colour
photo, the recipe of Ganin et al., 2016) and scikit-learn's UCI digits in MNIST's framing. All
of it is lesson 06's code (the domains, the network, training, CORAL, gradient reversal), saved
below the mark.
"""

from __future__ import annotations  # noqa: I001 (the saved cells follow the imports directly)

from dataclasses import dataclass
from functools import cached_property

import keras
import numpy as np
import tensorflow as tf


# ---- saved from the lessons by tools/save_cells.py: edit the cells there, not here ----


# Defined in notebooks/06_domain_adaptation.ipynb, section "1. One task, three domains"
#: the bundled photos that are in colour (the other three are grayscale or binary)
COLOUR_PHOTOS = ("cat", "coffee", "rocket", "astronaut", "grace_hopper", "china", "flower")
DOMAIN_NAMES = ("MNIST", "MNIST-M-style", "UCI digits")


def _count(name, value, low=0):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def photo_patches(n: int, size: int = 28, photos=COLOUR_PHOTOS, seed: int = 0,
                  min_std: float = 30.0, min_colour: float = 25.0,
                  brightness=(50.0, 205.0), max_tries: int = 200) -> np.ndarray:
    """``n`` random ``size`` x ``size`` RGB crops of the bundled ``photos``, uint8, reproducible
    for a ``seed``. Only crops with texture (pixel std >= ``min_std``), colour (mean spread of
    the channels >= ``min_colour``) and a mean brightness inside ``brightness`` are kept."""
    from tlcourse import data

    n, size = _count("n", n, 1), _count("size", size, 4)
    if isinstance(photos, str) or not photos or any(p not in data.PHOTOS for p in photos):
        raise ValueError(f"photos must be a list of bundled photo names: {', '.join(data.PHOTOS)}")
    rng = np.random.default_rng(_count("seed", seed))
    windows = [np.lib.stride_tricks.sliding_window_view(data.load_photo(p), (size, size), (0, 1))
               for p in photos]   # every window of every photo, as views
    out, filled = np.empty((n, size, size, 3), np.uint8), 0
    for _ in range(max_tries):   # a round of candidates; keep those that pass, in order
        k = 2 * (n - filled) + 16
        which = rng.integers(len(windows), size=k)
        crops = np.empty((k, size, size, 3), np.uint8)
        for j, w in enumerate(windows):
            m = which == j
            rows, cols = (rng.integers(w.shape[i], size=int(m.sum())) for i in (0, 1))
            crops[m] = w[rows, cols].transpose(0, 2, 3, 1)
        r, g, b = (crops[..., i] for i in range(3))
        colour = (np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)
                  ).reshape(k, -1).mean(axis=1)
        f = crops.reshape(k, -1).astype(np.float32)
        mean = f.mean(axis=1)
        ok = ((f.std(axis=1) >= min_std) & (colour >= min_colour)
              & (mean >= brightness[0]) & (mean <= brightness[1]))
        keep = crops[ok][: n - filled]
        out[filled:filled + len(keep)] = keep
        filled += len(keep)
        if filled == n:
            return out
    raise ValueError(f"too few crops of {list(photos)} passed the texture/colour filter: lower "
                     "min_std / min_colour or add photos")


# Defined in notebooks/06_domain_adaptation.ipynb, section "1. One task, three domains"
def blend_with_photos(digits, photos=COLOUR_PHOTOS, seed: int = 0, **patch_kw) -> np.ndarray:
    """MNIST-M-style images ``|patch - digit|`` per channel, uint8 ``(n, h, w, 3)``, from uint8
    grayscale ``digits (n, h, w)``, each with its own :func:`photo_patches` crop."""
    digits = np.asarray(digits)
    if digits.ndim != 3 or len(digits) == 0 or digits.shape[1] != digits.shape[2]:
        raise ValueError(f"digits must be a batch of square grayscale images (n, h, h), got "
                         f"shape {digits.shape}")
    if digits.dtype != np.uint8:
        raise ValueError(f"digits must be uint8 0-255 (as load_mnist gives), got {digits.dtype}: "
                         "convert with np.clip(x, 0, 255).astype('uint8')")
    patches = photo_patches(len(digits), digits.shape[1], photos, seed, **patch_kw)
    return np.abs(patches.astype(np.int16) - digits[..., None].astype(np.int16)).astype(np.uint8)


def resize_digits(images, size: int = 28, box: int = 20) -> np.ndarray:
    """scikit-learn's 8x8 digits (0-16) as uint8 ``(n, size, size)``: scaled (bilinear) to a
    ``box`` x ``box`` square centred on a black canvas, MNIST's framing, values 0-255."""
    from PIL import Image

    images = np.asarray(images)
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(f"images must be a batch (n, h, w), got shape {images.shape}")
    if not (isinstance(size, int) and isinstance(box, int) and 0 < box <= size):
        raise ValueError(f"need integers 0 < box <= size, got box={box!r}, size={size!r}")
    top, scale = (size - box) // 2, 255.0 / max(float(images.max()), 1e-6)
    out = np.zeros((len(images), size, size), np.uint8)
    for i, img in enumerate(images):
        big = Image.fromarray((img * scale).astype(np.float32), mode="F").resize((box, box),
                                                                                  Image.BILINEAR)
        out[i, top:top + box, top:top + box] = np.clip(np.asarray(big), 0, 255).astype(np.uint8)
    return out


# Defined in notebooks/06_domain_adaptation.ipynb, section "1. One task, three domains"
@dataclass
class Domain:
    """One domain: raw uint8 images for display, standardised inputs (``x_*``), labels."""

    name: str
    images_train: np.ndarray
    y_train: np.ndarray
    images_test: np.ndarray
    y_test: np.ndarray
    description: str
    source: str = "offline"  # where the data came from: "online", "cache", "mirror", "offline"

    @cached_property
    def x_train(self) -> np.ndarray:
        return standardize(self.images_train)

    @cached_property
    def x_test(self) -> np.ndarray:
        return standardize(self.images_test)

    def __repr__(self) -> str:
        return (f"Domain({self.name!r}: train {len(self.y_train)}, test {len(self.y_test)}; "
                f"{self.description})")


def build_domains(n_train: int | None = None, n_test: int | None = None, seed: int = 0) -> dict:
    """The three domains, ``{name: Domain}`` in the order of :data:`DOMAIN_NAMES`. MNIST:
    stratified subsets of ``n_train``/``n_test`` digits; MNIST-M-style: the same digits blended
    (patch seeds ``seed + 1`` and ``seed + 2``); UCI digits: scikit-learn's fixed split."""
    from tlcourse import data

    mnist = data.load_mnist(n_train=n_train, n_test=n_test, seed=seed)
    digits = data.load_digits(seed=seed)
    return {
        "MNIST": Domain("MNIST", mnist.x_train, mnist.y_train, mnist.x_test, mnist.y_test,
                        mnist.description, mnist.source),
        "MNIST-M-style": Domain(
            "MNIST-M-style", blend_with_photos(mnist.x_train, seed=seed + 1), mnist.y_train,
            blend_with_photos(mnist.x_test, seed=seed + 2), mnist.y_test,
            f"the MNIST digits above, each blended |patch - digit| with a random textured "
            f"patch of a bundled colour photo ({', '.join(COLOUR_PHOTOS)}); the MNIST-M recipe, "
            "other photos", mnist.source),
        "UCI digits": Domain(
            "UCI digits", resize_digits(digits.x_train), digits.y_train,
            resize_digits(digits.x_test), digits.y_test,
            "scikit-learn's UCI 8x8 digits resized to a 20-pixel box on a 28x28 canvas"),
    }


# Defined in notebooks/06_domain_adaptation.ipynb, section "1. One task, three domains"
def to_rgb(images):
    """Grayscale ``(n, h, w)`` -> ``(n, h, w, 3)`` by repeating the channel; RGB unchanged."""
    images = np.asarray(images)
    if images.ndim == 3:
        return np.repeat(images[..., None], 3, axis=-1)
    if images.ndim == 4 and images.shape[-1] == 3:
        return images
    raise ValueError(f"expected (n, h, w) grayscale or (n, h, w, 3) RGB, got shape {images.shape}")


def standardize(images):
    """RGB float32, each image shifted and scaled to mean 0 and standard deviation 1."""
    x = to_rgb(images).astype(np.float32)
    if len(x) == 0:
        raise ValueError("images is empty: pass a batch of at least one image (n, h, w[, 3])")
    mean, std = x.mean(axis=(1, 2, 3), keepdims=True), x.std(axis=(1, 2, 3), keepdims=True)
    return (x - mean) / np.maximum(std, 1e-3)   # (a flat image stays flat, not infinite)


# Defined in notebooks/06_domain_adaptation.ipynb, section "2. Source-only: measuring the gap"
@dataclass
class DomainModel:
    """The three parts every method trains; ``classifier = label_head(features(x))``."""

    features: keras.Model      # image -> 768 features
    label_head: keras.Model    # features -> 10 class scores (logits)
    domain_head: keras.Model   # features -> 1 logit: source (1) or target (0)?
    classifier: keras.Model    # image -> 10 class scores

    def embed(self, x):
        return outputs(self.features, x)

    def predict(self, x):
        return outputs(self.classifier, x).argmax(axis=1)


def outputs(model, x, batch_size=512):   # a model's outputs on the images x, batch by batch
    x = np.asarray(x, np.float32)
    return np.concatenate([np.asarray(model(x[i:i + batch_size], training=False))
                           for i in range(0, len(x), batch_size)])


def build_model(input_shape=(28, 28, 3), n_classes=10, seed=0):
    """The DANN paper's MNIST network; the same ``seed`` gives the same initial weights."""
    if not (isinstance(n_classes, int) and n_classes >= 2 and len(input_shape) == 3):
        raise ValueError(f"need n_classes >= 2 and input_shape (height, width, channels), got "
                         f"{n_classes!r}, {input_shape!r}")
    keras.utils.set_random_seed(seed)
    L = keras.layers
    features = keras.Sequential([keras.Input(input_shape), L.Conv2D(32, 5, activation="relu"),
                                 L.MaxPooling2D(), L.Conv2D(48, 5, activation="relu"),
                                 L.MaxPooling2D(), L.Flatten()], name="features")
    n = features.output_shape[-1]
    label_head = keras.Sequential([keras.Input((n,)), L.Dense(100, activation="relu"),
                                   L.Dense(100, activation="relu"), L.Dense(n_classes)],
                                  name="label_head")
    domain_head = keras.Sequential([keras.Input((n,)), L.Dense(100, activation="relu"),
                                    L.Dense(1)], name="domain_head")
    inputs = keras.Input(input_shape)
    classifier = keras.Model(inputs, label_head(features(inputs)), name="classifier")
    return DomainModel(features, label_head, domain_head, classifier)


# Defined in notebooks/06_domain_adaptation.ipynb, section "2. Source-only: measuring the gap"
def make_train_step(model, method, optimizer, domain_optimizer, weight=10.0):
    """One update of ``model`` (a domain.DomainModel) for ``method``: "source_only", "coral" or
    "dann". Returns ``step(xs, ys, xt, strength)``; ``xt`` may be None (no target)."""
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    reversal = GradientReversal() if method == "dann" else None
    main_vars = model.features.trainable_variables + model.label_head.trainable_variables
    head_vars = model.domain_head.trainable_variables
    for opt, variables in ((optimizer, main_vars), (domain_optimizer, head_vars)):
        if not opt.built:   # built here: variables made inside the first step trace it twice
            opt.build(variables)

    @tf.function(reduce_retracing=True)
    def step(xs, ys, xt, strength):
        logs = {}
        with tf.GradientTape(persistent=True) as tape:
            fs = model.features(xs, training=True)
            scores_s = model.label_head(fs, training=True)
            total = logs["label_loss"] = ce(ys, scores_s)
            if xt is not None:
                ft = model.features(xt, training=True)
                both = tf.concat([fs, ft], axis=0)
                is_source = tf.concat([tf.ones_like(fs[:, :1]), tf.zeros_like(ft[:, :1])], axis=0)
                seen = reversal(both, strength) if method == "dann" else tf.stop_gradient(both)
                domain_logits = model.domain_head(seen, training=True)
                logs["domain_loss"] = bce(is_source, domain_logits)
                if method == "coral":   # Deep CORAL aligns the last layer: the class scores
                    logs["coral"] = coral_loss(scores_s, model.label_head(ft, training=True))
                    total += weight * logs["coral"]
                if method == "dann":
                    total += logs["domain_loss"]
        optimizer.apply_gradients(zip(tape.gradient(total, main_vars), main_vars, strict=True))
        if xt is not None:
            head_grads = tape.gradient(logs["domain_loss"], head_vars)
            domain_optimizer.apply_gradients(zip(head_grads, head_vars, strict=True))
            hits = tf.equal(tf.cast(domain_logits > 0, tf.float32), is_source)
            logs["domain_acc"] = tf.reduce_mean(tf.cast(hits, tf.float32))
        return logs

    return step


# Defined in notebooks/06_domain_adaptation.ipynb, section "2. Source-only: measuring the gap"
def dann_schedule(progress, gamma=10.0):
    """DANN's ramp: 0 at progress 0, close to 1 at progress 1."""
    return 2.0 / (1.0 + np.exp(-gamma * progress)) - 1.0


def train(method, model, source, target=None, *, epochs=10, batch_size=64, optimizer="sgd",
          learning_rate=0.01, weight=10.0, strength=0.5, seed=0):
    """Train ``model`` with ``method`` on ``source = (x, y)`` and the unlabelled ``target``
    images; ``seed`` fixes the order of the batches. Returns ``(model, history)``."""
    x_s, y_s = np.asarray(source[0], np.float32), np.asarray(source[1], np.int64)
    make = {"sgd": lambda: keras.optimizers.SGD(learning_rate, momentum=0.9),
            "adam": lambda: keras.optimizers.Adam(learning_rate)}[optimizer]
    opt, domain_opt = make(), make()
    step = make_train_step(model, method, opt, domain_opt, weight)
    rng_s, rng_t = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    n_steps = -(-len(x_s) // batch_size)
    t_order, t_pos = (None, 0) if target is None else (rng_t.permutation(len(target)), 0)
    history = {}
    for epoch in range(epochs):
        order, logs = rng_s.permutation(len(x_s)), []
        for i in range(n_steps):
            p = (epoch * n_steps + i) / max(epochs * n_steps - 1, 1)   # training progress
            lam = strength * dann_schedule(p)
            if optimizer == "sgd":
                for o in (opt, domain_opt):
                    o.learning_rate.assign(learning_rate / (1 + 10 * p) ** 0.75)
            idx = order[i * batch_size:(i + 1) * batch_size]
            xt = None
            if target is not None:
                if t_pos + len(idx) > len(target):   # a new pass over the target images
                    t_order, t_pos = rng_t.permutation(len(target)), 0
                xt, t_pos = target[t_order[t_pos:t_pos + len(idx)]], t_pos + len(idx)
            logs.append(step(x_s[idx], y_s[idx], xt, tf.constant(lam, tf.float32)))
        for key in logs[0]:
            history.setdefault(key, []).append(float(np.mean([log[key] for log in logs])))
        history.setdefault("strength", []).append(float(lam))
    return model, history


# Defined in notebooks/06_domain_adaptation.ipynb, section "2. Source-only: measuring the gap"
def accuracy(model, x, y):
    """Fraction of the standardised images ``x`` that ``model`` (a DomainModel or a keras
    classifier) labels ``y``."""
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} images but y has {len(y)} labels")
    pred = model.predict(x) if isinstance(model, DomainModel) else outputs(model, x).argmax(axis=1)
    return float((pred == np.asarray(y)).mean())


def evaluate(model, domains):
    """Test accuracy of ``model`` on each domain of ``domains``: ``{name: accuracy}``."""
    return {name: accuracy(model, d.x_test, d.y_test) for name, d in domains.items()}


# Defined in notebooks/06_domain_adaptation.ipynb, section "5. CORAL: align the second-order statistics"
def coral_loss(source_out, target_out):
    """Deep CORAL: squared Frobenius distance between the covariance matrices of two batches
    ``(n, d)``, divided by ``4 d^2``."""
    def covariance(x):
        x = x - tf.reduce_mean(x, axis=0, keepdims=True)
        return tf.matmul(x, x, transpose_a=True) / tf.cast(tf.shape(x)[0] - 1, x.dtype)

    source_out = tf.convert_to_tensor(source_out, tf.float32)
    target_out = tf.convert_to_tensor(target_out, tf.float32)
    d = tf.cast(tf.shape(source_out)[1], tf.float32)
    return tf.reduce_sum(tf.square(covariance(source_out) - covariance(target_out))) / (4 * d * d)


# Defined in notebooks/06_domain_adaptation.ipynb, section "6. DANN: features that cannot tell the domains apart"
@tf.custom_gradient
def reverse_gradient(x, strength):
    def backward(dy):   # flip and scale; the strength itself gets no gradient
        return -strength * dy, tf.zeros_like(strength)

    return tf.identity(x), backward


class GradientReversal(keras.layers.Layer):
    """Identity forward; multiplies the gradient by ``-strength`` backward."""

    def call(self, x, strength=1.0):
        return reverse_gradient(x, tf.cast(strength, x.dtype))
