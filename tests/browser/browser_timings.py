"""The browser test's section of benchmarks/RESULTS.md (``TLCOURSE_BROWSER_RECORD=1``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def record(timings: dict, chromium: str | None) -> Path:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import jupyterlab
    from results import stamp, write_section

    try:
        browser = subprocess.run([chromium, "--version"], capture_output=True, text=True,
                                 timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError, TypeError):
        browser = "unknown browser"
    tests = timings["tests"]
    passed = sum(1 for outcome, _ in tests.values() if outcome == "passed")
    lines = [
        "## Browser test (`make test-browser`)",
        "",
        f"{stamp()}; {browser}, JupyterLab {jupyterlab.__version__}, quick mode. "
        f"{passed} of {len(tests)} tests passed. Load average at the end: "
        f"{', '.join(f'{x:.1f}' for x in timings['load_average'])} (the machine was shared "
        "when this is above the 2 cores: times are then inflated).",
        "",
        "| lesson | Run All Cells in the browser (s) |",
        "| --- | ---: |",
        *(f"| {name} | {sec:.1f} |" for name, sec in timings["run_all"].items()),
        "",
        "| test | outcome | time (s) |",
        "| --- | --- | ---: |",
        *(f"| `{name}` | {outcome} | {sec:.1f} |" for name, (outcome, sec) in tests.items()),
        "",
        f"Whole run, JupyterLab start to shutdown: {timings['total_s']:.0f} s.",
    ]
    return write_section("browser", "\n".join(lines))
