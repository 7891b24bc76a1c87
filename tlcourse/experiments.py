"""Lesson 01's label-budget experiment, saved from it (lesson 07 reruns it on its own images):
drawing labelled rows, settings chosen on validation folds, the linear probe, the budget loop."""

from __future__ import annotations  # noqa: I001 (the saved cells follow the imports directly)

import time
from dataclasses import dataclass

import numpy as np


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
def draw_labelled(y, n, seed=0):
    """Indices of ``n`` rows drawn at random from labels ``y``, stratified (every class keeps its
    share and appears at least once); ``n == len(y)`` gives all of them, in order."""
    y = check_labels(y)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if n > len(y):
        raise ValueError(f"n={n} but the pool holds only {len(y)} examples: use a smaller budget")
    if n < len(np.unique(y)):
        raise ValueError(f"n={n} is smaller than the number of classes ({len(np.unique(y))}): "
                         "every class needs at least one labelled example")
    if n == len(y):
        return np.arange(len(y))
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(np.arange(len(y)), train_size=int(n), stratify=y, random_state=int(seed))
    return np.sort(idx)


def draw_per_class(y, k, seed=0):
    """Indices of exactly ``k`` random rows of every class in ``y``."""
    y, rng = check_labels(y), np.random.default_rng(int(seed))
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ValueError(f"k must be a positive integer (examples per class), got {k!r}")
    out = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        if len(members) < k:
            raise ValueError(f"class {c} has only {len(members)} examples, fewer than k={k}")
        out.append(rng.choice(members, k, replace=False))
    return np.sort(np.concatenate(out))


def check_labels(y):
    y = np.asarray(y)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {y.shape}")
    return y


@dataclass
class Curve:
    """One method's test accuracies at several label budgets: ``scores[i]`` holds one accuracy
    per draw at ``budgets[i]``. ``per_class``: a budget counts labels per class, not in all."""

    name: str
    budgets: list
    scores: list
    per_class: bool = False
    seconds: float = 0.0

    def __post_init__(self):
        if len(self.budgets) != len(self.scores) or not self.budgets:
            raise ValueError(f"{self.name!r}: need one list of scores per budget "
                             f"({len(self.budgets)} budgets, {len(self.scores)} score lists)")
        if any(np.ndim(s) != 1 or len(s) == 0 for s in self.scores):
            raise ValueError(f"{self.name!r}: every budget needs at least one score, in a 1-D list")
        if not all(0.0 <= float(v) <= 1.0 for s in self.scores for v in s):
            raise ValueError(f"{self.name!r}: scores are accuracies, fractions from 0 to 1 "
                             "(not percent, not NaN)")

    @property
    def mean(self):
        return np.array([float(np.mean(s)) for s in self.scores])

    @property
    def std(self):
        return np.array([float(np.std(s)) for s in self.scores])

    def percent(self):
        """Mean accuracy per budget in percent, rounded to 0.1."""
        return [round(100 * m, 1) for m in self.mean]


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


# Defined in notebooks/01_transfer_learning_concepts.ipynb, section "The experiment, written out"
def same_budgets(curves):
    """The budgets the curves share; refuses anything else."""
    if not curves:
        raise ValueError("give at least one Curve")
    if not all(isinstance(c, Curve) for c in curves):
        raise TypeError(f"expected Curve objects (from budget_curve), got "
                        f"{[type(c).__name__ for c in curves]}")
    if any(list(c.budgets) != list(curves[0].budgets) for c in curves):
        raise ValueError(f"the curves have different budgets ({[c.budgets for c in curves]}): "
                         "run them with the same budgets")
    return list(curves[0].budgets)


def advantage(transfer, scratch):
    """Transfer minus scratch, mean accuracy in percentage points per budget (0.1 rounded)."""
    same_budgets([transfer, scratch])
    return [round(100 * float(a - b), 1) for a, b in zip(transfer.mean, scratch.mean, strict=True)]


def table(*curves):
    """One row per budget: every curve's mean +- std (percent), and the number of draws."""
    import pandas as pd

    rows = {"labels per class" if curves and curves[0].per_class else "labelled examples":
            same_budgets(curves)}
    for c in curves:
        rows[c.name] = [f"{100 * m:.1f} +- {100 * s:.1f}" for m, s in zip(c.mean, c.std, strict=True)]
    rows["draws"] = [len(s) for s in curves[0].scores]
    return pd.DataFrame(rows)


def curve_figure(*curves, title=None, chance=None, chance_label="chance"):
    """The curves' mean accuracy (percent) with a band of +- one standard deviation over the
    draws and, if given, a dotted line at the ``chance`` accuracy (a fraction)."""
    from tlcourse import plot

    budgets = same_budgets(curves)
    if chance is not None and not (isinstance(chance, (int, float)) and 0 <= chance <= 1):
        raise ValueError(f"chance must be an accuracy between 0 and 1 (a fraction), got {chance!r}")
    fig = plot.learning_curves(
        budgets, {c.name: list(100 * c.mean) for c in curves}, ylabel="test accuracy (%)",
        xlabel="labelled examples per class" if curves[0].per_class else "labelled examples",
        title=title)
    ax = fig.axes[0]
    for i, c in enumerate(curves):
        ax.fill_between(budgets, 100 * (c.mean - c.std), 100 * (c.mean + c.std),
                        color=f"C{i}", alpha=0.15, lw=0)
    if chance is not None:
        ax.axhline(100 * chance, ls=":", color="0.4", label=chance_label)
        ax.legend()
    return fig
