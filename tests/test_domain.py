"""Tests of tlcourse.domain (lesson 06): the domains, and the copy of the lesson's saved cells
(the network, CORAL, gradient reversal, the training step and loop, evaluation)."""

import numpy as np
import pytest

from tlcourse import domain


# --------------------------------------------------------------------------- domains
def test_photo_patches_are_reproducible_textured_and_coloured():
    a = domain.photo_patches(200, seed=3)
    b = domain.photo_patches(200, seed=3)
    c = domain.photo_patches(200, seed=4)
    assert a.shape == (200, 28, 28, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    f = a.reshape(200, -1, 3).astype(np.float32)
    assert (f.reshape(200, -1).std(axis=1) >= 30).all()
    assert ((f.max(-1) - f.min(-1)).mean(axis=1) >= 25).all()
    assert ((f.reshape(200, -1).mean(axis=1) >= 50) & (f.reshape(200, -1).mean(axis=1) <= 205)).all()


@pytest.mark.parametrize("kwargs", [{"n": 0}, {"n": 5, "photos": "cat"}, {"n": 5, "photos": ["dog"]},
                                    {"n": 5, "size": 2}, {"n": 5, "seed": -1}])
def test_photo_patches_bad_input(kwargs):
    with pytest.raises(ValueError):
        domain.photo_patches(**kwargs)


def test_photo_patches_impossible_filter_names_the_fix():
    with pytest.raises(ValueError, match="min_std"):
        domain.photo_patches(3, min_std=500.0, max_tries=3)


def test_blend_is_the_mnist_m_recipe():
    rng = np.random.default_rng(0)
    digits = rng.integers(0, 256, (20, 28, 28)).astype(np.uint8)
    out = domain.blend_with_photos(digits, seed=5)
    patches = domain.photo_patches(20, seed=5)
    expected = np.abs(patches.astype(int) - digits[..., None].astype(int))
    assert out.dtype == np.uint8 and np.array_equal(out, expected)
    with pytest.raises(ValueError, match="uint8"):
        domain.blend_with_photos(digits.astype(np.float32))
    with pytest.raises(ValueError, match="grayscale"):
        domain.blend_with_photos(digits[0])


def test_resize_digits_uses_mnist_framing():
    from sklearn.datasets import load_digits

    x = load_digits().images[:30]
    out = domain.resize_digits(x)
    assert out.shape == (30, 28, 28) and out.dtype == np.uint8
    assert out[:, :4].max() == 0 and out[:, -4:].max() == 0 and out[:, :, :4].max() == 0
    assert out.max() == 255
    with pytest.raises(ValueError):
        domain.resize_digits(x, box=30)
    with pytest.raises(ValueError):
        domain.resize_digits(x[0])


def test_standardize_per_image():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (5, 28, 28)).astype(np.uint8)
    x = domain.standardize(gray)
    assert x.shape == (5, 28, 28, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x.mean(axis=(1, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(x.std(axis=(1, 2, 3)), 1, atol=1e-3)
    flat = domain.standardize(np.full((1, 28, 28), 7, np.uint8))  # no division by zero
    assert np.isfinite(flat).all()
    with pytest.raises(ValueError):
        domain.to_rgb(np.zeros((2, 28, 28, 2)))


def test_build_domains_small(monkeypatch):
    monkeypatch.setenv("TLCOURSE_OFFLINE", "1")
    doms = domain.build_domains(n_train=100, n_test=50)
    assert list(doms) == list(domain.DOMAIN_NAMES)
    m, mm, u = doms.values()
    assert m.images_train.shape == (100, 28, 28) and mm.images_train.shape == (100, 28, 28, 3)
    assert np.array_equal(m.y_train, mm.y_train) and len(mm.y_test) == 50
    assert u.images_train.shape == (1347, 28, 28) and u.images_test.shape == (450, 28, 28)
    assert mm.x_train.shape == (100, 28, 28, 3) and mm.x_train is mm.x_train  # computed once
    assert "MNIST-M recipe" in mm.description
    assert m.source == mm.source == "offline" and u.source == "offline"


# --------------------------------------------------------------------------- CORAL
def test_coral_loss_matches_numpy_and_ignores_the_mean():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 6)).astype(np.float32)
    b = 1.5 * rng.normal(size=(40, 6)).astype(np.float32)
    expected = ((np.cov(a, rowvar=False) - np.cov(b, rowvar=False)) ** 2).sum() / (4 * 36)
    assert float(domain.coral_loss(a, b)) == pytest.approx(expected, rel=1e-4)
    assert float(domain.coral_loss(a, a + 3.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(domain.coral_loss(a, 2.0 * a)) > 0.01


# --------------------------------------------------------------------------- gradient reversal
def test_gradient_reversal_forward_identity_backward_reversed():
    import tensorflow as tf

    layer = domain.GradientReversal()
    x = tf.constant([[1.0, -2.0], [0.5, 3.0]])

    @tf.function
    def grad(strength):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, strength=strength)
            loss = tf.reduce_sum(y * y)
        return y, tape.gradient(loss, x)

    for s in (0.0, 0.3, 1.0):  # one traced function, the strength changes as a tensor
        y, g = grad(tf.constant(s))
        np.testing.assert_allclose(y, x)
        np.testing.assert_allclose(g, -s * 2 * x.numpy(), rtol=1e-6)
    assert grad.experimental_get_tracing_count() == 1


def test_dann_schedule():
    assert domain.dann_schedule(0.0) == 0.0
    assert domain.dann_schedule(1.0) > 0.99
    values = [domain.dann_schedule(p) for p in np.linspace(0, 1, 11)]
    assert values == sorted(values)


# --------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def tiny():
    rng = np.random.default_rng(0)
    x_s = domain.standardize(rng.integers(0, 256, (96, 28, 28)).astype(np.uint8))
    y_s = np.tile(np.arange(10), 10)[:96]
    x_t = domain.standardize(rng.integers(0, 256, (64, 28, 28, 3)).astype(np.uint8))
    return (x_s, y_s), x_t


def _train(method, source, target=None, seed=1, **kw):
    return domain.train(method, domain.build_model(seed=seed), source, target, epochs=1,
                        batch_size=32, seed=seed, **kw)


def test_dann_at_strength_zero_is_source_only(tiny):
    source, x_t = tiny
    plain, h_plain = _train("source_only", source, x_t)
    dann0, h_dann = _train("dann", source, x_t, strength=0.0)
    dann, _ = _train("dann", source, x_t, strength=1.0)
    a, b, c = (m.classifier(x_t).numpy() for m in (plain, dann0, dann))
    assert np.abs(a - b).max() < 1e-5
    assert np.abs(a - c).max() > 1e-3
    assert set(h_plain) == {"label_loss", "domain_loss", "domain_acc", "strength"}
    assert h_dann["strength"] == [0.0] and len(h_dann["domain_acc"]) == 1


def test_source_order_does_not_depend_on_target(tiny):
    source, x_t = tiny
    alone, h = _train("source_only", source, seed=2)
    watched, _ = _train("source_only", source, x_t, seed=2)
    assert set(h) == {"label_loss", "strength"}
    np.testing.assert_allclose(alone.classifier(x_t).numpy(), watched.classifier(x_t).numpy(),
                               atol=1e-5)


def test_coral_training_runs_and_logs(tiny):
    source, x_t = tiny
    model, h = domain.train("coral", domain.build_model(seed=0), source, x_t, epochs=2,
                            batch_size=32, seed=0, weight=5.0)
    assert len(h["coral"]) == 2 and h["coral"][0] >= 0
    assert model.embed(x_t[:5]).shape == (5, 768)
    assert model.predict(x_t[:5]).shape == (5,)


def test_adam_and_target_smaller_than_source(tiny):
    source, x_t = tiny
    model, h = _train("dann", source, x_t[:40], optimizer="adam", learning_rate=1e-3)
    assert np.isfinite(h["label_loss"][0]) and 0.0 <= h["domain_acc"][0] <= 1.0


def test_accuracy_and_evaluate(tiny):
    source, x_t = tiny
    model, _ = _train("source_only", source, seed=0)
    doms = {"d": domain.Domain("d", np.zeros((2, 28, 28), np.uint8), np.zeros(2, int),
                               np.zeros((4, 28, 28), np.uint8), np.array([0, 1, 2, 3]), "test")}
    pred = model.predict(doms["d"].x_test)
    assert domain.evaluate(model, doms) == {"d": float((pred == [0, 1, 2, 3]).mean())}
    assert domain.accuracy(model.classifier, x_t, model.predict(x_t)) == 1.0   # a keras model
    with pytest.raises(ValueError, match="labels"):
        domain.accuracy(model, np.zeros((3, 28, 28, 3)), [1, 2])
