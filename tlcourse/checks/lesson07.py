"""Lesson 07's self-checks: each runs the learner's code or recomputes the number it asks for."""

from __future__ import annotations

import hashlib

import numpy as np

from ..exercises import check, needs_function


def _rates(y, p, t) -> tuple[float, float]:
    """(recall, precision) of the decision ``p >= t`` on labels ``y``."""
    from sklearn.metrics import precision_score, recall_score

    flags = np.asarray(p) >= float(t)
    return recall_score(y, flags, zero_division=0), precision_score(y, flags, zero_division=0)


def _threshold_problem(y, p, t, target: float, where: str):
    """True when ``t`` keeps the highest recall among thresholds of precision >= ``target`` on
    ``(y, p)``, else what is wrong."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(y, p)
    reaching = recall[:-1][precision[:-1] >= target]
    if not len(reaching):
        return f"{where} no threshold reaches precision {target}"
    recall_t, precision_t = _rates(y, p, t)
    if precision_t < target:
        return f"{where} your threshold {float(t):.3f} gives precision {precision_t:.3f} < {target}"
    return bool(recall_t >= reaching.max() - 1e-9) or (
        f"{where} your threshold {float(t):.3f} keeps recall {recall_t:.3f}; a lower one meets "
        f"the target with recall {reaching.max():.3f}")


_BASE: list = []  # one MobileNetV2 for every call of check_unfreeze_from


def check_unfreeze_from(fn) -> bool:
    """Exercise 1: ``fn(base, layer_name)`` trains the layers from ``layer_name`` on, but no
    BatchNormalization, and freezes those below; run on a MobileNetV2 with three cuts."""
    def validate(fn):
        import keras

        if not _BASE:  # random weights: only the flags are checked
            _BASE.append(keras.applications.MobileNetV2(weights=None, include_top=False,
                                                        input_shape=(32, 32, 3)))
        names = [layer.name for layer in _BASE[0].layers]
        for cut in ("block_14_expand", "block_5_expand", "Conv_1"):
            _BASE[0].trainable = False  # in Keras 3 this also resets every layer's flag
            fn(_BASE[0], cut)
            if not _BASE[0].trainable:
                return ("base.trainable is still False, so Keras trains none of its layers: set "
                        "base.trainable = True first, then freeze layer by layer")
            wrong = [layer for i, layer in enumerate(_BASE[0].layers) if layer.trainable != (
                i >= names.index(cut) and not isinstance(layer, keras.layers.BatchNormalization))]
            if wrong:
                return (f"after unfreeze_from(base, {cut!r}) layer {wrong[0].name!r} has "
                        f"trainable={wrong[0].trainable}")
        return True

    return check("Exercise 1", fn, validate=needs_function("unfreeze_from", validate),
                 hint="enumerate(base.layers), compare each index with the cut's index; "
                      "BatchNormalization stays frozen")


def check_threshold_function(fn) -> bool:
    """Exercise 2: ``fn(y_true, p, target)``, the threshold of highest recall whose precision is
    at least ``target``; run on made-up scores at three targets."""
    def validate(fn):
        rng = np.random.default_rng(7)
        y = (rng.random(400) < 0.35).astype(int)
        p = np.clip(0.3 * y + rng.normal(0.35, 0.18, 400), 0, 1)
        problems = [_threshold_problem(y, p, fn(y, p, t), t, f"at target {t}")
                    for t in (0.6, 0.8, 0.9)]
        return next((problem for problem in problems if problem is not True), True)

    return check("Exercise 2", fn, validate=needs_function("threshold_for_precision", validate),
                 hint="sklearn.metrics.precision_recall_curve gives precision and recall at "
                      "every threshold")


def check_precision_choice(threshold, y_val, p_val, y_test, p_test, target: float = 0.9) -> bool:
    """Exercise 3: the validation threshold of highest recall with precision >= ``target``;
    once right, prints what it gives on the test set."""
    ok = check("Exercise 3", threshold, hint="your function of Exercise 2, on the validation "
               "labels and probabilities",
               validate=lambda t: _threshold_problem(y_val, p_val, t, target, "on validation"))
    if ok:
        recall, precision = _rates(y_test, p_test, threshold)
        print(f"    on the test set this threshold gives precision {precision:.3f} "
              f"(target {target}) and recall {recall:.3f}")
    return ok


_LEVEL_MEANS: dict = {}  # the last model's means, so a second answer predicts nothing again


def _level_means(model, root, size: int) -> dict:
    """Mean output 1 of ``model`` on each level's folder; predicted again when the model, its
    weights, the root or the size change."""
    import keras

    from .. import imagefolders

    weights = b"".join(np.ascontiguousarray(w).tobytes() for w in model.get_weights())
    key = (id(model), hashlib.sha1(weights).hexdigest(), str(root), size)
    if key not in _LEVEL_MEANS:
        read = dict(labels=None, image_size=(size, size), shuffle=False, verbose=False)
        _LEVEL_MEANS.clear()
        _LEVEL_MEANS[key] = {level: float(np.mean(model.predict(
            keras.utils.image_dataset_from_directory(folder, **read), verbose=0)[:, 1]))
            for level, folder in imagefolders.level_folders(root).items()}
    return dict(_LEVEL_MEANS[key])


def check_levels(answer, model, root, size: int) -> bool:
    """Exercise 4: ``{level: mean of model's output 1}`` over the cells of each expert level in
    ``imagefolders.level_folders(root)``, read at ``size`` pixels."""
    def validate(a):
        if not isinstance(a, dict) or set(a) != {0.0, 1 / 3, 2 / 3, 1.0}:  # before predicting
            return "answer must be a dict with the keys 0.0, 1 / 3, 2 / 3 and 1.0"
        expected = _level_means(model, root, size)
        wrong = [round(k, 2) for k, v in expected.items() if not abs(float(a[k]) - v) <= 0.01]
        return not wrong or f"the means for levels {wrong} differ from the model's"

    ok = check("Exercise 4", answer, validate=validate,
               hint="predict every folder's images, then take the mean of column 1")
    if ok:
        means = sorted(_level_means(model, root, size).items())
        rising = all(np.diff([mean for _, mean in means]) > 0)
        print(f"    the means {'rise' if rising else 'do not rise'} with the experts' level: "
              + ", ".join(f"{k:.2f}: {v:.2f}" for k, v in means))
    return ok
