"""The self-check every exercise is built on (:func:`check`), the numbered dispatcher of a
lesson's checks, the refusal of an answer that is not a function, and the shared check of a
choice made on validation."""

from __future__ import annotations

import math


def _equal(answer, expected, tol) -> bool:
    # NumPy arrays and scalars compare as their Python lists and numbers (shape by shape)
    answer, expected = (v.tolist() if hasattr(v, "tolist") and not isinstance(v, str) else v
                        for v in (answer, expected))
    if isinstance(expected, str):
        return isinstance(answer, str) and answer.strip().lower() == expected.strip().lower()
    if isinstance(expected, bool) or isinstance(answer, bool):
        return isinstance(answer, bool) and answer == expected
    if isinstance(expected, (int, float)):
        try:
            value = float(answer)
        except (TypeError, ValueError):
            return False
        return math.isclose(value, float(expected), rel_tol=0.0, abs_tol=tol)
    if isinstance(expected, (list, tuple, set, frozenset)):
        try:
            if isinstance(expected, (set, frozenset)):
                return set(answer) == set(expected)
            return len(answer) == len(expected) and all(
                _equal(a, e, tol) for a, e in zip(answer, expected, strict=True))
        except TypeError:
            return False
    return answer == expected


def check(exercise: str, answer, expected=None, *, validate=None, tol: float = 0.0,
          hint: str = "") -> bool:
    """Print and return whether ``answer`` is right (a wrong answer never raises). Give
    ``expected`` (numbers within ``tol``, strings case-insensitively, lists element-wise) or
    ``validate``, a function of the answer returning True, False or what is wrong."""
    if not isinstance(exercise, str) or not exercise:
        raise TypeError(f"exercise must be the exercise's name (a str), got {exercise!r}")
    if (expected is None) == (validate is None):
        raise ValueError("give exactly one of expected=... or validate=...")
    if validate is not None and not callable(validate):
        raise TypeError(f"validate must be a function of the answer, got {validate!r}")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol >= 0:
        raise ValueError(f"tol must be a number >= 0 (the allowed difference), got {tol!r}")
    if answer is None or answer is Ellipsis:
        print(f"[ ] {exercise}: not answered yet - replace the ... in the cell above and run "
              f"this cell again.")
        return False
    if validate is not None:
        try:
            verdict = validate(answer)
        except Exception as exc:  # a malformed answer is a wrong answer, with the reason
            verdict = f"your answer could not be checked ({type(exc).__name__}: {exc})"
    else:
        verdict = _equal(answer, expected, tol)
    if verdict is True:
        print(f"[ok] {exercise}: correct!")
        return True
    reason = f" {verdict}" if isinstance(verdict, str) and verdict else ""
    print(f"[x] {exercise}: not yet.{reason}" + (f" Hint: {hint}" if hint else ""))
    return False


def numbered(lesson: str, *exercises):
    """The ``check(N, answer, ...)`` of a lesson whose Exercise N is checked by
    ``exercises[N - 1]``; the lesson's data a check needs follow the answer."""
    found = dict(enumerate(exercises, start=1))

    def check(number: int, answer, *context) -> bool:
        if isinstance(number, bool) or number not in found:
            raise ValueError(f"lesson {lesson} has Exercises 1 to {len(found)}, got {number!r}")
        return found[number](answer, *context)

    check.__doc__ = (f"``check(N, answer, ...)``: the self-check of lesson {lesson}'s Exercise N "
                     f"(1-{len(found)}), with the lesson's data it needs after the answer "
                     "(see ``exercise_N``).")
    return check


def validation_pick_problem(summary, key, accuracy, label: str, min_spread: float):
    """Why ``(key, accuracy)`` is not a choice made on validation, or None. ``summary`` is a
    table of the options (index) with columns ``val_mean`` and ``val_std`` over seeds: ``key``
    must be an option, ``accuracy`` its mean, and ``key`` within the seed spread (at least
    ``min_spread``) of the best mean. ``label`` names the choice in the messages."""
    if key not in summary.index:
        return f"{label} was not measured; choose one of {list(summary.index)}"
    try:
        accuracy = float(accuracy)
    except (TypeError, ValueError):
        return f"the accuracy must be a number, got {accuracy!r}"
    mean = float(summary.loc[key, "val_mean"])
    if abs(accuracy - mean) > 5e-4:
        return f"the mean validation accuracy of {label} is not {accuracy}: read it from the table"
    best = summary["val_mean"].idxmax()
    spread = max(float(summary.loc[best, "val_std"]), float(summary.loc[key, "val_std"]), min_spread)
    if mean < float(summary.loc[best, "val_mean"]) - spread:
        return (f"{label} is worse on validation than {best!r} by more than the seed spread: "
                "choose among the best")
    return None


def needs_function(name: str, validate):
    """``validate`` for an answer that must be the learner's function ``name``: anything else
    (the function's result, ``...``) is refused with the fix before ``validate`` runs."""
    def checked(fn):
        if not callable(fn):
            return f"give the function itself ({name}, no parentheses), got {type(fn).__name__}"
        return validate(fn)

    return checked


def choice_on_validation(exercise, answer, summary, test_score, label, min_spread, hint,
                         touched: str = "test accuracy") -> bool:
    """The check of a choice made on validation: ``answer = (option, mean validation score)``
    read from ``summary`` (a table with ``val_mean`` and ``val_std`` over seeds, a dict option ->
    score, or a function returning either; a missing spread counts as ``min_spread``) within the
    spread of the best (:func:`validation_pick_problem`). Only then is ``test_score(option)``
    called, once, and printed as the ``touched`` score; ``label(option)`` names the option."""
    import pandas as pd

    def validate(pair):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2 or isinstance(pair[0], bool):
            return "answer with a pair: (your choice, its mean validation score)"
        table = summary() if callable(summary) else summary
        table = pd.DataFrame({"val_mean": table}) if isinstance(table, dict) else table
        table = table.assign(val_std=table.get("val_std", 0.0)).fillna({"val_std": 0.0})
        problem = validation_pick_problem(table, pair[0], pair[1], label(pair[0]), min_spread)
        if problem:
            return problem
        score = test_score(pair[0])
        shown = score if isinstance(score, str) else f"{float(score):.4f}"
        print(f"    your choice: {label(pair[0])}; {touched}, touched once: {shown} "
              f"(validation said {table.loc[pair[0], 'val_mean']:.4f})")
        return True

    return check(exercise, answer, validate=validate, hint=hint)
