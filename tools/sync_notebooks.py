"""Normalise every notebook: badges in the first cell, the Colab install cell second, the
course kernel, and no outputs or execution counts.

Run after editing notebooks: `.venv/bin/python tools/sync_notebooks.py`. The tests check
that running it would change nothing (tests/test_notebooks.py).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tlcourse import course  # noqa: E402

BADGE_RE = re.compile(r"^\[!\[Open In Colab\].*$", re.M)


def normalise(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    rel = path.relative_to(ROOT).as_posix()
    first = nb.cells[0]
    if first.cell_type != "markdown" or not first.source.startswith("# "):
        raise SystemExit(f"{rel}: the first cell must be a markdown cell starting with '# Title'")
    badge = course.badges(rel)
    lines = first.source.split("\n")
    if BADGE_RE.search(first.source):
        first.source = BADGE_RE.sub(lambda _m: badge, first.source)
    else:
        first.source = "\n".join([lines[0], "", badge, *lines[1:]])
    second = nb.cells[1] if len(nb.cells) > 1 else None
    if second is None or second.cell_type != "code" or "google.colab" not in second.source:
        nb.cells.insert(1, nbformat.v4.new_code_cell(course.COLAB_CELL))
    else:
        second.source = course.COLAB_CELL
    for cell in nb.cells:
        cell.pop("id", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata = {k: v for k, v in cell.metadata.items() if k in ("tags",)}
    nb.metadata = {
        "kernelspec": dict(course.KERNEL),
        "language_info": {"name": "python"},
    }
    nb.nbformat, nb.nbformat_minor = 4, 4
    return nb


def notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").rglob("*.ipynb"))


def render(nb) -> str:
    return nbformat.writes(nb) + "\n"


def main(argv=None) -> int:
    check = "--check" in (argv or sys.argv[1:])
    stale = []
    for path in notebooks():
        if ".ipynb_checkpoints" in path.parts:
            continue
        text = render(normalise(path))
        if path.read_text() != text:
            stale.append(path.relative_to(ROOT).as_posix())
            if not check:
                path.write_text(text)
    if check and stale:
        print("not normalised (run tools/sync_notebooks.py):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
