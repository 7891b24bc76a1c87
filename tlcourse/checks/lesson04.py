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
#: Exercise 5: the top-1 classes that count as right per photo (none: ImageNet has no class for
#: it), the photos of the validation and held-out views, and the thresholds to choose from
#: (0: always answer)
RIGHT = {"cat": {"tabby", "tiger_cat", "Persian_cat", "Siamese_cat", "Egyptian_cat"},
         "coffee": {"espresso", "cup", "coffee_mug"}, "astronaut": set(), "grace_hopper": set(),
         "flower": set(), "brick": set(), "grass": set()}
SPLITS = {"validation": ("cat", "astronaut", "flower", "brick"),
          "held-out": ("coffee", "grace_hopper", "grass")}
THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def _photo(name):
    from .. import data, vision

    return vision.read_image(data.photo_path(name))


def preprocessing(answer, clf) -> bool:
    """Exercise 1: ``answer`` is a function uint8 RGB batch -> the input ``clf`` expects. It is
    called on a fresh random batch (new each time) and compared with ``clf.preprocess``."""

    def validate(fn):
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

    return exercises.check("Exercise 1", answer,
                           validate=exercises.needs_function("my_preprocess", validate),
                           hint="the table in section 4 gives the rule of each network")


def last_layer_at(keras_model, size: int) -> str:
    """Name of the last layer whose output is a ``size`` x ``size`` feature map."""
    from ..layers import layer_table

    found = [row.name for row in layer_table(keras_model).itertuples()
             if row.output_shape is not None and len(row.output_shape) == 4
             and tuple(row.output_shape[1:3]) == (size, size)]
    if not found:
        raise ValueError(f"{keras_model.name} has no {size} x {size} feature map")
    return found[-1]


def cam_at_14(answer, clf) -> bool:
    """Exercise 2: ``answer(clf, image)``, the top-1 Grad-CAM map at the last 14 x 14 layer."""
    from .. import vision

    def validate(fn):
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

    return exercises.check("Exercise 2", answer,
                           validate=exercises.needs_function("cam_at_14", validate),
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


def views(split: str):
    """``(names, images)``: each photo of ``SPLITS[split]`` upright, turned 90 and 180 degrees,
    each whole and its top-left and bottom-right 60 % crops (nine views per photo)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    names, images = [], []
    for name in SPLITS[split]:
        for turns in range(3):
            image = np.ascontiguousarray(np.rot90(_photo(name), turns))
            h, w = (round(0.6 * n) for n in image.shape[:2])
            images += [image, image[:h, :w], image[-h:, -w:]]
            names += [name] * 3
    return names, images


_SEEN = {}


def selective_scores(clf, split: str) -> dict:
    """Threshold -> share of ``split``'s views answered right (top-1 probability >= threshold
    and a class of :data:`RIGHT`) or refused where the top-1 is wrong (below it)."""
    if _SEEN.get((id(clf), split), (None,))[0] is not clf:
        names, images = views(split)
        top1 = [d[0] for d in clf.predict(images, top=1)]
        right = np.array([label in RIGHT[n] for (_, label, _), n in zip(top1, names, strict=True)])
        _SEEN[id(clf), split] = clf, np.array([p for _, _, p in top1]), right
    _, p, right = _SEEN[id(clf), split]
    return {t: float(np.mean(np.where(p >= t, right, ~right))) for t in THRESHOLDS}


def threshold(answer, clf) -> bool:
    """Exercise 5: ``answer = (threshold, its validation score)``, the best of
    :data:`THRESHOLDS` on the validation views; only then are the held-out views scored, once."""
    def held_out(t):
        held = selective_scores(clf, "held-out")
        return f"{held[float(t)]:.3f} (always answering, threshold 0: {held[0.0]:.3f})"

    return exercises.choice_on_validation(
        "Exercise 5", answer, lambda: selective_scores(clf, "validation"), held_out,
        "threshold {!r}".format, 1e-9, touched="held-out views",
        hint="for t in THRESHOLDS: np.mean(np.where(p >= t, right, ~right))")


check = exercises.numbered("04", preprocessing, cam_at_14, no_class, runner_up, threshold)
