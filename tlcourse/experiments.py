"""Label-budget experiments: infrastructure for lesson 01's question, does a frozen pretrained
model beat training from scratch?

Lesson 01 (``01_transfer_learning_concepts``) writes the experiment itself in the open: the
scorers (a logistic-regression probe on frozen features, TF-IDF, a small CNN), the choice of
their settings on validation folds of the labelled rows, and the budget loop. The cells a later
lesson reuses (:func:`choose_on_validation`, :func:`linear_probe`, :func:`budget_curve`; lesson
07 calls them) are saved at the end of this module from lesson 01 by ``tools/save_cells.py``.

Written here: drawing labelled rows (:func:`draw_labelled`, :func:`draw_per_class`), the
:class:`Curve` a budget loop returns, its :func:`table` and :func:`curve_figure`, the four
freeze-or-train cases (:data:`CASES`, :func:`case`, :func:`four_cases_figure`) and the parameter
count of a linear head (:func:`head_parameters`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


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
        if isinstance(self.budgets, (int, np.integer)) or not self.budgets or any(
                isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b <= 0
                for b in self.budgets):
            raise ValueError(f"{self.name!r}: budgets must be a non-empty list of positive "
                             f"integers, e.g. [32, 128]; got {self.budgets!r}")
        if sorted(set(self.budgets)) != list(self.budgets):
            raise ValueError(f"{self.name!r}: budgets must be increasing and distinct, got "
                             f"{list(self.budgets)}")
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


def advantage(transfer: Curve, scratch: Curve) -> list:
    """Transfer minus scratch, mean accuracy in percentage points per budget (0.1 rounded)."""
    _check_curves(transfer, scratch)
    if list(transfer.budgets) != list(scratch.budgets):
        raise ValueError(f"the curves have different budgets ({transfer.budgets} vs "
                         f"{scratch.budgets}): run both with the same budgets")
    return [round(100 * float(a - b), 1) for a, b in zip(transfer.mean, scratch.mean, strict=True)]


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
         "new head first (base frozen), then fine-tune the whole base with a learning rate "
         "about 10 times smaller",
         "enough labels to adjust the features without overfitting; similar data means the "
         "start is already close",
         "a large learning rate wipes out what pretraining learned",
         ("fine-tuned",) * 6),
    Case("small-different", "small", "different",
         "keep only the early, generic blocks (frozen), drop the specialised upper ones, "
         "train a new head on the earlier features - or train a small model from scratch",
         "edges and strokes still transfer; the upper blocks describe the wrong world, and "
         "there are too few labels to re-learn them",
         "the hardest case: transfer may not pay at all (negative transfer)",
         ("frozen",) * 4 + ("dropped",) * 2),
    Case("large-different", "large", "different",
         "use the pretrained weights only as a starting point: new head first, then "
         "fine-tune everything (or train from scratch; compare both)",
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


# ---- saved from the lessons by tools/save_cells.py: edit the cells there, not here ----


# Defined in notebooks/01_transfer_learning_concepts.ipynb, section "The experiment, written out"
def choose_on_validation(model, grid, x, y, folds=3):
    """Fit the scikit-learn ``model`` on the labelled rows ``x``, ``y`` with the setting of
    ``grid`` (e.g. ``{"C": [1.0, 10.0]}``) that scores best on validation folds carved from
    those rows (stratified cross-validation), refitted on all of them. The test set plays no
    part. Returns the fitted search: ``.best_params_`` is the choice, ``.cv_results_`` holds
    every validation score, ``.score(x_test, y_test)`` scores the chosen model."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from threadpoolctl import threadpool_limits

    smallest = int(np.unique(np.asarray(y), return_counts=True)[1].min())
    if smallest < 2:
        raise ValueError(f"a class has only {smallest} labelled example: validation folds need "
                         "at least 2 per class (draw more labels)")
    folds = StratifiedKFold(min(folds, smallest), shuffle=True, random_state=0)
    # small fits run as fast on one thread, and several BLAS threads crawl on a busy CPU
    with threadpool_limits(limits=1, user_api="blas"):
        return GridSearchCV(model, grid, cv=folds).fit(x, y)


# Defined in notebooks/01_transfer_learning_concepts.ipynb, section "The experiment, written out"
def linear_probe(x_pool, y_pool, x_test, y_test, Cs=(1.0, 10.0)):
    """A scorer for frozen features: ``score(idx)`` trains a logistic-regression head on the
    pool rows ``idx``, its C chosen among ``Cs`` on validation folds of those rows, and returns
    its accuracy on the test rows. ``score.chosen`` lists the C that each call chose."""
    from sklearn.linear_model import LogisticRegression

    x_pool, y_pool, x_test, y_test = (np.asarray(a) for a in (x_pool, y_pool, x_test, y_test))
    if x_pool.ndim != 2 or x_test.ndim != 2 or x_pool.shape[1] != x_test.shape[1]:
        raise ValueError(f"features must be 2-D with the same width (pool {x_pool.shape}, "
                         f"test {x_test.shape}): flatten or pool them first")
    if len(x_pool) != len(y_pool) or len(x_test) != len(y_test) or len(y_test) == 0:
        raise ValueError(f"one label per row and a test set: pool {len(x_pool)} rows for "
                         f"{len(y_pool)} labels, test {len(x_test)} rows for {len(y_test)}")
    Cs = [float(c) for c in np.atleast_1d(Cs)]
    if not Cs or min(Cs) <= 0:
        raise ValueError(f"Cs must be positive numbers, e.g. (1.0, 10.0); got {Cs!r}")

    def score(idx):
        head = choose_on_validation(LogisticRegression(max_iter=2000), {"C": Cs},
                                    x_pool[idx], y_pool[idx])
        score.chosen.append(head.best_params_["C"])
        return float(head.score(x_test, y_test))  # the test rows, once

    score.chosen = []
    return score


# Defined in notebooks/01_transfer_learning_concepts.ipynb, section "The experiment, written out"
def budget_curve(name, scorer, y_pool, budgets, draws=3, seed=0, per_class=False, progress=True):
    """Score ``scorer`` at every label budget over several random draws of the labelled rows.

    ``draws``: an int, or a dict ``{budget: draws}`` (1 for a budget it does not name); a
    budget equal to the whole pool is drawn once. ``per_class``: a budget counts examples of
    every class (``draw_per_class``) instead of examples in all (``draw_labelled``)."""
    if not callable(scorer):
        raise ValueError("scorer must be a function idx -> test accuracy (see linear_probe)")
    if not isinstance(budgets, (list, tuple)) or not budgets or not all(
            isinstance(b, int) and not isinstance(b, bool) and b > 0 for b in budgets) or             sorted(set(budgets)) != list(budgets):
        raise ValueError(f"budgets must be increasing positive integers, e.g. [32, 128]; got "
                         f"{budgets!r}")
    y_pool, start, scores = np.asarray(y_pool), time.perf_counter(), []
    draw = draw_per_class if per_class else draw_labelled
    for budget in budgets:
        n_draws = draws.get(budget, 1) if isinstance(draws, dict) else draws
        if isinstance(n_draws, bool) or not isinstance(n_draws, int) or n_draws < 1:
            raise ValueError(f"draws must be a positive integer or a dict of them, got {draws!r}")
        if not per_class and budget == len(y_pool):
            n_draws = 1  # every draw of the whole pool is the same
        row = [float(scorer(draw(y_pool, budget, seed + j))) for j in range(n_draws)]
        scores.append(row)
        if progress:
            print(f"  {name}: {budget} {'per class' if per_class else 'labels'} -> "
                  f"{100 * np.mean(row):.1f}% (mean of {n_draws} draws)", flush=True)
    return Curve(name, list(budgets), scores, per_class, time.perf_counter() - start)
