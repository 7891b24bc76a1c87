"""Self-checks of lesson 01's exercises (transfer-learning concepts): each runs the learner's
code where it is code; ``check(N, answer, ...)`` calls Exercise N's (:func:`tlcourse.exercises.check`)."""

from __future__ import annotations

import numpy as np

from ..exercises import check as _check
from ..exercises import choice_on_validation, needs_function, numbered

#: Exercise 6: the kinds of transfer of the three scenarios, in order
KINDS = ("domain adaptation", "self-supervised", "sequential")
#: Exercise 5: the grid of regularisation strengths and the validation folds the lesson gives
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
FOLDS = 5


def exercise_1(answer) -> bool:
    """Exercise 1: the case of 400 chest X-rays for an ImageNet network."""
    return _check("Exercise 1", answer, expected="small-different",
                  hint="400 is few for a deep network; are X-rays like ImageNet photos?")


def exercise_2(answer) -> bool:
    """Exercise 2: trainable parameters of a 10-class linear head on 1,280 features."""
    def validate(value):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            return f"answer with a whole number of parameters, got {value!r}"
        return int(value) == 1280 * 10 + 10  # a weight per feature and class, a bias per class

    return _check("Exercise 2", answer, validate=validate,
                  hint="features x classes, plus one bias per class")


def _centroid_data(seed: int):
    """Features of 3 classes in 6 dimensions; the pool rows that the draws leave out are
    shifted, so a scorer that reads rows outside ``idx`` gets another accuracy."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.0, size=(3, 6))
    y_pool = np.repeat(np.arange(3), 30)
    x_pool = centres[y_pool] + rng.normal(0, 1.2, size=(90, 6))
    y_test = rng.integers(0, 3, size=120)
    x_test = centres[y_test] + rng.normal(0, 1.2, size=(120, 6))
    draws = [np.sort(np.concatenate([rng.choice(np.flatnonzero(y_pool == c), k, replace=False)
                                     for c in range(3)])) for k in (2, 5, 12)]
    outside = np.setdiff1d(np.arange(90), np.concatenate(draws))
    x_pool[outside] += rng.normal(0, 3.0, size=(1, 6))  # rows no draw uses: off-centre
    return x_pool, y_pool, x_test, y_test, draws


def _centroid_accuracy(x_pool, y_pool, x_test, y_test, idx) -> float:
    from sklearn.neighbors import NearestCentroid

    return float(NearestCentroid().fit(x_pool[idx], y_pool[idx]).score(x_test, y_test))


def exercise_3(centroid_scorer) -> bool:
    """Exercise 3: ``centroid_scorer(x_pool, y_pool, x_test, y_test)`` -> ``score(idx)``, run
    on two data sets of the check's own and three draws each, compared with the rule."""
    def validate(fn):
        for seed in (3, 4):
            x_pool, y_pool, x_test, y_test, draws = _centroid_data(seed)
            score = fn(x_pool.copy(), y_pool.copy(), x_test.copy(), y_test.copy())
            if not callable(score):
                return f"centroid_scorer(...) must return the function score(idx), got {score!r}"
            for idx in draws:
                got = score(idx)
                if got is None or got is Ellipsis:
                    return "score(idx) returns nothing yet: compute and return the test accuracy"
                want = _centroid_accuracy(x_pool, y_pool, x_test, y_test, idx)
                if not isinstance(got, (int, float, np.floating)) or not abs(float(got) - want) < 1e-9:
                    return (f"with {len(idx)} drawn rows, score(idx) gave {got!r}; nearest centroid "
                            f"of the drawn rows gives {want:.4f} (use only the rows idx, and "
                            "return a fraction, not percent)")
        return True

    return _check("Exercise 3", centroid_scorer, validate=needs_function("centroid_scorer", validate),
                  hint="classes = np.unique(y_pool[idx]); one mean per class over x_pool[idx]; "
                       "squared distances of every test row to every centroid, argmin")


_POSITIVE = ("master", "brilliant", "delight", "charm", "wonder", "gorgeous")
_NEGATIVE = ("tedious", "clums", "bor", "mess", "dread", "lifeless")
_FILLER = ("the", "film", "plot", "cast", "story", "it", "is", "was", "this", "a")
_TRAIN_END = ("", "s", "ful")
_TEST_END = ("fully", "ingly", "ness")


def _char_data(seed: int = 0):
    """Snippets whose sentiment words appear in the test snippets only with other endings:
    word counts learn nothing that carries over, character pieces do."""
    rng = np.random.default_rng(seed)

    def snippets(n, endings):
        texts, labels = [], []
        for i in range(n):
            label = i % 2
            stems = _POSITIVE if label else _NEGATIVE
            words = [str(rng.choice(stems)) + str(rng.choice(endings)) for _ in range(2)]
            words += [str(w) for w in rng.choice(_FILLER, 4)]
            rng.shuffle(words)
            texts.append(" ".join(words))
            labels.append(label)
        return texts, np.array(labels)

    return (*snippets(60, _TRAIN_END), *snippets(80, _TEST_END))


def _char_reference(texts_pool, y_pool, texts_test, y_test, Cs=(1.0, 10.0)):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from ..experiments import choose_on_validation

    texts_pool, y_pool = np.asarray(texts_pool, dtype=object), np.asarray(y_pool)

    def score(idx):
        model = make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5),
                                              sublinear_tf=True),
                              LogisticRegression(max_iter=2000))
        fitted = choose_on_validation(model, {"logisticregression__C": list(Cs)},
                                      list(texts_pool[idx]), y_pool[idx])
        return float(fitted.score(texts_test, y_test))

    return score


def exercise_4(char_scorer) -> bool:
    """Exercise 4: ``char_scorer(texts_pool, y_pool, texts_test, y_test)`` -> ``score(idx)``
    (TF-IDF of character 2- to 5-grams, C chosen on validation), run on snippets of the
    check's own and compared with the rule on three draws."""
    def validate(fn):
        texts_pool, y_pool, texts_test, y_test = _char_data()
        score = fn(list(texts_pool), y_pool.copy(), list(texts_test), y_test.copy())
        if not callable(score):
            return f"char_scorer(...) must return the function score(idx), got {score!r}"
        reference = _char_reference(texts_pool, y_pool, texts_test, y_test)
        rng = np.random.default_rng(5)
        for n in (12, 24, 60):
            idx = np.sort(np.concatenate([rng.choice(np.flatnonzero(y_pool == c), n // 2,
                                                     replace=False) for c in (0, 1)]))
            got, want = score(idx), reference(idx)
            if got is None or got is Ellipsis:
                return "score(idx) returns nothing yet"
            if not isinstance(got, (int, float, np.floating)) or not abs(float(got) - want) < 1e-9:
                return (f"with {n} drawn snippets, score(idx) gave {got!r}, character n-grams "
                        f"give {want:.4f}: change only the vectoriser of tfidf_scorer")
        print(f"    on the check's snippets, where test words never occur in training: "
              f"{want:.1%} with {n} labels")
        return True

    return _check("Exercise 4", char_scorer, validate=needs_function("char_scorer", validate),
                  hint='TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True) '
                       "in place of the word vectoriser; everything else as in tfidf_scorer")


def validation_table(x_pool, y_pool, idx) -> dict:
    """C -> mean accuracy of shuffled 5-fold stratified cross-validation on the rows ``idx``."""
    from sklearn.linear_model import LogisticRegression

    from ..experiments import choose_on_validation

    search = choose_on_validation(LogisticRegression(max_iter=2000), {"C": list(C_GRID)},
                                  np.asarray(x_pool)[idx], np.asarray(y_pool)[idx], folds=FOLDS)
    return dict(zip(C_GRID, search.cv_results_["mean_test_score"].tolist(), strict=True))


def exercise_5(answer, x_pool, y_pool, x_test, y_test, idx) -> bool:
    """Exercise 5: ``answer = (C, its mean validation accuracy)`` on the rows ``idx``, the best
    of the grid; only then is a head with that C scored on the test rows, once."""
    def test_score(C):
        from sklearn.linear_model import LogisticRegression

        x, y = np.asarray(x_pool)[idx], np.asarray(y_pool)[idx]
        return LogisticRegression(C=float(C), max_iter=2000).fit(x, y).score(x_test, y_test)

    return choice_on_validation(
        "Exercise 5", answer, lambda: validation_table(x_pool, y_pool, idx), test_score, "C={!r}".format,
        1e-9, hint="for C in C_GRID: cross_val_score(LogisticRegression(C=C, max_iter=2000), "
                   "pool_emb[draw_128], pool_y[draw_128], cv=folds).mean(); keep the best")


def exercise_6(answer) -> bool:
    """Exercise 6: the kinds of transfer of the three scenarios."""
    return _check("Exercise 6", answer, expected=list(KINDS),
                  hint="no target labels; labels made from the data itself; several stages")


check = numbered("01", exercise_1, exercise_2, exercise_3, exercise_4, exercise_5, exercise_6)
