"""Fixtures of the browser test: one JupyterLab server and one headless Chromium per session.

Run with `make test-browser`. Without a browser the tests are skipped with a message saying how
to get one, except in CI (`CI=true`), where a missing browser fails them.

Knobs (environment variables):
  TLCOURSE_CHROMIUM          path of the Chromium/Chrome to drive (default: /usr/bin/chromium)
  TLCOURSE_BROWSER_TIMEOUT   seconds one "run all" may take (default 900)
  TLCOURSE_BROWSER_NOTEBOOKS folder the server opens instead of notebooks/ (to test the test)
  TLCOURSE_BROWSER_RECORD=1  write the timings into benchmarks/RESULTS.md (section "browser")
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest
from labdriver import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    TIMINGS,
    JupyterServer,
    Lab,
    find_chromium,
    notebook_dir,
)

INSTALL_HINT = (
    "no Chromium or Chrome found for the browser test. Install one with "
    "`bash tools/install_browser.sh` (Debian/Ubuntu: `sudo apt-get install chromium`), "
    "or point TLCOURSE_CHROMIUM at an installed Chrome, then run `make test-browser`."
)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def not_available(reason: str):
    """Skip on a learner's machine; fail in CI, where the browser test must run."""
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def server_env() -> dict:
    env = dict(os.environ)
    env["TLCOURSE_QUICK"] = "1"            # the browser test runs the lessons in quick mode
    env.pop("MPLBACKEND", None)            # let the kernel use the inline backend: real figures
    env.pop("JUPYTER_PLATFORM_DIRS", None)
    # Kernels find the course package and `jupyter` even when the venv is not activated.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        not_available(INSTALL_HINT)
    return path


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """artifacts/browser/, emptied at the start of each run (git-ignored)."""
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def jupyter_server(chromium_path):
    server = JupyterServer(notebook_dir=notebook_dir(), env=server_env())
    try:
        server.start()
        yield server
    finally:
        server.stop()  # even when a test failed or the start itself did


@pytest.fixture(scope="session")
def browser_context(chromium_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        not_available("Playwright for Python is not installed: run `make install`.")
    profile = tempfile.mkdtemp(prefix="tlcourse-chromium-")
    pw = sync_playwright().start()
    try:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000})
        try:
            yield context
        finally:
            context.close()
    finally:
        pw.stop()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def notebooks_untouched():
    """The test never saves a lesson: a notebook it opened that had no outputs on disk still
    has none afterwards. (Outputs, not times: others may edit a lesson while the test runs.)"""
    def outputs(name):
        path = notebook_dir() / name
        if not path.exists():
            return 0
        cells = json.loads(path.read_text()).get("cells", [])
        return sum(len(c.get("outputs", [])) + (c.get("execution_count") is not None)
                   for c in cells)

    before = {p.name: outputs(p.name) for p in notebook_dir().glob("*.ipynb")}
    opened: set = set()
    yield opened
    saved = sorted(n for n in opened if before.get(n) == 0 and outputs(n))
    assert not saved, f"the browser test saved outputs into {saved}"


@pytest.fixture(scope="session")
def lab(jupyter_server, browser_context, notebooks_untouched) -> Lab:
    """The JupyterLab tab. Holds one lesson at a time; a test that needs a lesson already run
    cleanly by the test before it reuses it (see ``lesson_ran``)."""
    timeout = float(os.environ.get("TLCOURSE_BROWSER_TIMEOUT", "900"))
    driver = Lab(jupyter_server, browser_context, timeout_s=timeout, opened=notebooks_untouched)
    try:
        yield driver
    finally:
        driver.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test leaves a screenshot of the tab (first error in view) in artifacts/."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    driver = item.funcargs.get("lab")
    if driver is None or driver.page is None:
        return
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.name)
    path = ARTIFACTS / f"FAILED-{name}.png"
    try:
        driver.show_first_error()
        path.parent.mkdir(parents=True, exist_ok=True)
        driver.page.screenshot(path=str(path))
        report.sections.append(("browser", f"screenshot of the failure: {path}"))
    except Exception as exc:  # noqa: BLE001 - a failed screenshot must not hide the failure
        report.sections.append(("browser", f"no failure screenshot: {exc}"))


def pytest_collection_modifyitems(items):
    """Keep each lesson's tests together (its run, then its widget and re-run tests), so a
    lesson is opened and run once and its kernel is shut down before the next one starts.
    The test's self-test (no lesson) goes first."""
    from tlcourse.course import LESSONS

    order = {name: i for i, name in enumerate(LESSONS)}

    def key(item):
        if "tests/browser" not in item.nodeid:
            return -2
        lesson = getattr(item, "callspec", None) and item.callspec.params.get("lesson")
        lesson = lesson or getattr(item.function, "lesson", None)
        return order.get(lesson, len(order)) if lesson else -1

    items.sort(key=key)


def pytest_runtest_logreport(report):
    if "tests/browser" in report.nodeid and report.when == "call":
        TIMINGS["tests"][report.nodeid.split("::", 1)[1]] = (report.outcome, report.duration)


def pytest_sessionfinish(session, exitstatus):
    """Timings to artifacts/browser/timings.json; with TLCOURSE_BROWSER_RECORD=1 also to
    benchmarks/RESULTS.md."""
    if not TIMINGS["tests"]:
        return
    from browser_timings import record

    TIMINGS["total_s"] = time.monotonic() - TIMINGS["started"]
    TIMINGS["load_average"] = os.getloadavg()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "timings.json").write_text(json.dumps(TIMINGS, indent=1))
    if os.environ.get("TLCOURSE_BROWSER_RECORD") == "1":
        path = record(TIMINGS, chromium=find_chromium())
        print(f"\nbrowser test timings written to {path}")
