"""Lesson 03's exercise checks (tlcourse.checks.lesson03): each refuses the guesses a learner
could make without running anything, and accepts the right answer."""

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tlcourse import freezing, layers
from tlcourse.checks import lesson03 as checks


# --------------------------------------------------------------------------- Exercise 1
def _loop(model, dataset, epochs, learning_rate, *, once=True, reset=True):
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    acc = keras.metrics.SparseCategoricalAccuracy()
    optimizer = keras.optimizers.Adam(learning_rate)
    out = []
    for _ in range(epochs):
        if reset:
            acc.reset_state()
        for x, y in dataset:
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                loss = loss_fn(y, logits)
            grads = tape.gradient(loss, model.trainable_variables)
            if not once:
                optimizer = keras.optimizers.Adam(learning_rate)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            acc.update_state(y, logits)
        out.append(float(acc.result()))
    return out


def test_exercise_1_accepts_a_correct_loop():
    assert checks.check(1, _loop)


@pytest.mark.parametrize("guess", [
    lambda *a: _loop(*a, once=False),  # the broken loop as given: new optimizer every step
    lambda *a: _loop(*a, reset=False),  # only one of the two fixes
    lambda *a: _loop(*a, once=False, reset=False),
    lambda model, dataset, epochs, learning_rate=1e-2: None,  # the stub
    lambda *a: _loop(*a)[:2],  # an epoch short
    lambda *a: [0.9, 0.95, 0.97],  # plausible accuracies, nothing trained
    [0.5, 0.6, 0.7], ..., "fixed_fit",
])
def test_exercise_1_refuses(guess):
    assert not checks.check(1, guess)


# --------------------------------------------------------------------------- Exercise 2
def _evaluate(model, dataset, *, training=False, weighted=True):
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    loss, acc = keras.metrics.Mean(), keras.metrics.SparseCategoricalAccuracy()
    for x, y in dataset:
        logits = model(x, training=training)
        loss.update_state(loss_fn(y, logits), sample_weight=len(y) if weighted else None)
        acc.update_state(y, logits)
    return float(loss.result()), float(acc.result())


def test_exercise_2_accepts_a_correct_pass():
    assert checks.check(2, _evaluate)


def test_exercise_2_agrees_with_model_evaluate():
    model = checks._model(3, hidden=True)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    ds = checks._problem(70, seed=4)[2].batch(32)
    np.testing.assert_allclose(_evaluate(model, ds), model.evaluate(ds, verbose=0), atol=1e-4)


@pytest.mark.parametrize("guess", [
    lambda m, d: _evaluate(m, d, training=True),  # dropout and batch statistics at evaluation
    lambda m, d: _evaluate(m, d, weighted=False),  # the short last batch counts as much as a full one
    lambda m, d: None,  # the stub as given
    lambda m, d: (0.1, 0.97),  # plausible numbers, nothing run
    lambda m, d: _evaluate(m, d)[1],  # the accuracy only
    (0.1, 0.97), ..., 0,
])
def test_exercise_2_refuses(guess):
    assert not checks.check(2, guess)


# --------------------------------------------------------------------------- Exercise 3
RATES = pd.DataFrame({"val_mean": [0.9750, 0.9725, 0.9400], "val_std": [0.003, 0.004, 0.002],
                      "runs": [3, 3, 3]}, index=["one", "two", "high"])


def test_exercise_3_accepts_a_recipe_within_the_spread_and_reveals_the_test(capsys):
    touched = []
    assert checks.check(3, ("one", 0.975), RATES, lambda r: touched.append(r) or 0.97)
    assert checks.check(3, ("two", 0.9725), RATES, lambda r: touched.append(r) or 0.97)
    assert touched == ["one", "two"] and "touched once" in capsys.readouterr().out


@pytest.mark.parametrize("guess", [
    ("high", 0.94),  # worse than the best by more than the spread
    ("one", 0.98), ("one", 1.0), ("two", 0.975),  # accuracies not read from the table
    "one", 0, [0, 1], ("best", 0.975), ..., ("one", "high"),
])
def test_exercise_3_refuses_and_never_touches_the_test(guess):
    touched = []
    assert not checks.check(3, guess, RATES, lambda r: touched.append(r) or 0.97)
    assert not touched


def test_exercise_3_with_one_seed_per_recipe_still_refuses_the_worse_recipe():
    # one seed per recipe (quick mode): pandas gives a NaN spread, the check falls back to its floor
    one_seed = RATES.assign(val_std=float("nan"), runs=1)
    touched = []
    assert not checks.check(3, ("high", 0.94), one_seed, lambda r: touched.append(r) or 0.97)
    assert checks.check(3, ("one", 0.975), one_seed, lambda r: touched.append(r) or 0.97)
    assert touched == ["one"]


# --------------------------------------------------------------------------- Exercise 4
def test_exercise_4_value_is_what_the_lesson_builds():
    # the architecture and layer names of the lesson's base; weights do not change counts
    base = keras.applications.MobileNetV2(include_top=False, weights=None,
                                          input_shape=(96, 96, 3), pooling="avg")
    freezing.freeze_blocks(base, freezing.depth_of(base, "block_5"), keep_batchnorm_frozen=True)
    cut = base.get_layer("block_5_add").output
    upper = keras.Model(cut, base.output)
    head = keras.Sequential([keras.Input((1280,)), keras.layers.Dense(256, activation="relu"),
                             keras.layers.Dropout(0.3), keras.layers.Dense(10)])
    inp = keras.Input(upper.input.shape[1:])
    fine = keras.Model(inp, head(upper(inp)))
    assert layers.param_counts(fine)["trainable"] == checks.STAGE2_TRAINABLE
    assert checks.check(4, checks.STAGE2_TRAINABLE)
    everything_after_cut = sum(int(np.prod(w.shape)) for w in upper.weights) + head.count_params()
    assert not checks.check(4, everything_after_cut)  # counts the frozen BatchNormalization


@pytest.mark.parametrize("guess", [0, 1_000_000, 2_000_000, 2_137_792, 330_506, 2_257_984, 2_529_482,
                                   1_993_866,
                                   "two million", ..., [0, 1]])
def test_exercise_4_refuses(guess):
    assert not checks.check(4, guess)


def test_check_refuses_unknown_exercises():
    with pytest.raises(ValueError, match="Exercises 1 to 4"):
        checks.check(5, None)
