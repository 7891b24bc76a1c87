"""tlcourse.vision: OpenCV input and the Grad-CAM cells saved from lesson 04."""

from __future__ import annotations

import io

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from tlcourse import data, vision  # noqa: E402


def _png(image_rgb) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(np.asarray(image_rgb, np.uint8), cv2.COLOR_RGB2BGR))
    assert ok
    return buf.tobytes()


# --------------------------------------------------------------------------- input
def test_decode_matches_pillow_and_is_rgb():
    raw = data.photo_path("cat").read_bytes()
    rgb = vision.decode_image(raw)
    assert rgb.dtype == np.uint8 and rgb.shape == (300, 451, 3)
    np.testing.assert_array_equal(rgb, data.load_photo("cat"))  # lossless PNG: identical
    bgr = cv2.imread(str(data.photo_path("cat")))  # what OpenCV gives on its own
    np.testing.assert_array_equal(bgr[..., ::-1], rgb)
    assert not np.array_equal(bgr, rgb)


def test_read_image_and_jpeg():
    rgb = vision.read_image(data.photo_path("grace_hopper"))
    assert rgb.shape == (600, 512, 3)
    pil = data.load_photo("grace_hopper")  # two JPEG decoders differ by rounding only
    assert np.abs(rgb.astype(int) - pil.astype(int)).mean() < 2.0


def test_gray_and_transparent_images():
    brick = vision.read_image(data.photo_path("brick"))
    assert brick.shape == (512, 512, 3)
    assert np.array_equal(brick[..., 0], brick[..., 1])
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:4, :, :] = (255, 0, 0, 255)  # opaque blue in BGRA order... top half
    rgba[4:, :, 3] = 0  # bottom half fully transparent (black underneath)
    ok, buf = cv2.imencode(".png", rgba)
    assert ok
    out = vision.decode_image(buf.tobytes())
    assert tuple(out[0, 0]) == (0, 0, 255)  # blue, in RGB
    assert tuple(out[7, 7]) == (255, 255, 255)  # transparent -> white, not black


@pytest.mark.parametrize("payload, words", [
    (b"", "empty"),
    (b"%PDF-1.4 definitely not a photo", "not an image"),
    (bytes(100), "not an image"),
    ("cat.png", "bytes of an image"),
])
def test_bad_files_give_clear_messages(payload, words):
    with pytest.raises(ValueError, match=words):
        vision.decode_image(payload)


def test_size_limits():
    raw = data.photo_path("coffee").read_bytes()
    with pytest.raises(ValueError, match="too large.*limit"):
        vision.decode_image(raw, max_bytes=1000)
    with pytest.raises(ValueError, match=r"600 x 400 pixels"):
        vision.decode_image(raw, max_pixels=100_000)
    # a tiny file that declares a gigantic image is refused from its header
    big = io.BytesIO()
    from PIL import Image

    Image.new("1", (10000, 10000)).save(big, format="PNG")
    assert len(big.getvalue()) < 200_000
    with pytest.raises(ValueError, match="too large"):
        vision.decode_image(big.getvalue())
    assert vision.decode_image(memoryview(raw)).shape == (400, 600, 3)


def test_read_image_missing(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        vision.read_image(tmp_path / "nope.jpg")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="notes.txt.*not an image"):
        vision.read_image(tmp_path / "notes.txt")


# --------------------------------------------------------------------------- Grad-CAM
def _tiny_classifier():
    """A 2-class network whose class 1 fires on bright pixels: a 1x1 'brightness' conv,
    ReLU, global average pooling, and a softmax Dense that weighs brightness +1 for class 1
    and -1 for class 0."""
    import keras

    inp = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(1, 1, name="brightness")(inp)
    x = keras.layers.ReLU(name="feature_map")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(2, activation="softmax", name="predictions")(x)
    model = keras.Model(inp, out, name="tiny")
    model.get_layer("brightness").set_weights([np.ones((1, 1, 3, 1), np.float32) / 3, np.zeros(1)])
    model.get_layer("predictions").set_weights([np.array([[-4.0, 4.0]], np.float32), np.zeros(2)])
    return model


def _bright_square():
    img = np.zeros((32, 32, 3), np.float32)
    img[4:12, 20:28] = 1.0  # rows 4-11, columns 20-27
    return img


def test_last_conv_layer_by_name_and_by_shape():
    import keras

    tiny = _tiny_classifier()
    assert vision.last_conv_layer(tiny) == "feature_map"  # last 4-D output before pooling
    resnet = keras.applications.ResNet50(weights=None)  # architecture only, for the layer name
    assert vision.last_conv_layer(resnet) == "conv5_block3_out"
    dense_only = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="convolutional"):
        vision.last_conv_layer(dense_only)
    with pytest.raises(ValueError, match="keras.Model"):
        vision.last_conv_layer("resnet50")


def test_grad_cam_finds_the_evidence():
    tiny = _tiny_classifier()
    cam = vision.grad_cam(tiny, _bright_square())
    assert cam.class_index == 1 and cam.layer == "feature_map"
    assert cam.heatmap.shape == (32, 32) and cam.heatmap.max() == pytest.approx(1.0)
    box = (20, 4, 28, 12)
    assert vision.inside(vision.heatmap_peak(cam.heatmap, (320, 320)), (200, 40, 280, 120))
    assert vision.share_inside(cam.heatmap, (32, 32), box) > 0.95
    assert not vision.inside(vision.heatmap_peak(cam.heatmap, (32, 32)), (0, 16, 32, 32))
    # class 0 is evidence *against* brightness: nothing positive to show
    against = vision.grad_cam(tiny, _bright_square(), class_index=0)
    assert against.heatmap.max() == 0.0
    with pytest.raises(ValueError, match="class_index"):
        vision.grad_cam(tiny, _bright_square(), class_index=5)
    with pytest.raises(ValueError, match="no layer"):
        vision.grad_cam(tiny, _bright_square(), layer="conv5_block3_out")


def test_overlay_and_peak_helpers():
    cat = data.load_photo("cat")
    heat = np.zeros((7, 7), np.float32)
    heat[3, 5] = 1.0
    over = vision.overlay(cat, heat)
    assert over.shape == cat.shape and over.dtype == np.uint8
    x, y = vision.heatmap_peak(heat, cat.shape[:2])
    assert vision.inside((x, y), (290, 110, 360, 190))
    with pytest.raises(ValueError, match="colour map"):
        vision.overlay(cat, heat, colormap="rainbowish")
    with pytest.raises(ValueError, match="box"):
        vision.inside((1, 1), (5, 5, 1, 1))


# --------------------------------------------------------------------------- the real network
@pytest.fixture(scope="module")
def lite0():
    """The offline ImageNet classifier (real weights installed with pip; no network)."""
    from tlcourse import models

    try:
        return models.load_imagenet("efficientnet_lite0")
    except OSError as exc:  # the weights package is missing: `make install` brings it
        pytest.skip(f"EfficientNet-Lite0 weights unavailable: {exc}")


CAT_FACE = (120, 70, 350, 280)  # the box lesson 04 states: eyes to nose of the bundled cat


def test_real_network_cat_and_grad_cam(lite0):
    assert vision.last_conv_layer(lite0) == "top_activation"
    cam = vision.grad_cam(lite0, vision.decode_image(data.photo_path("cat").read_bytes()))
    top1 = lite0.decode(cam.probs[None], top=1)[0][0][1]
    assert top1 in {"tabby", "tiger_cat", "Persian_cat", "Siamese_cat", "Egyptian_cat"}
    assert cam.layer == "top_activation" and cam.heatmap.shape == (7, 7)
    assert vision.inside(vision.heatmap_peak(cam.heatmap, (300, 451)), CAT_FACE)
    # Grad-CAM's forward pass gives the same probabilities as the model's own prediction
    direct = lite0.model.predict(lite0.preprocess(data.load_photo("cat")), verbose=0)[0]
    np.testing.assert_allclose(cam.probs, direct, atol=1e-4)


def test_real_network_coffee_and_wrong_scaling(lite0):
    import keras

    coffee = data.load_photo("coffee")
    right = lite0.decode(lite0.model.predict(lite0.preprocess(coffee), verbose=0), top=1)[0][0]
    assert right[1] in {"espresso", "cup", "coffee_mug"}
    raw = cv2.resize(coffee, (224, 224), interpolation=cv2.INTER_AREA)[None].astype("float32")
    wrong = lite0.model.predict(keras.applications.resnet50.preprocess_input(raw), verbose=0)
    assert lite0.decode(wrong, top=1)[0][0][1] != right[1]
