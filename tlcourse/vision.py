"""Images in, predictions out (lesson 04): OpenCV input, Grad-CAM's plumbing, predict-your-own-image.

``grad_cam`` itself is the lesson's cell, saved at the end of this module. Models come from
:func:`tlcourse.models.load_imagenet`; anything with ``.model`` (a ``keras.Model``),
``.preprocess(images)`` and ``.decode(probs, top)`` works.
"""

from __future__ import annotations

import html
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: largest file :func:`decode_image` accepts by default (bytes)
MAX_BYTES = 20 * 1024 * 1024
#: largest image :func:`decode_image` accepts by default (width x height)
MAX_PIXELS = 40_000_000

#: the last convolutional block of well-known networks, by layer name (checked first)
LAST_CONV = {
    "resnet50": "conv5_block3_out",
    "mobilenetv2": "out_relu",
    "efficientnet": "top_activation",
}

_PNG = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- input
def _describe(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n:,} bytes"


def _image_size(data: bytes):
    """(width, height) from the file header without decoding the pixels, or None if Pillow
    does not know the format (OpenCV may still decode it)."""
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


def decode_image(data, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Image file bytes (JPEG, PNG, WebP...) -> RGB ``uint8`` ``(h, w, 3)`` via ``cv2.imdecode``
    (OpenCV's BGR turned to RGB; gray to three channels; transparency laid over white; EXIF
    orientation honoured). ``max_bytes``/``max_pixels``: limits checked before decoding."""
    import cv2

    if isinstance(data, memoryview):
        data = data.tobytes()
    if isinstance(data, bytearray):
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
        raise ValueError(f"the file is too large ({_describe(len(data))}; the limit is "
                         f"{_describe(max_bytes)}): save a smaller copy, e.g. 1024 pixels wide")
    size = _image_size(data)
    if size is not None and size[0] * size[1] > max_pixels:
        raise ValueError(f"the image is too large ({size[0]:,} x {size[1]:,} pixels; the limit "
                         f"is {max_pixels:,} pixels): save a smaller copy, e.g. 1024 pixels wide")
    buf = np.frombuffer(data, dtype=np.uint8)
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)  # always 3-channel 8-bit BGR, EXIF-rotated
    if bgr is None:
        raise ValueError("this file is not an image OpenCV can read (JPEG, PNG, WebP, BMP, "
                         "TIFF...): check that you picked a photo, not a document")
    if size is None and bgr.shape[0] * bgr.shape[1] > max_pixels:
        raise ValueError(f"the image is too large ({bgr.shape[1]:,} x {bgr.shape[0]:,} pixels; "
                         f"the limit is {max_pixels:,}): save a smaller copy")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if data.startswith(_PNG):  # only PNGs carry transparency worth handling here
        full = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        if full is not None and full.ndim == 3 and full.shape[2] == 4:
            alpha = full[..., 3:4].astype(np.float32)
            alpha /= 65535.0 if full.dtype == np.uint16 else 255.0
            rgb = (rgb * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    return rgb


def read_image(path) -> np.ndarray:
    """Read an image file into an RGB ``uint8`` array ``(h, w, 3)`` (unlike ``cv2.imread``,
    a missing or unreadable file raises ValueError instead of returning None)."""
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


def _check_image(image) -> np.ndarray:
    """One image as RGB ``uint8`` (gray repeated, alpha dropped), with the rules of
    ``ImageNetModel.preprocess``: numeric, finite, raw 0-255 pixels (not 0-1)."""
    from .models import _one_image

    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be one image (h, w, 3) or (h, w), got shape {image.shape}; "
                         f"for a batch pass one image at a time")
    if image.dtype == np.uint8 and image.ndim == 3 and image.shape[-1] == 3 and image.size:
        return image
    return np.round(_one_image(image)).astype(np.uint8)


def to_batch(images, size: int = 224) -> np.ndarray:
    """A list of RGB images of any sizes -> one ``uint8`` batch ``(n, size, size, 3)``.

    Each image is resized whole (its aspect ratio is not kept, so a heat map computed on the
    batch maps back onto the full photo) with OpenCV: area averaging when shrinking (no
    aliasing), bilinear when enlarging.
    """
    import cv2

    if isinstance(images, np.ndarray) and images.ndim in (2, 3):
        images = [images]
    if len(images) == 0:
        raise ValueError("images is empty: pass a list of (h, w, 3) images")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive int (pixels per side), got {size!r}")
    out = []
    for image in map(_check_image, images):
        shrink = size * size < image.shape[0] * image.shape[1]
        out.append(cv2.resize(image, (int(size), int(size)),
                              interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR))
    return np.stack(out)


def center_crop(image, fraction: float) -> np.ndarray:
    """The central ``fraction`` (0-1] of the image's width and height."""
    image = _check_image(image)
    if not (isinstance(fraction, (int, float)) and 0 < fraction <= 1):
        raise ValueError(f"fraction must be in (0, 1], e.g. 0.5 for the central half; got {fraction!r}")
    h, w = image.shape[:2]
    ch, cw = max(1, round(h * fraction)), max(1, round(w * fraction))
    top, left = (h - ch) // 2, (w - cw) // 2
    return image[top:top + ch, left:left + cw]


def rotate(image, degrees: int) -> np.ndarray:
    """Rotate by a multiple of 90 degrees, counter-clockwise (``cv2.rotate``: no pixels lost)."""
    import cv2

    image = _check_image(image)
    codes = {0: None, 90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180,
             270: cv2.ROTATE_90_CLOCKWISE}
    if degrees not in codes:
        raise ValueError(f"degrees must be 0, 90, 180 or 270, got {degrees!r}")
    return image.copy() if codes[degrees] is None else cv2.rotate(image, codes[degrees])


# --------------------------------------------------------------------------- Grad-CAM
def _check_box(box):
    if (not isinstance(box, (tuple, list)) or len(box) != 4
            or not all(isinstance(v, (int, np.integer)) for v in box)):
        raise ValueError(f"box must be (x0, y0, x1, y1) in whole pixels, got {box!r}")
    x0, y0, x1, y1 = (int(v) for v in box)
    if not (0 <= x0 < x1 and 0 <= y0 < y1):
        raise ValueError(f"box must have 0 <= x0 < x1 and 0 <= y0 < y1, got {box!r}")
    return x0, y0, x1, y1


def _keras_model(model):
    import keras

    inner = getattr(model, "model", model)
    if not isinstance(inner, keras.Model):
        raise ValueError(f"expected a keras.Model or an ImageNetModel (tlcourse.models."
                         f"load_imagenet), got {type(model).__name__}")
    return inner


def last_conv_layer(model) -> str:
    """Name of the last convolutional block of an image classifier: the layer Grad-CAM reads.

    Known networks are recognised by name (ResNet50 ``conv5_block3_out``, MobileNetV2
    ``out_relu``, EfficientNet ``top_activation``); otherwise it is the last layer whose
    output is still an image-shaped map ``(batch, h, w, channels)``, just before pooling.
    """
    keras_model = _keras_model(model)
    names = [layer.name for layer in keras_model.layers]
    for key, name in LAST_CONV.items():
        if key in keras_model.name.lower().replace("_", "") and name in names:
            return name
    import keras

    for layer in reversed(keras_model.layers):
        try:
            rank = len(layer.output.shape)
        except (AttributeError, ValueError):  # layers without a single symbolic output
            continue
        if rank == 4 and not isinstance(layer, keras.layers.InputLayer):
            return layer.name
    raise ValueError(f"{keras_model.name} has no layer with an image-shaped output "
                     f"(batch, h, w, channels): Grad-CAM needs a convolutional network")


def _upsample(heatmap, shape) -> np.ndarray:
    """A 2-D heat map (any resolution) resized bilinearly to an image's ``(h, w)``."""
    import cv2

    heatmap = np.asarray(heatmap, dtype=np.float32)
    if heatmap.ndim != 2 or heatmap.size == 0:
        raise ValueError(f"heatmap must be 2-D (h, w), got shape {heatmap.shape}")
    return cv2.resize(heatmap, (int(shape[1]), int(shape[0])), interpolation=cv2.INTER_LINEAR)


@dataclass
class GradCam:
    """A Grad-CAM result: ``heatmap`` (the conv block's resolution, 0-1, peak 1 unless all
    zero), the class it explains, that class's probability, and the layer used."""

    heatmap: np.ndarray
    class_index: int
    probability: float
    layer: str
    probs: np.ndarray

    def upsampled(self, shape) -> np.ndarray:
        """The heat map resized to an image's ``(h, w)`` (bilinear, values stay in 0-1)."""
        return np.clip(_upsample(self.heatmap, shape), 0, 1)


def score_parts(keras_model):
    """(tensor to differentiate, function turning it into class scores) for Grad-CAM: the
    pre-softmax logits when the model ends in a softmax (their gradients do not saturate),
    else the model's output as it is."""
    import keras

    last = keras_model.layers[-1]
    act = getattr(last, "activation", None)
    is_softmax_act = act is keras.activations.softmax or getattr(act, "__name__", "") == "softmax"
    if isinstance(last, keras.layers.Dense) and is_softmax_act:
        return last.input, lambda x: keras.ops.matmul(x, last.kernel) + last.bias
    if isinstance(last, keras.layers.Softmax) or (
            isinstance(last, keras.layers.Activation) and is_softmax_act):
        return last.input, lambda x: x
    return keras_model.output, lambda x: x


def cam_input(model, image):
    """(keras.Model, batch of one) for Grad-CAM, refusing what would give a wrong map.

    ``model`` is an ImageNetModel (its ``.preprocess`` resizes the whole photo, no crop, then
    applies the network's scaling; the photo must be raw 0-255 pixels, not NaN, not 0-1) or a
    bare ``keras.Model`` (then ``image`` is one preprocessed image ``(h, w, c)``).
    """
    import keras

    keras_model = _keras_model(model)
    if keras.backend.backend() != "tensorflow":
        raise ValueError("grad_cam needs the TensorFlow backend of Keras (KERAS_BACKEND=tensorflow)")
    if hasattr(model, "preprocess"):
        return keras_model, np.asarray(model.preprocess(_check_image(image)[None]), np.float32)
    batch = np.asarray(image, dtype=np.float32)
    if batch.ndim != 3:
        raise ValueError(f"with a bare keras.Model pass one preprocessed image (h, w, c), "
                         f"got shape {batch.shape}")
    return keras_model, batch[None]


def conv_output(keras_model, layer: str):
    """The symbolic output of the layer named ``layer``, with the fix when there is none."""
    try:
        return keras_model.get_layer(layer).output
    except ValueError:
        raise ValueError(f"{keras_model.name} has no layer {layer!r}; last_conv_layer(model) "
                         f"suggests {last_conv_layer(keras_model)!r}") from None


def class_to_explain(probs, class_index) -> int:
    """``class_index`` checked against the number of classes, or the top-1 class if None."""
    probs = np.asarray(probs)[0]
    if class_index is None:
        return int(np.argmax(probs))
    if (isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer))
            or not 0 <= class_index < probs.shape[-1]):
        raise ValueError(f"class_index must be an int in 0..{probs.shape[-1] - 1}, "
                         f"got {class_index!r}")
    return int(class_index)


def no_gradient(layer: str) -> ValueError:
    return ValueError(f"no gradient flows from the output to {layer!r}: pick a layer between "
                      f"the input and the classifier")


def overlay(image, heatmap, alpha: float = 0.45, colormap: str = "jet") -> np.ndarray:
    """Draw ``heatmap`` (any resolution, 0-1) over the RGB ``image`` with an OpenCV colour
    map (red = strongest evidence); returns an RGB ``uint8`` image of the photo's size."""
    import cv2

    image = _check_image(image)
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    code = getattr(cv2, f"COLORMAP_{colormap.upper()}", None)
    if code is None:
        raise ValueError(f"unknown OpenCV colour map {colormap!r}: try 'jet', 'inferno', 'turbo'")
    big = np.clip(_upsample(heatmap, image.shape), 0, 1)
    colour = cv2.cvtColor(cv2.applyColorMap(np.uint8(255 * big), code), cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(image, 1 - alpha, colour, alpha, 0)


def heatmap_peak(heatmap, shape) -> tuple[int, int]:
    """``(x, y)`` pixel of the photo (``shape`` its ``(h, w)``) where the upsampled heat map
    is highest."""
    big = _upsample(heatmap, shape)
    y, x = np.unravel_index(int(np.argmax(big)), big.shape)
    return int(x), int(y)


def inside(point, box) -> bool:
    """True when pixel ``point = (x, y)`` lies in ``box = (x0, y0, x1, y1)`` (x1, y1 excluded)."""
    x0, y0, x1, y1 = _check_box(box)
    if np.shape(point) != (2,):
        raise ValueError(f"point must be (x, y), got {point!r}")
    x, y = point
    return x0 <= x < x1 and y0 <= y < y1


def share_inside(heatmap, shape, box) -> float:
    """Fraction of the upsampled heat map's total weight that lies inside ``box``."""
    x0, y0, x1, y1 = _check_box(box)
    big = np.clip(_upsample(heatmap, shape), 0, None)
    total = float(big.sum())
    return float(big[y0:y1, x0:x1].sum()) / total if total > 0 else 0.0


# --------------------------------------------------------------------------- predict your own
@dataclass
class Prediction:
    """Everything the predict-your-own-image panel shows for one photo."""

    image: np.ndarray  # RGB uint8, as decoded
    decoded: list  # [(class_id, class_name, probability)] * top
    cam: GradCam | None
    network: str

    @property
    def top1(self) -> str:
        return self.decoded[0][1]

    @property
    def overlay(self) -> np.ndarray | None:
        return None if self.cam is None else overlay(self.image, self.cam.heatmap)

    def summary(self) -> str:
        _, name, prob = self.decoded[0]
        return f"{self.network}: top-1 {name} ({prob:.1%})"


def predict_bytes(model, data, top: int = 5, cam: bool = True, **limits) -> Prediction:
    """Image file bytes -> :class:`Prediction`: the top-``top`` classes of an ImageNetModel and
    (``cam=True``) the Grad-CAM map of the top-1 class, from one forward pass. ``limits`` go
    to :func:`decode_image`; bad files raise ValueError with a message for the learner."""
    if not (hasattr(model, "preprocess") and hasattr(model, "decode")):
        raise ValueError("model must be an ImageNetModel from tlcourse.models.load_imagenet(...)")
    if not isinstance(top, int) or not 1 <= top <= 20:
        raise ValueError(f"top must be an int between 1 and 20, got {top!r}")
    image = decode_image(data, **limits)
    result = grad_cam(model, image) if cam else None
    probs = result.probs if cam else np.asarray(
        model.model(model.preprocess(image[None]), training=False))[0]
    decoded = [tuple(d) for d in model.decode(np.asarray(probs)[None], top=top)[0]]
    return Prediction(image, decoded, result, getattr(model, "name", "model"))


def prediction_figure(prediction: Prediction, title: str | None = None):
    """The photo, its top-k bars and (when computed) its Grad-CAM overlay, side by side."""
    import matplotlib.pyplot as plt

    from .plot import topk_bars

    if not isinstance(prediction, Prediction):
        raise ValueError("expected a Prediction from predict_image or predict_bytes")
    ncols = 3 if prediction.cam is not None else 2
    h, w = prediction.image.shape[:2]
    photo_w = 3.0 * min(max(w / h, 0.5), 2.0)  # panels 3 inches high, as wide as the photo
    ratios = [photo_w, 4.2, photo_w][:ncols]
    fig, axes = plt.subplots(1, ncols, figsize=(sum(ratios) + 0.6, 3.3),
                             gridspec_kw={"width_ratios": ratios})
    axes[0].imshow(prediction.image)
    axes[0].set_title("your photo")
    axes[0].axis("off")
    topk_bars(prediction.decoded, ax=axes[1], title=f"top-{len(prediction.decoded)} "
                                                     f"({prediction.network})")
    if prediction.cam is not None:
        axes[2].imshow(prediction.overlay)
        axes[2].set_title(f"Grad-CAM: {prediction.top1}")
        axes[2].axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def fetch_url(url: str, max_bytes: int = MAX_BYTES, timeout: float = 10.0) -> bytes:
    """Download an image from an http(s) ``url`` (at most ``max_bytes``, ``timeout`` seconds)."""
    import urllib.error
    import urllib.request
    from urllib.parse import urlparse

    if not isinstance(url, str) or urlparse(url.strip()).scheme not in ("http", "https") \
            or not urlparse(url.strip()).hostname:
        raise ValueError(f"not a web address: {url!r}; paste a link starting with https:// "
                         f"that ends at the image itself")
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ValueError(f"max_bytes must be a positive integer, got {max_bytes!r}")
    request = urllib.request.Request(url.strip(), headers={"User-Agent": "tlcourse/0.1"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            data = response.read(max_bytes + 1)
    except (urllib.error.URLError, OSError) as exc:
        raise ValueError(f"could not download {url}: {exc}. Check the link, or download the "
                         f"photo and use the upload button") from None
    if len(data) > max_bytes:
        raise ValueError(f"the file at {url} is larger than {_describe(max_bytes)}: use a "
                         f"smaller image")
    return data


def _uploaded_files(value):
    """(name, bytes) pairs from a FileUpload value (ipywidgets 8 tuple or 7 dict)."""
    if isinstance(value, dict):  # ipywidgets 7
        return [(name, bytes(item["content"])) for name, item in value.items()]
    return [(item.get("name", "upload"), bytes(item["content"])) for item in value]


def show_prediction(out, model, data, label: str = "your image", **kwargs) -> Prediction | None:
    """Run :func:`predict_bytes` and put the result into the ``ipywidgets.Output`` ``out``:
    one HTML line naming the top-1 class, then the photo / top-5 bars / Grad-CAM figure; for
    a bad file, one HTML line saying what is wrong (never a traceback)."""
    from IPython.display import HTML, Image

    if not hasattr(out, "outputs"):
        raise TypeError(f"out must be an ipywidgets.Output() to show the result in, got {out!r}")
    out.outputs = ()  # clears the area (also from callbacks, where clear_output may not)
    try:
        pred = predict_bytes(model, data, **kwargs)
    except ValueError as exc:
        out.append_display_data(HTML(
            f'<p class="tlcourse-error" style="color:#b00">Cannot use {html.escape(label)}: '
            f"{html.escape(str(exc))}</p>"))
        return None
    except Exception as exc:  # noqa: BLE001 - the widget shows a message, not a traceback
        out.append_display_data(HTML(
            f'<p class="tlcourse-error" style="color:#b00">Something went wrong with '
            f"{html.escape(label)} ({html.escape(type(exc).__name__)}: "
            f"{html.escape(str(exc))}). Try another photo.</p>"))
        return None
    _, name, prob = pred.decoded[0]
    out.append_display_data(HTML(
        f'<p class="tlcourse-top1">{html.escape(label)}: top-1 <b>{html.escape(name)}</b> '
        f"({prob:.1%}) by {html.escape(pred.network)}</p>"))
    import matplotlib.pyplot as plt

    fig, buf = prediction_figure(pred), io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    out.append_display_data(Image(data=buf.getvalue(), format="png"))
    return pred


def upload_widget(model, url_box: bool | None = None):
    """Predict-your-own-image: a FileUpload button (CSS class ``tlcourse-upload``), an image
    URL box when online, and a result area (an ``ipywidgets.Output``, CSS class
    ``tlcourse-topk``) showing the top-1 line and the photo / top-5 bars / Grad-CAM figure.

    ``url_box=None`` shows the URL box only when the network is allowed and reachable.
    The returned VBox has ``.upload``, ``.url`` (or None) and ``.result`` attributes.
    """
    import ipywidgets as widgets

    if not (hasattr(model, "preprocess") and hasattr(model, "decode")):
        raise ValueError("model must be an ImageNetModel from tlcourse.models.load_imagenet(...)")
    if url_box is None:
        from . import assets, config

        url_box = (config.network_mode() != config.OFFLINE
                   and assets.reachable("https://upload.wikimedia.org/"))
    upload = widgets.FileUpload(accept="image/*", multiple=False,
                                description="Upload a photo")
    upload.add_class("tlcourse-upload")
    result = widgets.Output()
    result.add_class("tlcourse-topk")
    rows = [widgets.HTML(f"Pick a JPEG or PNG photo (up to {_describe(MAX_BYTES)}); "
                         f"<b>{html.escape(getattr(model, 'name', 'the model'))}</b> "
                         f"classifies it."), upload]

    def on_upload(change):
        files = _uploaded_files(change["new"])
        if files:
            name, data = files[-1]
            show_prediction(result, model, data, label=name)

    upload.observe(on_upload, names="value")
    url = None
    if url_box:
        url = widgets.Text(placeholder="https://... link to a JPEG or PNG", description="or URL",
                           continuous_update=False)
        go = widgets.Button(description="Classify")

        def on_url(_):
            try:
                data = fetch_url(url.value)
            except ValueError as exc:
                data, message = None, str(exc)
            if data is None:
                from IPython.display import HTML

                result.outputs = ()
                result.append_display_data(HTML(
                    f'<p class="tlcourse-error" style="color:#b00">{html.escape(message)}</p>'))
                return
            show_prediction(result, model, data, label=url.value.rsplit("/", 1)[-1] or "image")

        go.on_click(on_url)
        rows.append(widgets.HBox([url, go]))
    box = widgets.VBox([*rows, result])
    box.upload, box.url, box.result = upload, url, result
    return box


# ---- saved from the lessons by tools/save_cells.py: edit the cells there, not here ----


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
    cut = keras.Model(keras_model.input,
                      [conv_output(keras_model, layer), pre_softmax, keras_model.output])
    with tf.GradientTape() as tape:
        maps, pre, probs = cut(x, training=False)
        index = class_to_explain(probs, class_index)
        score = to_scores(pre)[:, index]
    grads = tape.gradient(score, maps)  # 2. d score / d feature map, same shape as maps
    if grads is None:
        raise no_gradient(layer)
    weights = tf.reduce_mean(grads, axis=(1, 2))  # 3. one weight per channel: (1, channels)
    cam = tf.nn.relu(tf.reduce_sum(maps * weights[:, None, None, :], axis=-1))[0].numpy()  # 4.
    peak = float(cam.max())
    heatmap = (cam / peak if peak > 0 else cam).astype(np.float32)
    probs = np.asarray(probs)[0]
    return GradCam(heatmap, index, float(probs[index]), layer, probs)
