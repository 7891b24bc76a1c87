"""tools/save_cells.py: cells marked #@save in a lesson are the one source of the package copy."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import save_cells  # noqa: E402


def _notebook(path: Path, cells):
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = {"cells": [{"cell_type": kind, "metadata": {}, "source": text} for kind, text in cells],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    path.write_text(json.dumps(nb))
    return path


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "tlcourse").mkdir()
    module = tmp_path / "tlcourse" / "helpers.py"
    module.write_text('"""Helpers."""\n\nimport math\n\n' + save_cells.SAVED_MARK + "\nstale = 1\n")
    first = _notebook(tmp_path / "notebooks" / "01_a.ipynb", [
        ("markdown", "## 2. Squares"),
        ("code", "#@save helpers\ndef square(x):\n    return x * x"),
        ("code", "square(3)"),
    ])
    second = _notebook(tmp_path / "notebooks" / "02_b.ipynb", [
        ("markdown", "# Lesson\n### Roots"),
        ("code", "#@save helpers\ndef root(x):\n    return math.sqrt(x)\n"),
    ])
    return tmp_path, module, [first, second]


def test_saved_cells_are_written_in_lesson_order_under_their_origin(tree):
    root, module, paths = tree
    assert save_cells.sync(check=True, paths=paths, root=root) == ["tlcourse/helpers.py"]
    assert save_cells.sync(paths=paths, root=root) == ["tlcourse/helpers.py"]
    text = module.read_text()
    assert text.startswith('"""Helpers."""\n\nimport math\n')  # the hand-written head is kept
    assert "stale = 1" not in text and "#@save" not in text
    assert text.index('notebooks/01_a.ipynb, section "2. Squares"') < text.index("def square")
    assert text.index("def square") < text.index('notebooks/02_b.ipynb, section "Roots"') < text.index("def root")
    namespace = {}
    exec(compile(text, "helpers.py", "exec"), namespace)  # the module runs: the copy is real code
    assert namespace["square"](3) == 9 and namespace["root"](16) == 4
    assert save_cells.sync(check=True, paths=paths, root=root) == []  # in step now


def test_a_change_in_the_lesson_is_drift_until_saved(tree):
    root, module, paths = tree
    save_cells.sync(paths=paths, root=root)
    _notebook(paths[0], [("code", "#@save helpers\ndef square(x):\n    return x ** 2")])
    assert save_cells.sync(check=True, paths=paths, root=root) == ["tlcourse/helpers.py"]
    module.write_text(module.read_text().replace("x ** 2", "x * x"))  # an edit of the copy
    assert save_cells.sync(check=True, paths=paths, root=root) == ["tlcourse/helpers.py"]


def test_marker_without_a_module_or_missing_target_is_refused(tree):
    root, _, paths = tree
    bad = _notebook(root / "notebooks" / "03_c.ipynb", [("code", "#@save\nx = 1")])
    with pytest.raises(SystemExit, match="write the target module"):
        save_cells.saved_cells([bad], root)
    missing = _notebook(root / "notebooks" / "04_d.ipynb", [("code", "#@save nowhere\nx = 1")])
    with pytest.raises(SystemExit, match="does not exist"):
        save_cells.sync(check=True, paths=[missing], root=root)
    (root / "tlcourse" / "nomark.py").write_text('"""No mark."""\n')
    nomark = _notebook(root / "notebooks" / "05_e.ipynb", [("code", "#@save nomark\nx = 1")])
    with pytest.raises(SystemExit, match="has no line"):
        save_cells.sync(check=True, paths=[nomark], root=root)


def test_the_course_package_matches_its_lessons():
    assert save_cells.main(["--check"]) == 0
