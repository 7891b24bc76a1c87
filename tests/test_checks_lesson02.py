"""Lesson 02's exercise checks (tlcourse.checks.lesson02): each refuses the guesses a learner
could make without running anything, and accepts the right answer."""

import keras
import numpy as np
import pandas as pd
import pytest

from tlcourse import freezing, layers
from tlcourse.checks import lesson02 as checks


@pytest.fixture(scope="module")
def base():
    # the architecture and layer names of the lesson's base; weights do not change counts
    return keras.applications.MobileNetV2(include_top=False, weights=None,
                                          input_shape=(32, 32, 3), pooling="avg")


# --------------------------------------------------------------------------- Exercise 1
def stub(model, last_frozen, keep_batchnorm_frozen=True):
    ...  # the learner's cell as given
    return model


def freeze_only_first_part(model, last_frozen, keep_batchnorm_frozen=True):
    names = [layer.name for layer in model.layers]
    for layer in model.layers[:names.index(last_frozen) + 1]:
        layer.trainable = False  # forgets to make the rest trainable and to keep BN frozen
    return model


def without_batchnorm(model, last_frozen, keep_batchnorm_frozen=True):
    cut = [layer.name for layer in model.layers].index(last_frozen)
    model.trainable = True
    for i, layer in enumerate(model.layers):
        layer.trainable = i > cut  # right cut, BatchNormalization trainable
    return model


def right(model, last_frozen, keep_batchnorm_frozen=True):
    cut = [layer.name for layer in model.layers].index(last_frozen)
    model.trainable = True
    for i, layer in enumerate(model.layers):
        layer.trainable = i > cut
        if keep_batchnorm_frozen and isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    return model


@pytest.mark.parametrize("guess", [stub, freeze_only_first_part, without_batchnorm, ..., None,
                                   "freeze_up_to", right(checks._practice_model(), "conv_a")])
def test_exercise_1_refuses(guess):
    assert not checks.exercise_1(guess)


def test_exercise_1_accepts_a_correct_loop():
    assert checks.exercise_1(right)


def test_exercise_1_tries_every_start():
    # a loop that ignores the starting flags (never sets model.trainable) fails on a frozen model
    def ignores_model_flag(model, last_frozen, keep_batchnorm_frozen=True):
        cut = [layer.name for layer in model.layers].index(last_frozen)
        for i, layer in enumerate(model.layers):
            layer.trainable = i > cut and not (
                keep_batchnorm_frozen and isinstance(layer, keras.layers.BatchNormalization))
        return model
    # setting layer flags one by one leaves model.trainable False when it started frozen
    assert not checks.exercise_1(ignores_model_flag)


# --------------------------------------------------------------------------- Exercises 2 and 4
def test_exercise_2_values_are_what_the_base_gives(base):
    base.trainable = True
    for i, layer in enumerate(base.layers):  # the lesson's freeze_first(base, 20)
        layer.trainable = i >= 20
    table = freezing.block_table(base)
    assert tuple(table.loc[table["status"] == "partial", "block"]) == (checks.FIRST_20[0],)
    assert layers.param_counts(base)["trainable"] == checks.FIRST_20[1]


@pytest.mark.parametrize("guess", [("block_7", 123456), ("block_2", 2_257_984), ("block_2", 0),
                                   ("block_5", 2_174_592), 0, ..., "block_2", [0, 1]])
def test_exercise_2_refuses(guess):
    assert not checks.exercise_2(guess)


def test_exercise_2_accepts():
    assert checks.exercise_2(("block_2", 2_213_168))


def test_exercise_4_value_is_what_the_base_gives(base):
    freezing.freeze_blocks(base, freezing.depth_of(base, "block_9"), keep_batchnorm_frozen=True)
    assert layers.param_counts(base)["trainable"] == checks.BLOCK_10_UP_BN_FROZEN
    freezing.freeze_blocks(base, 11)  # BatchNormalization trainable: a different count
    assert layers.param_counts(base)["trainable"] != checks.BLOCK_10_UP_BN_FROZEN


@pytest.mark.parametrize("guess", [0, 1_000_000, 2_189_760, 2_223_872, 1_984_512, ...])
def test_exercise_4_refuses(guess):
    assert not checks.exercise_4(guess)


def test_exercise_4_accepts():
    assert checks.exercise_4(1_959_808)


# --------------------------------------------------------------------------- Exercise 3
def _digits_like(n=300, seed=0):
    """Features where the class is written in one of 1,280 coordinates: a head can learn it."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.normal(0, 0.2, (n, 1280)).astype("float32")
    x[np.arange(n), y] += 8.0
    return x, y


def _head(classes=3):
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((1280,)), keras.layers.Dense(classes)])


def test_exercise_3():
    x, y = _digits_like()
    x_val, y_val = _digits_like(200, seed=1)
    untrained = _head()
    assert not checks.exercise_3(untrained, x_val, y_val)  # the right shape, never trained
    assert not checks.exercise_3(_head(10), x_val, y_val)  # ten classes
    assert not checks.exercise_3(..., x_val, y_val)
    assert not checks.exercise_3(3_843, x_val, y_val)
    head = _head()
    head.compile(optimizer=keras.optimizers.Adam(1e-2),
                 loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    keep = y < 3
    head.fit(x[keep], y[keep], epochs=30, verbose=0)
    assert checks.exercise_3(head, x_val, y_val)


# --------------------------------------------------------------------------- Exercise 5
SUMMARY = pd.DataFrame({"val_mean": [0.871, 0.9251, 0.9301, 0.9262],
                        "val_std": [0.004, 0.006, 0.005, 0.009]},
                       index=pd.Index([19, 12, 8, 0], name="frozen units"))


def test_exercise_5_refuses_guesses_and_touches_no_test_set():
    touched = []

    def score(depth):
        touched.append(depth)
        return 0.9

    for guess in [..., 8, (8, 0.95), (8, 0.9), (10, 0.93), (19, 0.871), (0.93, 8), (True, 0.9301),
                  "8", (8, "x")]:
        assert not checks.exercise_5(guess, SUMMARY, score)
    assert touched == []  # nothing refused ever reaches the test set


def test_exercise_5_accepts_a_depth_within_the_spread_and_scores_it_once():
    touched = []

    def score(depth):
        touched.append(depth)
        return 0.91

    assert checks.exercise_5((12, 0.9251), SUMMARY, score)
    assert checks.exercise_5((8, 0.9301), SUMMARY, score)
    assert touched == [12, 8]


def test_check_exercise_dispatches_and_refuses_unknown_numbers():
    assert checks.check(2, ("block_2", 2_213_168))
    assert not checks.check(4, 0)
    for bad in (0, 6, True, "1"):
        with pytest.raises(ValueError, match="Exercises 1 to 5"):
            checks.check(bad, 0)
