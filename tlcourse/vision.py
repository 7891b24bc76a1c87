"""Photos in (OpenCV decoding with size limits) and Grad-CAM, both saved from lesson 04.

Models come from :func:`tlcourse.models.load_imagenet`; anything with ``.model`` (a
``keras.Model``), ``.preprocess(images)`` and ``.decode(probs, top)`` works.
"""

from __future__ import annotations  # noqa: I001 (the saved cells follow the imports directly)

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np


# ---- saved from the lessons by tools/save_cells.py: edit the cells there, not here ----


# Defined in notebooks/04_resnet50_imagenet.ipynb, section "2. Reading photos with OpenCV"
#: largest file (bytes) and image (width x height) :func:`decode_image` accepts by default
MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
_PNG = b"\x89PNG\r\n\x1a\n"


def _image_size(data: bytes):
    """(width, height) from the header without decoding, or None if Pillow does not know it."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                return img.size
    except Image.DecompressionBombError:
        return (10**9, 1)  # far beyond any sane limit: reported as too large
    except Exception:  # noqa: BLE001 - unknown to Pillow: let OpenCV decide
        return None


def _too_large(size, max_pixels: int) -> str:
    return (f"the image is too large ({size[0]:,} x {size[1]:,} pixels; the limit is "
            f"{max_pixels:,} pixels): save a smaller copy, e.g. 1024 pixels wide")


def decode_image(data, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Image file bytes -> RGB ``uint8`` ``(h, w, 3)`` via ``cv2.imdecode`` (gray to three
    channels, transparency over white, EXIF orientation honoured); the limits are checked
    before decoding."""
    import cv2

    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise ValueError(f"expected the bytes of an image file, got {type(data).__name__}: "
                         f"read the file with open(path, 'rb').read() or Path(path).read_bytes()")
    for name, value in (("max_bytes", max_bytes), ("max_pixels", max_pixels)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if len(data) == 0:
        raise ValueError("the file is empty (0 bytes): choose a JPEG or PNG photo")
    if len(data) > max_bytes:
        raise ValueError(f"the file is too large ({len(data):,} bytes; the limit is {max_bytes:,}): "
                         "save a smaller copy, e.g. 1024 pixels wide")
    size = _image_size(data)  # from the header, before decoding (None: Pillow does not know it)
    if size is not None and size[0] * size[1] > max_pixels:
        raise ValueError(_too_large(size, max_pixels))
    buf = np.frombuffer(data, dtype=np.uint8)
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)  # always 3-channel 8-bit BGR, EXIF-rotated
    if bgr is None:
        raise ValueError("this file is not an image OpenCV can read (JPEG, PNG, WebP, BMP, "
                         "TIFF...): check that you picked a photo, not a document")
    if size is None and bgr.shape[0] * bgr.shape[1] > max_pixels:
        raise ValueError(_too_large(bgr.shape[1::-1], max_pixels))
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if data.startswith(_PNG):  # only PNGs carry transparency worth handling here
        full = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        if full is not None and full.ndim == 3 and full.shape[2] == 4:
            alpha = full[..., 3:4].astype(np.float32)
            alpha /= 65535.0 if full.dtype == np.uint16 else 255.0
            rgb = (rgb * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    return rgb


# Defined in notebooks/04_resnet50_imagenet.ipynb, section "2. Reading photos with OpenCV"
def read_image(path) -> np.ndarray:
    """An image file as RGB ``uint8`` ``(h, w, 3)``; ValueError (not None) when unreadable."""
    if not isinstance(path, (str, Path)):
        raise ValueError(f"expected a file path (str or Path), got {type(path).__name__}")
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"{path} does not exist or is not a file: check the path "
                         f"(tlcourse.data.photo_path(name) gives the bundled photos)")
    try:
        return decode_image(path.read_bytes())
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def check_image(image) -> np.ndarray:
    """One image as RGB ``uint8`` (gray repeated, alpha dropped), refusing what
    ``ImageNetModel.preprocess`` refuses: non-numeric, NaN, 0-1 instead of 0-255 pixels."""
    from tlcourse.models import _one_image

    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be one image (h, w, 3) or (h, w), got shape {image.shape}; "
                         f"for a batch pass one image at a time")
    if image.dtype == np.uint8 and image.ndim == 3 and image.shape[-1] == 3 and image.size:
        return image
    return np.round(_one_image(image)).astype(np.uint8)


# Defined in notebooks/04_resnet50_imagenet.ipynb, section "7. Grad-CAM: which pixels drove the prediction?"
#: the last convolutional block of well-known networks, by layer name (checked first)
LAST_CONV = {"resnet50": "conv5_block3_out", "mobilenetv2": "out_relu",
             "efficientnet": "top_activation"}


def keras_model_of(model):
    """The keras.Model inside an ImageNetModel (``.model``), or ``model`` itself."""
    import keras

    inner = getattr(model, "model", model)
    if not isinstance(inner, keras.Model):
        raise ValueError(f"expected a keras.Model or an ImageNetModel (tlcourse.models."
                         f"load_imagenet), got {type(model).__name__}")
    return inner


def last_conv_layer(model):
    """Name of the layer Grad-CAM reads: the last one with an image-shaped output."""
    keras_model = keras_model_of(model)
    names = [layer.name for layer in keras_model.layers]
    for key, name in LAST_CONV.items():
        if key in keras_model.name.lower().replace("_", "") and name in names:
            return name
    import keras

    for layer in reversed(keras_model.layers):
        try:
            if len(layer.output.shape) == 4 and not isinstance(layer, keras.layers.InputLayer):
                return layer.name
        except (AttributeError, ValueError):  # layers without a single symbolic output
            continue
    raise ValueError(f"{keras_model.name} has no layer with an image-shaped output "
                     f"(batch, h, w, channels): Grad-CAM needs a convolutional network")


def cam_input(model, image):
    """(keras.Model, batch of one): an ImageNetModel preprocesses the raw photo (resized whole);
    with a bare keras.Model, ``image`` is one image already preprocessed."""
    keras_model = keras_model_of(model)
    if hasattr(model, "preprocess"):
        return keras_model, np.asarray(model.preprocess(check_image(image)[None]), np.float32)
    batch = np.asarray(image, dtype=np.float32)
    if batch.ndim != 3:
        raise ValueError(f"with a bare keras.Model pass one preprocessed image (h, w, c), "
                         f"got shape {batch.shape}")
    return keras_model, batch[None]


def score_parts(keras_model):
    """(tensor, function to class scores): the pre-softmax logits when the model ends in a
    softmax (their gradients do not saturate), else the output as it is."""
    import keras

    last = keras_model.layers[-1]
    act = getattr(last, "activation", None)
    softmax = act is keras.activations.softmax or getattr(act, "__name__", "") == "softmax"
    if isinstance(last, keras.layers.Dense) and softmax:
        return last.input, lambda x: keras.ops.matmul(x, last.kernel) + last.bias
    if isinstance(last, keras.layers.Softmax) or (isinstance(last, keras.layers.Activation) and softmax):
        return last.input, lambda x: x
    return keras_model.output, lambda x: x


@dataclass
class GradCam:
    """A heat map (the block's resolution, 0-1), the class it explains, its probability, the
    layer read and all the probabilities."""

    heatmap: np.ndarray
    class_index: int
    probability: float
    layer: str
    probs: np.ndarray

    def upsampled(self, shape):
        """The heat map resized to an image's ``(h, w)`` (bilinear, values stay in 0-1)."""
        return np.clip(upsample(self.heatmap, shape), 0, 1)


# Defined in notebooks/04_resnet50_imagenet.ipynb, section "7. Grad-CAM: which pixels drove the prediction?"
def grad_cam(model, image, class_index=None, layer=None):
    """Grad-CAM (Selvaraju et al., 2017) of one RGB photo for ``class_index`` (default: the
    top-1 class) at the block named ``layer`` (default: ``last_conv_layer(model)``).

    ``model``: an ImageNetModel (the photo is resized whole, then preprocessed) or a bare
    keras.Model (then ``image`` is one preprocessed image). Returns a GradCam whose
    ``heatmap`` has the block's resolution, values 0-1, peak 1 (unless all zero).
    """
    import keras  # imported here, so that importing the course package stays quick
    import tensorflow as tf

    keras_model, x = cam_input(model, image)
    layer = layer or last_conv_layer(keras_model)
    # 1. the network cut at the block: photo -> feature maps, pre-softmax scores, probabilities
    pre_softmax, to_scores = score_parts(keras_model)
    if layer not in [la.name for la in keras_model.layers]:
        raise ValueError(f"{keras_model.name} has no layer {layer!r}; last_conv_layer(model) "
                         f"suggests {last_conv_layer(keras_model)!r}")
    cut = keras.Model(keras_model.input,
                      [keras_model.get_layer(layer).output, pre_softmax, keras_model.output])
    with tf.GradientTape() as tape:
        maps, pre, probs = cut(x, training=False)
        index = int(np.argmax(probs[0])) if class_index is None else class_index
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not (
                0 <= index < probs.shape[-1]):
            raise ValueError(f"class_index must be an int in 0..{probs.shape[-1] - 1}, got {index!r}")
        score = to_scores(pre)[:, index]
    grads = tape.gradient(score, maps)  # 2. d score / d feature map, same shape as maps
    if grads is None:
        raise ValueError(f"no gradient flows from the output to {layer!r}: pick a layer "
                         "between the input and the classifier")
    weights = tf.reduce_mean(grads, axis=(1, 2))  # 3. one weight per channel: (1, channels)
    cam = tf.nn.relu(tf.reduce_sum(maps * weights[:, None, None, :], axis=-1))[0].numpy()  # 4.
    peak = float(cam.max())
    heatmap = (cam / peak if peak > 0 else cam).astype(np.float32)
    probs = np.asarray(probs)[0]
    return GradCam(heatmap, index, float(probs[index]), layer, probs)


# Defined in notebooks/04_resnet50_imagenet.ipynb, section "7. Grad-CAM: which pixels drove the prediction?"
def upsample(heatmap, shape):
    """A 2-D heat map resized bilinearly to an image's ``(h, w)``."""
    import cv2

    heatmap = np.asarray(heatmap, dtype=np.float32)
    if heatmap.ndim != 2 or heatmap.size == 0:
        raise ValueError(f"heatmap must be 2-D (h, w), got shape {heatmap.shape}")
    return cv2.resize(heatmap, (int(shape[1]), int(shape[0])), interpolation=cv2.INTER_LINEAR)


def heatmap_peak(heatmap, shape):
    """``(x, y)``: the photo's pixel (``shape`` its ``(h, w)``) where the upsampled map peaks."""
    big = upsample(heatmap, shape)
    y, x = np.unravel_index(int(np.argmax(big)), big.shape)
    return int(x), int(y)


def check_box(box):
    """``box`` as ints ``(x0, y0, x1, y1)``, refusing anything else."""
    if (not isinstance(box, (tuple, list)) or len(box) != 4
            or not all(isinstance(v, (int, np.integer)) for v in box)):
        raise ValueError(f"box must be (x0, y0, x1, y1) in whole pixels, got {box!r}")
    x0, y0, x1, y1 = (int(v) for v in box)
    if not (0 <= x0 < x1 and 0 <= y0 < y1):
        raise ValueError(f"box must have 0 <= x0 < x1 and 0 <= y0 < y1, got {box!r}")
    return x0, y0, x1, y1


def inside(point, box):
    """True when pixel ``point = (x, y)`` lies in ``box = (x0, y0, x1, y1)`` (x1, y1 excluded)."""
    x0, y0, x1, y1 = check_box(box)
    if np.shape(point) != (2,):
        raise ValueError(f"point must be (x, y), got {point!r}")
    return x0 <= point[0] < x1 and y0 <= point[1] < y1


def share_inside(heatmap, shape, box):
    """Fraction of the upsampled heat map's weight that lies inside ``box``."""
    x0, y0, x1, y1 = check_box(box)
    big = np.clip(upsample(heatmap, shape), 0, None)
    return float(big[y0:y1, x0:x1].sum() / big.sum()) if big.sum() > 0 else 0.0


def overlay(image, heatmap, alpha=0.45, colormap="jet"):
    """``heatmap`` (any resolution, 0-1) drawn over the RGB ``image`` with an OpenCV colour map;
    an RGB uint8 image of the photo's size."""
    import cv2

    image = check_image(image)
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    code = getattr(cv2, f"COLORMAP_{colormap.upper()}", None)
    if code is None:
        raise ValueError(f"unknown OpenCV colour map {colormap!r}: try 'jet', 'inferno', 'turbo'")
    big = np.clip(upsample(heatmap, image.shape), 0, 1)
    colour = cv2.cvtColor(cv2.applyColorMap(np.uint8(255 * big), code), cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(image, 1 - alpha, colour, alpha, 0)
