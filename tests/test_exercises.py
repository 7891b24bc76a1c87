import numpy as np
import pytest

from tlcourse.exercises import check


def test_unanswered_is_not_an_error(capsys):
    assert check("Ex 1", ..., expected=3) is False
    assert "not answered yet" in capsys.readouterr().out


@pytest.mark.parametrize(("answer", "expected", "tol", "ok"), [
    (3, 3, 0.0, True), (3.04, 3, 0.05, True), (3.2, 3, 0.05, False), ("3", 3, 0.0, True),
    ("abc", 3, 0.0, False), (" Fine-Tune ", "fine-tune", 0.0, True), (1, "1", 0.0, False),
    ([1, 2], [1, 2], 0.0, True), ([2, 1], [1, 2], 0.0, False), ({2, 1}, {1, 2}, 0.0, True),
    (True, True, 0.0, True), (1, True, 0.0, False),
    # NumPy answers: a correct array once got "not yet"
    (np.array([1, 2]), np.array([1, 2]), 0.0, True), (np.array([1, 2]), [1, 2], 0.0, True),
    (np.array([1.0, 2.01]), np.array([1, 2]), 0.05, True), (np.array([1, 3]), np.array([1, 2]), 0.0, False),
    (np.array([1, 2, 3]), np.array([1, 2]), 0.0, False), (np.float32(0.5), 0.5, 0.0, True),
])
def test_expected(answer, expected, tol, ok):
    assert check("Ex", answer, expected=expected, tol=tol) is ok


def test_validate_with_reason(capsys):
    assert check("Ex", 5, validate=lambda a: a > 3) is True
    assert check("Ex", 2, validate=lambda a: True if a > 3 else "too small", hint="think") is False
    out = capsys.readouterr().out
    assert "too small" in out and "Hint: think" in out
    assert check("Ex", None, validate=lambda a: a.foo) is False
    assert check("Ex", 1, validate=lambda a: a.foo) is False  # a crash is a wrong answer


def test_needs_exactly_one_reference():
    with pytest.raises(ValueError, match="exactly one"):
        check("Ex", 1)
    with pytest.raises(ValueError, match="exactly one"):
        check("Ex", 1, expected=1, validate=bool)


def test_validation_pick_problem_accepts_only_a_best_option_read_from_the_table():
    import pandas as pd

    from tlcourse.exercises import validation_pick_problem as problem

    table = pd.DataFrame({"val_mean": [0.90, 0.95, 0.948], "val_std": [0.01, 0.001, 0.001]},
                         index=["a", "b", "c"])
    assert problem(table, "b", 0.95, "b", 0.0025) is None
    assert problem(table, "c", 0.948, "c", 0.0025) is None  # within the seed spread of the best
    assert "worse on validation" in problem(table, "a", 0.90, "a", 0.0025)
    assert "read it from the table" in problem(table, "b", 0.9, "b", 0.0025)
    assert "not measured" in problem(table, "z", 0.95, "z", 0.0025)
    assert "must be a number" in problem(table, "b", "high", "b", 0.0025)
