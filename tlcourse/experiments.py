"""Label-budget experiments: does a frozen pretrained model beat training from scratch?

Introduced in lesson 01 (``01_transfer_learning_concepts``), which runs two of them:

* text: frozen MiniLM sentence embeddings + logistic regression against TF-IDF + logistic
  regression, on Rotten Tomatoes snippets;
* digits: frozen ImageNet MobileNetV2 features + logistic regression against a small CNN
  trained from scratch, on MNIST.

The expensive part of transfer with a frozen base is running the base; it is done once, for
a pool of examples, by the lesson. Everything here then works on row indices into that pool:
:func:`budget_curve` draws labelled subsets of several sizes (several random draws per size),
asks a *scorer* to fit on each draw and score on the test set, and returns a :class:`Curve`.
A scorer is any function ``indices -> test accuracy``; :func:`linear_probe`,
:func:`tfidf_scorer` and :func:`cnn_scorer` make the three the lesson needs.

The module also holds the four freeze-or-train cases (:data:`CASES`, :func:`case`,
:func:`four_cases_figure`) and small counting helpers for the exercises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

#: regularisation strengths tried by the logistic-regression scorers (see ``linear_probe``)
DEFAULT_CS = (1.0, 10.0)


# --------------------------------------------------------------------------- curves
@dataclass
class Curve:
    """Test accuracies of one method at several label budgets, one list of draws per budget.

    ``scores[i]`` holds the accuracy of every random draw at ``budgets[i]``; ``mean``,
    ``std`` and ``low`` (the worst draw) summarise them. ``per_class`` says whether a budget
    counts labels per class (digits) or in total (text).
    """

    name: str
    budgets: list
    scores: list
    per_class: bool = False
    seconds: float = 0.0
    notes: dict = field(default_factory=dict)

    def __post_init__(self):
        if any(np.ndim(s) != 1 for s in self.scores):
            raise ValueError(f"{self.name!r}: scores must hold one 1-D list of accuracies per "
                             "budget")
        if len(self.budgets) != len(self.scores) or not self.budgets:
            raise ValueError(f"{self.name!r}: need one list of scores per budget "
                             f"({len(self.budgets)} budgets, {len(self.scores)} score lists)")
        if any(len(s) == 0 for s in self.scores):
            raise ValueError(f"{self.name!r}: every budget needs at least one score")
        if not all(0.0 <= float(v) <= 1.0 for s in self.scores for v in s):
            raise ValueError(f"{self.name!r}: scores are accuracies, fractions from 0 to 1 "
                             "(not percent, not NaN)")

    @property
    def mean(self) -> np.ndarray:
        return np.array([float(np.mean(s)) for s in self.scores])

    @property
    def std(self) -> np.ndarray:
        return np.array([float(np.std(s)) for s in self.scores])

    @property
    def low(self) -> np.ndarray:
        return np.array([float(np.min(s)) for s in self.scores])

    def percent(self) -> list:
        """Mean accuracy per budget in percent, rounded to 0.1."""
        return [round(100 * m, 1) for m in self.mean]


def _check_budgets(budgets) -> list:
    if isinstance(budgets, (int, np.integer)) or not isinstance(budgets, Sequence) or not budgets:
        raise ValueError(f"budgets must be a non-empty list of positive integers, e.g. [32, 128]; "
                         f"got {budgets!r}")
    out = []
    for b in budgets:
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b <= 0:
            raise ValueError(f"every budget must be a positive integer, got {b!r}")
        out.append(int(b))
    if sorted(set(out)) != out:
        raise ValueError(f"budgets must be increasing and distinct, got {out}")
    return out


def _check_labels(y) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {y.shape}")
    return y


def draw_labelled(y, n: int, seed: int = 0) -> np.ndarray:
    """Indices of ``n`` examples drawn at random from labels ``y``, stratified by class (every
    class keeps its share, and each class appears at least once). ``n == len(y)`` gives all
    of them, in order."""
    y = _check_labels(y)
    classes = np.unique(y)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if n > len(y):
        raise ValueError(f"n={n} but the pool holds only {len(y)} examples: use a budget "
                         f"<= {len(y)} or embed a larger pool")
    if n < len(classes):
        raise ValueError(f"n={n} is smaller than the number of classes ({len(classes)}): "
                         f"every class needs at least one labelled example")
    if n == len(y):
        return np.arange(len(y))
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(np.arange(len(y)), train_size=int(n), stratify=y,
                              random_state=int(seed))
    return np.sort(idx)


def draw_per_class(y, k: int, seed: int = 0) -> np.ndarray:
    """Indices of exactly ``k`` random examples of every class in ``y``."""
    y = _check_labels(y)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ValueError(f"k must be a positive integer (examples per class), got {k!r}")
    rng = np.random.default_rng(int(seed))
    out = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        if len(members) < k:
            raise ValueError(f"class {c} has only {len(members)} examples in the pool, fewer "
                             f"than k={k}: use a larger pool or a smaller k")
        out.append(rng.choice(members, k, replace=False))
    return np.sort(np.concatenate(out))


def budget_curve(name: str, scorer: Callable, y_pool, budgets, draws=3, seed: int = 0,
                 per_class: bool = False, progress: bool = True) -> Curve:
    """Score ``scorer`` at every budget, averaging several random labelled draws.

    ``scorer(indices)`` fits on those rows of the pool and returns a test accuracy.
    ``draws`` is an int (the same at every budget) or a dict ``{budget: draws}``; a budget
    equal to the whole pool is drawn once (every draw would be the same). Draw ``j`` at a
    budget uses seed ``seed + j``, so two methods called with the same ``seed`` see exactly
    the same labelled examples.
    """
    import time

    if not callable(scorer):
        raise ValueError("scorer must be a function indices -> accuracy (see linear_probe)")
    y_pool = _check_labels(y_pool)
    budgets = _check_budgets(budgets)
    t0 = time.perf_counter()
    scores = []
    for b in budgets:
        n_draws = draws.get(b, 1) if isinstance(draws, Mapping) else draws
        if isinstance(n_draws, bool) or not isinstance(n_draws, (int, np.integer)) or n_draws < 1:
            raise ValueError(f"draws must be a positive integer or a dict of them, got {draws!r}")
        whole = (not per_class) and b == len(y_pool)
        row = []
        for j in range(1 if whole else int(n_draws)):
            idx = (draw_per_class(y_pool, b, seed + j) if per_class
                   else draw_labelled(y_pool, b, seed + j))
            row.append(float(scorer(idx)))
        scores.append(row)
        if progress:
            unit = "per class" if per_class else "labels"
            print(f"  {name}: {b} {unit} -> {100 * np.mean(row):.1f}% "
                  f"(mean of {len(row)} draw{'s' if len(row) > 1 else ''})", flush=True)
    return Curve(name, budgets, scores, per_class, time.perf_counter() - t0)


def advantage(transfer: Curve, scratch: Curve) -> list:
    """Transfer minus scratch, mean accuracy in percentage points per budget (0.1 rounded)."""
    _check_curves(transfer, scratch)
    if list(transfer.budgets) != list(scratch.budgets):
        raise ValueError(f"the curves have different budgets ({transfer.budgets} vs "
                         f"{scratch.budgets}): run both with the same budgets")
    return [round(100 * float(a - b), 1) for a, b in zip(transfer.mean, scratch.mean, strict=True)]


def crossover(transfer: Curve, scratch: Curve):
    """The first budget at which ``scratch`` is at least as accurate as ``transfer`` on
    average, or None when transfer leads at every budget."""
    _check_curves(transfer, scratch)
    for b, gap in zip(transfer.budgets, advantage(transfer, scratch), strict=True):
        if gap <= 0:
            return b
    return None


def _check_curves(*curves) -> None:
    for c in curves:
        if not isinstance(c, Curve):
            raise TypeError(f"expected a Curve (from budget_curve), got {type(c).__name__}")


def table(*curves: Curve):
    """A pandas DataFrame: one row per budget, mean +- std (percent) per method, and the
    number of draws."""
    import pandas as pd

    if not curves:
        raise ValueError("give at least one Curve")
    _check_curves(*curves)
    budgets = list(curves[0].budgets)
    if any(list(c.budgets) != budgets for c in curves):
        raise ValueError("all curves must share the same budgets")
    unit = "labels per class" if curves[0].per_class else "labelled examples"
    rows = {unit: budgets}
    for c in curves:
        rows[c.name] = [f"{100 * m:.1f} +- {100 * s:.1f}" for m, s in zip(c.mean, c.std, strict=True)]
    rows["draws"] = [len(s) for s in curves[0].scores]
    return pd.DataFrame(rows)


def curve_figure(*curves: Curve, title: str | None = None, chance: float | None = None,
                 chance_label: str = "chance"):
    """:func:`tlcourse.plot.learning_curves` of the curves' mean accuracy (percent), with a
    shaded band of +- one standard deviation over the draws and, optionally, a dotted line at
    the ``chance`` accuracy (a fraction)."""
    from . import plot

    if not curves:
        raise ValueError("give at least one Curve")
    _check_curves(*curves)
    if chance is not None and not (isinstance(chance, (int, float)) and 0 <= chance <= 1):
        raise ValueError(f"chance must be an accuracy between 0 and 1 (a fraction), got {chance!r}")
    budgets = list(curves[0].budgets)
    if any(list(c.budgets) != budgets for c in curves):
        raise ValueError("all curves must share the same budgets")
    xlabel = "labelled examples per class" if curves[0].per_class else "labelled examples"
    fig = plot.learning_curves(budgets, {c.name: list(100 * c.mean) for c in curves},
                               xlabel=xlabel, ylabel="test accuracy (%)", title=title)
    ax = fig.axes[0]
    for i, c in enumerate(curves):
        ax.fill_between(budgets, 100 * (c.mean - c.std), 100 * (c.mean + c.std),
                        color=f"C{i}", alpha=0.15, lw=0)
    if chance is not None:
        ax.axhline(100 * chance, ls=":", color="0.4", label=chance_label)
        ax.legend()
    return fig


# --------------------------------------------------------------------------- scorers
def _blas_one_thread():
    """scikit-learn's linear algebra on one thread: on small problems it is as fast, and on a
    busy or shared machine several BLAS threads can spin and run 10-20x slower."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _check_xy(x, y, what):
    if len(x) != len(y) or len(y) == 0:
        raise ValueError(f"{what}: {len(x)} rows for {len(y)} labels; they must match and be "
                         f"non-empty")


def _check_cs(Cs) -> tuple:
    if isinstance(Cs, (int, float)):
        Cs = (Cs,)
    Cs = tuple(Cs)
    if not Cs or any(isinstance(c, bool) or not isinstance(c, (int, float)) or c <= 0 for c in Cs):
        raise ValueError(f"Cs must be positive numbers, e.g. (1.0, 10.0); got {Cs!r}")
    return tuple(float(c) for c in Cs)


def linear_head(x, y, C: float = 1.0):
    """A fitted scikit-learn ``LogisticRegression`` on feature vectors ``x`` (rows) with labels
    ``y``: the head of feature extraction, trained in a fraction of a second."""
    from sklearn.linear_model import LogisticRegression

    x, y = np.asarray(x), _check_labels(y)
    _check_xy(x, y, "features")
    if x.ndim != 2:
        raise ValueError(f"features must be 2-D (rows, features), got shape {x.shape}")
    if isinstance(C, bool) or not isinstance(C, (int, float)) or C <= 0:
        raise ValueError(f"C must be a positive number (inverse regularisation), got {C!r}")
    with _blas_one_thread():
        return LogisticRegression(C=C, max_iter=2000).fit(x, y)


def linear_probe(x_pool, y_pool, x_test, y_test, Cs=DEFAULT_CS) -> Callable:
    """A scorer: logistic regression on fixed feature vectors (a frozen model's output).

    Rows of ``x_pool`` are the pool's features. For each draw one model per ``C`` in ``Cs``
    is fitted and the best test accuracy is kept. Picking a setting on the test set flatters
    a method; the lesson gives every method the same favour, so none loses to a bad setting.
    """
    x_pool, x_test = np.asarray(x_pool), np.asarray(x_test)
    y_pool, y_test = _check_labels(y_pool), _check_labels(y_test)
    _check_xy(x_pool, y_pool, "pool")
    _check_xy(x_test, y_test, "test")
    if x_pool.ndim != 2 or x_test.ndim != 2 or x_pool.shape[1] != x_test.shape[1]:
        raise ValueError(f"features must be 2-D with the same width (pool {x_pool.shape}, test "
                         f"{x_test.shape}): flatten or pool them first")
    Cs = _check_cs(Cs)

    def score(idx):
        best = 0.0
        for C in Cs:
            model = linear_head(x_pool[idx], y_pool[idx], C)
            with _blas_one_thread():
                best = max(best, float(model.score(x_test, y_test)))
        return best

    return score


def tfidf_scorer(texts_pool, y_pool, texts_test, y_test, Cs=DEFAULT_CS) -> Callable:
    """A scorer trained from scratch on text: TF-IDF of words and word pairs, fitted on the
    labelled snippets only (it knows no other text), then logistic regression; best of
    ``Cs`` as in :func:`linear_probe`."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    if isinstance(texts_pool, str) or isinstance(texts_test, str):
        raise ValueError("texts must be lists of strings, not one string")
    texts_pool, texts_test = list(texts_pool), list(texts_test)
    if not all(isinstance(t, str) for t in texts_pool + texts_test):
        raise ValueError("texts must be lists of strings (the snippets themselves)")
    y_pool, y_test = _check_labels(y_pool), _check_labels(y_test)
    _check_xy(texts_pool, y_pool, "pool")
    _check_xy(texts_test, y_test, "test")
    Cs = _check_cs(Cs)

    def score(idx):
        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
        x = vec.fit_transform([texts_pool[i] for i in idx])
        xt = vec.transform(texts_test)
        best = 0.0
        with _blas_one_thread():
            for C in Cs:
                model = LogisticRegression(C=C, max_iter=2000).fit(x, y_pool[idx])
                best = max(best, float(model.score(xt, y_test)))
        return best

    return score


def small_cnn(input_shape=(28, 28, 1), n_classes: int = 10, augment: bool = True, seed: int = 0):
    """A small CNN for 28x28 grayscale digits, trained from scratch in seconds.

    Two 3x3 convolutions (32 and 64 filters) with max-pooling, dropout and a softmax layer:
    34,826 parameters for 10 classes. With ``augment`` it shifts (up to 10%) and rotates (up
    to 18 degrees) every training image at random, a standard way to stretch few labels.
    """
    import keras

    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    layers = [keras.Input(input_shape), keras.layers.Rescaling(1 / 255)]
    if augment:
        layers += [keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed),
                   keras.layers.RandomRotation(0.05, fill_mode="constant", seed=seed)]
    layers += [
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(n_classes, activation="softmax"),
    ]
    return keras.Sequential(layers, name="small_cnn")


def cnn_scorer(x_pool, y_pool, x_test, y_test, steps: int = 400, batch_size: int = 32,
               augment: bool = True, learning_rate: float = 1e-3, seed: int = 0) -> Callable:
    """A scorer trained from scratch on images: a fresh :func:`small_cnn` per draw, trained
    for ``steps`` Adam updates of ``batch_size`` images (the same amount of training at every
    budget), then scored on the test images. Images are uint8 ``(n, h, w)`` or
    ``(n, h, w, c)``."""
    import keras

    x_pool, x_test = np.asarray(x_pool), np.asarray(x_test)
    y_pool, y_test = _check_labels(y_pool), _check_labels(y_test)
    _check_xy(x_pool, y_pool, "pool")
    _check_xy(x_test, y_test, "test")
    if x_pool.ndim == 3:
        x_pool, x_test = x_pool[..., None], x_test[..., None]
    if x_pool.ndim != 4 or x_pool.shape[1:] != x_test.shape[1:]:
        raise ValueError(f"images must be (n, h, w) or (n, h, w, c) with the same size "
                         f"(pool {x_pool.shape}, test {x_test.shape})")
    for name, v in (("steps", steps), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    n_classes = int(max(y_pool.max(), y_test.max())) + 1
    draw = [0]

    def score(idx):
        idx = np.asarray(idx)
        keras.utils.set_random_seed(seed + draw[0])
        rng = np.random.default_rng(seed + draw[0])
        draw[0] += 1
        model = small_cnn(x_pool.shape[1:], n_classes, augment=augment, seed=seed)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        # One long epoch of `steps` batches, the labelled images reshuffled on every pass:
        # the same updates as many short epochs, without Keras' per-epoch overhead (which
        # dominates when a budget holds only a few batches).
        n = steps * batch_size
        order = np.concatenate([rng.permutation(idx) for _ in range(-(-n // len(idx)))])[:n]
        model.fit(x_pool[order], y_pool[order], epochs=1, batch_size=batch_size,
                  shuffle=False, verbose=0)
        return float(model.evaluate(x_test, y_test, batch_size=256, verbose=0)[1])

    return score


# --------------------------------------------------------------------------- counting
def head_parameters(n_features: int, n_classes: int) -> int:
    """Parameters of a linear (logistic-regression / Dense softmax) head on ``n_features``.

    Two classes need one weight per feature and one bias (a single output, sigmoid); ``k > 2``
    classes need ``k`` weights per feature and ``k`` biases.
    """
    for name, v in (("n_features", n_features), ("n_classes", n_classes)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if n_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got n_classes={n_classes}")
    outputs = 1 if n_classes == 2 else int(n_classes)
    return int(n_features) * outputs + outputs


# --------------------------------------------------------------------------- four cases
SIZES = ("small", "large")
SIMILARITIES = ("similar", "different")


@dataclass(frozen=True)
class Case:
    """One of the four freeze-or-train cases: the target dataset's size and its similarity to
    the pretraining data decide what to freeze and what to train.

    ``blocks`` describes a base of six blocks, input side first, each ``"frozen"``,
    ``"fine-tuned"`` (trainable, small learning rate) or ``"dropped"``; a new head always
    sits on top and always trains.
    """

    key: str
    size: str
    similarity: str
    recipe: str
    why: str
    risk: str
    blocks: tuple


CASES = {c.key: c for c in [
    Case("small-similar", "small", "similar",
         "freeze the whole base; train only a new head (feature extraction)",
         "the pretrained features already describe data like yours, and too few labels "
         "would let a trainable base memorise them",
         "unfreezing the base with few labels overfits",
         ("frozen",) * 6),
    Case("large-similar", "large", "similar",
         "new head first, then fine-tune the base (all or its upper blocks) with a small "
         "learning rate",
         "enough labels to adjust the features without overfitting; similar data means the "
         "start is already close",
         "a large learning rate wipes out what pretraining learned",
         ("frozen", "frozen", "fine-tuned", "fine-tuned", "fine-tuned", "fine-tuned")),
    Case("small-different", "small", "different",
         "keep only the early, generic blocks (frozen), drop the specialised upper ones, "
         "train a new head on the earlier features - or train a small model from scratch",
         "edges and strokes still transfer; the upper blocks describe the wrong world, and "
         "there are too few labels to re-learn them",
         "the hardest case: transfer may not pay at all (negative transfer)",
         ("frozen", "frozen", "dropped", "dropped", "dropped", "dropped")),
    Case("large-different", "large", "different",
         "use the pretrained weights only as a starting point and fine-tune everything (or "
         "train from scratch; compare both)",
         "enough labels to learn features of your own; pretrained weights can still speed up "
         "the start",
         "the pretrained start may help little: measure it against scratch",
         ("fine-tuned",) * 6),
]}


def case(size: str, similarity: str) -> Case:
    """The freeze-or-train case of a target dataset: ``size`` ``"small"``/``"large"``,
    ``similarity`` to the pretraining data ``"similar"``/``"different"``."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    if similarity not in SIMILARITIES:
        raise ValueError(f"similarity must be one of {SIMILARITIES}, got {similarity!r}")
    return CASES[f"{size}-{similarity}"]


_BLOCK_STYLE = {
    "frozen": dict(facecolor="0.75", edgecolor="0.35", hatch=""),
    "fine-tuned": dict(facecolor="#9fd79f", edgecolor="#2e7d32", hatch=""),
    "dropped": dict(facecolor="white", edgecolor="0.6", hatch="///"),
    "new head": dict(facecolor="#f5a65b", edgecolor="#b35c00", hatch=""),
}


def four_cases_figure(marks: Mapping | None = None):
    """The four freeze-or-train cases as a 2x2 figure (drawn with matplotlib).

    Columns: small / large target dataset; rows: similar / different to the pretraining data.
    Each panel draws the base as six blocks (input at the bottom) coloured frozen, fine-tuned
    or dropped, with the new head on top, and states the recipe. ``marks`` maps a case key to
    a label written in its panel (e.g. ``{"small-similar": "experiment 1"}``).
    """
    import textwrap

    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    if marks is not None and not isinstance(marks, Mapping):
        raise TypeError(f"marks must map a case key to a label, e.g. {{'small-similar': 'exp 1'}}; "
                        f"got {marks!r}")
    marks = dict(marks or {})
    unknown = set(marks) - set(CASES)
    if unknown:
        raise ValueError(f"unknown case keys {sorted(unknown)}; use {sorted(CASES)}")
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.2))
    for r, similarity in enumerate(SIMILARITIES):
        for col, size in enumerate(SIZES):
            c = case(size, similarity)
            ax = axes[r, col]
            ax.set_xlim(0, 10)
            ax.set_ylim(0, 10)
            ax.axis("off")
            ax.add_patch(Rectangle((0, 0), 10, 10, facecolor="#f7f7f7", edgecolor="0.8"))
            for i, state in enumerate(c.blocks):  # base: six blocks, input at the bottom
                ax.add_patch(Rectangle((0.5, 0.6 + 1.1 * i), 2.2, 0.9, lw=1.2,
                                       **_BLOCK_STYLE[state]))
            ax.add_patch(Rectangle((0.5, 0.6 + 1.1 * 6 + 0.2), 2.2, 0.9, lw=1.2,
                                   **_BLOCK_STYLE["new head"]))
            ax.text(1.6, 0.25, "input", ha="center", va="center", fontsize=8, color="0.3")
            ax.text(3.1, 9.55, f"{size} dataset, {similarity} data", fontsize=11,
                    fontweight="bold", va="top")
            body = (f"Do: {c.recipe}.\n\nWhy: {c.why}.\n\nWatch out: {c.risk}.")
            wrapped = "\n".join(textwrap.fill(p, 48) if p else "" for p in body.split("\n"))
            ax.text(3.1, 8.7, wrapped, fontsize=8, va="top")
            if c.key in marks:
                ax.text(9.8, 0.3, str(marks[c.key]), ha="right", va="bottom", fontsize=9,
                        color="#b35c00", fontweight="bold",
                        bbox=dict(boxstyle="round", facecolor="white", edgecolor="#b35c00"))
    handles = [Patch(label=k, **v) for k, v in _BLOCK_STYLE.items()]
    fig.legend(handles=handles, loc="lower center", ncol=4, frameon=False)
    fig.suptitle("Four cases: what to freeze and what to train (base = six blocks, input at "
                 "the bottom)", fontsize=12)
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    return fig
