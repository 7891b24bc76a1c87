"""Self-checks of lesson 05's exercises (BERT sentiment): each runs the learner's code on fresh
inputs; ``check(N, answer, ...)`` calls Exercise N's. The solutions notebook calls the same."""

from __future__ import annotations

import numpy as np

from ..exercises import check as _check
from ..exercises import choice_on_validation, numbered


def exercise_1(masked_mean) -> bool:
    """Exercise 1: ``masked_mean(sequence_output, padding_mask)`` on fresh random batches (one
    text filling every position), against the mean over the real tokens only."""
    def validate(fn):
        rng = np.random.default_rng(5)
        for batch, length, width in ((3, 7, 5), (4, 12, 16), (1, 4, 3)):
            seq = rng.normal(size=(batch, length, width)).astype(np.float32)
            seq[:, -1] += 50.0  # a padding vector far from the rest: a plain mean shows it
            real = rng.integers(1, length, size=batch)
            real[0] = length
            mask = np.arange(length)[None, :] < real[:, None]
            m = mask.astype(np.float64)[..., None]
            want = (seq * m).sum(1) / np.maximum(m.sum(1), 1.0)
            got = np.asarray(fn(seq, mask), dtype=np.float64)
            if got.shape != want.shape:
                return f"for a batch of shape {seq.shape} expected shape {want.shape}, got {got.shape}"
            if not np.abs(got - want).max() < 1e-4:
                if np.allclose(got, seq.mean(1), atol=1e-4):
                    return "that is the plain mean: the [PAD] positions must not count"
                return f"your vectors differ from the masked mean by up to {np.abs(got - want).max():.3f}"
        return True

    return _check("Exercise 1", masked_mean, validate=validate,
                  hint="multiply by the mask as 0/1 numbers (mask[..., None]), sum over axis 1, "
                       "divide by the number of real tokens")


def exercise_2(make_schedule) -> bool:
    """Exercise 2: ``make_schedule(total_steps, peak_lr, warmup_share)``: linear warm-up from 0
    to ``peak_lr`` over ``max(1, round(warmup_share * total_steps))`` steps, then a straight
    line to 0 at ``total_steps``; evaluated at many steps of three schedules."""
    def validate(fn):
        for total, peak, share in ((100, 5e-5, 0.1), (37, 2e-4, 0.2), (1000, 1e-3, 0.05)):
            schedule = fn(total, peak, share)
            if not callable(schedule):
                return "make_schedule must return a schedule: a function of the step"
            warmup = max(1, round(share * total))
            steps = sorted({0, 1, total // 7, total // 3, total // 2, 3 * total // 4, total - 1, total})
            want = [peak * s / warmup if s < warmup else peak * max(0.0, (total - s) / (total - warmup))
                    for s in steps]
            got = [float(np.asarray(schedule(s))) for s in steps]
            wrong = [f"step {s}: {g:.3g} (want {w:.3g})" for s, g, w in zip(steps, got, want, strict=True)
                     if not np.isclose(g, w, rtol=1e-3, atol=peak * 1e-3)]
            if wrong:
                return f"make_schedule({total}, {peak}, {share}) gives " + ", ".join(wrong)
        return True

    return _check("Exercise 2", make_schedule, validate=validate,
                  hint="keras.optimizers.schedules.PolynomialDecay (power=1) does the linear "
                       "fall; the warm-up is peak * step / warmup_steps (ops.where picks)")


def _tiny_classifier():
    """A 3-layer BERT classifier with fresh weights and the lesson's layer names."""
    import keras
    import keras_hub

    from ..sentiment import MeanPooledBertClassifier

    keras.utils.set_random_seed(3)
    return MeanPooledBertClassifier(keras_hub.models.BertBackbone(
        vocabulary_size=40, num_layers=3, num_heads=2, hidden_dim=8, intermediate_dim=16,
        max_sequence_length=16), 2)


def exercise_3(freeze_lower) -> bool:
    """Exercise 3: ``freeze_lower(model, n_layers)`` freezes the embeddings and the lower
    ``n_layers`` transformer layers, keeps the unused ``[CLS]`` pooler frozen and leaves the
    rest and the head trainable; tried on a small BERT, fresh and all frozen to start with."""
    def validate(fn):
        for n_layers, start in ((2, "fresh"), (0, "all frozen"), (3, "fresh"), (1, "all frozen")):
            model = _tiny_classifier()
            if start == "all frozen":
                for layer in model.backbone.layers:
                    layer.trainable = False
            model = fn(model, n_layers) or model
            want = {}
            for layer in model.backbone.layers:
                if layer.name.startswith("transformer_layer_"):
                    want[layer.name] = int(layer.name.rsplit("_", 1)[1]) >= n_layers
                elif layer.weights and (layer.name == "pooled_dense" or "embed" in layer.name):
                    want[layer.name] = False
            got = {layer.name: layer.trainable and model.backbone.trainable
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


def exercise_4(answer, sweep, test_score) -> bool:
    """Exercise 4: ``answer = (peak learning rate, its validation accuracy)`` read from
    ``sweep`` (rate -> validation accuracy, at least 3 rates): the accuracy must be the
    sweep's and within half a point of the best. Only then ``test_score(rate)`` is called."""
    def table():
        if not isinstance(sweep, dict) or len(sweep) < 3:
            raise ValueError("run the sweep first: sweep must map at least 3 peak learning rates "
                             "to accuracies")
        if not all(0 <= float(v) <= 1 for v in sweep.values()):
            raise ValueError("sweep's values must be validation accuracies between 0 and 1 (not "
                             "percentages)")
        return sweep

    return choice_on_validation("Exercise 4", answer, table, test_score, min_spread=0.005,
                                label=lambda rate: f"peak learning rate {rate}",
                                hint="pick from the validation accuracies of your sweep, never "
                                     "the test set")


check = numbered("05", exercise_1, exercise_2, exercise_3, exercise_4)
