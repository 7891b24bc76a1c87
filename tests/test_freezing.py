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


@pytest.mark.parametrize("depth, trainable, last", [
    (0, 2_223_872, None),
    (1, 2_222_944, "Conv1_relu"),
    (7, 2_168_384, "block_5_add"),
    (15, 1_526_080, "block_13_project_BN"),
    (19, 0, "global_average_pooling2d"),
])
def test_freeze_report_counts(base, depth, trainable, last):
    report = freezing.freeze_report(base, depth)
    assert report["trainable"] == trainable
    assert report["total"] == 2_257_984
    assert report["non_trainable"] == 2_257_984 - trainable
    # Keras numbers auto-named layers per process (_1, _2...): compare the name's stem
    if last is None:
        assert report["last_frozen_layer"] is None
    else:
        assert report["last_frozen_layer"].startswith(last)
    assert len(report["frozen_blocks"]) == depth
    assert len(report["frozen_blocks"]) + len(report["trainable_blocks"]) == 19
    statuses = list(report["table"]["status"])
    assert statuses == ["frozen"] * depth + ["trainable"] * (19 - depth)
    assert int(report["table"]["trainable_params"].sum()) == trainable


def test_freeze_report_counts_the_head_and_goes_both_ways(model):
    deep = freezing.freeze_report(model, 15)["trainable"]
    assert deep == 1_526_080 + HEAD
    # shallower and back: earlier freezes must not linger (Keras' own model.trainable = True
    # does not reset layers frozen one by one on the TensorFlow backend)
    assert freezing.freeze_report(model, 3)["trainable"] == 2_216_912 + HEAD
    assert freezing.freeze_report(model, 15)["trainable"] == deep
    assert freezing.freeze_report(model, 19)["trainable"] == HEAD


def test_keep_batchnorm_frozen(base):
    assert freezing.freeze_report(base, 0, keep_batchnorm_frozen=True)["trainable"] == 2_189_760
    report = freezing.freeze_report(base, 17, keep_batchnorm_frozen=True)
    assert report["trainable"] == 879_040  # block_16 and top without BN scale/offset
    bn = layers.batchnorm_layers(base)
    assert len(bn) == 52 and not bn["trainable"].any()
    assert freezing.freeze_report(base, 17)["trainable"] == 886_080  # BN trainable again


@pytest.mark.parametrize("depth", [-1, 20, 2.0, True, None])
def test_bad_depth(base, depth):
    with pytest.raises(ValueError, match="depth must be"):
        freezing.freeze_report(base, depth)


def test_bad_flag(base):
    with pytest.raises(ValueError, match="True or False"):
        freezing.freeze_blocks(base, 3, keep_batchnorm_frozen="yes")


def test_block_table_shows_a_cut_block(base):
    layers.freeze(base, first_n=20)  # "the first 20 layers" end inside block_2
    table = freezing.block_table(base).set_index("block")
    assert table.loc["block_1", "status"] == "frozen"
    assert table.loc["block_2", "status"] == "partial"
    assert table.loc["block_3", "status"] == "trainable"
    assert layers.param_counts(base)["trainable"] == 2_213_168


def test_count_text():
    assert freezing.count_text(1234567) == "trainable parameters: 1,234,567"
    assert freezing.count_text(0) == "trainable parameters: 0"
    for bad in (-1, 1.5, "12", True):
        with pytest.raises(ValueError):
            freezing.count_text(bad)


def test_describe(base):
    assert freezing.describe(freezing.freeze_report(base, 0)) == "frozen: nothing | training: stem ... top"
    assert freezing.describe(freezing.freeze_report(base, 7)) == (
        "frozen: stem ... block_5 | training: block_6 ... top")


def test_explorer_contract(model):
    import ipywidgets as widgets

    explorer = freezing.freeze_explorer(model, depth=19, show_figure=False)
    assert isinstance(explorer.slider, widgets.IntSlider)
    assert "tlcourse-freeze-slider" in explorer.slider._dom_classes
    assert isinstance(explorer.count, widgets.HTML)
    assert "tlcourse-trainable-count" in explorer.count._dom_classes
    assert (explorer.slider.min, explorer.slider.max, explorer.slider.value) == (0, 19, 19)
    assert "trainable parameters: 12,810" in explorer.count.value
    explorer.slider.value = 15  # what a learner's drag does
    assert "trainable parameters: 1,538,890" in explorer.count.value
    assert explorer.report["trainable"] == layers.param_counts(model)["trainable"] == 1_538_890
    assert "block_13" in explorer.where.value
    with pytest.raises(ValueError, match="depth must be"):
        freezing.freeze_explorer(model, depth=25)


def test_explorer_draws_the_map(base):
    import matplotlib.pyplot as plt

    before = len(plt.get_fignums())
    explorer = freezing.freeze_explorer(base, depth=7)
    explorer.slider.value = 8
    assert explorer.report["depth"] == 8
    assert len(plt.get_fignums()) == before  # figures are closed after display


def test_four_cases(model):
    # as lesson 01 section 3 says: a head only with few labels; with many, the whole base
    # trains (less the BatchNormalization scales and offsets, 2 x 17,056)
    expected = {"small-similar": HEAD, "small-different": HEAD,
                "large-similar": 2_223_872 - 34_112 + HEAD, "large-different": 2_223_872 - 34_112 + HEAD}
    for case, plan in freezing.FOUR_CASES.items():
        got = freezing.apply_case(model, case)
        assert got is plan
        counts = layers.param_counts(model)
        if case in expected:
            assert counts["trainable"] == expected[case]
        if plan.frozen_blocks < 19:
            assert plan.learning_rate < 1e-3  # the base learns gently
    assert freezing.FOUR_CASES["small-different"].cut in freezing.blocks(model)
    with pytest.raises(ValueError, match="unknown case"):
        freezing.apply_case(model, "medium")


def test_epoch_timer():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    timer = freezing.epoch_timer()
    model.fit(np.zeros((8, 3)), np.zeros((8, 1)), epochs=3, verbose=0, callbacks=[timer])
    assert len(timer.seconds) == 3 and all(s > 0 for s in timer.seconds)


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
