"""Lesson 01's exercise checks (tlcourse.checks.lesson01): each refuses the guesses a learner
could make without running anything, and accepts the right answer."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from tlcourse.checks import lesson01 as checks
from tlcourse.experiments import choose_on_validation


# --------------------------------------------------------------------------- Exercises 1, 2, 6
@pytest.mark.parametrize("guess", ["small-similar", "large-different", "large-similar", "",
                                   "different", ..., None, 0, ["small", "different"]])
def test_exercise_1_refuses(guess):
    assert not checks.check(1, guess)


def test_exercise_1_accepts():
    assert checks.check(1, "small-different")


@pytest.mark.parametrize("guess", [12_800, 1_280, 10, 1_290, 2_257_984, 385, 0, 12_810.5, True,
                                   "12810", ..., [0, 1]])
def test_exercise_2_refuses(guess):
    assert not checks.check(2, guess)


def test_exercise_2_accepts():
    assert checks.check(2, 1280 * 10 + 10)


@pytest.mark.parametrize("guess", [["fine-tuning", "self-supervised", "sequential"],
                                   ["domain adaptation", "fine-tuning", "sequential"],
                                   ["domain adaptation", "self-supervised", "fine-tuning"],
                                   ["domain adaptation", "self-supervised"], "domain adaptation",
                                   ..., [0, 1, 2]])
def test_exercise_6_refuses(guess):
    assert not checks.check(6, guess)


def test_exercise_6_accepts():
    assert checks.check(6, ["domain adaptation", "self-supervised", "sequential"])


# --------------------------------------------------------------------------- Exercise 3
def centroid_scorer(x_pool, y_pool, x_test, y_test):
    x_pool, y_pool = np.asarray(x_pool), np.asarray(y_pool)
    x_test, y_test = np.asarray(x_test), np.asarray(y_test)

    def score(idx):
        classes = np.unique(y_pool[idx])
        centroids = np.stack([x_pool[idx][y_pool[idx] == c].mean(0) for c in classes])
        nearest = np.linalg.norm(x_test[:, None] - centroids[None], axis=-1).argmin(1)
        return float(np.mean(classes[nearest] == y_test))

    return score


def stub(x_pool, y_pool, x_test, y_test):  # the learner's cell as given
    def score(idx):
        ...

    return score


def whole_pool(x_pool, y_pool, x_test, y_test):  # ignores the draw
    score = centroid_scorer(x_pool, y_pool, x_test, y_test)
    return lambda idx: score(np.arange(len(y_pool)))


def percent(x_pool, y_pool, x_test, y_test):
    score = centroid_scorer(x_pool, y_pool, x_test, y_test)
    return lambda idx: 100 * score(idx)


def constant(x_pool, y_pool, x_test, y_test):
    return lambda idx: 0.9


@pytest.mark.parametrize("guess", [stub, whole_pool, percent, constant, ..., None, 0.9,
                                   "centroid_scorer", centroid_scorer(np.zeros((3, 2)), [0, 1, 2],
                                                                      np.zeros((1, 2)), [0])])
def test_exercise_3_refuses(guess):
    assert not checks.check(3, guess)


def test_exercise_3_accepts():
    assert checks.check(3, centroid_scorer)


# --------------------------------------------------------------------------- Exercise 4
def make_scorer(vectoriser):
    def scorer(texts_pool, y_pool, texts_test, y_test, Cs=(1.0, 10.0)):
        texts_pool, y_pool = np.asarray(texts_pool, dtype=object), np.asarray(y_pool)

        def score(idx):
            model = make_pipeline(vectoriser(), LogisticRegression(max_iter=2000))
            fitted = choose_on_validation(model, {"logisticregression__C": list(Cs)},
                                          list(texts_pool[idx]), y_pool[idx])
            return float(fitted.score(texts_test, y_test))

        return score

    return scorer


char_scorer = make_scorer(lambda: TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5),
                                                  sublinear_tf=True))
word_scorer = make_scorer(lambda: TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True))  # unchanged
chars_everywhere = make_scorer(lambda: TfidfVectorizer(analyzer="char", ngram_range=(2, 5),
                                                       sublinear_tf=True))


def char_stub(texts_pool, y_pool, texts_test, y_test, Cs=(1.0, 10.0)):
    ...  # the learner's cell as given


@pytest.mark.parametrize("guess", [char_stub, word_scorer, chars_everywhere, ..., None,
                                   "char_scorer", 1.0])
def test_exercise_4_refuses(guess):
    assert not checks.check(4, guess)


def test_exercise_4_accepts():
    assert checks.check(4, char_scorer)


# --------------------------------------------------------------------------- Exercise 5
@pytest.fixture(scope="module")
def features():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=400)
    x = rng.normal(size=(400, 20)) + 0.4 * y[:, None] * rng.normal(size=20)
    return x[:300], y[:300], x[300:], y[300:], np.arange(128)


def test_exercise_5_accepts_the_validation_choice_and_only_then_scores_the_test(features, capsys):
    x, y, xt, yt, idx = features
    table = checks.validation_table(x, y, idx)
    best = max(table, key=table.get)
    assert checks.check(5, (best, table[best]), x, y, xt, yt, idx)
    assert "test accuracy, touched once" in capsys.readouterr().out


def test_exercise_5_refuses(features, capsys):
    x, y, xt, yt, idx = features
    table = checks.validation_table(x, y, idx)
    best = max(table, key=table.get)
    worst = min(table, key=table.get)
    assert table[worst] < table[best]  # the grid matters on these features
    guesses = [(1.0, 0.7), (best, 0.5), (best, round(table[best], 1) + 0.05), (worst, table[worst]),
               (3.0, table[best]), (best, None), best, 0, [0, 1], ..., None, (True, table[best])]
    for guess in guesses:
        assert not checks.check(5, guess, x, y, xt, yt, idx), guess
    assert "touched once" not in capsys.readouterr().out  # no test score for a refused answer


def test_check_numbers():
    with pytest.raises(ValueError, match="1 to 6"):
        checks.check(7, None)
    with pytest.raises(ValueError, match="1 to 6"):
        checks.check(True, None)


def test_no_answer_appears_in_the_lesson_before_its_exercise():
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "notebooks" / "01_transfer_learning_concepts.ipynb"
    cells = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]
    before = "\n".join(cells[:next(i for i, c in enumerate(cells) if c.startswith("## Exercises"))])
    for answer in ("12,810", "12810", "12_810", "1280 * 10", '"domain adaptation", "self-supervised"',
                   "def centroid", "char_wb", "C_GRID"):
        assert answer not in before, answer
