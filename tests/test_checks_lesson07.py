"""Lesson 07's checks run the learner's code or recompute the number: guesses are refused."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import precision_recall_curve

from tlcourse.checks import lesson07


def _unfreeze_from(base, layer_name):
    import keras

    base.trainable = True
    first = [layer.name for layer in base.layers].index(layer_name)
    for i, layer in enumerate(base.layers):
        layer.trainable = i >= first and not isinstance(layer, keras.layers.BatchNormalization)


def test_unfreeze_check_accepts_working_code_and_refuses_guesses():
    import keras

    assert lesson07.check_unfreeze_from(_unfreeze_from)

    def forgets_bn(base, layer_name):
        base.trainable = True
        first = [layer.name for layer in base.layers].index(layer_name)
        for i, layer in enumerate(base.layers):
            layer.trainable = i >= first

    def only_the_flag(base, layer_name):
        base.trainable = True

    def base_still_frozen(base, layer_name):
        first = [layer.name for layer in base.layers].index(layer_name)
        for i, layer in enumerate(base.layers):
            layer.trainable = i >= first and not isinstance(layer, keras.layers.BatchNormalization)

    for guess in (..., None, 3, "block_14_expand", lambda b, n: None, forgets_bn, only_the_flag,
                  base_still_frozen):
        assert not lesson07.check_unfreeze_from(guess)


def _threshold(y, p, target):
    precision, _, thresholds = precision_recall_curve(y, p)
    return float(thresholds[np.flatnonzero(precision[:-1] >= target)[0]])


def test_threshold_check_runs_the_function():
    assert lesson07.check_threshold_function(_threshold)

    def highest(y, p, target):
        precision, _, thresholds = precision_recall_curve(y, p)
        return float(thresholds[np.flatnonzero(precision[:-1] >= target)[-1]])

    for guess in (..., 0.5, [0.5], lambda y, p, t: 0.5, lambda y, p, t: 0.0,
                  lambda y, p, t: t, highest):
        assert not lesson07.check_threshold_function(guess)


def _scores(seed, n=300):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    return y, np.clip(0.35 * y + rng.normal(0.35, 0.15, n), 0, 1)


def test_precision_choice_is_made_on_validation_and_reveals_test(capsys):
    y_val, p_val = _scores(1)
    y_test, p_test = _scores(2)
    right = _threshold(y_val, p_val, 0.9)
    assert lesson07.check_precision_choice(right, y_val, p_val, y_test, p_test)
    assert "on the test set" in capsys.readouterr().out
    chosen_on_test = _threshold(y_test, p_test, 0.9)
    guesses = [..., 0.0, 0.5, 0.9, 1.0, "high", chosen_on_test]
    for guess in guesses:
        if guess is chosen_on_test and np.isclose(guess, right):
            continue
        assert not lesson07.check_precision_choice(guess, y_val, p_val, y_test, p_test)
        assert "on the test set" not in capsys.readouterr().out  # nothing revealed


@pytest.fixture
def level_root(tmp_path):
    rng = np.random.default_rng(0)
    for folder, value in (("test/good", 40), ("unsure/one_third", 100),
                          ("unsure/two_thirds", 160), ("test/defective", 220)):
        (tmp_path / folder).mkdir(parents=True)
        for i in range(3):
            pixels = np.clip(rng.normal(value, 10, (16, 16)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / folder / f"cell{i}.png")
    return tmp_path


def test_levels_check_recomputes_from_the_model(level_root):
    import keras

    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2, activation="softmax")])
    model.layers[-1].set_weights([np.array([[0.0, 0.01]] * 3), np.array([0.0, -1.2])])
    means = {}
    from tlcourse import imagefolders

    for level, folder in imagefolders.level_folders(level_root).items():
        ds = keras.utils.image_dataset_from_directory(folder, labels=None, image_size=(16, 16),
                                                      shuffle=False, verbose=False)
        means[level] = float(model.predict(ds, verbose=0)[:, 1].mean())
    assert means[0.0] < means[1 / 3] < means[2 / 3] < means[1.0]
    assert lesson07.check_levels(means, model, level_root, 16)
    for guess in (..., {0.0: 0.0, 1 / 3: 1 / 3, 2 / 3: 2 / 3, 1.0: 1.0}, [0.1, 0.3, 0.6, 0.9],
                  {0.0: 0.2, 1.0: 0.8}, {k: v + 0.05 for k, v in means.items()}):
        assert not lesson07.check_levels(guess, model, level_root, 16)


def test_levels_check_predicts_once_per_model_state(level_root):
    import keras

    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2, activation="softmax")])
    model.layers[-1].set_weights([np.array([[0.0, 0.01]] * 3), np.array([0.0, -1.2])])
    calls = []
    predict = model.predict
    model.predict = lambda *a, **k: calls.append(1) or predict(*a, **k)
    means = lesson07._level_means(model, level_root, 16)
    assert lesson07.check_levels(means, model, level_root, 16)
    assert not lesson07.check_levels({k: v + 0.05 for k, v in means.items()}, model, level_root, 16)
    assert len(calls) == 4  # one prediction per folder, shared by the three calls
    model.layers[-1].set_weights([np.array([[0.0, -0.01]] * 3), np.array([0.0, 1.2])])
    assert not lesson07.check_levels(means, model, level_root, 16)  # new weights: new means
    assert len(calls) == 8
