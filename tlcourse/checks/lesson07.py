"""Self-checks of lesson 07's exercises (your own images: solar-cell defects).

Each check runs the learner's code or recomputes the number it asks for, so a guess made
without running code is refused (tests/test_checks_lesson07.py). Every function prints one
line and returns True or False, like :func:`tlcourse.exercises.check`.
"""

from __future__ import annotations

import numpy as np

from ..exercises import check


def _best_threshold(y, p, target: float):
    """(threshold, recall, precision): the highest recall among thresholds whose precision on
    ``(y, p)`` is at least ``target``; None when no threshold reaches it."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y, p)
    ok = precision[:-1] >= target
    if not ok.any():
        return None
    best = recall[:-1][ok].max()
    i = np.flatnonzero(ok & (recall[:-1] == best))[-1]
    return float(thresholds[i]), float(recall[i]), float(precision[i])


def _rates(y, p, t):
    y, flagged = np.asarray(y) == 1, np.asarray(p) >= t
    recall = (flagged & y).sum() / max(1, y.sum())
    precision = (flagged & y).sum() / max(1, flagged.sum())
    return float(recall), float(precision)


def check_unfreeze_from(fn) -> bool:
    """Exercise 1 of lesson 07: ``fn(base, layer_name)`` trains every layer of a MobileNetV2
    base from ``layer_name`` on, except BatchNormalization, and freezes everything below."""
    def validate(fn):
        if not callable(fn):
            return "answer must be your function: answer = unfreeze_from"
        import keras

        base = keras.applications.MobileNetV2(weights=None, include_top=False,
                                              input_shape=(32, 32, 3))
        for cut in ("block_14_expand", "block_5_expand", "Conv_1"):
            base.trainable = False
            fn(base, cut)
            if not base.trainable:
                return ("base.trainable is still False, so Keras trains none of its layers: set "
                        "base.trainable = True first, then freeze layer by layer")
            first = [layer.name for layer in base.layers].index(cut)
            for i, layer in enumerate(base.layers):
                bn = isinstance(layer, keras.layers.BatchNormalization)
                if layer.trainable != (i >= first and not bn):
                    what = ("a BatchNormalization layer" if bn else
                            "below the cut" if i < first else "from the cut on")
                    return (f"after unfreeze_from(base, {cut!r}) layer {layer.name!r} ({what}) "
                            f"has trainable={layer.trainable}")
        return True

    return check("Exercise 1", fn, validate=validate,
                 hint="enumerate(base.layers), compare each index with the cut's index")


def check_threshold_function(fn) -> bool:
    """Exercise 2 of lesson 07: ``fn(y_true, p, target)`` returns the threshold with the
    highest recall among those whose precision is at least ``target``."""
    def validate(fn):
        if not callable(fn):
            return "answer must be your function: answer = threshold_for_precision"
        rng = np.random.default_rng(7)
        y = (rng.random(400) < 0.35).astype(int)
        p = np.clip(0.3 * y + rng.normal(0.35, 0.18, 400), 0, 1)
        for target in (0.6, 0.8, 0.9):
            best = _best_threshold(y, p, target)
            t = float(fn(y, p, target))
            recall, precision = _rates(y, p, t)
            if precision < target:
                return (f"at target {target} your threshold {t:.3f} gives precision "
                        f"{precision:.3f}, below the target")
            if recall < best[1] - 1e-9:
                return (f"at target {target} your threshold {t:.3f} keeps recall {recall:.3f}; "
                        f"a lower threshold still meets the target with recall {best[1]:.3f}")
        return True

    return check("Exercise 2", fn, validate=validate,
                 hint="sklearn.metrics.precision_recall_curve gives precision and recall at "
                      "every threshold")


def check_precision_choice(threshold, y_val, p_val, y_test, p_test, target: float = 0.9) -> bool:
    """Exercise 3 of lesson 07: the threshold chosen on validation for precision >= target
    with the highest recall; once right, reveals what it gives on the test set."""
    best = _best_threshold(y_val, p_val, target)

    def validate(t):
        t = float(t)
        if best is None:
            return f"no threshold reaches precision {target} on this validation set"
        recall, precision = _rates(y_val, p_val, t)
        if precision < target:
            return f"on validation your threshold gives precision {precision:.3f} < {target}"
        if recall < best[1] - 1e-9:
            return (f"on validation your threshold keeps recall {recall:.3f}; a lower one "
                    f"meets the target with more recall")
        return True

    ok = check("Exercise 3", threshold, validate=validate,
               hint="your function of Exercise 2, called on the validation labels and "
                    "probabilities")
    if ok:
        recall, precision = _rates(y_test, p_test, float(threshold))
        print(f"    on the test set this threshold gives precision {precision:.3f} "
              f"(target {target}) and recall {recall:.3f}")
    return ok


_LEVEL_MEANS: dict = {}  # the last model's means: checking a second answer predicts nothing again


def _level_means(model, folders: dict, size: int) -> dict:
    """Mean output 1 of ``model`` over each folder's images; recomputed whenever the model,
    its weights, the folders or the size differ from the last call."""
    import hashlib

    import keras

    digest = hashlib.sha1()
    for w in model.get_weights():
        digest.update(np.ascontiguousarray(w).tobytes())
    stamp = tuple(sorted((k, str(v), v.stat().st_mtime_ns if v.is_dir() else None)
                         for k, v in folders.items()))  # a folder that changes is read again
    key = (id(model), digest.hexdigest(), stamp, size)
    if key not in _LEVEL_MEANS:
        means = {}
        for level, folder in folders.items():
            ds = keras.utils.image_dataset_from_directory(folder, labels=None,
                                                          image_size=(size, size),
                                                          shuffle=False, verbose=False)
            means[level] = float(np.mean(model.predict(ds, verbose=0)[:, 1]))
        _LEVEL_MEANS.clear()
        _LEVEL_MEANS[key] = means
    return dict(_LEVEL_MEANS[key])


def check_levels(answer, model, root, size: int) -> bool:
    """Exercise 4 of lesson 07: the mean predicted defect probability (``model``'s output 1)
    of the cells at each of the four expert levels, in the folders of
    :func:`tlcourse.imagefolders.level_folders` under ``root``, read at ``size`` pixels."""
    from .. import imagefolders

    folders = imagefolders.level_folders(root)
    if not isinstance(answer, dict) or set(answer) != set(folders):  # no need to predict
        return check("Exercise 4", answer, validate=lambda a: (
            f"answer must be a dict with the keys {sorted(folders)}: {{0.0: ..., 1 / 3: ..., "
            "2 / 3: ..., 1.0: ...}"))
    expected = _level_means(model, folders, size)

    def validate(a):
        if not isinstance(a, dict) or set(a) != set(expected):
            return f"answer must be a dict with the keys {sorted(expected)}"
        wrong = [k for k in expected if abs(float(a[k]) - expected[k]) > 0.01]
        if wrong:
            return f"the means for levels {[round(k, 2) for k in wrong]} differ from the model's"
        return True

    ok = check("Exercise 4", answer, validate=validate,
               hint="predict every folder's images, then take the mean of column 1")
    if ok:
        means = [expected[k] for k in sorted(expected)]
        rising = all(a < b for a, b in zip(means, means[1:], strict=False))
        print(f"    the means {'rise' if rising else 'do not rise'} with the experts' level: "
              + ", ".join(f"{k:.2f}: {v:.2f}" for k, v in sorted(expected.items())))
    return ok
