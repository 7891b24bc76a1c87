"""Self-checks of lesson 03's exercises (MobileNetV2 on MNIST).

Each function takes what the learner's cell produced, runs or measures it where it can, and
returns :func:`tlcourse.exercises.check`'s verdict; ``check(N, answer, ...)`` calls Exercise
N's (True or False, with a message). The solutions notebook calls the same functions.
"""

from __future__ import annotations

from ..exercises import check as _check
from ..exercises import numbered, validation_pick_problem

#: Exercise 4: parameters the fine-tuning trains: MobileNetV2's blocks 13-16 and top with
#: every BatchNormalization layer frozen (1,663,360), plus the head 1,280-256-10 (330,506)
STAGE2_TRAINABLE = 1_993_866


def _problem(n=240, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 16)).astype("float32")
    y = (x[:, :4] + 0.3 * rng.normal(size=(n, 4))).argmax(1).astype("int32")
    return x, y


def _loop_model(seed):
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((16,)), keras.layers.Dense(4)])


def exercise_1(fit_fn, epochs: int = 3, learning_rate: float = 1e-2, seed: int = 0) -> bool:
    """Exercise 1: ``fit_fn(model, dataset, epochs, learning_rate)`` must train like the
    lesson's ``custom_fit`` (``tlcourse.features.custom_fit``) and return the training accuracy
    of each epoch. Both run on a small problem from the same weights with the same batches."""
    def validate(fn):
        import keras
        import numpy as np

        from ..features import custom_fit, make_dataset

        if not callable(fn):
            return "the answer must be your function itself (answer = fixed_fit), not its result"
        x, y = _problem(seed=seed)
        reference, candidate = _loop_model(seed), _loop_model(seed)
        candidate.set_weights(reference.get_weights())
        batches = lambda: make_dataset(x, y, 32, shuffle_seed=seed, reshuffle=False)  # noqa: E731
        expected = custom_fit(reference, batches(), optimizer=keras.optimizers.Adam(learning_rate),
                              epochs=epochs, verbose=False)["accuracy"]
        got = fn(candidate, batches(), epochs, learning_rate)
        try:
            got = [float(a) for a in got]
        except TypeError:
            return "return a list with one training accuracy per epoch"
        if len(got) != epochs:
            return f"expected {epochs} accuracies (one per epoch), got {len(got)}"
        if max(abs(a - b) for a, b in zip(got, expected, strict=True)) > 0.01:
            return (f"the accuracies per epoch {np.round(got, 3).tolist()} differ from a correct "
                    f"loop's {np.round(expected, 3).tolist()}: where is the optimizer created, "
                    "and are the metrics reset each epoch?")
        drift = max(float(np.max(np.abs(a - b))) for a, b in
                    zip(candidate.get_weights(), reference.get_weights(), strict=True))
        if drift > 1e-3:
            return f"the accuracies match but the weights differ by up to {drift:.3g}: check the updates"
        return True

    return _check("Exercise 1", fit_fn, validate=validate,
                  hint="create the optimizer once, before the loops; reset the metric every epoch")


def _eval_model():
    """Dropout and BatchNormalization with moving statistics far from a batch's own: a pass in
    training mode gives other numbers than one in inference mode."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.BatchNormalization(), keras.layers.Dropout(0.5),
                              keras.layers.Dense(4)])
    bn = model.layers[1]
    gamma, beta, _, _ = bn.get_weights()
    bn.set_weights([gamma, beta, np.full(32, 0.7, "float32"), np.full(32, 2.5, "float32")])
    return model


def exercise_2(evaluate) -> bool:
    """Exercise 2: ``evaluate(model, dataset) -> (loss, accuracy)`` over every example, in
    inference mode, compared with a reference on batches of uneven size (70 examples, 32 a
    batch: the last has 6)."""
    def validate(fn):
        import keras
        import numpy as np
        import tensorflow as tf

        if not callable(fn):
            return "the answer must be your function itself (answer = evaluate), not its result"
        x, y = _problem(70, seed=4)
        model = _eval_model()
        logits = model(x, training=False)
        want_loss = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits))
        want_acc = float(np.mean(np.argmax(logits, 1) == y))
        got = fn(model, tf.data.Dataset.from_tensor_slices((x, y)).batch(32))
        try:
            loss, acc = (float(v) for v in got)
        except (TypeError, ValueError):
            return f"return a pair (loss, accuracy) of numbers, got {got!r}"
        if abs(acc - want_acc) > 1e-4 or abs(loss - want_loss) > 1e-3:
            return (f"got loss {loss:.4f}, accuracy {acc:.4f}; expected {want_loss:.4f} and "
                    f"{want_acc:.4f}: inference mode (training=False), and every example counted "
                    "once (weigh each batch's mean loss by its size)?")
        return True

    return _check("Exercise 2", evaluate, validate=validate,
                  hint="as val_step in custom_fit: model(x, training=False), a keras.metrics.Mean "
                       "updated with sample_weight=batch size, and a SparseCategoricalAccuracy")


def exercise_3(answer, summary, test_score) -> bool:
    """Exercise 3: ``answer = (recipe, its mean validation accuracy)``, read from ``summary``
    (index: recipe; columns ``val_mean`` and ``val_std``). Accepted when the accuracy is the
    table's and the recipe is within the seed spread of the best validation mean; only then is
    ``test_score(recipe)`` called: the test set is touched once, for the chosen recipe."""
    def validate(pair):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            return "answer with a pair: (recipe name, mean validation accuracy)"
        recipe, accuracy = pair
        problem = validation_pick_problem(summary, recipe, accuracy, repr(recipe), 0.0025)
        if problem:
            return problem
        mean = float(summary.loc[recipe, "val_mean"])
        score = float(test_score(recipe))
        print(f"    your choice: {recipe}; mean test accuracy over its seeds, touched once: "
              f"{score:.4f} (validation said {mean:.4f})")
        return True

    return _check("Exercise 3", answer, validate=validate,
                  hint="pick from the validation columns of `rates`, never from the test set")


def exercise_4(answer) -> bool:
    """Exercise 4: the parameters the fine-tuning of section 7 trains (upper blocks and head)."""
    return _check("Exercise 4", answer, expected=STAGE2_TRAINABLE,
                  hint="layers.param_counts(fine)['trainable']: BatchNormalization layers stay frozen")


check = numbered("03", exercise_1, exercise_2, exercise_3, exercise_4)
