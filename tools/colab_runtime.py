"""Refresh the Colab-runtime pins (.ci/colab/runtime.txt) from Colab's published package list.

Colab publishes its runtime's `pip freeze` in github.com/googlecolab/backend-info
(pip-freeze.txt). The pins are the packages the course touches and what they need, at Colab's
versions; the Colab-runtime job (`make test-colab`) installs exactly these in a Python 3.13 venv.

    python tools/colab_runtime.py refresh PIP_FREEZE --commit SHA [--date DATE --title TITLE]

PIP_FREEZE is a file or an http(s) URL, e.g.
https://raw.githubusercontent.com/googlecolab/backend-info/SHA/pip-freeze.txt. The names kept
are ROOTS plus every name already in runtime.txt (the dependencies found when it was built);
a name Colab no longer lists is dropped and reported. A dependency new in a new version is
resolved by pip during the job, which lists it as "not pinned": add it to runtime.txt then.
"""

from __future__ import annotations

import argparse
import re
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PINS = ROOT / ".ci" / "colab" / "runtime.txt"

#: what the course imports or runs with on Colab (its dependencies are added from runtime.txt)
ROOTS = [
    "tensorflow", "tensorflow-text", "keras", "keras-hub", "numpy", "safetensors",
    "sentencepiece", "huggingface-hub", "kagglehub", "packaging", "pandas", "matplotlib",
    "pillow", "scikit-learn", "scikit-image", "opencv-python-headless", "opencv-python",
    "pooch", "requests", "platformdirs", "mlxtend", "tqdm", "h5py", "filelock", "ipywidgets",
    "widgetsnbextension", "ipykernel", "ipython", "jupyter-client", "jupyter-core", "notebook",
    "nbclient", "nbformat", "pytest", "pluggy", "iniconfig", "pip", "setuptools", "wheel",
]


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse(text: str) -> dict[str, str]:
    """name -> 'name==version' for every plain pin (URL and editable lines are skipped)."""
    pins = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9_.\-]*)==([^\s;#]+)", line.strip())
        if m:
            pins[norm(m.group(1))] = f"{m.group(1)}=={m.group(2)}"
    return pins


def read(source: str) -> str:
    if re.match(r"^https?://", source):
        with urllib.request.urlopen(source, timeout=30) as resp:
            return resp.read().decode()
    path = Path(source)
    if not path.is_file():
        raise SystemExit(f"{source}: no such file (give a pip-freeze.txt file or an http(s) URL)")
    return path.read_text()


def refresh(source: str, commit: str, date: str = "", title: str = "") -> list[str]:
    colab = parse(read(source))
    if "tensorflow" not in colab:
        raise SystemExit(f"{source} does not look like Colab's pip freeze (no tensorflow pin)")
    wanted = {norm(n) for n in ROOTS}
    if PINS.exists():
        wanted |= set(parse(PINS.read_text()))
    dropped = sorted(n for n in wanted if n not in colab)
    lines = [
        "# Colab's runtime: the packages the course touches and what they need, at Colab's versions.",
        "# From github.com/googlecolab/backend-info pip-freeze.txt, commit "
        f"{commit}{f' ({date}' if date else ''}{f', {title!r}' if title else ''}{')' if date else ''}.",
        "# Python 3.13. Refreshed with: python tools/colab_runtime.py refresh PIP_FREEZE --commit SHA",
        *sorted((colab[n] for n in wanted if n in colab), key=str.lower),
    ]
    PINS.write_text("\n".join(lines) + "\n")
    return dropped


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ref = sub.add_parser("refresh", help="rewrite .ci/colab/runtime.txt from a pip-freeze.txt")
    ref.add_argument("source", help="pip-freeze.txt: a file or an http(s) URL")
    ref.add_argument("--commit", required=True, help="the backend-info commit it comes from")
    ref.add_argument("--date", default="")
    ref.add_argument("--title", default="")
    args = parser.parse_args(argv)
    dropped = refresh(args.source, args.commit, args.date, args.title)
    print(f"wrote {PINS.relative_to(ROOT)}" + (f"; not in Colab's list any more: {', '.join(dropped)}"
                                              if dropped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
