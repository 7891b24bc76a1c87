"""Tests of tlcourse.features (lesson 03): extraction, the cache, and the saved copy of the
lesson's training loop (``custom_fit``, two optimizers included). Small random-weight models keep
them fast and offline."""

from __future__ import annotations

import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from tlcourse import features

ROOT = Path(__file__).resolve().parents[1]


def tiny_net(seed=0, named=False):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inp)
    x = keras.layers.BatchNormalization(name="bn")(x)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    if named:
        return keras.Model(inp, {"map": x, "pooled": pooled})
    return keras.Model(inp, pooled)


def images(n=10, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 8, 8, 3), dtype=np.uint8)


def scale(batch):
    return np.asarray(batch, np.float32) / 127.5 - 1.0


# --------------------------------------------------------------------------- extraction
def test_extract_batches_and_matches_one_call():
    net = tiny_net()
    x = images(10)
    out = features.extract(net, x, scale, batch_size=3, progress=False)
    assert out.shape == (10, 4) and out.dtype == np.float32
    np.testing.assert_allclose(out, np.asarray(net(scale(x), training=False)), atol=1e-5)


def test_extract_named_outputs_gives_dict():
    out = features.extract(tiny_net(named=True), images(5), scale, batch_size=2, progress=False)
    assert set(out) == {"map", "pooled"}
    assert out["map"].shape == (5, 8, 8, 4) and out["pooled"].shape == (5, 4)


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"batch_size": 2.5}, {"prepare": "scale"}])
def test_extract_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        features.extract(tiny_net(), images(3), **{"progress": False, **kwargs})


def test_extract_rejects_bad_inputs():
    with pytest.raises(ValueError, match="keras.Model"):
        features.extract("mobilenet", images(3))
    with pytest.raises(ValueError, match="non-empty"):
        features.extract(tiny_net(), np.zeros((0, 8, 8, 3)))


def test_fingerprint_follows_weights_and_pixels():
    net, x = tiny_net(), images(4)
    key = features.fingerprint(net, x)
    assert features.fingerprint(net, x.copy()) == key
    y = x.copy()
    y[0, 0, 0, 0] ^= 1
    assert features.fingerprint(net, y) != key
    net.get_layer("conv").kernel.assign(net.get_layer("conv").kernel * 1.01)
    assert features.fingerprint(net, x) != key


# --------------------------------------------------------------------------- cache
class Counting:
    def __init__(self):
        self.calls = 0

    def __call__(self, batch):
        self.calls += 1
        return scale(batch)


def test_cache_memory_hit_does_not_recompute(capsys):
    cache, prep, net, x = features.FeatureCache(), Counting(), tiny_net(), images(6)
    first = cache.get("train", net, x, prep, batch_size=4, progress=False)
    calls = prep.calls
    second = cache.get("train", net, x, prep, batch_size=4, progress=False)
    assert prep.calls == calls and second is first
    assert [e["source"] for e in cache.log] == ["computed", "memory"]
    assert "read from memory" in capsys.readouterr().out


def test_cache_disk_round_trip_without_pickle(tmp_path):
    net, x = tiny_net(named=True), images(6)
    a = features.FeatureCache(tmp_path).get("train", net, x, scale, progress=False, verbose=False)
    files = sorted(p.name for p in tmp_path.glob("*.npy"))
    assert len(files) == 2 and all(f.startswith("train-") for f in files)
    for p in tmp_path.glob("*.npy"):
        np.load(p, allow_pickle=False)  # plain arrays, no pickled objects
    fresh = features.FeatureCache(tmp_path)  # a new session
    prep = Counting()
    b = fresh.get("train", net, x, prep, progress=False, verbose=False)
    assert prep.calls == 0 and fresh.log[-1]["source"] == "disk"
    np.testing.assert_array_equal(a["pooled"], b["pooled"])


def test_cache_recomputes_after_weights_change(tmp_path):
    cache, net, x = features.FeatureCache(tmp_path), tiny_net(), images(4)
    before = cache.get("train", net, x, scale, progress=False, verbose=False)
    net.get_layer("conv").kernel.assign(net.get_layer("conv").kernel * 2.0)
    after = cache.get("train", net, x, scale, progress=False, verbose=False)
    assert cache.log[-1]["source"] == "computed"
    assert not np.allclose(before, after)


@pytest.mark.parametrize("name", ["", "a b", "../x", 3])
def test_cache_rejects_bad_names(name):
    with pytest.raises(ValueError):
        features.FeatureCache().get(name, tiny_net(), images(2), scale)


def test_cache_rejects_bad_folder():
    with pytest.raises(ValueError):
        features.FeatureCache(folder=42)


# --------------------------------------------------------------------------- training loop
def make_dataset(x, y, batch_size=32, shuffle_seed=None, reshuffle=True):
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=reshuffle)
    return ds.batch(batch_size)


def toy_problem(n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 12)).astype("float32")
    return x, x[:, :3].argmax(1).astype("int32")


def toy_head(seed=1):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((12,)), keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dense(3)])


def test_custom_fit_matches_model_fit_exactly():
    x, y = toy_problem()
    a, b = toy_head(), toy_head()
    b.set_weights(a.get_weights())
    a.compile(optimizer=keras.optimizers.Adam(1e-2), metrics=["accuracy"],
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    def batches():
        return make_dataset(x[:250], y[:250], 32, shuffle_seed=5, reshuffle=False)

    val = (x[250:], y[250:])
    fit = a.fit(batches(), validation_data=make_dataset(*val, 32), epochs=3,
                shuffle=False, verbose=0).history
    mine = features.custom_fit(b, batches(), make_dataset(*val, 32),
                               optimizer=keras.optimizers.Adam(1e-2), epochs=3, verbose=False)
    assert set(mine) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for key in mine:
        np.testing.assert_allclose(mine[key], fit[key], atol=1e-5)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, atol=1e-6)


def test_custom_fit_learns_and_leaves_frozen_layers_alone(capsys):
    x, y = toy_problem()
    model = toy_head()
    model.layers[0].trainable = False
    frozen = [w.copy() for w in model.layers[0].get_weights()]
    hist = features.custom_fit(model, make_dataset(x, y, 32, shuffle_seed=0),
                               optimizer=keras.optimizers.Adam(1e-2), epochs=4)
    assert set(hist) == {"loss", "accuracy"} and len(hist["loss"]) == 4
    assert hist["loss"][-1] < hist["loss"][0] - 0.1 and hist["accuracy"][-1] > hist["accuracy"][0]
    for w, w0 in zip(model.layers[0].get_weights(), frozen, strict=True):
        np.testing.assert_array_equal(w, w0)
    assert "epoch 4/4" in capsys.readouterr().out




@pytest.mark.parametrize("kwargs, match", [
    ({"optimizer": "adam"}, "created once"),
    ({"optimizer": [("adam", [])]}, "created once"),
    ({"optimizer": []}, "created once"),
    ({"epochs": 0}, "positive"),
    ({"epochs": 1.5}, "positive"),
])
def test_custom_fit_rejects_bad_arguments(kwargs, match):
    x, y = toy_problem(50)
    args = {"optimizer": keras.optimizers.Adam(), "epochs": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        features.custom_fit(toy_head(), make_dataset(x, y), **args)


def test_custom_fit_needs_trainable_variables():
    x, y = toy_problem(50)
    model = toy_head()
    model.trainable = False
    with pytest.raises(ValueError, match="must be trainable"):
        features.custom_fit(model, make_dataset(x, y), optimizer=keras.optimizers.Adam(),
                            epochs=1)
    with pytest.raises(ValueError, match="batched tf.data.Dataset"):
        features.custom_fit(toy_head(), (x, y), optimizer=keras.optimizers.Adam(), epochs=1)


def test_custom_fit_gives_each_optimizer_its_own_variables():
    """Two optimizers over two variable lists: a rate of 0 for the first layer leaves it alone,
    and equal rates give exactly the run with one optimizer."""
    x, y = toy_problem()
    ds = make_dataset(x, y, 32, shuffle_seed=0, reshuffle=False)
    a, b, c = toy_head(), toy_head(), toy_head()
    b.set_weights(a.get_weights())
    c.set_weights(a.get_weights())
    one = features.custom_fit(a, ds, optimizer=keras.optimizers.Adam(1e-2), epochs=2, verbose=False)

    def pairs(model, first_rate):
        return [(keras.optimizers.Adam(first_rate), model.layers[0].trainable_variables),
                (keras.optimizers.Adam(1e-2), model.layers[1].trainable_variables)]

    two = features.custom_fit(b, ds, optimizer=pairs(b, 1e-2), epochs=2, verbose=False)
    np.testing.assert_allclose(two["loss"], one["loss"], atol=1e-6)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, atol=1e-6)
    start = [w.copy() for w in c.layers[0].get_weights()]
    features.custom_fit(c, ds, optimizer=pairs(c, 0.0), epochs=2, verbose=False)
    for w, w0 in zip(c.layers[0].get_weights(), start, strict=True):
        np.testing.assert_array_equal(w, w0)
    assert not np.allclose(c.layers[1].get_weights()[0], a.layers[1].get_weights()[0])


# --------------------------------------------------------------------------- Keras' behaviour


def test_keras_overrides_inner_training_false():
    """The pitfall the lesson teaches: in Keras 3 an outer training=True reaches a nested
    model called with training=False, so its BatchNormalization uses batch statistics. If
    Keras changes this, lesson 03's prose on it needs updating."""
    inner_in = keras.Input((3,))
    inner = keras.Model(inner_in, keras.layers.BatchNormalization()(inner_in))
    outer_in = keras.Input((3,))
    outer = keras.Model(outer_in, inner(outer_in, training=False))
    x = np.random.default_rng(0).normal(5.0, 2.0, (16, 3)).astype("float32")
    trained = np.asarray(outer(x, training=True))
    assert abs(float(trained.mean())) < 0.1  # normalised with the batch's own statistics






# --------------------------------------------------------------------------- benchmark
def test_benchmark_pipeline_feeds_the_same_input_as_preprocess():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_feature_cache as bench

    from tlcourse import models

    digits = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    labels = np.arange(5)
    scale_fn = keras.applications.mobilenet_v2.preprocess_input
    ds = bench.digits_pipeline(digits, labels, 5, seed=None, size=40, scale=scale_fn)
    batch, got_labels = next(iter(ds))
    expected = scale_fn(models.resize(models._as_batch(digits), 40))
    np.testing.assert_allclose(batch.numpy(), expected, atol=1e-4)
    assert list(got_labels.numpy()) == list(labels)




def test_float16_features_halve_memory_and_have_their_own_key(tmp_path):
    cache, net, x = features.FeatureCache(tmp_path), tiny_net(named=True), images(6)
    full = cache.get("train", net, x, scale, progress=False, verbose=False)
    half = cache.get("train", net, x, scale, progress=False, verbose=False, dtype="float16")
    assert cache.log[-1]["source"] == "computed"  # not served from the float32 entry
    assert half["map"].dtype == np.float16 and half["map"].nbytes * 2 == full["map"].nbytes
    np.testing.assert_allclose(half["map"], full["map"], rtol=2e-3, atol=2e-3)
    with pytest.raises(ValueError, match="float16"):
        features.extract(net, x, scale, progress=False, dtype=np.int8)


