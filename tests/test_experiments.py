"""tlcourse.experiments: the cells saved from lesson 01 (drawing labelled rows, curves, the
probe and the budget loop)."""

import numpy as np
import pytest

from tlcourse import experiments as ex


def test_draw_labelled_is_stratified_and_reproducible():
    y = np.array([0] * 60 + [1] * 40)
    idx = ex.draw_labelled(y, 10, seed=3)
    assert len(idx) == len(set(idx)) == 10
    assert sorted(np.bincount(y[idx])) == [4, 6]  # shares kept: 60/40
    assert np.array_equal(idx, ex.draw_labelled(y, 10, seed=3))
    assert not np.array_equal(idx, ex.draw_labelled(y, 10, seed=4))
    assert np.array_equal(ex.draw_labelled(y, 100), np.arange(100))  # the whole pool


@pytest.mark.parametrize("n, message", [(1, "number of classes"), (101, "only 100"),
                                        (0, "positive"), (2.5, "positive"), (True, "positive")])
def test_draw_labelled_refuses(n, message):
    with pytest.raises(ValueError, match=message):
        ex.draw_labelled(np.array([0, 1] * 50), n)


def test_draw_per_class():
    y = np.repeat(np.arange(3), 20)
    idx = ex.draw_per_class(y, 5, seed=1)
    assert list(np.bincount(y[idx])) == [5, 5, 5]
    assert np.array_equal(idx, ex.draw_per_class(y, 5, seed=1))
    with pytest.raises(ValueError, match="only 20"):
        ex.draw_per_class(y, 21)
    with pytest.raises(ValueError, match="positive"):
        ex.draw_per_class(y, 0)
    with pytest.raises(ValueError, match="1-D"):
        ex.draw_per_class(np.zeros((3, 3)), 1)


def test_budget_curve_draws_and_shares_draws_between_methods():
    y = np.array([0, 1] * 50)
    seen = {"a": [], "b": []}

    def scorer(name):
        def score(idx):
            seen[name].append(tuple(idx))
            return len(idx) / 100
        return score

    a = ex.budget_curve("a", scorer("a"), y, [4, 20, 100], {4: 3, 20: 2}, progress=False)
    b = ex.budget_curve("b", scorer("b"), y, [4, 20, 100], {4: 3, 20: 2}, progress=False)
    assert [len(s) for s in a.scores] == [3, 2, 1]  # not in the dict: 1; whole pool: 1
    assert seen["a"] == seen["b"] and b.mean.tolist() == a.mean.tolist()  # same draws
    assert len(set(seen["a"][:3])) == 3  # different draws at one budget
    assert a.mean.tolist() == [0.04, 0.2, 1.0] and a.std.tolist() == [0, 0, 0]
    assert a.percent() == [4.0, 20.0, 100.0] and a.seconds >= 0
    per_class = ex.budget_curve("p", lambda idx: 0.5, y, [2, 5], 2, per_class=True,
                                progress=False)
    assert per_class.per_class and [len(s) for s in per_class.scores] == [2, 2]


@pytest.mark.parametrize("budgets", [[], 32, [0, 4], [8, 4], [4, 4], [2.5]])
def test_budget_curve_refuses_bad_budgets(budgets):
    with pytest.raises(ValueError, match="budget"):
        ex.budget_curve("x", lambda idx: 0.5, np.array([0, 1] * 10), budgets, progress=False)


def test_budget_curve_refuses_bad_scorer_and_draws():
    y = np.array([0, 1] * 10)
    with pytest.raises(ValueError, match="scorer"):
        ex.budget_curve("x", 0.5, y, [4], progress=False)
    with pytest.raises(ValueError, match="draws"):
        ex.budget_curve("x", lambda idx: 0.5, y, [4], draws=0, progress=False)


def test_curve_summaries_advantage_and_table():
    t = ex.Curve("transfer", [32, 128, 1000], [[0.60, 0.64], [0.70], [0.75]])
    s = ex.Curve("scratch", [32, 128, 1000], [[0.55, 0.57], [0.66], [0.78]])
    assert np.allclose(t.mean, [0.62, 0.70, 0.75])
    assert ex.advantage(t, s) == [6.0, 4.0, -3.0]
    assert all(isinstance(v, float) for v in ex.advantage(t, s))
    frame = ex.table(t, s)
    assert list(frame.columns) == ["labelled examples", "transfer", "scratch", "draws"]
    assert frame["transfer"][0] == "62.0 +- 2.0" and list(frame["draws"]) == [2, 1, 1]
    with pytest.raises(ValueError, match="different budgets"):
        ex.advantage(t, ex.Curve("other", [32], [[0.5]]))
    with pytest.raises(ValueError, match="same budgets"):
        ex.table(t, ex.Curve("other", [32], [[0.5]]))
    with pytest.raises(ValueError, match="one list of scores per budget"):
        ex.Curve("bad", [32, 64], [[0.5]])
    with pytest.raises(ValueError, match="at least one score"):
        ex.Curve("bad", [32], [[]])


def test_linear_probe_learns_separable_features():
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 30)
    x = rng.normal(size=(60, 5)) + 4 * y[:, None]
    score = ex.linear_probe(x[:40], y[:40], x[40:], y[40:])
    assert score(np.arange(10)) == 1.0
    with pytest.raises(ValueError, match="same width"):
        ex.linear_probe(x, y, x[:, :3], y)
    with pytest.raises(ValueError, match="one label per row"):
        ex.linear_probe(x, y[:10], x, y)
    with pytest.raises(ValueError, match="Cs"):
        ex.linear_probe(x, y, x, y, Cs=(0.0,))


def test_curve_figure():
    t = ex.Curve("transfer", [10, 30], [[0.8, 0.82], [0.9]], per_class=True)
    s = ex.Curve("scratch", [10, 30], [[0.85], [0.93]], per_class=True)
    fig = ex.curve_figure(t, s, chance=0.1, title="digits")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "labelled examples per class"
    assert [line.get_label() for line in ax.get_lines()][-1] == "chance"
    with pytest.raises(ValueError, match="same budgets"):
        ex.curve_figure(t, ex.Curve("x", [10], [[0.5]]))


def test_linear_probe_chooses_C_on_validation_folds_of_the_draw_never_on_the_test_set():
    rng = np.random.default_rng(1)
    y = np.array([0, 1] * 60)
    x = rng.normal(size=(120, 8)) + 0.6 * y[:, None]
    Cs = (0.001, 0.1, 10.0)
    right = ex.linear_probe(x[:80], y[:80], x[80:], y[80:], Cs=Cs)
    flipped = ex.linear_probe(x[:80], y[:80], x[80:], 1 - y[80:], Cs=Cs)  # test labels reversed
    draws = [ex.draw_labelled(y[:80], 24, seed) for seed in range(4)]
    scores = [right(idx) for idx in draws]
    assert [flipped(idx) for idx in draws] == pytest.approx([1 - s for s in scores])
    assert right.chosen == flipped.chosen  # the test labels play no part in the choice
    assert set(right.chosen) <= set(Cs)
    outside = x[:80].copy()
    outside[np.setdiff1d(np.arange(80), draws[0])] = 1e6  # rows outside the draw: never read
    assert ex.linear_probe(outside, y[:80], x[80:], y[80:], Cs=Cs)(draws[0]) == scores[0]


def test_choose_on_validation_uses_folds_of_the_given_rows():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(2)
    y = np.array([0, 1, 2] * 10)
    x = rng.normal(size=(30, 4)) + y[:, None]
    search = ex.choose_on_validation(LogisticRegression(max_iter=500), {"C": [0.01, 1.0]}, x, y)
    assert search.best_params_["C"] in (0.01, 1.0) and search.n_splits_ == 3
    assert len(search.cv_results_["mean_test_score"]) == 2
    few = ex.choose_on_validation(LogisticRegression(), {"C": [1.0]}, x[:6], y[:6])
    assert few.n_splits_ == 2  # two examples per class: two folds
    with pytest.raises(ValueError, match="at least 2 per class"):
        ex.choose_on_validation(LogisticRegression(), {"C": [1.0]}, x[:4], y[:4])
