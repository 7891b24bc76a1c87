"""Write one section of benchmarks/RESULTS.md without touching the others.

Every benchmark script calls ``write_section(name, markdown)``; the section sits between
``<!-- name:start -->`` and ``<!-- name:end -->`` markers, so scripts can run in any order
(a file lock keeps two writers from losing each other's figures).
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import os
import platform
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = (
    "# Benchmark results\n\n"
    "Written by the scripts in `benchmarks/` (each owns one section; rerun a script to "
    "refresh its section). Speed targets live here, not in timed tests.\n"
)


def machine() -> str:
    """One line describing this machine (for the record next to each figure)."""
    return (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def stamp() -> str:
    return f"_{_dt.date.today().isoformat()} on {machine()}_"


def write_section(name: str, markdown: str) -> Path:
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise ValueError(f"section name must be lowercase letters, digits and _, got {name!r}")
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    RESULTS.touch(exist_ok=True)
    with open(RESULTS, "r+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        text = fh.read() or HEADER
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
        text = pattern.sub(lambda _m: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
        fh.seek(0)
        fh.truncate()
        fh.write(text)
    return RESULTS
