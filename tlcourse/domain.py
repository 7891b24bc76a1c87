"""Domain adaptation: shifted digit domains, CORAL, gradient reversal and DANN.

Introduced in lesson 06 (``06_domain_adaptation``).

Domains, all real data and built offline:

* **source**: MNIST digits (:func:`tlcourse.data.load_mnist`);
* **MNIST-M-style**: each MNIST digit blended with a random patch of a real colour photo by
  the absolute difference ``|patch - digit|``, the recipe published with MNIST-M (Ganin et
  al., 2016), here with the course's bundled photos instead of the BSDS500 ones
  (:func:`blend_with_photos`);
* **UCI digits**: scikit-learn's 8x8 handwritten digits, resized to 28x28 with MNIST's framing
  (:func:`resize_digits`).

The lesson writes the methods in the open: the training step (``make_train_step``), the loop
with the DANN paper's schedules (``train``, ``dann_schedule``), the CORAL loss and the
gradient-reversal layer are defined in its cells and copied below the mark at the end of this
module by ``tools/save_cells.py``. This module's own part is the infrastructure: the domains,
the network (:func:`build_model`, a feature extractor, a label head and a domain head),
evaluation, few-label fine-tuning, the domain probe and the hand-made invariances of
section 9.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import keras
import numpy as np
import tensorflow as tf

#: the bundled photos that are in colour (the other three are grayscale or binary)
COLOUR_PHOTOS = ("cat", "coffee", "rocket", "astronaut", "grace_hopper", "china", "flower")
DOMAIN_NAMES = ("MNIST", "MNIST-M-style", "UCI digits")


# --------------------------------------------------------------------------- domains
def _rng(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(int(seed))


def photo_patches(n: int, size: int = 28, photos=COLOUR_PHOTOS, seed: int = 0,
                  min_std: float = 30.0, min_colour: float = 25.0,
                  brightness=(50.0, 205.0), max_tries: int = 200) -> np.ndarray:
    """``n`` random ``size`` x ``size`` RGB crops of the bundled photos, uint8 ``(n, size, size, 3)``.

    A crop is kept only if it has texture (pixel standard deviation >= ``min_std``), colour
    (mean spread between the largest and smallest channel >= ``min_colour``) and a mean
    brightness inside ``brightness``: near-black, washed-out or flat crops would make the
    blended digit too easy or too hard for reasons that have nothing to do with the shift.
    Reproducible for a given ``seed``.
    """
    from . import data

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 4:
        raise ValueError(f"size must be an integer >= 4, got {size!r}")
    if isinstance(photos, str) or not photos:
        raise ValueError(f"photos must be a non-empty list of names, e.g. {list(COLOUR_PHOTOS)}")
    unknown = [p for p in photos if p not in data.PHOTOS]
    if unknown:
        raise ValueError(f"unknown photos {unknown}; available: {', '.join(data.PHOTOS)}")
    rng = _rng(seed)
    # every size x size window of every photo, as views (no copies)
    windows = [np.lib.stride_tricks.sliding_window_view(data.load_photo(p), (size, size), (0, 1))
               for p in photos]
    lo, hi = brightness
    out = np.empty((n, size, size, 3), np.uint8)
    filled = 0
    for _ in range(max_tries):
        # draw a round of candidates (photo, row, column), keep those that pass, in order
        k = 2 * (n - filled) + 16
        which = rng.integers(len(windows), size=k)
        crops = np.empty((k, size, size, 3), np.uint8)
        for j, w in enumerate(windows):
            m = which == j
            rows = rng.integers(w.shape[0], size=int(m.sum()))
            cols = rng.integers(w.shape[1], size=int(m.sum()))
            crops[m] = w[rows, cols].transpose(0, 2, 3, 1)
        r, g, b = (crops[..., i] for i in range(3))  # (reducing over an axis of 3 is slow)
        spread = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)
        colour = spread.reshape(k, -1).mean(axis=1)
        f = crops.reshape(k, -1).astype(np.float32)
        mean = f.mean(axis=1)
        ok = ((f.std(axis=1) >= min_std) & (colour >= min_colour)
              & (mean >= lo) & (mean <= hi))
        keep = crops[ok][: n - filled]
        out[filled:filled + len(keep)] = keep
        filled += len(keep)
        if filled == n:
            return out
    raise ValueError(f"too few crops of {list(photos)} passed the texture/colour filter: lower "
                     "min_std / min_colour or add photos")


def blend_with_photos(digits, photos=COLOUR_PHOTOS, seed: int = 0, **patch_kw) -> np.ndarray:
    """MNIST-M-style images: ``|patch - digit|`` per channel, uint8 ``(n, 28, 28, 3)``.

    ``digits`` are uint8 grayscale digits ``(n, h, w)`` (white on black, as MNIST); each gets
    its own random photo patch (:func:`photo_patches`, ``seed`` makes it reproducible). Where
    the digit's stroke is white the patch's colours are inverted, elsewhere the patch shows
    through: the digit stays readable, but its colour and polarity change from image to image.
    """
    digits = np.asarray(digits)
    if digits.ndim != 3 or len(digits) == 0:
        raise ValueError(f"digits must be a batch of grayscale images (n, h, w), got shape {digits.shape}")
    if digits.shape[1] != digits.shape[2]:
        raise ValueError(f"digits must be square, got {digits.shape[1:]}")
    if digits.dtype != np.uint8:
        raise ValueError(f"digits must be uint8 0-255 (as load_mnist gives), got {digits.dtype}: "
                         "convert with np.clip(x, 0, 255).astype('uint8')")
    patches = photo_patches(len(digits), digits.shape[1], photos, seed, **patch_kw)
    return np.abs(patches.astype(np.int16) - digits[..., None].astype(np.int16)).astype(np.uint8)


def resize_digits(images, size: int = 28, box: int = 20) -> np.ndarray:
    """scikit-learn's 8x8 digits (values 0-16) as uint8 ``(n, size, size)`` MNIST look-alikes.

    Each digit is scaled to ``box`` x ``box`` pixels (bilinear) and centred on a black
    ``size`` x ``size`` canvas, the framing MNIST uses (a 20-pixel box in 28 pixels), with
    values stretched to 0-255. What is left is the real difference: other writers, a coarse
    8x8 scan that blurs when enlarged, thicker strokes.
    """
    from PIL import Image

    images = np.asarray(images)
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(f"images must be a batch (n, h, w), got shape {images.shape}")
    if not (isinstance(size, int) and isinstance(box, int) and 0 < box <= size):
        raise ValueError(f"need integers 0 < box <= size, got box={box!r}, size={size!r}")
    top = (size - box) // 2
    scale = 255.0 / max(float(images.max()), 1e-6)
    out = np.zeros((len(images), size, size), np.uint8)
    for i, img in enumerate(images):
        small = Image.fromarray((img * scale).astype(np.float32), mode="F")
        big = np.asarray(small.resize((box, box), Image.BILINEAR))
        out[i, top:top + box, top:top + box] = np.clip(big, 0, 255).astype(np.uint8)
    return out


def to_rgb(images) -> np.ndarray:
    """Grayscale ``(n, h, w)`` -> ``(n, h, w, 3)`` by repeating the channel; RGB unchanged."""
    images = np.asarray(images)
    if images.ndim == 3:
        return np.repeat(images[..., None], 3, axis=-1)
    if images.ndim == 4 and images.shape[-1] == 3:
        return images
    raise ValueError(f"expected (n, h, w) grayscale or (n, h, w, 3) RGB, got shape {images.shape}")


def standardize(images) -> np.ndarray:
    """Per-image standardisation: RGB float32 with mean 0 and standard deviation 1 per image.

    It removes each image's overall brightness and contrast, so the network starts from what
    the domains share (the shape of the stroke) instead of from their levels.
    """
    x = to_rgb(images).astype(np.float32)
    if len(x) == 0:
        raise ValueError("images is empty: pass a batch of at least one image (n, h, w[, 3])")
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    std = x.std(axis=(1, 2, 3), keepdims=True)
    return (x - mean) / np.maximum(std, 1e-3)


@dataclass
class Domain:
    """One domain: raw images for display, standardised inputs for the models, labels."""

    name: str
    images_train: np.ndarray  # uint8, (n, 28, 28) or (n, 28, 28, 3)
    y_train: np.ndarray
    images_test: np.ndarray
    y_test: np.ndarray
    description: str
    source: str = "offline"  # where the data came from: "online", "cache", "mirror", "offline"

    @cached_property
    def x_train(self) -> np.ndarray:
        """The training images as model inputs (:func:`standardize`, computed once)."""
        return standardize(self.images_train)

    @cached_property
    def x_test(self) -> np.ndarray:
        """The test images as model inputs (:func:`standardize`, computed once)."""
        return standardize(self.images_test)

    def __repr__(self) -> str:
        return (f"Domain({self.name!r}: train {len(self.y_train)}, test {len(self.y_test)}; "
                f"{self.description})")


def build_domains(n_train: int | None = None, n_test: int | None = None,
                  seed: int = 0) -> dict:
    """The lesson's three domains, ``{name: Domain}`` in the order of :data:`DOMAIN_NAMES`.

    MNIST comes from :func:`tlcourse.data.load_mnist` (``n_train``/``n_test`` take fixed
    stratified subsets). The MNIST-M-style domain blends the same training digits with
    photo patches (seed ``seed + 1``) and the test digits with other patches (``seed + 2``), as
    MNIST-M was built from MNIST's own splits. UCI digits: scikit-learn's fixed 75/25 split.
    """
    from . import data

    mnist = data.load_mnist(n_train=n_train, n_test=n_test, seed=seed)
    digits = data.load_digits(seed=seed)
    photos = ", ".join(COLOUR_PHOTOS)
    return {
        "MNIST": Domain("MNIST", mnist.x_train, mnist.y_train, mnist.x_test, mnist.y_test,
                        mnist.description, mnist.source),
        "MNIST-M-style": Domain(
            "MNIST-M-style", blend_with_photos(mnist.x_train, seed=seed + 1), mnist.y_train,
            blend_with_photos(mnist.x_test, seed=seed + 2), mnist.y_test,
            f"the MNIST digits above, each blended |patch - digit| with a random textured "
            f"patch of a bundled colour photo ({photos}); the MNIST-M recipe, other photos",
            mnist.source),
        "UCI digits": Domain(
            "UCI digits", resize_digits(digits.x_train), digits.y_train,
            resize_digits(digits.x_test), digits.y_test,
            "scikit-learn's UCI 8x8 digits resized to a 20-pixel box on a 28x28 canvas"),
    }


# --------------------------------------------------------------------------- model
@dataclass
class DomainModel:
    """The three parts every method uses. ``classifier = label_head(features(x))``."""

    features: object  # keras.Model: image -> feature vector
    label_head: object  # keras.Model: features -> 10 logits
    domain_head: object  # keras.Model: features -> 1 logit (source = 1, target = 0)
    classifier: object  # keras.Model: image -> 10 logits

    def predict(self, x, batch_size: int = 512) -> np.ndarray:
        """Predicted class of each image in ``x`` (standardised inputs)."""
        return predict_labels(self.classifier, x, batch_size)

    def embed(self, x, batch_size: int = 512) -> np.ndarray:
        """Feature vectors of ``x`` (what the CORAL and DANN losses act on)."""
        return _batched(self.features, x, batch_size)


def build_model(input_shape=(28, 28, 3), n_classes: int = 10, seed: int = 0) -> DomainModel:
    """The DANN paper's MNIST network: a feature extractor of two conv blocks (5x5 kernels, 32
    and 48 filters, each followed by 2x2 max pooling, 768 features at 28x28), a label head of
    two 100-unit layers and a domain head of one. Same ``seed``, same initial weights,
    whatever the method."""
    _rng(seed)
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    if not (isinstance(input_shape, tuple) and len(input_shape) == 3
            and all(isinstance(d, int) and d > 0 for d in input_shape)):
        raise ValueError(f"input_shape must be (height, width, channels), e.g. (28, 28, 3); got "
                         f"{input_shape!r}")
    keras.utils.set_random_seed(int(seed))
    layers = keras.layers
    features = keras.Sequential([
        keras.Input(input_shape),
        layers.Conv2D(32, 5, activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(48, 5, activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
    ], name="features")
    n_features = features.output_shape[-1]
    label_head = keras.Sequential([keras.Input((n_features,)),
                                   layers.Dense(100, activation="relu"),
                                   layers.Dense(100, activation="relu"),
                                   layers.Dense(n_classes)], name="label_head")
    domain_head = keras.Sequential([keras.Input((n_features,)),
                                    layers.Dense(100, activation="relu"), layers.Dense(1)],
                                   name="domain_head")
    inputs = keras.Input(input_shape)
    classifier = keras.Model(inputs, label_head(features(inputs)), name="classifier")
    return DomainModel(features, label_head, domain_head, classifier)


def _batched(model, x, batch_size):
    x = np.asarray(x, np.float32)
    return np.concatenate([np.asarray(model(x[i:i + batch_size], training=False))
                           for i in range(0, len(x), batch_size)])


def predict_labels(model, x, batch_size: int = 512) -> np.ndarray:
    """argmax of a keras classifier's outputs, batch by batch."""
    if not callable(model):
        raise TypeError(f"model must be a keras classifier (or a DomainModel), got {model!r}")
    if len(x) == 0:
        raise ValueError("x is empty")
    return _batched(model, x, batch_size).argmax(axis=1)


def accuracy(model, x, y) -> float:
    """Fraction of ``x`` that ``model`` (a keras classifier or a :class:`DomainModel`) labels
    right."""
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} images but y has {len(y)} labels")
    if not callable(model) and not isinstance(model, DomainModel):
        raise TypeError(f"model must be a keras classifier or a DomainModel, got {model!r}")
    pred = model.predict(x) if isinstance(model, DomainModel) else predict_labels(model, x)
    return float((pred == y).mean())


def evaluate(model, domains: dict) -> dict:
    """Test accuracy of ``model`` on each domain: ``{domain name: accuracy}``."""
    if not isinstance(domains, dict) or not domains:
        raise ValueError("domains must be a non-empty dict {name: Domain}, as build_domains gives")
    return {name: accuracy(model, d.x_test, d.y_test) for name, d in domains.items()}


# --------------------------------------------------------------------------- few labels
def few_label_curve(model: DomainModel, target: Domain, budgets=(1, 5, 10, 50), *,
                    steps: int = 150, learning_rate: float = 3e-4, batch_size: int = 32,
                    seed: int = 0, from_scratch: bool = False) -> list:
    """Few-label fine-tuning: test accuracy on ``target`` after training the whole classifier
    on ``n`` labelled target images per class, for each ``n`` in ``budgets``.

    Every budget starts again from ``model``'s weights (or, with ``from_scratch``, from the
    same random initial weights) and takes the same number of Adam ``steps`` on batches drawn
    from its labelled images, so budgets differ only in how many labels they see. The
    labelled images come from the target's training split (:func:`per_class`, ``seed``),
    the score from its test split. ``model`` itself is left untouched.
    """
    if not isinstance(model, DomainModel):
        raise ValueError("model must be a DomainModel, as build_model() gives")
    if not isinstance(target, Domain):
        raise ValueError("target must be a Domain, as build_domains() gives")
    budgets = list(budgets)
    if not budgets or any(isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b <= 0
                          for b in budgets):
        raise ValueError(f"budgets must be positive integers (labels per class), got {budgets!r}")
    for name, value in (("steps", steps), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    rng = _rng(seed)
    keras.utils.set_random_seed(int(seed))
    clf = keras.models.clone_model(model.classifier)
    if from_scratch:
        start = build_model(model.classifier.input_shape[1:],
                            model.classifier.output_shape[-1], seed=seed).classifier.get_weights()
    else:
        start = model.classifier.get_weights()
    opt = keras.optimizers.Adam(learning_rate)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function(reduce_retracing=True)
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = ce(y, clf(x, training=True))
        grads = tape.gradient(loss, clf.trainable_variables)
        opt.apply_gradients(zip(grads, clf.trainable_variables, strict=True))

    x_train, x_test = target.x_train, target.x_test
    scores = []
    for n in budgets:
        clf.set_weights(start)
        for v in opt.variables:  # a fresh optimizer state for every budget
            v.assign(tf.zeros_like(v))
        opt.learning_rate.assign(learning_rate)
        idx = per_class(target.y_train, int(n), seed)
        xl, yl = x_train[idx], target.y_train[idx].astype(np.int64)
        for _ in range(steps):
            b = rng.choice(len(idx), min(batch_size, len(idx)), replace=False)
            step(tf.constant(xl[b]), tf.constant(yl[b]))
        scores.append(accuracy(clf, x_test, target.y_test))
    return scores


def per_class(y, n: int, seed: int = 0) -> np.ndarray:
    """Indices of ``n`` examples of each class of ``y`` (a fixed random choice)."""
    y = np.asarray(y)
    rng = _rng(seed)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    picks = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if len(idx) < n:
            raise ValueError(f"class {c} has only {len(idx)} examples, fewer than n={n}")
        picks.append(rng.choice(idx, n, replace=False))
    return np.sort(np.concatenate(picks))


# --------------------------------------------------------------------------- diagnostics
def domain_probe(source_features, target_features, seed: int = 0) -> float:
    """How well a linear classifier tells the two domains apart from these features:
    5-fold cross-validated accuracy of a logistic regression (scikit-learn) on equally many
    source and target rows. 0.5 = indistinguishable, 1.0 = fully separated."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if min(len(source_features), len(target_features)) < 10:
        raise ValueError(f"need >= 10 rows of features per domain, got {len(source_features)} "
                         f"and {len(target_features)}")
    fs = np.asarray(source_features, np.float32).reshape(len(source_features), -1)
    ft = np.asarray(target_features, np.float32).reshape(len(target_features), -1)
    if fs.shape[1] != ft.shape[1] or min(len(fs), len(ft)) < 10:
        raise ValueError(f"need >= 10 rows per domain with the same width, got {fs.shape} and "
                         f"{ft.shape}")
    rng = _rng(seed)
    n = min(len(fs), len(ft))
    fs, ft = fs[rng.choice(len(fs), n, replace=False)], ft[rng.choice(len(ft), n, replace=False)]
    x = np.concatenate([fs, ft])
    y = np.r_[np.ones(n), np.zeros(n)]
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=300))
    return float(cross_val_score(probe, x, y, cv=5).mean())


# --------------------------------------------------------------------------- know your shift
def colour_polarity_augment(digits, seed: int = 0, noise: float = 60.0) -> np.ndarray:
    """Hand-made invariance: each grayscale digit redrawn with a random stroke colour on a
    random flat background colour, plus pixel noise of a random strength (standard deviation
    uniform in 0-``noise``), uint8 ``(n, h, w, 3)``. Dark-on-light happens as often as
    light-on-dark. No photo is used: this encodes what we *know* about the MNIST-M shift
    (colour, polarity, texture)."""
    digits = np.asarray(digits)
    if digits.ndim != 3 or digits.dtype != np.uint8 or len(digits) == 0:
        raise ValueError(f"digits must be uint8 grayscale images (n, h, w), got "
                         f"{digits.dtype} {digits.shape}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or noise < 0:
        raise ValueError(f"noise must be a number >= 0 (0 = no noise), got {noise!r}")
    rng = _rng(seed)
    n = len(digits)
    fg = rng.integers(0, 256, (n, 1, 1, 3)).astype(np.float32)
    bg = rng.integers(0, 256, (n, 1, 1, 3)).astype(np.float32)
    alpha = digits[..., None].astype(np.float32) / 255.0
    out = bg + (fg - bg) * alpha
    out += rng.normal(size=out.shape).astype(np.float32) * rng.uniform(0, noise, (n, 1, 1, 1))
    return np.clip(out, 0, 255).astype(np.uint8)


def gray_polarity(images) -> np.ndarray:
    """Test-time hand-made invariance: grayscale, standardised, and flipped where needed so the
    background (the image border) is dark, as in MNIST. Float32 ``(n, h, w, 3)``."""
    x = to_rgb(images).astype(np.float32).mean(axis=-1)
    x = standardize(x)
    border = np.concatenate([x[:, :3].reshape(len(x), -1), x[:, -3:].reshape(len(x), -1),
                             x[:, :, :3].reshape(len(x), -1), x[:, :, -3:].reshape(len(x), -1)],
                            axis=1).mean(axis=1)
    return np.where((border > 0)[:, None, None, None], -x, x)


# --------------------------------------------------------------------------- ImageNet features
def imagenet_features(net, images, batch: int = 500, cache: bool = True) -> np.ndarray:
    """Features of ``images`` from a frozen pretrained network (``tlcourse.models.load_imagenet``
    with ``include_top=False, pooling="avg"``), computed in batches of ``batch`` images.

    A frozen base gives the same features every time, so they are computed once and kept in
    the course cache (``TLCOURSE_CACHE``), keyed by the network, its input size, where its
    weights came from and the images' bytes.
    """
    import hashlib

    from . import assets, config

    images = np.asarray(images)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(f"images must be a batch (n, h, w[, 3]), got shape {images.shape}")
    if not hasattr(net, "preprocess") or not hasattr(net, "model"):
        raise ValueError("net must come from tlcourse.models.load_imagenet(..., include_top=False)")
    key = hashlib.sha256(images.tobytes() + str(images.shape).encode() + repr(
        (net.name, net.input_size, net.pooling, net.source, net.description)).encode()).hexdigest()
    path = config.cache_dir() / "features" / f"{net.name}_{net.input_size}_{key[:20]}.npy"

    def compute():
        parts = [np.asarray(net.model.predict(net.preprocess(to_rgb(images[i:i + batch])),
                                              batch_size=100, verbose=0))
                 for i in range(0, len(images), batch)]
        return np.concatenate(parts).astype(np.float32).reshape(len(images), -1)

    if not cache:
        return compute()
    return assets.cached_array(path, compute, f"{net.name} features of {len(images)} images")


# ---- saved from the lessons by tools/save_cells.py: edit the cells there, not here ----


# Defined in notebooks/06_domain_adaptation.ipynb, section "2. Source-only: measuring the gap"
def make_train_step(model, method, optimizer, domain_optimizer, weight=10.0):
    """One update of ``model`` (a domain.DomainModel) for ``method``: "source_only", "coral" or
    "dann". Returns ``step(xs, ys, xt, strength)``; ``xt`` may be None (no target)."""
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    reversal = GradientReversal() if method == "dann" else None
    main_vars = model.features.trainable_variables + model.label_head.trainable_variables
    head_vars = model.domain_head.trainable_variables

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
