"""Self-checks of lesson 03's exercises (MobileNetV2 on MNIST): ``check(N, answer, ...)`` runs or
measures what the learner's cell produced and says whether it is right (True or False)."""

from __future__ import annotations

import numpy as np

from ..exercises import check as _check
from ..exercises import choice_on_validation, needs_function, numbered

#: Exercise 4: parameters the fine-tuning trains: MobileNetV2's blocks 6-16 and top with every
#: BatchNormalization layer frozen (2,137,792), plus the head 1,280-256-10 (330,506)
STAGE2_TRAINABLE = 2_468_298


def _problem(n=240, seed=0):
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 16)).astype("float32")
    y = (x[:, :4] + 0.3 * rng.normal(size=(n, 4))).argmax(1).astype("int32")
    return x, y, tf.data.Dataset.from_tensor_slices((x, y))


def _model(seed, hidden=False):
    """A linear model, or (``hidden``) one with dropout and BatchNormalization whose moving
    statistics are far from a batch's own, so training and inference mode give other numbers."""
    import keras

    keras.utils.set_random_seed(seed)
    if not hidden:
        return keras.Sequential([keras.Input((16,)), keras.layers.Dense(4)])
    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.BatchNormalization(), keras.layers.Dropout(0.5),
                              keras.layers.Dense(4)])
    gamma, beta, _, _ = model.layers[1].get_weights()
    model.layers[1].set_weights([gamma, beta, np.full(32, 0.7, "float32"), np.full(32, 2.5, "float32")])
    return model


def exercise_1(fit_fn, epochs: int = 3, learning_rate: float = 1e-2, seed: int = 0) -> bool:
    """Exercise 1: ``fit_fn(model, dataset, epochs, learning_rate)`` must train like ``custom_fit``."""
    def validate(fn):
        import keras

        from ..features import custom_fit

        ds = _problem(seed=seed)[2].shuffle(240, seed=seed, reshuffle_each_iteration=False).batch(32)
        reference, candidate = _model(seed), _model(seed)
        expected = custom_fit(reference, ds, optimizer=keras.optimizers.Adam(learning_rate),
                              epochs=epochs, verbose=False)["accuracy"]
        try:
            got = [float(a) for a in fn(candidate, ds, epochs, learning_rate)]
        except TypeError:
            return "return a list with one training accuracy per epoch"
        if len(got) != epochs or max(abs(a - b) for a, b in zip(got, expected, strict=True)) > 0.01:
            return (f"the accuracies per epoch {np.round(got, 3).tolist()} differ from a correct "
                    f"loop's {np.round(expected, 3).tolist()}: where is the optimizer created, "
                    "and are the metrics reset each epoch?")
        drift = max(float(np.max(np.abs(a - b))) for a, b in
                    zip(candidate.get_weights(), reference.get_weights(), strict=True))
        return drift <= 1e-3 or f"the accuracies match but the weights differ by {drift:.3g}"

    return _check("Exercise 1", fit_fn, validate=needs_function("fixed_fit", validate),
                  hint="create the optimizer once, before the loops; reset the metric every epoch")


def exercise_2(evaluate) -> bool:
    """Exercise 2: ``evaluate(model, dataset) -> (loss, accuracy)``, on uneven batches."""
    def validate(fn):
        import keras

        x, y, ds = _problem(70, seed=4)
        model = _model(3, hidden=True)
        logits = model(x, training=False)
        want_loss = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits))
        want_acc = float(np.mean(np.argmax(logits, 1) == y))
        got = fn(model, ds.batch(32))
        try:
            loss, acc = (float(v) for v in got)
        except (TypeError, ValueError):
            return f"return a pair (loss, accuracy) of numbers, got {got!r}"
        return (abs(acc - want_acc) <= 1e-4 and abs(loss - want_loss) <= 1e-3) or (
            f"got loss {loss:.4f}, accuracy {acc:.4f}; expected {want_loss:.4f} and {want_acc:.4f}: "
            "inference mode, and every example counted once (weigh each batch by its size)?")

    return _check("Exercise 2", evaluate, validate=needs_function("evaluate", validate),
                  hint="as the validation step of custom_fit: model(x, training=False), a "
                       "keras.metrics.Mean with sample_weight=batch size, a SparseCategoricalAccuracy")


def exercise_3(answer, summary, test_score) -> bool:
    """Exercise 3: ``(recipe, mean validation accuracy)`` read from ``summary`` and within the
    seed spread of the best; only then is ``test_score(recipe)`` called, once."""
    return choice_on_validation("Exercise 3", answer, summary, test_score, "recipe {!r}".format,
                                0.0025, "pick from the validation columns of `rates`, never from "
                                "the test set")


def exercise_4(answer) -> bool:
    """Exercise 4: the parameters the fine-tuning of section 7 trains (upper blocks and head)."""
    return _check("Exercise 4", answer, expected=STAGE2_TRAINABLE,
                  hint="layers.param_counts(fine)['trainable']: BatchNormalization layers stay frozen")


check = numbered("03", exercise_1, exercise_2, exercise_3, exercise_4)
