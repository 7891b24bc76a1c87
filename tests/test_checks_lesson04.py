"""Lesson 04's exercise checks refuse what a learner could give without running code (a stub,
the answer of another exercise, a value from the text, a round guess) and accept the right
answer, computed the way the solutions do."""

from __future__ import annotations

import numpy as np
import pytest

from tlcourse import data, models, vision
from tlcourse.checks import lesson04


@pytest.fixture(scope="module")
def clf():
    return models.load_imagenet("resnet50")


def _right_preprocess(clf):
    def fn(batch):
        x = batch.astype(np.float32)
        if clf.name == "resnet50":
            return x[..., ::-1] - np.array([103.939, 116.779, 123.68], dtype=np.float32)
        return (x - 127.0) / 128.0

    return fn


def test_exercise1_preprocessing(clf, capsys):
    assert lesson04.preprocessing(_right_preprocess(clf), clf)
    for guess in (..., None, "my_preprocess", lambda b: None, lambda b: b,
                  lambda b: b.astype(np.float32) / 255.0, lambda b: b.astype(np.float32) / 127.5 - 1,
                  lambda b: _right_preprocess(clf)(b[..., ::-1]),  # forgot (or doubled) the flip
                  lambda b: np.zeros((3, 224, 224, 3), np.float32)):
        assert not lesson04.preprocessing(guess, clf)
    # a function fitted to one batch does not pass: every call draws a new random batch
    fixed = np.random.default_rng(0).integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
    memorised = clf.preprocess(fixed)
    assert not lesson04.preprocessing(lambda b: memorised, clf)
    assert "not yet" in capsys.readouterr().out


def _right_cam14(clf, image):
    layer = lesson04.last_layer_at(clf.model, 14)
    return vision.grad_cam(clf, image, layer=layer).heatmap


def test_exercise2_cam_at_14(clf):
    assert lesson04.cam_at_14(_right_cam14, clf)
    cat = vision.read_image(data.photo_path("cat"))
    cat_map = _right_cam14(clf, cat)  # right for the cat, hard-coded: refused on the fresh photo
    first14 = next(layer.name for layer in clf.model.layers
                   if len(getattr(layer.output, "shape", ())) == 4
                   and tuple(layer.output.shape[1:3]) == (14, 14))
    for guess in (..., None, lambda c, i: None, lambda c, i: vision.grad_cam(c, i).heatmap,
                  lambda c, i: cat_map, lambda c, i: np.ones((14, 14), np.float32),
                  lambda c, i: np.zeros((14, 14), np.float32),
                  lambda c, i: vision.grad_cam(c, i, layer=first14).heatmap):
        assert not lesson04.cam_at_14(guess, clf)


def test_exercise3_no_class():
    names = {name for _, name in models.imagenet_classes()}
    right = {p for p in lesson04.PRODUCTS if p not in names}
    assert right == {"sushi", "giraffe", "kangaroo"}
    assert lesson04.no_class(right)
    assert lesson04.no_class({"Sushi", "giraffe ", "KANGAROO"})
    for guess in (..., None, set(), set(lesson04.PRODUCTS), {"astronaut", "grace_hopper"},
                  {"sushi"}, {"sushi", "giraffe"}, right | {"koala"}, "sushi", 0, [0, 1]):
        assert not lesson04.no_class(guess)


def test_exercise4_runner_up(clf):
    photo = vision.read_image(data.photo_path("astronaut"))
    h, w = photo.shape[:2]
    probs = np.asarray(clf.model(clf.preprocess(photo[None]), training=False))[0]
    second = int(np.argsort(probs)[-2])
    top1, runner = (d[1] for d in clf.decode(probs[None], top=2)[0])
    px, py = vision.heatmap_peak(vision.grad_cam(clf, photo, class_index=second).heatmap, (h, w))
    bw, bh = w // 4, h // 4
    x0, y0 = min(max(0, px - bw // 2), w - bw), min(max(0, py - bh // 2), h - bh)
    box = (x0, y0, x0 + bw, y0 + bh)
    assert lesson04.runner_up((runner, box), clf)
    centre = (w // 2 - bw // 2, h // 2 - bh // 2, w // 2 + bw // 2, h // 2 + bh // 2)
    guesses = [..., None, (runner, (0, 0, w, h)), (top1, box), (runner, None), runner, box]
    if runner != "bobsled":  # the astronaut's top-1 named in the lesson's text
        guesses.append(("bobsled", box))
    if not vision.inside((px, py), centre):  # the box a learner would guess without a map
        guesses.append((runner, centre))
    far = (0, 0, bw, bh) if px >= bw or py >= bh else (w - bw, h - bh, w, h)
    guesses.append((runner, far))
    for guess in guesses:
        assert not lesson04.runner_up(guess, clf)


def _right_threshold(clf):
    names, images = lesson04.views("validation")
    top1 = [d[0] for d in clf.predict(images, top=1)]
    p = np.array([prob for _, _, prob in top1])
    right = np.array([label in lesson04.RIGHT[n] for (_, label, _), n in zip(top1, names, strict=True)])
    scores = {t: float(np.mean(np.where(p >= t, right, ~right))) for t in lesson04.THRESHOLDS}
    return scores, max(scores, key=scores.get)


def test_exercise5_threshold(clf, capsys):
    scores, best = _right_threshold(clf)
    assert lesson04.threshold((best, scores[best]), clf)
    assert "held-out views, touched once" in capsys.readouterr().out
    assert lesson04.threshold([np.float64(best), np.float32(scores[best])], clf)
    worse = [t for t in lesson04.THRESHOLDS if scores[t] < scores[best] - 1e-9]
    assert worse  # the thresholds do differ on the validation views
    held = lesson04.selective_scores(clf, "held-out")
    guesses = [..., None, 0.5, (0.5,), (0.5, 0.5), (0, 0), (0.0, 0.0), (best, 1.0), (best, 0.5),
               (best, round(scores[best], 1)), (0.55, scores[best]), (True, scores[best]),
               (best, held[best]), (best, 100 * scores[best]), "0.5", [0, 1]]
    guesses += [(t, scores[t]) for t in worse]  # measured, but not the best on validation
    for guess in guesses:
        assert not lesson04.threshold(guess, clf), guess
    with pytest.raises(ValueError, match="split"):
        lesson04.views("test")


def test_check_dispatches_and_refuses_bad_calls(clf):
    assert lesson04.check(3, {"sushi", "giraffe", "kangaroo"})
    assert lesson04.check(1, _right_preprocess(clf), clf)
    assert not lesson04.check(1, ..., clf)
    with pytest.raises(ValueError, match="Exercises 1 to 5"):
        lesson04.check(6, ...)
    with pytest.raises(TypeError, match="clf"):
        lesson04.check(2, _right_cam14)
