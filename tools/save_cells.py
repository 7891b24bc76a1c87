"""Copy the lesson cells marked ``#@save`` into the package, so code a later lesson reuses has one
source: the lesson that introduces it, in the open.

A code cell whose first line is ``#@save MODULE`` (for example ``#@save freezing``) is written
into ``tlcourse/MODULE.py``, after the line ``SAVED_MARK`` below, in lesson order, each under a
comment naming the notebook and section it was defined in. Everything above the mark (the
module's docstring and imports) is written by hand; everything below it is this tool's.

    .venv/bin/python tools/save_cells.py          # write the saved cells into the package
    .venv/bin/python tools/save_cells.py --check  # exit 1 if the package and the lessons differ

`make test` runs the check (tests/test_notebooks.py), so the two cannot drift apart. Edit the
cell in the notebook, never the copy in the package.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAVED_MARK = "# ---- saved from the lessons by tools/save_cells.py: edit the cells there, not here ----"
MARKER_RE = re.compile(r"^#@save(?:\s+(\S+))?\s*$")
MODULE_RE = re.compile(r"[a-z][a-z0-9_]*")


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def lessons() -> list[Path]:
    """The lesson notebooks in course order (solutions are never saved from)."""
    sys.path.insert(0, str(ROOT))
    from tlcourse import course

    return [ROOT / "notebooks" / name for name in course.LESSONS]


def saved_cells(paths=None, root: Path = ROOT) -> dict[str, list[tuple[str, str, str]]]:
    """module -> [(notebook, section, code)] for every ``#@save`` cell, in lesson order."""
    found: dict[str, list[tuple[str, str, str]]] = {}
    for path in paths if paths is not None else lessons():
        rel = path.relative_to(root).as_posix()
        section = "(top)"
        for number, cell in enumerate(json.loads(path.read_text())["cells"]):
            text = _source(cell)
            if cell["cell_type"] == "markdown":
                headings = [ln.lstrip("#").strip() for ln in text.splitlines() if ln.startswith("#")]
                section = headings[-1] if headings else section
                continue
            first, _, rest = text.partition("\n")
            match = MARKER_RE.match(first.strip())
            if not match:
                continue
            module = match.group(1)
            if not module or not MODULE_RE.fullmatch(module):
                raise SystemExit(f"{rel} cell {number}: write the target module after the marker, "
                                 f"e.g. '#@save freezing' (got {first.strip()!r})")
            found.setdefault(module, []).append((rel, section, rest.strip("\n")))
    return found


def render(module_text: str, module: str, cells: list[tuple[str, str, str]]) -> str:
    """``module_text`` with everything after SAVED_MARK replaced by ``cells``."""
    head, mark, _ = module_text.partition(SAVED_MARK)
    if not mark:
        raise SystemExit(f"tlcourse/{module}.py has no line {SAVED_MARK!r}: add it after the "
                         "module's imports, then run tools/save_cells.py again")
    parts = [head.rstrip("\n") + "\n\n\n" + SAVED_MARK]
    for notebook, section, code in cells:
        parts.append(f"# Defined in {notebook}, section \"{section}\"\n{code}")
    return "\n\n\n".join(parts) + "\n"


def sync(check: bool = False, paths=None, root: Path = ROOT) -> list[str]:
    """Write (or with ``check``, compare) every module that has saved cells, or had; the names
    that differ or changed. ``paths`` and ``root``: other notebooks and package (tests)."""
    changed = []
    wanted = saved_cells(paths, root)
    marked = [p.stem for p in sorted((root / "tlcourse").glob("*.py")) if SAVED_MARK in p.read_text()]
    for module in sorted(set(wanted) | set(marked)):
        target = root / "tlcourse" / f"{module}.py"
        if not target.exists():
            raise SystemExit(f"a lesson saves cells into tlcourse/{module}.py, which does not exist: "
                             f"create it with a docstring, its imports and the line {SAVED_MARK!r}")
        old = target.read_text()
        new = render(old, module, wanted.get(module, []))
        if new != old:
            changed.append(f"tlcourse/{module}.py")
            if not check:
                target.write_text(new)
    return changed


def main(argv: list[str]) -> int:
    check = "--check" in argv
    changed = sync(check=check)
    if check and changed:
        print("the package differs from the lessons' #@save cells in: " + ", ".join(changed)
              + "\nfix: edit the cells in the notebook, then run tools/save_cells.py")
        return 1
    for name in changed:
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
