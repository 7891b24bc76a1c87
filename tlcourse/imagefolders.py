"""Lesson 07's image folders: the solar cells of ``elpv-dataset`` (Deitsch et al., ZAE Bayern;
images CC BY-NC-SA 4.0, non-commercial use only) written once as class folders, and (saved from
the lesson) the check of a folder of your own images."""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from pathlib import Path

from . import config

ELPV_VERSION = "1.0.0.post1"
ELPV_INSTALL = f"pip install elpv-dataset=={ELPV_VERSION}"
ELPV_CELLS = 2624
#: the experts' defect probability -> the folder name of its cells
LEVELS = {0.0: "good", 1 / 3: "one_third", 2 / 3: "two_thirds", 1.0: "defective"}


def elpv_labels() -> list[dict]:
    """Rows of the package's labels: ``file`` (a path), ``probability`` (0, 1/3, 2/3 or 1),
    ``type`` (mono or poly); an error naming the install if the package is missing or damaged."""
    try:
        import elpv_dataset
    except ImportError:
        raise ImportError(f"the solar-cell images come with the elpv-dataset package: "
                          f"{ELPV_INSTALL}") from None
    data = Path(elpv_dataset.__file__).parent / "data"
    lines = filter(None, map(str.split, (data / "labels.csv").read_text().splitlines()))
    rows = [{"file": data / name, "probability": float(p), "type": kind} for name, p, kind in lines]
    if len(rows) != ELPV_CELLS or not all(r["file"].is_file() and abs(
            3 * r["probability"] - round(3 * r["probability"])) < 0.03 for r in rows):
        raise OSError(f"the elpv-dataset package is incomplete or damaged ({len(rows)} labels, "
                      f"{ELPV_CELLS} expected): {ELPV_INSTALL} --force-reinstall")
    return rows


def elpv_folders(test_share: float = 0.25, seed: int = 0, share: float = 1.0) -> Path:
    """Write the cells once into the course cache, atomically; return the root. ``train/`` and
    ``test/`` (``test_share`` of them, stratified by class and cell type) hold ``good/`` (defect
    probability 0) and ``defective/`` (1); ``unsure/`` holds ``one_third/`` and ``two_thirds/``;
    ``labels.csv`` every cell's file, probability, type and split. ``share`` < 1 writes only
    that share of the cells (stratified by level and type), a smaller copy for quick runs."""
    for name, value, low, high in (("test_share", test_share, 0.05, 0.5), ("share", share, 0.1, 1)):
        if not isinstance(value, float) or not low <= value <= high:
            raise ValueError(f"{name} must be a float between {low} and {high}, got {value!r}")
    config.integer("seed", seed, 0)
    cache = config.cache_dir()
    root = cache / (f"elpv-{ELPV_VERSION}-test{round(test_share * 100)}-seed{seed}"
                    + (f"-share{round(share * 100)}" if share < 1 else ""))
    if (root / "labels.csv").is_file():
        return root
    from sklearn.model_selection import train_test_split

    rows = elpv_labels()
    if share < 1:
        strata = [f"{r['probability']}-{r['type']}" for r in rows]
        rows = [rows[i] for i in sorted(train_test_split(range(len(rows)), train_size=share,
                                                         stratify=strata, random_state=seed)[0])]
    levels = [LEVELS[round(3 * r["probability"]) / 3] for r in rows]
    sure = [i for i, level in enumerate(levels) if level in ("good", "defective")]
    strata = [f"{rows[i]['probability']}-{rows[i]['type']}" for i in sure]  # e.g. 1.0-mono
    test = set(train_test_split(sure, test_size=test_share, stratify=strata,
                                random_state=seed)[1])
    tmp = Path(tempfile.mkdtemp(prefix=".elpv-", dir=cache))
    try:
        table = [("file", "probability", "type", "split")]
        for i, (r, level) in enumerate(zip(rows, levels, strict=True)):
            split = "test" if i in test else "train" if i in sure else "unsure"
            (tmp / split / level).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(r["file"], tmp / split / level / r["file"].name)
            table.append((f"{split}/{level}/{r['file'].name}", r["probability"], r["type"], split))
        with open(tmp / "labels.csv", "w", newline="") as f:
            csv.writer(f).writerows(table)
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
    """Defect probability -> the folder under ``root`` (of :func:`elpv_folders`) holding the
    held-out cells of that level: the test cells for 0 and 1, the unsure ones for 1/3, 2/3."""
    return {p: Path(root) / ("test" if p in (0.0, 1.0) else "unsure") / name
            for p, name in LEVELS.items()}


# ---- saved from the lessons by tools/save_cells.py: edit the cells there, not here ----


# Defined in notebooks/07_your_own_images.ipynb, section "1. From a package to a folder of your own"
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")  # what Keras reads


def check_folder(path, min_per_class=1):
    # refuse a folder of class subfolders that Keras would misread, naming the fix; return
    # {class: number of images} (alphabetical, Keras' order) and a Counter of (width, height)
    from collections import Counter

    from PIL import Image

    path = Path(path).expanduser()
    if not path.is_dir():
        raise ValueError(f"{path} is not a folder: give a folder with one subfolder per class")
    entries = [p for p in sorted(path.iterdir()) if not p.name.startswith(".")]  # no .DS_Store
    classes = [p for p in entries if p.is_dir()]
    if len(classes) < len(entries):
        raise ValueError(f"{path} has files beside the class folders: move each image into "
                         "the subfolder of its class")
    if len(classes) < 2:
        raise ValueError(f"{path} has {len(classes)} class folder(s): a classifier needs at "
                         "least two, e.g. good/ and defective/")
    counts, sizes, problems = {}, Counter(), []
    for folder in classes:
        counts[folder.name] = 0
        for file in sorted(folder.rglob("*")):
            name = file.relative_to(path).as_posix()
            if not file.is_file() or any(part.startswith(".") for part in name.split("/")):
                continue
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                problems.append(f"{name} is not an image (Keras reads {', '.join(IMAGE_SUFFIXES)})")
                continue
            try:
                with Image.open(file) as image:
                    image.verify()  # checks the file's structure without decoding every pixel
                    sizes[image.size] += 1
                counts[folder.name] += 1
            except Exception:  # PIL raises many kinds of errors for damaged files
                problems.append(f"{name} cannot be read (delete or re-save it)")
    if problems:
        raise ValueError(f"{len(problems)} bad file(s) in {path}: {'; '.join(problems[:3])}")
    if min(counts.values()) < min_per_class:
        raise ValueError(f"too few images in {counts} (at least {min_per_class} per class "
                         "needed): add images or merge classes")
    return counts, sizes
