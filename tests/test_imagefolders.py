"""The solar-cell class folders (written once, atomically) and the folder check."""

from __future__ import annotations

import csv
import os
import stat
import sys

import numpy as np
import pytest
from PIL import Image

from tlcourse import imagefolders


def _png(path, size=(20, 12), value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(size[::-1], value, np.uint8)).save(path)
    return path


@pytest.fixture
def two_classes(tmp_path):
    for name in ("a", "b", "c"):
        _png(tmp_path / "good" / f"{name}.png")
    _png(tmp_path / "defective" / "d.png", size=(30, 30))
    return tmp_path


def test_check_folder_reports_counts_and_sizes(two_classes):
    (two_classes / ".DS_Store").write_bytes(b"junk")  # hidden files are ignored
    (two_classes / "good" / ".thumbs").write_bytes(b"junk")
    counts, sizes = imagefolders.check_folder(two_classes)
    assert list(counts) == ["defective", "good"]  # alphabetical, the order Keras gives
    assert counts == {"defective": 1, "good": 3}
    assert sizes == {(20, 12): 3, (30, 30): 1}


@pytest.mark.parametrize(("setup", "message"), [
    (lambda p: None, "0 class folder"),
    (lambda p: _png(p / "good" / "x.png"), "at least two"),
    (lambda p: (_png(p / "good" / "x.png"), _png(p / "bad" / "y.png"), _png(p / "z.png")),
     "beside the class folders"),
    (lambda p: (_png(p / "good" / "x.png"), _png(p / "bad" / "y.png"),
                (p / "bad" / "notes.txt").write_text("hi")), "notes.txt is not an image"),
    (lambda p: (_png(p / "good" / "x.png"), _png(p / "bad" / "y.png"),
                (p / "bad" / "z.png").write_bytes(b"\x89PNG not really")), "cannot be read"),
    (lambda p: (_png(p / "good" / "x.png"), (p / "bad").mkdir()), "too few images"),
])
def test_check_folder_refuses_bad_layouts(tmp_path, setup, message):
    setup(tmp_path)
    with pytest.raises(ValueError, match=message):
        imagefolders.check_folder(tmp_path)


def test_check_folder_refuses_a_truncated_png_and_a_missing_folder(two_classes, tmp_path):
    data = (two_classes / "good" / "a.png").read_bytes()
    (two_classes / "good" / "a.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="good/a.png cannot be read"):
        imagefolders.check_folder(two_classes)
    with pytest.raises(ValueError, match="not a folder"):
        imagefolders.check_folder(tmp_path / "nowhere")


def test_check_folder_min_per_class(two_classes):
    with pytest.raises(ValueError, match="at least 2 per class"):
        imagefolders.check_folder(two_classes, min_per_class=2)


_ALL_LABELS = imagefolders.elpv_labels


def _small_labels(n=48):
    rows = _ALL_LABELS()
    picked = []
    for p in (0.0, 1 / 3, 2 / 3, 1.0):
        for kind in ("mono", "poly"):
            same = [r for r in rows if abs(r["probability"] - p) < 0.01 and r["type"] == kind]
            picked += same[: n // 8]
    return picked


def test_elpv_folders_layout_permissions_and_reuse(isolated_env, monkeypatch):
    monkeypatch.setattr(imagefolders, "elpv_labels", _small_labels)
    root = imagefolders.elpv_folders(test_share=0.25)
    counts = {d: len(list((root / d).iterdir())) for d in
              ("train/good", "train/defective", "test/good", "test/defective",
               "unsure/one_third", "unsure/two_thirds")}
    assert counts["train/good"] + counts["train/defective"] == 18  # 24 sure cells, 25% test
    assert counts["test/good"] + counts["test/defective"] == 6
    assert min(counts.values()) >= 2  # stratified: every class in every split
    assert counts["unsure/one_third"] == counts["unsure/two_thirds"] == 12
    with open(root / "labels.csv") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 48 and all((root / r["file"]).is_file() for r in table)
    assert {r["split"] for r in table} == {"train", "test", "unsure"}
    mode = (root / "test" / "good").stat().st_mode
    assert mode & stat.S_IRGRP and mode & stat.S_IROTH and mode & stat.S_IXOTH
    assert (root / table[0]["file"]).stat().st_mode & stat.S_IROTH
    assert not [p for p in root.parent.iterdir() if p.name.startswith(".elpv-")]  # no temp left
    before = (root / "labels.csv").stat().st_mtime_ns
    assert imagefolders.elpv_folders(test_share=0.25) == root  # written once, then reused
    assert (root / "labels.csv").stat().st_mtime_ns == before
    levels = imagefolders.level_folders(root)
    assert sorted(levels) == [0.0, 1 / 3, 2 / 3, 1.0] and all(p.is_dir() for p in levels.values())


def test_elpv_folders_share_writes_a_smaller_stratified_copy_beside_the_whole(isolated_env,
                                                                              monkeypatch):
    monkeypatch.setattr(imagefolders, "elpv_labels", _small_labels)
    whole, half = imagefolders.elpv_folders(), imagefolders.elpv_folders(share=0.75)
    assert half != whole and half.name.endswith("-share75")
    files = {root: sorted(p.name for p in root.rglob("*.png")) for root in (whole, half)}
    assert len(files[half]) == 3 * len(files[whole]) // 4 and set(files[half]) < set(files[whole])
    for level in imagefolders.level_folders(half).values():  # every level kept, in its share
        assert len(list(level.iterdir())) >= 1
    assert imagefolders.elpv_folders(share=0.75) == half  # written once, then reused


def test_elpv_folders_when_another_kernel_finishes_first(isolated_env, monkeypatch):
    monkeypatch.setattr(imagefolders, "elpv_labels", _small_labels)
    real_rename = os.rename
    winner = {}

    def rename(src, dst):  # another kernel renames its own copy into place first
        other = str(src) + "-other"
        import shutil
        shutil.copytree(src, other)
        real_rename(other, dst)
        winner["mtime"] = os.stat(os.path.join(dst, "labels.csv")).st_mtime_ns
        real_rename(src, dst)  # fails: the folder is there and not empty

    monkeypatch.setattr(imagefolders.os, "rename", rename)
    root = imagefolders.elpv_folders()
    assert (root / "labels.csv").stat().st_mtime_ns == winner["mtime"]  # the winner's copy kept
    assert not [p for p in root.parent.iterdir() if p.name.startswith(".elpv-")]


def test_elpv_folders_refuses_bad_arguments_and_names_the_install(isolated_env, monkeypatch):
    for bad in (0.0, 0.9, "0.25", 1):
        with pytest.raises(ValueError, match="test_share"):
            imagefolders.elpv_folders(test_share=bad)
    with pytest.raises(ValueError, match="seed"):
        imagefolders.elpv_folders(seed=-1)
    for bad in (0.05, 1.5, 1, "0.5"):
        with pytest.raises(ValueError, match="share must be a float between 0.1 and 1"):
            imagefolders.elpv_folders(share=bad)
    monkeypatch.setitem(sys.modules, "elpv_dataset", None)
    with pytest.raises(ImportError, match="pip install elpv-dataset==1.0.0.post1"):
        imagefolders.elpv_labels()


def test_elpv_labels_are_the_published_counts():
    rows = imagefolders.elpv_labels()
    probs = np.array([r["probability"] for r in rows])
    assert len(rows) == 2624
    assert [int(np.sum(np.isclose(probs, p, atol=0.01))) for p in (0, 1 / 3, 2 / 3, 1)] == [
        1508, 295, 106, 715]
    assert sum(r["type"] == "mono" for r in rows) == 1074
