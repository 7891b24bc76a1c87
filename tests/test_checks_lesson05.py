"""Lesson 05's exercise checks (tlcourse.checks.lesson05): each refuses the guesses a learner
could make without running anything, and accepts the right answer."""

import keras
import numpy as np
import pytest

from tlcourse.checks import lesson05 as checks


# --------------------------------------------------------------------------- Exercise 1
def masked_mean(seq, mask):
    m = np.asarray(mask, dtype=np.float32)[..., None]
    return (np.asarray(seq) * m).sum(1) / m.sum(1)


def plain_mean(seq, mask):
    return np.asarray(seq).mean(1)


def stub(seq, mask):
    ...


@pytest.mark.parametrize("guess", [stub, plain_mean, ..., None, "masked_mean", 0,
                                   lambda s, m: np.asarray(s)[:, 0]])
def test_exercise_1_refuses(guess):
    assert not checks.check(1, guess)


def test_exercise_1_accepts_the_masked_mean():
    assert checks.check(1, masked_mean)


# --------------------------------------------------------------------------- Exercise 2
def linear(total, peak, share):
    warmup = max(1, round(share * total))

    def schedule(step):
        step = float(step)
        if step < warmup:
            return peak * step / warmup
        return peak * max(0.0, (total - step) / (total - warmup))
    return schedule


def cosine(total, peak, share):  # the lesson's schedule, unchanged
    warmup = max(1, round(share * total))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0, warmup_target=peak, warmup_steps=warmup,
        decay_steps=max(total - warmup, 1))


def no_warmup(total, peak, share):
    return keras.optimizers.schedules.PolynomialDecay(peak, total, 0.0, power=1.0)


def keras_linear(total, peak, share):
    warmup = max(1, round(share * total))
    decay = keras.optimizers.schedules.PolynomialDecay(peak, total - warmup, 0.0, power=1.0)

    def schedule(step):
        step = keras.ops.cast(step, "float32")
        return keras.ops.where(step < warmup, peak * step / warmup, decay(step - warmup))
    return schedule


@pytest.mark.parametrize("guess", [cosine, no_warmup, lambda t, p, s: None, ..., 5e-5, "linear",
                                   lambda t, p, s: (lambda step: p)])
def test_exercise_2_refuses(guess):
    assert not checks.check(2, guess)


@pytest.mark.parametrize("right", [linear, keras_linear])
def test_exercise_2_accepts_a_linear_decay(right):
    assert checks.check(2, right)


# --------------------------------------------------------------------------- Exercise 3
def freeze_lower(model, n_layers):
    model.trainable = True
    for layer in model.backbone.layers:
        if layer.name.startswith("transformer_layer_"):
            layer.trainable = int(layer.name.rsplit("_", 1)[1]) >= n_layers
        elif "embed" in layer.name or layer.name == "pooled_dense":
            layer.trainable = False
        else:
            layer.trainable = True
    return model


def forgets_pooler(model, n_layers):
    freeze_lower(model, n_layers)
    model.backbone.get_layer("pooled_dense").trainable = True
    return model


def only_transformers(model, n_layers):  # embeddings left trainable
    for layer in model.backbone.layers:
        if layer.name.startswith("transformer_layer_"):
            layer.trainable = int(layer.name.rsplit("_", 1)[1]) >= n_layers
    return model


def freezes_only(model, n_layers):  # never makes the upper layers trainable again
    for layer in model.backbone.layers:
        if "embed" in layer.name or layer.name == "pooled_dense" or (
                layer.name.startswith("transformer_layer_")
                and int(layer.name.rsplit("_", 1)[1]) < n_layers):
            layer.trainable = False
    return model


def off_by_one(model, n_layers):
    return freeze_lower(model, n_layers + 1)


@pytest.mark.parametrize("guess", [lambda m, n: m, forgets_pooler, only_transformers,
                                   freezes_only, off_by_one, ..., None, 4])
def test_exercise_3_refuses(guess):
    assert not checks.check(3, guess)


def test_exercise_3_accepts_a_correct_loop():
    assert checks.check(3, freeze_lower)


# --------------------------------------------------------------------------- Exercise 4
SWEEP = {2e-5: 0.655, 1e-4: 0.701, 5e-4: 0.612}


def scores(rate):
    return {2e-5: 0.64, 1e-4: 0.69, 5e-4: 0.60}[rate]


@pytest.mark.parametrize("answer, sweep", [
    ((5e-5, 0.8), SWEEP),          # the lesson's rate, never tried here
    (1e-4, SWEEP),                 # not a pair
    ((2e-5, 0.655), SWEEP),        # not the best on validation
    ((1e-4, 0.69), SWEEP),         # the test accuracy, not the validation one
    ((1e-4, 0.701), {}),           # the sweep never ran
    ((1e-4, 0.701), {1e-4: 0.701, 2e-5: 0.7}),  # fewer than 3 rates
    ((1e-4, 70.1), {2e-5: 65.5, 1e-4: 70.1, 5e-4: 61.2}),  # percentages, not accuracies
    (..., SWEEP),
])
def test_exercise_4_refuses(answer, sweep):
    assert not checks.check(4, answer, sweep, scores)


def test_exercise_4_accepts_the_best_on_validation_and_touches_test_once(capsys):
    calls = []
    assert checks.check(4, (1e-4, 0.701), SWEEP, lambda r: calls.append(r) or scores(r))
    assert calls == [1e-4] and "0.690" in capsys.readouterr().out


def test_check_rejects_an_unknown_exercise():
    with pytest.raises(ValueError, match="Exercises 1 to 4"):
        checks.check(5, None)
