"""The course's lessons, repository address, badges and Colab cell (one copy for the README,
every lesson's first cell and the tests)."""

from __future__ import annotations

REPO = "tlcourse/tlcourse"  # GitHub owner/name of the course
BRANCH = "main"

#: file name -> (title, what you learn)
LESSONS = {
    "00_start_here.ipynb": ("Start here", "how the course works, quick mode, offline mode, doctor"),
    "01_transfer_learning_concepts.ipynb": (
        "Transfer-learning concepts",
        "kinds of transfer, the four freeze-or-train cases, when transfer pays and when not"),
    "02_freezing_layers.ipynb": (
        "Freezing layers",
        "trainable flags, freezing the first N layers, recompiling, BatchNormalization"),
    "03_mobilenetv2_mnist.ipynb": (
        "MobileNetV2 on MNIST",
        "feature caching, a correct custom training loop, fine-tuning, an honest baseline"),
    "04_resnet50_imagenet.ipynb": (
        "ImageNet prediction with ResNet50",
        "OpenCV input, matching preprocessing, top-5, Grad-CAM, predict your own image"),
    "05_bert_sentiment.ipynb": (
        "BERT sentiment with keras-hub",
        "tokenisation, honest baselines, frozen vs fine-tuned encoder, what pretraining buys"),
    "06_domain_adaptation.ipynb": (
        "Domain adaptation",
        "measuring a domain gap, few-label fine-tuning, CORAL and DANN"),
    "07_your_own_images.ipynb": (
        "Your own images: a solar-cell defect detector",
        "a folder of your own images, two-stage fine-tuning, choosing on validation, "
        "thresholds, export"),
}


def colab_url(notebook: str) -> str:
    """Colab address of ``notebook`` (a path relative to the repository root)."""
    _check(notebook)
    return f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/{notebook}"


def binder_url(notebook: str) -> str:
    """Binder address that opens ``notebook`` in JupyterLab."""
    _check(notebook)
    return f"https://mybinder.org/v2/gh/{REPO}/{BRANCH}?labpath={notebook.replace('/', '%2F')}"


def badges(notebook: str) -> str:
    """The Markdown badges of ``notebook``: Open in Colab and Launch Binder."""
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"({colab_url(notebook)}) "
        f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder_url(notebook)})"
    )


def _check(notebook: str) -> None:
    folder, _, name = notebook.rpartition("/") if isinstance(notebook, str) else ("", "", None)
    if folder not in ("notebooks", "notebooks/solutions") or name not in LESSONS:
        raise ValueError(f"expected a lesson path such as 'notebooks/{next(iter(LESSONS))}' or "
                         f"'notebooks/solutions/...' with a name from course.LESSONS, got {notebook!r}")


#: environment variable naming what the Colab cell installs the course from (tests: a checkout)
PIP_SOURCE_ENV = "TLCOURSE_PIP_SOURCE"

#: the second cell of every lesson: installs the course on Colab, does nothing elsewhere
COLAB_CELL = f'''# On Google Colab only: install the course package and only what the runtime lacks.
# Nothing Colab already has is upgraded or replaced. Does nothing anywhere else.
import os
import subprocess
import sys

if "google.colab" in sys.modules:
    # {PIP_SOURCE_ENV} lets the tests install the course from a checkout instead of GitHub
    source = os.environ.get("{PIP_SOURCE_ENV}", "git+https://github.com/{REPO}@{BRANCH}")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", source], check=True)
    subprocess.run([sys.executable, "-m", "tlcourse.install"], check=True)'''

#: the kernel that `make install` registers and every notebook names
KERNEL = {"name": "tlcourse", "display_name": "Python 3 (tlcourse)", "language": "python"}
