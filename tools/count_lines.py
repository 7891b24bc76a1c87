"""Count the package's lines per module: all lines (as ``wc -l``), the lines left without blank
lines, docstrings and comment-only lines, and the lines saved from the lessons (below the
``#@save`` mark of tools/save_cells.py), which are generated, not written by hand.

    .venv/bin/python tools/count_lines.py                 # tlcourse/*.py and tlcourse/checks/*.py
    .venv/bin/python tools/count_lines.py FILE.py ...     # other files
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAVED_MARK = "# ---- saved from the lessons by tools/save_cells.py"
SKIP = {tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT,
        tokenize.ENCODING, tokenize.ENDMARKER}


def count(text: str) -> tuple[int, int, int, int]:
    """(lines, code lines, saved lines, saved code lines) of one module's source."""
    lines = text.splitlines()
    docstrings = set()
    for node in ast.walk(ast.parse(text)):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
    code = set()
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type not in SKIP:
            code.update(range(tok.start[0], tok.end[0] + 1))
    code -= docstrings
    mark = next((i + 1 for i, line in enumerate(lines) if line.startswith(SAVED_MARK)), len(lines) + 1)
    return len(lines), len(code), len(lines) - mark + 1, len({n for n in code if n >= mark})


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted((ROOT / "tlcourse").glob("*.py")) + sorted(
        (ROOT / "tlcourse" / "checks").glob("*.py"))
    totals = [0, 0, 0, 0]
    print(f"{'module':32} {'lines':>6} {'code':>6} {'saved':>6} {'saved code':>10}")
    for path in paths:
        row = count(path.read_text())
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        name = path.resolve().relative_to(ROOT).as_posix() if path.resolve().is_relative_to(ROOT) else path
        print(f"{str(name):32} {row[0]:6} {row[1]:6} {row[2]:6} {row[3]:10}")
    print(f"{'total':32} {totals[0]:6} {totals[1]:6} {totals[2]:6} {totals[3]:10}")
    print(f"{'hand-written (total - saved)':32} {totals[0] - totals[2]:6} {totals[1] - totals[3]:6}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
