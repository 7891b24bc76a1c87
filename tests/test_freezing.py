"""tlcourse.freezing (lesson 02): MobileNetV2 units, block freezing, the freeze explorer, and
the Keras 3 behaviours lesson 02 teaches (pinned here so a Keras upgrade that changes them
fails fast, before the lesson's own asserts do)."""

import warnings

import keras
import numpy as np
import pytest

from tlcourse import freezing, layers


@pytest.fixture(scope="module")
def base():
    # Same architecture and layer names as the pretrained base; weights do not change counts.
    return keras.applications.MobileNetV2(include_top=False, weights=None,
                                          input_shape=(32, 32, 3), pooling="avg")


@pytest.fixture(scope="module")
def model(base):
    inputs = keras.Input((32, 32, 3))
    x = base(inputs, training=False)
    outputs = keras.layers.Dense(10, name="head")(x)
    return keras.Model(inputs, outputs, name="digits")


HEAD = 1280 * 10 + 10


def test_block_of_names():
    assert freezing.block_of("Conv1") == "stem"
    assert freezing.block_of("expanded_conv_project_BN") == "block_0"
    assert freezing.block_of("block_13_project") == "block_13"
    assert freezing.block_of("out_relu") == "top"
    with pytest.raises(ValueError, match="MobileNetV2"):
        freezing.block_of("dense_7")
    with pytest.raises(ValueError, match="layer"):
        freezing.block_of(42)


def test_nineteen_units_cover_every_layer(base):
    units = freezing.blocks(base)
    assert list(units) == ["stem"] + [f"block_{i}" for i in range(17)] + ["top"]
    assert sum(len(v) for v in units.values()) == len(base.layers) == 155
    assert units["block_0"][-1] == "expanded_conv_project_BN"
    assert units["block_2"][-1] == "block_2_add"  # residual blocks end at their add
    assert units["block_13"][-1] == "block_13_project_BN"  # stride-2 blocks have no add
    assert units["top"][:3] == ["Conv_1", "Conv_1_bn", "out_relu"]
    # Keras numbers auto-named layers per process (_1, _2...) when other tests built models first
    assert len(units["top"]) == 4 and units["top"][3].startswith("global_average_pooling2d")
    assert freezing.depth_of(base, "stem") == 1 and freezing.depth_of(base, "block_5") == 7
    with pytest.raises(ValueError, match="block_0 ... block_16"):
        freezing.depth_of(base, "block_17")


def test_find_base(base, model):
    assert freezing.find_base(base) is base
    assert freezing.find_base(model) is base
    with pytest.raises(ValueError, match="keras.Model"):
        freezing.find_base("mobilenet")
    small = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no MobileNetV2 base"):
        freezing.find_base(small)


@pytest.mark.parametrize("depth, trainable", [
    (0, 2_223_872), (1, 2_222_944), (7, 2_168_384), (15, 1_526_080), (19, 0)])
def test_freeze_blocks_counts(base, depth, trainable):
    assert freezing.freeze_blocks(base, depth) is base
    assert layers.param_counts(base) == {"trainable": trainable, "total": 2_257_984,
                                         "non_trainable": 2_257_984 - trainable}
    table = freezing.block_table(base)
    assert list(table["status"]) == ["frozen"] * depth + ["trainable"] * (19 - depth)
    assert int(table["trainable_params"].sum()) == trainable


def test_freeze_blocks_counts_the_head_and_goes_both_ways(model):
    # shallower and back: earlier freezes must not linger (Keras' own model.trainable = True
    # does not reset layers frozen one by one on the TensorFlow backend)
    for depth, trainable in ((15, 1_526_080), (3, 2_216_912), (15, 1_526_080), (19, 0)):
        freezing.freeze_blocks(model, depth)
        assert layers.param_counts(model)["trainable"] == trainable + HEAD


def test_keep_batchnorm_frozen(base):
    freezing.freeze_blocks(base, 0, keep_batchnorm_frozen=True)
    assert layers.param_counts(base)["trainable"] == 2_189_760
    freezing.freeze_blocks(base, 17, keep_batchnorm_frozen=True)
    assert layers.param_counts(base)["trainable"] == 879_040  # block_16 and top without BN
    bn = layers.batchnorm_layers(base)
    assert len(bn) == 52 and not bn["trainable"].any()
    freezing.freeze_blocks(base, 17)
    assert layers.param_counts(base)["trainable"] == 886_080  # BN trainable again


@pytest.mark.parametrize("depth", [-1, 20, 2.0, True, None])
def test_bad_depth(base, depth):
    with pytest.raises(ValueError, match="depth must be"):
        freezing.freeze_blocks(base, depth)


def test_bad_flag(base):
    with pytest.raises(ValueError, match="True or False"):
        freezing.freeze_blocks(base, 3, keep_batchnorm_frozen="yes")


def test_block_table_shows_a_cut_block(base):
    base.trainable = True
    for i, layer in enumerate(base.layers):  # "the first 20 layers" end inside block_2
        layer.trainable = i >= 20
    table = freezing.block_table(base).set_index("block")
    assert table.loc["block_1", "status"] == "frozen"
    assert table.loc["block_2", "status"] == "partial"
    assert table.loc["block_3", "status"] == "trainable"
    assert layers.param_counts(base)["trainable"] == 2_213_168


# --------------------------------------------------------------------------- Keras itself
def _two_dense():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, name="a"),
                             keras.layers.Dense(2, name="b")])


def _fit(model, n=64):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(n, 6)).astype("float32"), rng.integers(0, 2, n)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)


def _changed(layer, before):
    return not all(np.array_equal(a, b) for a, b in zip(before, layer.get_weights(), strict=True))


def _compile(model):
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))


def test_keras_trainable_after_compile():
    # flipped between compile and the first fit: respected (the training step is built at fit)
    m = _two_dense()
    _compile(m)
    m.get_layer("a").trainable = False
    before = m.get_layer("a").get_weights()
    _fit(m)
    assert not _changed(m.get_layer("a"), before)
    # flipped after a fit, no recompile: the old training step still updates the layer,
    # and Keras 3.15 says nothing
    m = _two_dense()
    _compile(m)
    _fit(m)
    m.get_layer("a").trainable = False
    before = m.get_layer("a").get_weights()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit(m)
    assert _changed(m.get_layer("a"), before)
    assert not [w for w in caught if "trainable" in str(w.message)]
    # compile again: respected
    _compile(m)
    before = m.get_layer("a").get_weights()
    _fit(m)
    assert not _changed(m.get_layer("a"), before)


def test_keras_trainable_true_on_a_true_model_is_skipped():
    m = _two_dense()
    m.get_layer("a").trainable = False
    m.trainable = True  # already True: the TensorFlow backend skips the setter
    assert m.get_layer("a").trainable is False
    m.trainable = False
    m.trainable = True  # a real change: cascades to every layer
    assert m.get_layer("a").trainable is True


def test_keras_training_false_in_a_functional_model_is_overridden_by_fit():
    keras.utils.set_random_seed(0)
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4),
                              keras.layers.BatchNormalization(name="bn")])
    inputs = keras.Input((4,))
    outer = keras.Model(inputs, keras.layers.Dense(1)(inner(inputs, training=False)))
    outer.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    x = np.random.default_rng(0).normal(3, 2, (64, 4)).astype("float32")
    outer.fit(x, np.zeros((64, 1)), batch_size=16, epochs=1, verbose=0)
    assert np.abs(inner.get_layer("bn").moving_mean.numpy()).max() > 0  # it ran in training mode
    # a frozen BatchNormalization layer stays in inference mode whatever it is told
    bn = keras.layers.BatchNormalization()
    bn.build((None, 4))
    bn.trainable = False
    assert np.array_equal(bn(x, training=True), bn(x, training=False))
    assert not bn.moving_mean.numpy().any()
