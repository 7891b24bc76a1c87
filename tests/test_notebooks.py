"""House rules for every notebook (nbval executes them separately: `make notebooks`)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tlcourse import course

ROOT = Path(__file__).resolve().parents[1]
LESSONS = [name for name in course.LESSONS if name != "00_start_here.ipynb"]


def _cells(path):
    return json.loads(path.read_text())["cells"]


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


@pytest.mark.parametrize("name", list(course.LESSONS))
def test_lesson_exists_with_its_solutions(name):
    assert (ROOT / "notebooks" / name).is_file(), f"notebooks/{name} is missing"
    if name != "00_start_here.ipynb":
        assert (ROOT / "notebooks" / "solutions" / name).is_file(), f"solutions/{name} is missing"


def test_notebooks_are_stored_without_outputs():
    dirty = []
    for path in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        for cell in _cells(path):
            if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count")):
                dirty.append(path.relative_to(ROOT).as_posix())
                break
    assert not dirty, f"strip outputs (tools/sync_notebooks.py): {dirty}"


def test_badges_colab_cell_and_kernel_are_in_sync():
    out = subprocess.run([sys.executable, "tools/sync_notebooks.py", "--check"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_skeleton(name):
    path = ROOT / "notebooks" / name
    if not path.exists():
        pytest.fail(f"notebooks/{name} is missing")
    cells = _cells(path)
    markdown = "\n".join(_source(c) for c in cells if c["cell_type"] == "markdown")
    code = [_source(c) for c in cells if c["cell_type"] == "code"]
    assert course.badges(f"notebooks/{name}") in _source(cells[0])
    assert "google.colab" in code[0]
    assert "tlcourse.setup(" in code[1], "the first cell after the Colab cell calls tlcourse.setup()"
    for heading in ("## You will learn", "## Exercises", "## Summary", "## Going further"):
        assert heading in markdown, f"{name} lacks a '{heading}' section"
    checks = sum(bool(re.search(r"\bcheck\w*\(", c)) for c in code)  # check(...), check_x(...)
    assert checks >= 3, f"{name} has {checks} self-check cells; at least 3 exercises are needed"
    asserts = sum("assert " in c for c in code)
    assert asserts >= 3, f"{name} asserts too little of what it teaches ({asserts} cells)"


@pytest.mark.parametrize("name", LESSONS)
def test_solutions_prove_each_check(name):
    path = ROOT / "notebooks" / "solutions" / name
    if not path.exists():
        pytest.fail(f"notebooks/solutions/{name} is missing")
    code = "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "code")
    accepted = len(re.findall(r"assert\s+(?:\w+\.)?check\w*\(", code))
    rejected = len(re.findall(r"assert\s+not\s+(?:\w+\.)?check\w*\(", code))
    assert accepted >= 3 and rejected >= 3, (
        f"{name}: solutions must show each check accepting the right answer and rejecting a "
        f"wrong one ({accepted} accepted, {rejected} rejected)")


def test_readme_badges_match_the_notebooks():
    readme = (ROOT / "README.md").read_text()
    for name in course.LESSONS:
        assert course.badges(f"notebooks/{name}") in readme, f"README lacks the badges of {name}"


#: lessons written to the course's exercise rules: at least four exercises, each headed
#: "### Exercise N: title" with its kind on the next line; at least two in which the learner
#: writes or changes the lesson's code (the check runs it) and one decision made on validation
#: data; numbered sections; Summary, Going further and Credits each a cell of its own.
EXERCISE_RULES = ["01_transfer_learning_concepts.ipynb", "02_freezing_layers.ipynb", "03_mobilenetv2_mnist.ipynb",
                  "04_resnet50_imagenet.ipynb", "05_bert_sentiment.ipynb", "06_domain_adaptation.ipynb",
                  "07_your_own_images.ipynb"]
#: lessons where nothing is trained or chosen, so no exercise can decide on validation data
NO_VALIDATION_DECISION: dict[str, str] = {}
KINDS = ("write code", "change code", "decide on validation", "read and reason")
EXERCISE_RE = re.compile(r"\A### Exercise (\d+): \S.*\n\*Kind: ([a-z ]+)\*\s*$", re.M)


@pytest.mark.parametrize("name", EXERCISE_RULES)
def test_exercise_rules(name):
    cells = [c for c in _cells(ROOT / "notebooks" / name) if c["cell_type"] == "markdown"]
    texts = [_source(c) for c in cells]
    headed = [t for t in texts if t.startswith("### Exercise")]
    found = [EXERCISE_RE.match(t) for t in headed]
    bad = [t.splitlines()[0] for t, m in zip(headed, found, strict=True) if not m]
    assert not bad, f"{name}: write '### Exercise N: title' and then '*Kind: ...*' ({bad})"
    numbers = [int(m.group(1)) for m in found]
    kinds = [m.group(2) for m in found]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 4, (name, numbers)
    assert set(kinds) <= set(KINDS), f"{name}: kinds are {KINDS}, got {kinds}"
    assert sum(k in ("write code", "change code") for k in kinds) >= 2, (name, kinds)
    assert "decide on validation" in kinds or name in NO_VALIDATION_DECISION, (name, kinds)


@pytest.mark.parametrize("name", EXERCISE_RULES)
def test_numbered_sections_and_closing_cells(name):
    texts = [_source(c) for c in _cells(ROOT / "notebooks" / name) if c["cell_type"] == "markdown"]
    sections = [int(m.group(1)) for t in texts for m in re.finditer(r"^## (\d+)\. ", t, re.M)]
    assert sections == list(range(1, len(sections) + 1)) and sections, (name, sections)
    unnumbered = [m.group(1) for t in texts for m in re.finditer(r"^## (?!\d+\. )(.+)$", t, re.M)]
    assert unnumbered == ["You will learn", "Exercises", "Summary", "Going further", "Credits"], unnumbered
    for heading in ("## Summary", "## Going further", "## Credits"):
        assert sum(t.startswith(heading) for t in texts) == 1, f"{name}: '{heading}' starts its own cell"


@pytest.mark.parametrize("name", EXERCISE_RULES)
def test_lesson_and_solutions_share_the_packaged_checks(name):
    """The lesson and its solutions import the same tlcourse.checks.lessonNN and call its
    checks; the solutions define no check of their own."""
    module = f"lesson{name[:2]}"
    lesson, solutions = (
        "\n".join(_source(c) for c in _cells(ROOT / "notebooks" / sub / name) if c["cell_type"] == "code")
        for sub in ("", "solutions"))
    pattern = re.compile(rf"^from tlcourse\.checks import {module}(?: as (\w+))?$", re.M)
    found = [pattern.search(text) for text in (lesson, solutions)]
    assert all(found), f"{name}: lesson and solutions must import tlcourse.checks.{module}"
    calls = [set(re.findall(rf"\b{m.group(1) or module}\.(check\w*)\(", text))
             for m, text in zip(found, (lesson, solutions), strict=True)]
    assert calls[0] and calls[0] <= calls[1], (name, calls)
    assert not re.search(r"def (_ex|validate|check)\w*\(", solutions)


def _literal(lesson, name):
    """The value assigned to NAME in a code cell of LESSON (e.g. a table of cases)."""
    import ast
    for cell in _cells(ROOT / "notebooks" / lesson):
        if cell["cell_type"] != "code":
            continue
        try:
            tree = ast.parse(_source(cell))
        except SyntaxError:  # an IPython magic (%pip, !ls) makes a cell no Python module
            continue
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
                # the course's own source, evaluated without builtins: tuples like ("frozen",) * 6
                return eval(compile(ast.Expression(node.value), lesson, "eval"), {"__builtins__": {}})
    raise AssertionError(f"{lesson} assigns no literal {name}")


def test_lessons_01_and_02_agree_about_the_four_cases():
    """Lesson 01 draws the four cases on a base of six blocks; lesson 02 turns each into a freezing
    depth of MobileNetV2's 19 units, a learning rate and a cut. Same cases, same advice."""
    (concepts,) = [n for n in course.LESSONS if n.startswith("01_")]
    (freezing,) = [n for n in course.LESSONS if n.startswith("02_")]
    cases, plans = _literal(concepts, "CASES"), _literal(freezing, "FOUR_CASES")
    units = 19  # stem, 17 inverted-residual blocks, top
    assert len(cases) == len(plans) == 4
    for key, (recipe, _why, _risk, blocks) in cases.items():
        size, similarity = key.split("-")
        (plan,) = [p for k, p in plans.items() if k.startswith(f"{size} dataset, {similarity}")]
        frozen, rate, cut, _ = plan
        assert ("fine-tuned" in blocks) == (frozen < units), key
        assert (blocks == ("fine-tuned",) * 6) == (frozen == 0), key
        assert ("dropped" in blocks) == (cut is not None), key
        if cut is not None:  # the head reads unit N's output: stem, block_0 ... block_N kept
            kept = int(cut.split("_")[1]) + 2
            assert abs(blocks.count("frozen") - 6 * kept / units) <= 1, (key, kept)
        if frozen < units:  # fine-tuning the base: a learning rate smaller than the head's
            assert rate < max(p[1] for p in plans.values()) and "fine-tune" in recipe, key
