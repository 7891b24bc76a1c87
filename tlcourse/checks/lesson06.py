"""Self-checks of lesson 06's exercises (domain adaptation).

Each check runs what the learner wrote on data it draws itself, or recomputes the answer from
the lesson's own results, so a value guessed without running anything (a round number, the
stub as given, a figure from the prose) is refused. ``check(N, answer, ...)`` calls Exercise
N's check; each prints one line and returns True or False, like
:func:`tlcourse.exercises.check`. The solutions notebook calls the same functions.
"""

from __future__ import annotations

import numpy as np

from ..exercises import check as _check
from ..exercises import numbered

#: the strengths of Exercise 3's sweep
SWEEP = (0.1, 0.3, 1.0)


# --------------------------------------------------------------------------- Exercise 1
def _reference_mean_distance(a, b) -> float:
    return float(np.sum((np.mean(a, axis=0) - np.mean(b, axis=0)) ** 2))


def exercise_1(mean_distance) -> bool:
    """Exercise 1: ``mean_distance(source_out, target_out)``, the squared distance between the
    two batches' mean rows, compared with the reference on fresh batches (NumPy arrays and
    tensors, shifted, scaled, of different sizes)."""
    def validate(fn):
        if not callable(fn):
            return f"give the function itself (mean_distance, no parentheses), got {type(fn).__name__}"
        import tensorflow as tf

        rng = np.random.default_rng(2024)
        a = rng.normal(size=(50, 6)).astype(np.float32)
        cases = [("a shift by +3", a, a + 3.0),
                 ("a scaling by 2", a, 2.0 * a),
                 ("two batches of different sizes", a, rng.normal(1.0, 2.0, (30, 6)).astype(np.float32)),
                 ("a shift of one column", a, a + np.eye(6, dtype=np.float32)[2] * 1.5)]
        for what, s, t in cases:
            for wrap in (np.asarray, tf.constant):
                got = fn(wrap(s), wrap(t))
                got = float(np.asarray(got))
                want = _reference_mean_distance(s, t)
                if not np.isclose(got, want, rtol=1e-4, atol=1e-5):
                    kind = "tensors" if wrap is tf.constant else "arrays"
                    return (f"on {what} ({kind} {s.shape} and {t.shape}) you gave {got:.5f}, "
                            f"expected {want:.5f}")
        return True

    return _check("Exercise 1", mean_distance, validate=validate,
                  hint="mean over axis 0 of each batch (one row of d values), then the sum of "
                       "the squared differences; tf.reduce_mean / tf.reduce_sum accept arrays too")


# --------------------------------------------------------------------------- Exercise 2
def _practice_batches(n_steps=3, n=16, seed=7):
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(n_steps):
        xs = rng.normal(size=(n, 28, 28, 3)).astype(np.float32)
        ys = rng.integers(0, 10, n).astype(np.int64)
        xt = (rng.normal(size=(n, 28, 28, 3)) * 1.5 + 0.5).astype(np.float32)
        batches.append((xs, ys, xt))
    return batches


def _weights(model):
    return [np.array(v) for part in (model.features, model.label_head, model.domain_head)
            for v in part.trainable_variables]


def _run(step_fn, method, strength, batches, by_hand):
    import keras
    import tensorflow as tf

    from .. import domain

    model = domain.build_model(seed=11)
    opt = keras.optimizers.SGD(0.01, momentum=0.9)
    domain_opt = keras.optimizers.SGD(0.01, momentum=0.9)
    if by_hand:
        for xs, ys, xt in batches:
            step_fn(model, opt, domain_opt, tf.constant(xs), tf.constant(ys), tf.constant(xt),
                    float(strength))
    else:
        step = domain.make_train_step(model, method, opt, domain_opt)
        for xs, ys, xt in batches:
            step(tf.constant(xs), tf.constant(ys), tf.constant(xt), tf.constant(strength, tf.float32))
    return _weights(model)


def _largest_difference(a, b) -> float:
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))


def exercise_2(dann_step_by_hand) -> bool:
    """Exercise 2: ``dann_step_by_hand(model, optimizer, domain_optimizer, xs, ys, xt,
    strength)``, one DANN update without the reversal layer. Fresh models take a few steps on
    random batches with it and with the lesson's ``make_train_step(..., "dann", ...)``; every
    weight must agree at strength 0.8 and at 0, and at 0 the features and label head must also
    match source-only training."""
    def validate(fn):
        if not callable(fn):
            return (f"give the function itself (dann_step_by_hand, no parentheses), got "
                    f"{type(fn).__name__}")
        batches = _practice_batches()
        start = _weights(__import__("tlcourse.domain", fromlist=["build_model"]).build_model(seed=11))
        for strength in (0.8, 0.0):
            mine = _run(fn, "dann", strength, batches, by_hand=True)
            if _largest_difference(mine, start) == 0.0:
                return "your step changed no weight: apply the gradients with both optimizers"
            ref = _run(None, "dann", strength, batches, by_hand=False)
            n_main = len(mine) - 4  # the domain head has two Dense layers: 4 variables
            diff_main = _largest_difference(mine[:n_main], ref[:n_main])
            diff_head = _largest_difference(mine[n_main:], ref[n_main:])
            if diff_head > 1e-4:
                return (f"at strength {strength} the domain head's weights differ from the "
                        f"reversal layer's step by up to {diff_head:.2g}: the domain head "
                        "descends its own loss, with domain_optimizer")
            if diff_main > 1e-4:
                return (f"at strength {strength} the features' or label head's weights differ "
                        f"from the reversal layer's step by up to {diff_main:.2g}: their "
                        "gradient is g_label - strength * g_domain")
        plain = _run(None, "source_only", 0.0, batches, by_hand=False)
        if _largest_difference(mine[:n_main], plain[:n_main]) > 1e-4:
            return "at strength 0 the features should get exactly the source-only updates"
        return True

    return _check("Exercise 2", dann_step_by_hand, validate=validate,
                  hint="one persistent GradientTape; tape.gradient(label_loss, main_vars) and "
                       "tape.gradient(domain_loss, main_vars), combined weight by weight as "
                       "g - strength * h (None, for the label head, counts as zero); "
                       "tape.gradient(domain_loss, head_vars) for the head")


# --------------------------------------------------------------------------- Exercise 3
def _broken_tables():
    """Tables where one strength broke the source task (its held-out source accuracy fell to
    chance): a rule read from the validation columns never picks it."""
    import pandas as pd

    tables = []
    for broken in range(len(SWEEP)):
        acc = [0.95, 0.94, 0.93]
        acc[broken] = 0.11
        tables.append((SWEEP[broken], pd.DataFrame(
            {"source_val_acc": acc, "domain_acc": [0.90, 0.80, 0.60]}, index=list(SWEEP))))
    return tables


def exercise_3(choose_strength, table, test_score) -> bool:
    """Exercise 3: ``choose_strength(table)`` returns one strength of ``table.index`` from the
    validation columns only (``source_val_acc``, ``domain_acc``). It is first tried on tables
    where one strength broke the source task, then on the real ``table``; only then is
    ``test_score(strength)`` (target test accuracy) called, once, for the chosen strength."""
    def validate(fn):
        if not callable(fn):
            return (f"write a rule: a function of the validation table (choose_strength, no "
                    f"parentheses), got {type(fn).__name__}")
        for broken, synthetic in _broken_tables():
            got = fn(synthetic.copy())
            if got not in list(synthetic.index):
                return f"on a table with strengths {list(synthetic.index)} your rule returned {got!r}"
            if float(got) == broken:
                return (f"on a table where strength {broken} broke the source task (held-out "
                        "source accuracy 0.11) your rule still chose it: read the table")
        chosen = fn(table.copy())
        if chosen not in list(table.index):
            return f"your rule returned {chosen!r}; choose one of {list(table.index)}"
        row = table.loc[chosen]
        score = float(test_score(chosen))
        print(f"    your choice: strength {chosen} (held-out source accuracy "
              f"{row['source_val_acc']:.3f}, domain head {row['domain_acc']:.2f}); "
              f"target test accuracy, touched once: {score:.3f}")
        return True

    return _check("Exercise 3", choose_strength, validate=validate,
                  hint="for example: the largest strength whose held-out source accuracy is "
                       "within a point or two of the best one")


# --------------------------------------------------------------------------- Exercise 4
def exercise_4(answer, so_table, dann_table, target: str = "MNIST-M-style") -> bool:
    """Exercise 4: the DANN gain over source-only on ``target`` for each seed, in points: one
    number per row of ``so_table`` / ``dann_table`` (the per-seed test accuracies)."""
    expected = [100.0 * (float(d) - float(s))
                for s, d in zip(so_table[target], dann_table[target], strict=True)]

    def validate(a):
        if np.ndim(a) != 1:
            return f"give one gain per seed, a list of {len(expected)} numbers"
        got = [float(v) for v in a]
        if len(got) != len(expected):
            return f"there are {len(expected)} seeds, you gave {len(got)} numbers"
        if np.allclose(got, [e / 100 for e in expected], atol=5e-4):
            return "these are fractions: give the gains in points (times 100)"
        if not np.allclose(got, expected, atol=0.05):
            return "not the per-seed gains: DANN's accuracy minus source-only's, seed by seed"
        return True

    return _check("Exercise 4", answer, validate=validate,
                  hint=f"100 * (dann_table['{target}'] - so_table['{target}']), as a list")


check = numbered("06", exercise_1, exercise_2, exercise_3, exercise_4)
