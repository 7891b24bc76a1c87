import keras
import numpy as np
import pytest

from tlcourse import layers


@pytest.fixture
def model():
    inner = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, name="d1"),
                              keras.layers.BatchNormalization(name="bn")], name="inner")
    inputs = keras.Input((8,))
    x = inner(inputs)
    x = keras.layers.Dense(3, name="head")(x)
    return keras.Model(inputs, x, name="outer")


def test_counts_and_table(model):
    counts = layers.param_counts(model)
    # d1: 8*4+4 = 36, bn: 4 gamma + 4 beta trainable + 8 moving stats, head: 4*3+3 = 15
    assert counts == {"trainable": 36 + 8 + 15, "non_trainable": 8, "total": 67}
    table = layers.layer_table(model)
    assert list(table["name"]) == ["input_layer_1", "inner", "head"] or "inner" in list(table["name"])
    nested = layers.layer_table(model, expand_nested=True)
    assert "inner/d1" in set(nested["name"]) and nested["params"].sum() == 67


def test_freeze_first_n_and_up_to(model):
    layers.freeze(model, first_n=2)
    assert layers.param_counts(model)["trainable"] == 15
    assert all(not w.trainable for w in model.get_layer("inner").weights)
    layers.freeze(model, up_to="inner")
    assert layers.param_counts(model)["trainable"] == 15
    layers.unfreeze(model)
    assert layers.param_counts(model)["trainable"] == 59
    layers.unfreeze(model, from_layer="head")
    assert layers.param_counts(model)["trainable"] == 15


def test_freeze_refuses_impossible_requests(model):
    with pytest.raises(ValueError, match="only 3 layers"):
        layers.freeze(model, first_n=4)
    with pytest.raises(ValueError, match="no layer named 'block_99'"):
        layers.freeze(model, up_to="block_99")
    with pytest.raises(ValueError, match="exactly one"):
        layers.freeze(model)
    with pytest.raises(ValueError, match="non-negative"):
        layers.freeze(model, first_n=-1)
    with pytest.raises(ValueError, match="keras.Model"):
        layers.param_counts("not a model")


def test_batchnorm_layers(model):
    bn = layers.batchnorm_layers(model)
    assert list(bn["name"]) == ["inner/bn"] and bn["momentum"].iloc[0] == pytest.approx(0.99)


def test_frozen_weights_do_not_move(model):
    layers.freeze(model, first_n=2)
    model.compile("adam", "mse")
    before = [w.numpy().copy() for w in model.get_layer("inner").weights]
    model.fit(np.random.rand(32, 8), np.random.rand(32, 3), epochs=1, verbose=0)
    after = [w.numpy() for w in model.get_layer("inner").weights]
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def test_unfreeze_reaches_a_nested_model_frozen_on_its_own(model):
    model.get_layer("inner").trainable = False
    layers.unfreeze(model)
    assert model.get_layer("inner").trainable and layers.param_counts(model)["trainable"] == 59
