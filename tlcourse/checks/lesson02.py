"""Self-checks of lesson 02's exercises (freezing layers): each runs or measures the learner's
answer; ``check(N, answer, ...)`` calls Exercise N's (:func:`tlcourse.exercises.check`)."""

from __future__ import annotations

from ..exercises import check as _check
from ..exercises import choice_on_validation, needs_function, numbered

#: Exercise 2: the unit the lesson's ``freeze_first(base, 20)`` cuts in two, and the base's
#: trainable parameters after it (MobileNetV2, as the lesson loads it)
FIRST_20 = ("block_2", 2_213_168)
#: Exercise 4: the base's trainable parameters with stem ... block_9 frozen (11 units) and
#: every BatchNormalization layer frozen
BLOCK_10_UP_BN_FROZEN = 1_959_808


def _practice_model():
    """A small flat model with a real base's layer kinds, on which the learner's loop is tried."""
    import keras

    keras.utils.set_random_seed(1)
    x = inputs = keras.Input((12, 12, 3), name="pixels")
    for part, filters, size in (("a", 8, 3), ("b", 16, 3), ("c", 16, 1)):
        x = keras.layers.Conv2D(filters, size, use_bias=part == "c", name=f"conv_{part}")(x)
        x = keras.layers.BatchNormalization(name=f"bn_{part}")(x)
        if part != "c":
            x = keras.layers.ReLU(name=f"relu_{part}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, keras.layers.Dense(4, name="out")(x), name="practice")


#: the cases Exercise 1 tries, each on a fresh model whose flags start in another state
_CASES = (("relu_a", True, "all trainable"), ("conv_b", False, "all frozen"),
          ("bn_c", True, "all frozen"), ("pixels", True, "all trainable"),
          ("conv_a", False, "mixed"))


def exercise_1(freeze_up_to) -> bool:
    """Exercise 1: ``freeze_up_to(model, last_frozen, keep_batchnorm_frozen=True)``, tried on
    fresh models in several starting states and compared layer by layer with the rule."""
    def validate(fn):
        import keras

        for last, keep, start in _CASES:
            model = _practice_model()
            frozen_at_start = {"all frozen": [model], "mixed": model.layers[::2]}.get(start, [])
            for layer in frozen_at_start:
                layer.trainable = False
            fn(model, last, keep_batchnorm_frozen=keep)
            cut = [layer.name for layer in model.layers].index(last)
            want = {la.name: i > cut and not (keep and isinstance(la, keras.layers.BatchNormalization))
                    for i, la in enumerate(model.layers)}
            wrong = [la.name for la in model.layers if want[la.name] != (la.trainable and model.trainable)]
            if wrong:
                return (f"freeze_up_to(model, {last!r}, keep_batchnorm_frozen={keep}) on a model "
                        f"that started {start}: wrong trainable flag on {', '.join(wrong)} "
                        f"(expected {', '.join(f'{n}={want[n]}' for n in wrong)})")
        return True

    return _check("Exercise 1", freeze_up_to, validate=needs_function("freeze_up_to", validate),
                 hint="set every layer's flag explicitly, in one loop over model.layers: "
                      "frozen up to the cut, trainable after it, and False for every "
                      "keras.layers.BatchNormalization when keep_batchnorm_frozen")


def exercise_2(answer) -> bool:
    """Exercise 2: (unit name, trainable parameters of the base) after freezing 20 layers."""
    return _check("Exercise 2", answer, expected=FIRST_20,
                 hint="freezing.block_table(base) marks the split unit 'partial'; "
                      "layers.param_counts(base)['trainable'] counts what still trains")


def exercise_3(head, features, labels, floor: float = 0.8) -> bool:
    """Exercise 3: a trained head for digits 0, 1 and 2 on the 1,280 pooled features: three
    outputs, 1,280 x 3 + 3 trainable parameters, and accuracy >= ``floor`` on the digits 0-2
    of ``features``/``labels`` (held-out digits the head was not trained on)."""
    import numpy as np

    def validate(model):
        import keras

        if not isinstance(model, keras.Model):
            return f"give the trained head (a keras model), got {type(model).__name__}"
        trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        if trainable != 1280 * 3 + 3:
            return (f"the head has {trainable:,} trainable parameters; a Dense(3) on 1,280 "
                    "features has 1,280 x 3 + 3")
        keep = np.isin(labels, [0, 1, 2])
        logits = np.asarray(model.predict(np.asarray(features)[keep], verbose=0))
        accuracy = float(np.mean(logits.argmax(1) == np.asarray(labels)[keep]))
        if accuracy < floor:
            return (f"accuracy {accuracy:.3f} on held-out digits 0-2, below {floor}: train it "
                    "(fit on the cached features of the digits 0-2 only)")
        print(f"    held-out accuracy on digits 0-2: {accuracy:.3f}")
        return True

    return _check("Exercise 3", head, validate=validate,
                 hint="filter f_fit / y_fit to labels < 3, then Dense(3) on keras.Input((1280,)), "
                      "compile and fit as in section 3")


def exercise_4(answer) -> bool:
    """Exercise 4: trainable parameters of the base, block_10 ... top training, BN frozen."""
    return _check("Exercise 4", answer, expected=BLOCK_10_UP_BN_FROZEN,
                 hint="freeze_blocks(base, freezing.depth_of(base, 'block_9'), "
                      "keep_batchnorm_frozen=True), then layers.param_counts(base)['trainable']")


def exercise_5(answer, summary, test_score) -> bool:
    """Exercise 5: ``answer = (frozen units, mean validation accuracy)`` from the sweep's
    ``summary``, within the seed spread of the best; only then is ``test_score(depth)`` called."""
    return choice_on_validation("Exercise 5", answer, summary, test_score, "{} frozen units".format,
                                0.005, "pick from the validation columns of the sweep's summary, "
                                "never the test set")


check = numbered("02", exercise_1, exercise_2, exercise_3, exercise_4, exercise_5)
