"""Lesson 06's exercise checks (tlcourse.checks.lesson06): each refuses the guesses a learner
could make without running anything, and accepts the right answer."""

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tlcourse import domain
from tlcourse.checks import lesson06 as checks


# --------------------------------------------------------------------------- Exercise 1
def mean_distance(source_out, target_out):
    gap = tf.reduce_mean(tf.cast(source_out, tf.float32), 0) - tf.reduce_mean(
        tf.cast(target_out, tf.float32), 0)
    return tf.reduce_sum(tf.square(gap))


def stub_1(source_out, target_out):
    ...


@pytest.mark.parametrize("guess", [
    stub_1, ..., None, -0.25, 0, [0, 1], "mean_distance",
    domain.coral_loss,                                   # the loss of the lesson: blind to a shift
    lambda s, t: tf.norm(tf.reduce_mean(s, 0) - tf.reduce_mean(t, 0)),   # not squared
    lambda s, t: tf.reduce_mean(tf.square(tf.reduce_mean(s, 0) - tf.reduce_mean(t, 0))),  # / d
    lambda s, t: 0.0,
])
def test_exercise_1_refuses(guess):
    assert not checks.exercise_1(guess)


def test_exercise_1_accepts_numpy_and_tensorflow_answers():
    assert checks.check(1, mean_distance)
    assert checks.check(1, lambda s, t: float(np.sum((np.mean(s, 0) - np.mean(t, 0)) ** 2)))


# --------------------------------------------------------------------------- Exercise 2
ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
bce = keras.losses.BinaryCrossentropy(from_logits=True)


def by_hand(model, optimizer, domain_optimizer, xs, ys, xt, strength, sign=-1.0, head=True):
    main_vars = model.features.trainable_variables + model.label_head.trainable_variables
    head_vars = model.domain_head.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        fs, ft = model.features(xs, training=True), model.features(xt, training=True)
        label_loss = ce(ys, model.label_head(fs, training=True))
        is_source = tf.concat([tf.ones_like(fs[:, :1]), tf.zeros_like(ft[:, :1])], axis=0)
        domain_loss = bce(is_source, model.domain_head(tf.concat([fs, ft], 0), training=True))
    g = tape.gradient(label_loss, main_vars)
    h = [tf.zeros_like(v) if d is None else d
         for v, d in zip(main_vars, tape.gradient(domain_loss, main_vars), strict=True)]
    optimizer.apply_gradients(zip([a + sign * strength * b for a, b in zip(g, h, strict=True)],
                                  main_vars, strict=True))
    if head:
        domain_optimizer.apply_gradients(zip(tape.gradient(domain_loss, head_vars), head_vars,
                                             strict=True))


def stub_2(model, optimizer, domain_optimizer, xs, ys, xt, strength):
    ...


def plus_sign(*args):
    by_hand(*args, sign=1.0)        # helps the domain head instead of fooling it


def no_head_update(*args):
    by_hand(*args, head=False)      # forgets that the domain head learns too


def source_only(*args):
    by_hand(*args[:-1], 0.0)        # ignores the strength: source-only at every strength


@pytest.mark.parametrize("guess", [stub_2, plus_sign, no_head_update, source_only, 0, None])
def test_exercise_2_refuses(guess):
    assert not checks.exercise_2(guess)


def test_exercise_2_accepts_the_step_by_hand():
    assert checks.check(2, by_hand)


# --------------------------------------------------------------------------- Exercise 3
TABLE = pd.DataFrame({"source_val_acc": [0.93, 0.925, 0.90], "domain_acc": [0.9, 0.85, 0.7]},
                     index=list(checks.SWEEP))


def rule(table):
    ok = table["source_val_acc"] >= table["source_val_acc"].max() - 0.02
    return max(table.index[ok])


@pytest.mark.parametrize("guess", [0.3, 1.0, [0, 1], ..., lambda t: 0.1, lambda t: 0.3,
                                   lambda t: 1.0, lambda t: 0.5, lambda t: None])
def test_exercise_3_refuses_guesses_and_never_reveals_the_test_score(guess):
    revealed = []
    assert not checks.exercise_3(guess, TABLE, lambda s: revealed.append(s) or 0.5)
    assert not revealed


def test_exercise_3_accepts_a_rule_and_reveals_one_score(capsys):
    revealed = []
    assert checks.check(3, rule, TABLE, lambda s: revealed.append(s) or 0.61)
    assert revealed == [0.3] and "0.610" in capsys.readouterr().out


# --------------------------------------------------------------------------- Exercise 4
SO = pd.DataFrame({"MNIST-M-style": [0.44, 0.42, 0.46]}, index=["seed 0", "seed 1", "seed 2"])
DANN = pd.DataFrame({"MNIST-M-style": [0.70, 0.66, 0.69]}, index=SO.index)
GAINS = [26.0, 24.0, 23.0]


@pytest.mark.parametrize("guess", [[0, 1], 24, 24.3, [24, 24, 24], [0.26, 0.24, 0.23],
                                   [26.0, 24.0], [70.0, 66.0, 69.0], ..., None])
def test_exercise_4_refuses(guess):
    assert not checks.exercise_4(guess, SO, DANN)


def test_exercise_4_accepts():
    assert checks.check(4, GAINS, SO, DANN)
    assert checks.check(4, np.array(GAINS) + 0.01, SO, DANN)


def test_check_names_the_exercises():
    with pytest.raises(ValueError, match="1 to 4"):
        checks.check(5, None)
