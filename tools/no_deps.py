"""Print the packages that are installed with `pip install --no-deps` (one source of truth:
[tool.tlcourse] no-deps in pyproject.toml). Used by the Makefile and Binder's postBuild."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def no_deps() -> list[str]:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return list(tomllib.load(fh)["tool"]["tlcourse"]["no-deps"])


if __name__ == "__main__":
    print(" ".join(no_deps()))
