"""tlcourse.experiments: label-budget curves, scorers, the four cases (lesson 01)."""

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


def test_curve_summaries_advantage_crossover_and_table():
    t = ex.Curve("transfer", [32, 128, 1000], [[0.60, 0.64], [0.70], [0.75]])
    s = ex.Curve("scratch", [32, 128, 1000], [[0.55, 0.57], [0.66], [0.78]])
    assert np.allclose(t.mean, [0.62, 0.70, 0.75]) and np.allclose(t.low, [0.60, 0.70, 0.75])
    assert ex.advantage(t, s) == [6.0, 4.0, -3.0]
    assert all(isinstance(v, float) for v in ex.advantage(t, s))
    assert ex.crossover(t, s) == 1000
    assert ex.crossover(t, ex.Curve("weak", [32, 128, 1000], [[0.5], [0.5], [0.5]])) is None
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
    with pytest.raises(ValueError, match="must match"):
        ex.linear_probe(x, y[:10], x, y)
    with pytest.raises(ValueError, match="Cs"):
        ex.linear_probe(x, y, x, y, Cs=(0.0,))


def test_tfidf_scorer_learns_from_words_only_in_the_labelled_texts():
    pos = ["a great film", "great acting and a great story", "simply great"]
    neg = ["an awful film", "awful acting", "simply awful and dull"]
    texts = pos + neg
    y = np.array([1, 1, 1, 0, 0, 0])
    score = ex.tfidf_scorer(texts, y, ["great fun", "awful mess"], np.array([1, 0]))
    assert score(np.arange(6)) == 1.0
    with pytest.raises(ValueError, match="lists of strings"):
        ex.tfidf_scorer("a great film", y, texts, y)


def test_small_cnn_size_and_cnn_scorer_runs():
    assert ex.small_cnn().count_params() == 34_826
    assert ex.small_cnn(augment=False).count_params() == 34_826
    assert ex.small_cnn(n_classes=2).count_params() == 34_826 - 8 * 1600 - 8
    with pytest.raises(ValueError, match="input_shape"):
        ex.small_cnn((28, 28))
    with pytest.raises(ValueError, match="n_classes"):
        ex.small_cnn(n_classes=1)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(40, 28, 28), dtype=np.uint8)
    y = np.arange(40) % 10
    score = ex.cnn_scorer(x, y, x[:20], y[:20], steps=3, batch_size=8)
    acc = score(np.arange(20))
    assert 0.0 <= acc <= 1.0
    with pytest.raises(ValueError, match="same size"):
        ex.cnn_scorer(x, y, x[:, :20], y)
    with pytest.raises(ValueError, match="steps"):
        ex.cnn_scorer(x, y, x, y, steps=0)


def test_head_parameters():
    assert ex.head_parameters(384, 2) == 385  # binary: one output
    assert ex.head_parameters(1280, 10) == 12_810
    for bad in [(0, 10), (10, 1), (2.5, 3), (True, 3)]:
        with pytest.raises(ValueError):
            ex.head_parameters(*bad)


def test_cases_and_figure():
    assert set(ex.CASES) == {"small-similar", "large-similar", "small-different",
                             "large-different"}
    assert ex.case("small", "similar").blocks == ("frozen",) * 6
    assert "dropped" in ex.case("small", "different").blocks
    assert all(len(c.blocks) == 6 for c in ex.CASES.values())
    with pytest.raises(ValueError, match="size"):
        ex.case("tiny", "similar")
    with pytest.raises(ValueError, match="similarity"):
        ex.case("small", "same")
    fig = ex.four_cases_figure(marks={"small-similar": "here"})
    assert len(fig.axes) == 4
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "here" in texts and any("small dataset, different data" in t for t in texts)
    with pytest.raises(ValueError, match="unknown case"):
        ex.four_cases_figure(marks={"medium": "x"})


def test_curve_figure():
    t = ex.Curve("transfer", [10, 30], [[0.8, 0.82], [0.9]], per_class=True)
    s = ex.Curve("scratch", [10, 30], [[0.85], [0.93]], per_class=True)
    fig = ex.curve_figure(t, s, chance=0.1, title="digits")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "labelled examples per class"
    assert [line.get_label() for line in ax.get_lines()][-1] == "chance"
    with pytest.raises(ValueError, match="same budgets"):
        ex.curve_figure(t, ex.Curve("x", [10], [[0.5]]))


def test_linear_head():
    x = np.array([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.1]])
    y = np.array([1, 0, 1, 0])
    head = ex.linear_head(x, y, C=10.0)
    assert head.score(x, y) == 1.0 and head.coef_.size + head.intercept_.size == 3
    with pytest.raises(ValueError, match="2-D"):
        ex.linear_head(x[:, 0], y)
    with pytest.raises(ValueError, match="C must be a positive number"):
        ex.linear_head(x, y, C=-1.0)
