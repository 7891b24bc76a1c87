"""Image classes as folders: the solar-cell images written once as class folders, and a check
of any such folder before Keras reads it.

Introduced in lesson 07 (your own images). Keras' ``image_dataset_from_directory`` wants one
subfolder per class; that is also how most people keep their own photos. The lesson therefore
treats the solar-cell images of the ``elpv-dataset`` package (Deitsch et al., ZAE Bayern; images
CC BY-NC-SA 4.0, code Apache-2.0) exactly like a folder of your own photos:

* :func:`elpv_folders` writes them once into the course cache as ``train/`` and ``test/``
  folders with the classes ``good`` (defect probability 0) and ``defective`` (probability 1),
  plus ``unsure/one_third`` and ``unsure/two_thirds`` for the cells the experts were unsure
  about, and a ``labels.csv`` with every cell's probability, type and split;
* :func:`check_folder` refuses a layout Keras would misread (an empty folder, one class, files
  that are not images, unreadable images) with a message naming the fix, and reports the
  class counts and image sizes.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from . import config

#: what ``keras.utils.image_dataset_from_directory`` reads
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
ELPV_VERSION = "1.0.0.post1"
ELPV_INSTALL = f"pip install elpv-dataset=={ELPV_VERSION}"
ELPV_CELLS = 2624
ELPV_LICENCE = ("images CC BY-NC-SA 4.0 (non-commercial use only), code Apache-2.0; "
                "S. Deitsch, C. Buerhop-Lutz et al., ZAE Bayern")
#: defect probability -> folder (relative to the root that elpv_folders returns)
LEVELS = {0.0: "good", 1 / 3: "unsure/one_third", 2 / 3: "unsure/two_thirds", 1.0: "defective"}
CLASSES = ("defective", "good")  # the order Keras gives them: alphabetical


def elpv_labels() -> list[dict]:
    """Rows of the package's ``labels.csv``: ``file`` (absolute path), ``probability``
    (0, 1/3, 2/3 or 1) and ``type`` (``mono`` or ``poly``)."""
    try:
        import elpv_dataset
    except ImportError:
        raise ImportError(f"the solar-cell images come with the elpv-dataset package: "
                          f"{ELPV_INSTALL}") from None
    data = Path(elpv_dataset.__file__).parent / "data"
    rows = []
    for line in (data / "labels.csv").read_text().splitlines():
        if line.strip():
            name, prob, kind = line.split()
            rows.append({"file": data / name, "probability": float(prob), "type": kind})
    if len(rows) != ELPV_CELLS or not all(r["file"].is_file() for r in rows):
        raise OSError(f"the elpv-dataset package is incomplete ({len(rows)} labels, "
                      f"{ELPV_CELLS} expected): reinstall it with {ELPV_INSTALL} "
                      "--force-reinstall")
    return rows


def _level(probability: float) -> str:
    for p, folder in LEVELS.items():
        if abs(probability - p) < 0.01:
            return folder
    raise ValueError(f"unexpected defect probability {probability} in elpv's labels.csv")


def elpv_folders(test_share: float = 0.25, seed: int = 0) -> Path:
    """Write the solar-cell images as class folders in the course cache once; return the root.

    ``root/train/{good,defective}`` and ``root/test/{good,defective}`` hold the cells of
    probability 0 and 1, split at random (stratified by class and cell type) with
    ``test_share`` of them in ``test/``; ``root/unsure/{one_third,two_thirds}`` the others.
    The folders are built beside the cache entry and renamed into place, so a reader never sees
    a half-written tree and two kernels may call this at once.
    """
    if not isinstance(test_share, float) or not 0.05 <= test_share <= 0.5:
        raise ValueError(f"test_share must be a float between 0.05 and 0.5, got {test_share!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    cache = config.cache_dir()
    root = cache / f"elpv-{ELPV_VERSION}-test{round(test_share * 100)}-seed{seed}"
    if (root / "labels.csv").is_file():
        return root
    rows = elpv_labels()
    from sklearn.model_selection import train_test_split

    binary = [i for i, r in enumerate(rows) if r["probability"] in (0.0, 1.0)]
    strata = [f"{rows[i]['probability']}-{rows[i]['type']}" for i in binary]
    _, test = train_test_split(binary, test_size=test_share, stratify=strata, random_state=seed)
    test = set(test)
    tmp = Path(tempfile.mkdtemp(prefix=".elpv-", dir=cache))
    try:
        table = []
        for i, r in enumerate(rows):
            level = _level(r["probability"])
            split = "unsure" if level.startswith("unsure") else ("test" if i in test else "train")
            folder = level if split == "unsure" else f"{split}/{level}"
            (tmp / folder).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(r["file"], tmp / folder / r["file"].name)
            table.append((f"{folder}/{r['file'].name}", r["probability"], r["type"], split))
        with open(tmp / "labels.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["file", "probability", "type", "split"])
            writer.writerows(table)
        for path in [tmp, *tmp.rglob("*")]:  # readable by group and others, like the cache
            path.chmod(0o755 if path.is_dir() else 0o644)
        try:
            os.rename(tmp, root)
        except OSError:  # another kernel finished first: keep its copy
            if not (root / "labels.csv").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def level_folders(root) -> dict:
    """Defect probability -> the folder of :func:`elpv_folders` holding the held-out cells of
    that level (the test cells for 0 and 1, the unsure ones for 1/3 and 2/3)."""
    root = Path(root)
    return {0.0: root / "test" / "good", 1 / 3: root / "unsure" / "one_third",
            2 / 3: root / "unsure" / "two_thirds", 1.0: root / "test" / "defective"}


@dataclass
class FolderReport:
    """What :func:`check_folder` found: classes (alphabetical, as Keras orders them), the
    number of images of each, and how many images have each size ``(width, height)``."""

    path: Path
    counts: dict
    sizes: Counter

    @property
    def classes(self) -> list:
        return list(self.counts)

    def __str__(self) -> str:
        counts = ", ".join(f"{c}: {n:,}" for c, n in self.counts.items())
        sizes = ", ".join(f"{w}x{h} ({n:,})" for (w, h), n in self.sizes.most_common(3))
        more = f" and {len(self.sizes) - 3} other sizes" if len(self.sizes) > 3 else ""
        return f"{self.path}: {len(self.counts)} classes | {counts} | sizes {sizes}{more}"


def check_folder(path, min_per_class: int = 1) -> FolderReport:
    """Check a folder of class subfolders before Keras reads it; raise ValueError naming the fix.

    Refuses: a missing or empty folder, fewer than two classes, a class with fewer than
    ``min_per_class`` images, images loose beside the class folders, files that are not
    images, and images that cannot be decoded. Hidden files (``.DS_Store``...) are ignored.
    """
    from PIL import Image

    path = Path(path).expanduser()
    if not path.is_dir():
        raise ValueError(f"{path} is not a folder: point it at a folder that holds one "
                         "subfolder of images per class")
    entries = [p for p in sorted(path.iterdir()) if not p.name.startswith(".")]
    loose = [p.name for p in entries if p.is_file()]
    classes = [p for p in entries if p.is_dir()]
    if not entries:
        raise ValueError(f"{path} is empty: put one subfolder of images per class in it, "
                         "e.g. good/ and defective/")
    if loose:
        raise ValueError(f"{path} has files beside the class folders ({', '.join(loose[:3])}): "
                         "move every image into the subfolder of its class")
    if len(classes) < 2:
        raise ValueError(f"{path} has {len(classes)} class folder(s) "
                         f"({', '.join(c.name for c in classes) or 'none'}): a classifier "
                         "needs at least two, e.g. good/ and defective/")
    counts, sizes, not_images, broken = {}, Counter(), [], []
    for folder in classes:
        files = [p for p in sorted(folder.rglob("*")) if p.is_file()
                 and not any(part.startswith(".") for part in p.relative_to(path).parts)]
        images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        not_images += [p.relative_to(path).as_posix() for p in files if p not in images]
        for p in images:
            try:
                with Image.open(p) as im:
                    im.verify()  # checks the file's structure without decoding all pixels
                    sizes[im.size] += 1
            except Exception:  # PIL raises many kinds for damaged files
                broken.append(p.relative_to(path).as_posix())
        counts[folder.name] = len(images)
    if not_images:
        raise ValueError(f"{len(not_images)} file(s) in {path} are not images "
                         f"({', '.join(not_images[:3])}): Keras reads only "
                         f"{', '.join(IMAGE_SUFFIXES)}; move the others out")
    if broken:
        raise ValueError(f"{len(broken)} image(s) in {path} cannot be read "
                         f"({', '.join(broken[:3])}): delete or re-save them")
    small = {c: n for c, n in counts.items() if n < min_per_class}
    if small:
        raise ValueError(f"too few images in {small} (at least {min_per_class} per class "
                         "needed): add images or merge classes")
    return FolderReport(path, counts, sizes)
