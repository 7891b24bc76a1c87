"""The course as a learner meets it: JupyterLab in a real (headless) Chromium.

Every lesson present in notebooks/ is opened and run with Run > Run All Cells (quick mode);
then no cell may show an error, every cell must have run, and the course's own kernel must be
the one that ran it. The freeze explorer (lesson 02) and the image upload (lesson 04) are
clicked; one lesson is run twice more with Kernel > Restart Kernel and Run All Cells.
Screenshots go to artifacts/browser/. Run: `make test-browser`.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest
from labdriver import TIMINGS, error_outputs, notebook_dir, unexecuted

from tlcourse.course import KERNEL, LESSONS

NOTEBOOKS = notebook_dir()
PRESENT = [name for name in LESSONS if (NOTEBOOKS / name).is_file()]
FREEZE = "02_freezing_layers.ipynb"
UPLOAD = "04_resnet50_imagenet.ipynb"
# The lesson run twice more after a restart: the first present, preferring ones that write caches.
RERUN = next((n for n in (
    "03_mobilenetv2_mnist.ipynb", FREEZE, "00_start_here.ipynb", *LESSONS) if n in PRESENT), None)

# ImageNet's cat classes: what the bundled cat photo should be called (any of them).
CAT_CLASSES = ("tabby", "tiger cat", "persian cat", "siamese cat", "egyptian cat", "lynx", "cougar")


def for_lesson(name):
    """Mark a test as belonging to lesson ``name`` (conftest runs it right after that lesson)."""
    def mark(func):
        func.lesson = name
        return func
    return mark


def not_landed(name: str) -> str:
    return f"{name} has not landed in {NOTEBOOKS} yet"


def assert_clean(lab, st: dict, what: str) -> None:
    errors = error_outputs(st["cells"])
    assert not errors, f"{what}: error output in {lab.notebook}:\n" + "\n".join(errors)
    missing = unexecuted(st["cells"])
    assert not missing, f"{what}: cells {missing} of {lab.notebook} did not run"


def lesson_ran(lab, lesson: str) -> None:
    """``lesson`` open with every cell run cleanly (reusing the previous test's run if it was)."""
    if lab.notebook == lesson and lab.ran_clean:
        return
    lab.open(lesson)
    assert_clean(lab, lab.run_all(), "Run All Cells")


@pytest.mark.parametrize("lesson", PRESENT or [
    pytest.param(None, marks=pytest.mark.skip(reason=f"no lesson in {NOTEBOOKS} yet"))])
def test_lesson_runs_clean(lab, artifacts, jupyter_server, lesson):
    lab.open(lesson)
    started = time.monotonic()
    st = lab.run_all()
    seconds = time.monotonic() - started
    TIMINGS["run_all"][lesson] = seconds
    figure = lab.screenshot_last_figure(artifacts / f"{Path(lesson).stem}.png")
    print(f"{lesson}: Run All Cells took {seconds:.1f} s; last figure screenshot: {figure}")

    assert_clean(lab, st, "Run All Cells")

    # It ran in quick mode (tlcourse.setup() says which mode it found).
    printed = "".join("".join(out.get("text", "")) for cell in st["cells"]
                      for out in cell.get("outputs", []))
    setup_lines = [ln for ln in printed.splitlines() if ln.startswith("tlcourse setup |")]
    assert all("mode: QUICK" in ln for ln in setup_lines), setup_lines
    print("\n".join(setup_lines))

    # The course kernel ran it: in the page, in the server's session, and in the toolbar.
    assert st["kernel"] == KERNEL["name"], f"{lesson} ran on kernel {st['kernel']!r}"
    assert lab.session()["kernel"]["name"] == KERNEL["name"]
    toolbar = lab.panel().locator(".jp-KernelName, .jp-Toolbar-kernelName").first
    assert KERNEL["display_name"] in toolbar.inner_text()
    # ... and that kernel is this checkout's Python (a kernel registered by another checkout
    # would run another copy of the course).
    spec = jupyter_server.api("GET", "/api/kernelspecs")["kernelspecs"][KERNEL["name"]]["spec"]
    python = Path(spec["argv"][0])
    assert python.parent.exists() and os.path.samefile(python.parent, Path(sys.executable).parent), (
        f"the {KERNEL['name']!r} kernel runs {python}, not this checkout's {sys.executable} "
        "(another checkout registered it): run the test with `make test-browser`, which "
        f"registers it inside this venv (`{sys.executable} -m ipykernel install --sys-prefix "
        f"--name {KERNEL['name']} --display-name \"{KERNEL['display_name']}\"`)")


@for_lesson(FREEZE)
@pytest.mark.skipif(FREEZE not in PRESENT, reason=not_landed(FREEZE))
def test_freeze_explorer_slider_changes_count(lab, artifacts):
    lesson_ran(lab, FREEZE)
    panel = lab.panel()
    slider = panel.locator(".tlcourse-freeze-slider").last
    count = panel.locator(".tlcourse-trainable-count").last
    slider.scroll_into_view_if_needed()
    assert slider.is_visible(), "the freeze explorer's slider (.tlcourse-freeze-slider) is not shown"
    assert count.is_visible(), "the trainable-parameter count (.tlcourse-trainable-count) is not shown"
    before = trainable(count.inner_text())

    # Drag the handle across the track, as with a mouse.
    track = slider.locator(".noUi-target, .slider-container").first.bounding_box()
    handle = slider.locator(".noUi-handle").first.bounding_box()
    x0, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    frac = (x0 - track["x"]) / track["width"]
    x1 = track["x"] + track["width"] * (0.25 if frac > 0.5 else 0.75)
    lab.page.mouse.move(x0, y)
    lab.page.mouse.down()
    lab.page.mouse.move(x1, y, steps=15)
    lab.page.mouse.up()

    after, deadline = before, time.monotonic() + 120
    while after == before and time.monotonic() < deadline:
        time.sleep(0.5)
        after = trainable(count.inner_text())
    explorer = slider.locator("xpath=ancestor::div[contains(@class, 'widget-vbox')][1]")
    (explorer if explorer.count() else slider).screenshot(path=str(artifacts / "02_freeze_explorer.png"))
    assert after != before, f"moving the slider left the count at {before:,}"
    print(f"freeze explorer: trainable parameters {before:,} -> {after:,}")
    assert_clean(lab, lab.state(), "after moving the slider")


def trainable(text: str) -> int:
    found = re.search(r"trainable parameters:\s*([\d,]+)", text, re.I)
    assert found, f"no 'trainable parameters: N' in the count widget: {text!r}"
    return int(found.group(1).replace(",", ""))


@for_lesson(UPLOAD)
@pytest.mark.skipif(UPLOAD not in PRESENT, reason=not_landed(UPLOAD))
def test_image_upload_shows_top5(lab, artifacts):
    from tlcourse.data import photo_path

    lesson_ran(lab, UPLOAD)
    panel = lab.panel()
    upload = panel.locator(".tlcourse-upload").last
    upload.scroll_into_view_if_needed()
    assert upload.is_visible(), "the upload widget (.tlcourse-upload) is not shown"
    # Click "Upload" and pick the bundled cat photo in the file chooser that opens (ipywidgets
    # 8 keeps its <input type=file> out of the page, so the chooser is the way in).
    with lab.page.expect_file_chooser() as chooser:
        upload.click()
    chooser.value.set_files(str(photo_path("cat")))

    result = panel.locator(".tlcourse-topk").last
    result.locator("img").first.wait_for(state="visible", timeout=180_000)  # the top-5 bars
    text = result.inner_text()
    result.scroll_into_view_if_needed()
    result.screenshot(path=str(artifacts / "04_upload_topk.png"))
    assert "Traceback" not in text, f"the upload ended in an error:\n{text}"
    said = text.replace("_", " ").lower()
    assert any(name in said for name in CAT_CLASSES), (
        f"the upload result names no ImageNet cat class for the cat photo:\n{text}")
    assert_clean(lab, lab.state(), "after the upload")


@for_lesson(RERUN)
@pytest.mark.skipif(RERUN is None, reason=f"no lesson in {NOTEBOOKS} yet")
def test_restart_and_run_all_twice(lab):
    if lab.notebook != RERUN:
        lab.open(RERUN)
    for run in (1, 2):
        started = time.monotonic()
        st = lab.restart_run_all()
        TIMINGS["run_all"][f"{RERUN} (restart and run all, run {run})"] = time.monotonic() - started
        assert_clean(lab, st, f"Restart Kernel and Run All Cells, run {run}")
