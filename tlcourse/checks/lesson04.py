"""Self-checks of lesson 04's exercises (ImageNet prediction, Grad-CAM): each runs the learner's
code or recomputes the answer from the model in use, so a guess made without running anything is
refused; ``check(N, answer, clf)`` calls Exercise N's (:func:`tlcourse.exercises.check`)."""

from __future__ import annotations

import numpy as np

from .. import exercises

#: Exercise 3: things a shop might photograph; which of them have no ImageNet-1k class?
PRODUCTS = ("banana", "pizza", "sushi", "laptop", "giraffe", "zebra", "kangaroo", "koala")
#: Exercise 2 and 4 use photos the lesson never explains with Grad-CAM
EX2_PHOTO, EX4_PHOTO = "horse", "astronaut"


def _photo(name):
    from .. import data, vision

    return vision.read_image(data.photo_path(name))


def preprocessing(answer, clf) -> bool:
    """Exercise 1: ``answer`` is a function uint8 RGB batch -> the input ``clf`` expects. It is
    called on a fresh random batch (new each time) and compared with ``clf.preprocess``."""

    def validate(fn):
        if not callable(fn):
            return "answer must be your function: answer = my_preprocess"
        rng = np.random.default_rng()
        batch = rng.integers(0, 256, size=(3, clf.input_size, clf.input_size, 3), dtype=np.uint8)
        out = fn(batch.copy())
        if out is None:
            return "your function returns None: finish it with a return statement"
        mine = np.asarray(out, dtype=np.float32)
        if mine.shape != batch.shape:
            return f"expected shape {batch.shape}, got {mine.shape}"
        wanted = np.asarray(clf.preprocess(batch), dtype=np.float32)
        if not np.allclose(mine, wanted, atol=1e-3):
            return (f"on a random batch your values run {mine.min():.2f}...{mine.max():.2f}, "
                    f"the network's {wanted.min():.2f}...{wanted.max():.2f}")
        return True

    return exercises.check("Exercise 1", answer, validate=validate,
                 hint="the table in section 4 gives the rule of each network")


def last_layer_at(keras_model, size: int) -> str:
    """Name of the last layer whose output is a ``size`` x ``size`` feature map."""
    for layer in reversed(keras_model.layers):
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):
            continue
        if len(shape) == 4 and tuple(shape[1:3]) == (size, size):
            return layer.name
    raise ValueError(f"{keras_model.name} has no {size} x {size} feature map")


def cam_at_14(answer, clf) -> bool:
    """Exercise 2: ``answer(clf, image)``, the top-1 Grad-CAM map at the last 14 x 14 layer."""
    from .. import vision

    def validate(fn):
        if not callable(fn):
            return "answer must be your function: answer = cam_at_14"
        photo = _photo(EX2_PHOTO)
        out = fn(clf, photo)
        if out is None:
            return "your function returns None: finish it with a return statement"
        heatmap = np.asarray(getattr(out, "heatmap", out), dtype=np.float32)
        if heatmap.shape != (14, 14):
            return (f"on the {EX2_PHOTO} photo your map has shape {heatmap.shape}, expected "
                    f"(14, 14): which layer did you read?")
        reference = vision.grad_cam(clf, photo, layer=last_layer_at(clf.model, 14)).heatmap
        if not np.allclose(heatmap, reference, atol=0.02):
            return ("a 14 x 14 map, but not the one of the LAST 14 x 14 layer (or not scaled "
                    "to peak at 1)")
        return True

    return exercises.check("Exercise 2", answer, validate=validate,
                 hint="loop over reversed(clf.model.layers) and read layer.output.shape")


def no_class(answer) -> bool:
    """Exercise 3: the set of :data:`PRODUCTS` without an ImageNet-1k class of their name."""
    from .. import models

    names = {name.lower() for _, name in models.imagenet_classes()}
    expected = {p for p in PRODUCTS if p not in names}

    def validate(a):
        if isinstance(a, str) or not hasattr(a, "__iter__"):
            return "answer must be a set of names, e.g. {'pizza', 'laptop'}"
        a = {str(x).strip().lower() for x in a}
        unknown = a - set(PRODUCTS)
        if unknown:
            return f"{sorted(unknown)} are not in the list of the exercise"
        if a == expected:
            return True
        return f"{len(a & expected)} of your {len(a)} are right; search the class names again"

    return exercises.check("Exercise 3", answer, validate=validate,
                 hint="[n for _, n in models.imagenet_classes() if 'word' in n.lower()]")


def runner_up(answer, clf) -> bool:
    """Exercise 4: ``answer = (class name, box)``: the astronaut photo's runner-up class and a box
    ``(x0, y0, x1, y1)`` of at most 1/16 of the photo holding its Grad-CAM map's peak."""
    from .. import vision

    photo = _photo(EX4_PHOTO)
    h, w = photo.shape[:2]
    probs = np.asarray(clf.model(clf.preprocess(photo[None]), training=False))[0]
    second = int(np.argsort(probs)[-2])
    name = clf.decode(probs[None], top=2)[0][1][1]

    def validate(a):
        if not (isinstance(a, (tuple, list)) and len(a) == 2):
            return "answer must be (class_name, (x0, y0, x1, y1))"
        label, box = a
        if not isinstance(label, str) or label.strip().lower() != name.lower():
            return f"{label!r} is not the second most probable class of the {EX4_PHOTO} photo"
        try:
            x0, y0, x1, y1 = vision.check_box(tuple(box))
        except (ValueError, TypeError) as exc:
            return str(exc)
        if x1 > w or y1 > h:
            return f"the box reaches outside the {w} x {h} photo"
        if (x1 - x0) * (y1 - y0) > w * h / 16:
            return "the box covers more than 1/16 of the photo"
        cam = vision.grad_cam(clf, photo, class_index=second)
        peak = vision.heatmap_peak(cam.heatmap, (h, w))
        return vision.inside(peak, (x0, y0, x1, y1)) or "that map's peak is not inside your box"

    return exercises.check("Exercise 4", answer, validate=validate,
                 hint="grad_cam(clf, photo, class_index=...) and vision.heatmap_peak")


check = exercises.numbered("04", preprocessing, cam_at_14, no_class, runner_up)
