import keras
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


def test_refuses_what_is_not_a_model():
    with pytest.raises(ValueError, match="keras.Model"):
        layers.param_counts("not a model")


def test_batchnorm_layers(model):
    bn = layers.batchnorm_layers(model)
    assert list(bn["name"]) == ["inner/bn"] and bn["momentum"].iloc[0] == pytest.approx(0.99)
