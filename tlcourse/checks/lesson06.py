"""Self-checks of lesson 06's exercises: each runs the learner's code on data it draws itself,
or recomputes the answer from the lesson's results, so a guess made without running is refused.
"""

from __future__ import annotations

import functools

import numpy as np

from ..exercises import check as _check
from ..exercises import needs_function, numbered

#: the strengths of Exercise 3's sweep
SWEEP = (0.1, 0.3, 1.0)


def exercise_1(mean_distance) -> bool:
    """``mean_distance(source_out, target_out)``, the squared distance between the two batches'
    mean rows, against the reference on fresh arrays and tensors (shifted, scaled, resized)."""
    def validate(fn):
        import tensorflow as tf

        rng = np.random.default_rng(2024)
        a = rng.normal(size=(50, 6)).astype(np.float32)
        cases = {"a shift by +3": a + 3.0, "a scaling by 2": 2.0 * a,
                 "a batch of another size": rng.normal(1.0, 2.0, (30, 6)).astype(np.float32),
                 "a shift of one column": a + np.eye(6, dtype=np.float32)[2] * 1.5}
        for what, t in cases.items():
            want = float(np.sum((a.mean(axis=0) - t.mean(axis=0)) ** 2))
            for wrap in (np.asarray, tf.constant):
                got = float(np.asarray(fn(wrap(a), wrap(t))))
                if not np.isclose(got, want, rtol=1e-4, atol=1e-5):
                    return (f"on {what} (as {wrap.__name__}, shapes {a.shape} and {t.shape}) "
                            f"you gave {got:.5f}, expected {want:.5f}")
        return True

    return _check("Exercise 1", mean_distance, validate=needs_function("mean_distance", validate),
                  hint="mean over axis 0 of each batch (one row of d values), then the sum of "
                       "the squared differences; tf.reduce_mean / tf.reduce_sum accept arrays too")


def _trained(step_fn, method, strength):
    """Every weight of a fresh model after three steps on random batches: of the learner's
    ``step_fn``, or (``step_fn=None``) of the lesson's ``make_train_step(..., method)``."""
    import keras
    import tensorflow as tf

    from .. import domain

    model = domain.build_model(seed=11)
    opts = [keras.optimizers.SGD(0.01, momentum=0.9) for _ in range(2)]
    step = domain.make_train_step(model, method, *opts) if step_fn is None else None
    rng = np.random.default_rng(7)
    for _ in range(3):
        xs = tf.constant(rng.normal(size=(16, 28, 28, 3)), tf.float32)
        ys = tf.constant(rng.integers(0, 10, 16))
        xt = tf.constant(rng.normal(size=(16, 28, 28, 3)) * 1.5 + 0.5, tf.float32)
        if step is None:
            step_fn(model, *opts, xs, ys, xt, float(strength))
        else:
            step(xs, ys, xt, tf.constant(strength, tf.float32))
    return [np.array(v) for part in (model.features, model.label_head, model.domain_head)
            for v in part.trainable_variables]


@functools.cache
def _reference(method, strength):   # the same fresh model and batches every time: computed once
    return _trained(None, method, strength)


def _largest_difference(a, b) -> float:
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))


def exercise_2(dann_step_by_hand) -> bool:
    """``dann_step_by_hand(model, optimizer, domain_optimizer, xs, ys, xt, strength)``, one DANN
    update without the reversal layer: every weight must agree with the lesson's
    ``make_train_step(..., "dann", ...)`` at strength 0.8 and 0, and at 0 the features and label
    head with source-only training."""
    def validate(fn):
        start = _trained(lambda *args: None, "dann", 0.0)
        for strength in (0.8, 0.0):
            mine = _trained(fn, "dann", strength)
            if _largest_difference(mine, start) == 0.0:
                return "your step changed no weight: apply the gradients with both optimizers"
            ref = _reference("dann", strength)
            n = len(mine) - 4  # the domain head's two Dense layers hold the last 4 variables
            if (d := _largest_difference(mine[n:], ref[n:])) > 1e-4:
                return (f"at strength {strength} the domain head's weights differ from the "
                        f"reversal layer's step by up to {d:.2g}: the domain head descends its "
                        "own loss, with domain_optimizer")
            if (d := _largest_difference(mine[:n], ref[:n])) > 1e-4:
                return (f"at strength {strength} the features' or label head's weights differ "
                        f"from the reversal layer's step by up to {d:.2g}: their gradient is "
                        "g_label - strength * g_domain")
        if _largest_difference(mine[:n], _reference("source_only", 0.0)[:n]) > 1e-4:
            return "at strength 0 the features should get exactly the source-only updates"
        return True

    return _check("Exercise 2", dann_step_by_hand,
                  validate=needs_function("dann_step_by_hand", validate),
                  hint="one persistent GradientTape; tape.gradient(label_loss, main_vars) and "
                       "tape.gradient(domain_loss, main_vars), combined weight by weight as "
                       "g - strength * h (None, for the label head, counts as zero); "
                       "tape.gradient(domain_loss, head_vars) for the head")


def exercise_3(choose_strength, table, test_score) -> bool:
    """``choose_strength(table)`` returns one strength of ``table.index`` from the validation
    columns (``source_val_acc``, ``domain_acc``). It is tried first on tables where one strength
    broke the source task, then on ``table``; only then is ``test_score(strength)`` (target test
    accuracy) called, once, for the chosen strength."""
    import pandas as pd

    def validate(fn):
        for broken in SWEEP:   # held-out source accuracy at chance: a rule read from it skips it
            acc = [0.11 if s == broken else 0.95 - 0.01 * i for i, s in enumerate(SWEEP)]
            synthetic = pd.DataFrame({"source_val_acc": acc, "domain_acc": [0.90, 0.80, 0.60]},
                                     index=list(SWEEP))
            got = fn(synthetic)
            if got not in SWEEP:
                return f"on a table with strengths {list(SWEEP)} your rule returned {got!r}"
            if float(got) == broken:
                return (f"on a table where strength {broken} broke the source task (held-out "
                        "source accuracy 0.11) your rule still chose it: read the table")
        chosen = fn(table.copy())
        if chosen not in list(table.index):
            return f"your rule returned {chosen!r}; choose one of {list(table.index)}"
        row = table.loc[chosen]
        print(f"    your choice: strength {chosen} (held-out source accuracy "
              f"{row['source_val_acc']:.3f}, domain head {row['domain_acc']:.2f}); "
              f"target test accuracy, touched once: {float(test_score(chosen)):.3f}")
        return True

    return _check("Exercise 3", choose_strength, validate=needs_function("choose_strength", validate),
                  hint="for example: the largest strength whose held-out source accuracy is "
                       "within a point or two of the best one")


def exercise_4(answer, so_table, dann_table, target: str = "MNIST-M-style") -> bool:
    """DANN's gain over source-only on ``target`` for each seed, in points: one number per row
    of ``so_table`` / ``dann_table`` (the per-seed test accuracies)."""
    expected = 100.0 * (np.asarray(dann_table[target], float) - np.asarray(so_table[target], float))

    def validate(a):
        if np.ndim(a) != 1 or len(a) != len(expected):
            return f"give one gain per seed, a list of {len(expected)} numbers"
        got = np.asarray(a, float)
        if np.allclose(got, expected / 100, atol=5e-4):
            return "these are fractions: give the gains in points (times 100)"
        if not np.allclose(got, expected, atol=0.05):
            return "not the per-seed gains: DANN's accuracy minus source-only's, seed by seed"
        return True

    return _check("Exercise 4", answer, validate=validate,
                  hint=f"100 * (dann_table['{target}'] - so_table['{target}']), as a list")


check = numbered("06", exercise_1, exercise_2, exercise_3, exercise_4)
