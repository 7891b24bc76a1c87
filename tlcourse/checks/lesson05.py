"""Self-checks of lesson 05's exercises (BERT sentiment).

Each function takes what the learner's cell produced, runs it on fresh inputs where it can,
and returns :func:`tlcourse.exercises.check`'s verdict; ``check(N, answer, ...)`` calls
Exercise N's (True or False, with a message). The solutions notebook calls the same functions.
"""

from __future__ import annotations

import numpy as np

from ..exercises import check as _check
from ..exercises import numbered


# --------------------------------------------------------------------------- Exercise 1
def _reference_mean(seq, mask):
    m = mask.astype(np.float64)[..., None]
    return (seq * m).sum(1) / np.maximum(m.sum(1), 1.0)


def exercise_1(masked_mean) -> bool:
    """Exercise 1: ``masked_mean(sequence_output, padding_mask)`` on fresh random batches
    (texts of different lengths, one of them filling every position), compared with the
    masked mean over the real tokens."""
    def validate(fn):
        if not callable(fn):
            return f"give the function itself (masked_mean, no parentheses), got {type(fn).__name__}"
        rng = np.random.default_rng(5)
        for batch, length, width in ((3, 7, 5), (4, 12, 16), (1, 4, 3)):
            seq = rng.normal(size=(batch, length, width)).astype(np.float32)
            seq[:, -1] += 50.0  # a padding vector far from the rest: a plain mean shows it
            real = rng.integers(1, length, size=batch)
            real[0] = length  # one text fills every position
            mask = np.arange(length)[None, :] < real[:, None]
            got = np.asarray(fn(seq, mask), dtype=np.float64)
            want = _reference_mean(seq, mask)
            if got.shape != want.shape:
                return (f"for a batch of shape {seq.shape} expected one vector per text, shape "
                        f"{want.shape}; got {got.shape}")
            gap = float(np.abs(got - want).max())
            if not gap < 1e-4:
                if np.allclose(got, seq.mean(1), atol=1e-4):
                    return "that is the plain mean: the [PAD] positions must not count"
                return f"your vectors differ from the masked mean by up to {gap:.3f}"
        return True

    return _check("Exercise 1", masked_mean, validate=validate,
                  hint="multiply by the mask as 0/1 numbers (mask[..., None]), sum over axis 1, "
                       "divide by the number of real tokens")


# --------------------------------------------------------------------------- Exercise 2
def _linear_reference(step, total, peak, warmup_share):
    warmup = max(1, int(round(warmup_share * total)))
    if step < warmup:
        return peak * step / warmup
    return peak * max(0.0, (total - step) / (total - warmup))


def exercise_2(make_schedule) -> bool:
    """Exercise 2: ``make_schedule(total_steps, peak_lr, warmup_share)`` returns a Keras
    learning-rate schedule: linear warm-up from 0 to ``peak_lr`` over the first
    ``max(1, round(warmup_share * total_steps))`` steps, then a *linear* fall to 0 at
    ``total_steps``. Evaluated at many steps of several schedules."""
    def validate(fn):
        if not callable(fn):
            return f"give the function itself (make_schedule), got {type(fn).__name__}"
        for total, peak, share in ((100, 5e-5, 0.1), (37, 2e-4, 0.2), (1000, 1e-3, 0.05)):
            schedule = fn(total, peak, share)
            if not callable(schedule):
                return "make_schedule must return a schedule: a function of the step"
            steps = sorted({0, 1, total // 7, total // 3, total // 2, (3 * total) // 4,
                            total - 1, total})
            got = np.array([float(np.asarray(schedule(s))) for s in steps])
            want = np.array([_linear_reference(s, total, peak, share) for s in steps])
            if not np.allclose(got, want, rtol=1e-3, atol=peak * 1e-3):
                mid = steps[len(steps) // 2]
                rows = ", ".join(f"step {s}: {g:.3g} (want {w:.3g})"
                                 for s, g, w in zip(steps, got, want, strict=True)
                                 if not np.isclose(g, w, rtol=1e-3, atol=peak * 1e-3))
                curved = abs(got[steps.index(mid)] - want[steps.index(mid)]) > 1e-3 * peak
                why = " (still a curve after the warm-up?)" if curved else ""
                return f"make_schedule({total}, {peak}, {share}) gives {rows}{why}"
        return True

    return _check("Exercise 2", make_schedule, validate=validate,
                  hint="keras.optimizers.schedules.PolynomialDecay (power=1) does the linear "
                       "fall; the warm-up is peak * step / warmup_steps (ops.where picks)")


# --------------------------------------------------------------------------- Exercise 3
def _tiny_classifier():
    """A 3-layer BERT classifier with fresh weights and the lesson's layer names."""
    import keras
    import keras_hub

    from ..sentiment import MeanPooledBertClassifier

    keras.utils.set_random_seed(3)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=40, num_layers=3, num_heads=2, hidden_dim=8, intermediate_dim=16,
        max_sequence_length=16)
    return MeanPooledBertClassifier(backbone, 2)


def _reference_trainable(model, n_layers):
    """Layer name -> trainable, for the rule: embeddings and the lower ``n_layers``
    transformer layers frozen, the rest and the head trainable, the pooler frozen."""
    flags = {}
    for layer in model.backbone.layers:
        name = layer.name
        if not layer.weights:  # inputs, dropout: nothing to train either way
            continue
        if name.startswith("transformer_layer_"):
            flags[name] = int(name.rsplit("_", 1)[1]) >= n_layers
        elif name == "pooled_dense" or "embed" in name:
            flags[name] = False
    return flags


def exercise_3(freeze_lower) -> bool:
    """Exercise 3: ``freeze_lower(model, n_layers)`` freezes the embeddings (token, position,
    segment, their LayerNorm) and the lower ``n_layers`` transformer layers of a classifier
    from ``build_classifier``, keeps the unused ``[CLS]`` pooler frozen and leaves the rest
    and the head trainable. Tried on a small BERT of the same layout, for several depths and
    starting states."""
    def validate(fn):
        if not callable(fn):
            return f"give the function itself (freeze_lower), got {type(fn).__name__}"
        for n_layers, start in ((2, "fresh"), (0, "all frozen"), (3, "fresh"), (1, "all frozen")):
            model = _tiny_classifier()
            if start == "all frozen":
                for layer in model.backbone.layers:
                    layer.trainable = False
            out = fn(model, n_layers)
            model = out if out is not None else model
            want = _reference_trainable(model, n_layers)
            got = {layer.name: bool(layer.trainable) and bool(model.backbone.trainable)
                   for layer in model.backbone.layers}
            wrong = [n for n in want if want[n] != got[n]]
            if wrong:
                return (f"freeze_lower(model, {n_layers}) on a model that started {start}: wrong "
                        f"trainable flag on {', '.join(wrong)} (expected "
                        f"{', '.join(f'{n}={want[n]}' for n in wrong)})")
            if not model.get_layer("logits").trainable:
                return "the head ('logits') must stay trainable"
        return True

    return _check("Exercise 3", freeze_lower, validate=validate,
                  hint="loop over model.backbone.layers: names 'transformer_layer_K' train when "
                       "K >= n_layers; embeddings and 'pooled_dense' are frozen")


# --------------------------------------------------------------------------- Exercise 4
def exercise_4(answer, sweep, test_score) -> bool:
    """Exercise 4: ``answer = (peak learning rate, its validation accuracy)`` read from
    ``sweep`` (peak learning rate -> validation accuracy, at least 3 rates tried). Accepted
    when the accuracy is the sweep's and the rate is within half a point of the best
    validation accuracy. Only then ``test_score(rate)`` is called: the test set is touched
    once, for the chosen rate."""
    def validate(pair):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            return "answer with a pair: (peak learning rate, its validation accuracy)"
        if not isinstance(sweep, dict) or len(sweep) < 3:
            return "run the sweep first: sweep must map at least 3 peak learning rates to accuracies"
        rates = [float(r) for r in sweep]
        accs = np.array([float(v) for v in sweep.values()])
        if not np.all((accs >= 0) & (accs <= 1)):
            return "sweep's values must be validation accuracies between 0 and 1 (not percentages)"
        rate, accuracy = float(pair[0]), float(pair[1])
        match = [r for r in rates if np.isclose(r, rate, rtol=1e-6)]
        if not match:
            return f"{rate:g} was not tried; choose one of {', '.join(f'{r:g}' for r in rates)}"
        mean = float(sweep[list(sweep)[rates.index(match[0])]])
        if abs(accuracy - mean) > 5e-4:
            return (f"the validation accuracy at {rate:g} is not {accuracy}: read it from the sweep")
        if mean < accs.max() - 0.005:
            return f"{rate:g} is not the best on validation: choose the rate that scores highest"
        score = float(test_score(match[0]))
        print(f"    your choice: peak learning rate {rate:g}; test accuracy, touched once: "
              f"{score:.3f} (validation said {mean:.3f})")
        return True

    return _check("Exercise 4", answer, validate=validate,
                  hint="pick from the validation accuracies of your sweep, never the test set")


check = numbered("05", exercise_1, exercise_2, exercise_3, exercise_4)
