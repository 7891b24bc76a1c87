"""Every loader's online branch end to end against a local HTTP server on 127.0.0.1: download,
checksum or structural check, load, and the model or data built from those bytes.

The Keras weight files served here are test fixtures (randomly initialised networks saved in the
layout Keras publishes), used only to check the plumbing; no lesson ever sees them."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_ASSETS

from tlcourse import assets, models


def keras_fixture(folder, include_top, network="mobilenet_v2"):
    """A MobileNetV2 (or ResNet50) with random weights saved as Keras' legacy .h5 weights file."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(1)
    build = {"mobilenet_v2": keras.applications.MobileNetV2,
             "resnet50": keras.applications.ResNet50}[network]
    net = build(include_top=include_top, weights=None)
    name = {"mobilenet_v2": "keras_mobilenet_v2_224", "resnet50": "keras_resnet50"}[network]
    name += "" if include_top else "_notop"
    path = folder / assets.get(name).filename
    with h5py.File(path, "w") as fh:
        legacy_h5_format.save_weights_to_hdf5_group(fh, net)
    return name, path, net


def serve_as_canonical(monkeypatch, name, url):
    asset = assets.get(name)
    monkeypatch.setitem(assets.REGISTRY, name, dataclasses.replace(asset, url=url))


@pytest.mark.parametrize("include_top", [False, True])
def test_keras_weights_download_check_and_build(isolated_env, serve, monkeypatch, capsys,
                                                include_top):
    www = isolated_env / "www"
    www.mkdir()
    name, path, reference = keras_fixture(www, include_top)
    base = serve(www)
    # a download cut off halfway (no Content-Length) fails the structural check: fallback
    serve_as_canonical(monkeypatch, name, f"{base}/half/{path.name}")
    kwargs = {} if include_top else {"input_size": 32, "pooling": "avg"}
    net = models.load_imagenet("mobilenet_v2", include_top=include_top, **kwargs)
    assert net.source == "offline"
    out = capsys.readouterr().out
    assert out.count("offline:") == 1 and "damaged" not in out.split("offline:")[0]
    assert "weights arrived damaged and were not kept" in out  # a cut file is not "unreachable"
    assert not assets.cached_path(name).exists()
    # the whole file: downloaded, checked, sealed, and the network built with its weights
    serve_as_canonical(monkeypatch, name, f"{base}/{path.name}")
    net = models.load_imagenet("mobilenet_v2", include_top=include_top, **kwargs)
    cached = assets.cached_path(name)
    assert (net.name, net.source) == ("mobilenet_v2", "online")
    assert assets.sidecar(cached).read_text().strip() == hashlib.sha256(path.read_bytes()).hexdigest()
    ours = {w.path: w.numpy() for w in net.model.weights}
    for w in reference.weights:
        np.testing.assert_array_equal(ours[w.path], w.numpy())
    captured = capsys.readouterr()
    assert "B/s" in captured.err  # a progress bar: Keras publishes no size, so always shown
    assert "known_hash" not in captured.out + captured.err  # pooch's advice is for authors
    again = models.load_imagenet("mobilenet_v2", include_top=include_top, **kwargs)
    assert again.source == "cache" and serve.hits[f"/{path.name}"] == 1


def test_resnet50_download_md5_check_and_build(isolated_env, serve, monkeypatch, capsys):
    """ResNet50's file (98 MB at full size) has an MD5 that Keras publishes: checked after the
    structural check; a file that fails it is removed and the course falls back in one line."""
    www = isolated_env / "www"
    www.mkdir()
    name, path, reference = keras_fixture(www, include_top=False, network="resnet50")
    serve_as_canonical(monkeypatch, name, f"{serve(www)}/{path.name}")
    kwargs = {"input_size": 32, "pooling": "avg"}
    # the fixture is not Keras' file, so Keras' MD5 refuses it: removed, and the fallback is used
    net = models.load_imagenet("resnet50", include_top=False, **kwargs)
    assert net.source == "offline" and net.name != "resnet50"
    out = capsys.readouterr().out
    assert "ResNet50 weights arrived damaged and were not kept, using" in out, out
    assert not assets.cached_path(name).exists()
    # with the fixture's own MD5 in place of Keras': downloaded, checked, built with its weights
    monkeypatch.setitem(models.KERAS_MD5, name, hashlib.md5(path.read_bytes()).hexdigest())
    net = models.load_imagenet("resnet50", include_top=False, **kwargs)
    assert (net.name, net.source) == ("resnet50", "online")
    ours = {w.path: w.numpy() for w in net.model.weights}
    for w in reference.weights:
        np.testing.assert_array_equal(ours[w.path], w.numpy())
    assert models.load_imagenet("resnet50", include_top=False, **kwargs).source == "cache"


def test_a_wrong_weights_file_fails_the_structural_check(isolated_env, serve, monkeypatch):
    www = isolated_env / "www"
    www.mkdir()
    _, notop, _ = keras_fixture(www, include_top=False)
    # the feature extractor's file served where the classifier's should be
    top_name = "keras_mobilenet_v2_224"
    (www / "swapped.h5").write_bytes(notop.read_bytes())
    serve_as_canonical(monkeypatch, top_name, f"{serve(www)}/swapped.h5")
    monkeypatch.setenv("TLCOURSE_OFFLINE", "0")
    with pytest.raises(assets.AssetUnavailable, match="not a readable Keras weights file.*[Cc]ount mismatch"):
        models.load_imagenet("mobilenet_v2")


def test_mnist_download_checksum_and_load(isolated_env, serve, monkeypatch):
    from tlcourse import data

    www = isolated_env / "www"
    www.mkdir()
    rng = np.random.default_rng(0)
    parts = {"x_train": rng.integers(0, 256, (200, 28, 28), dtype=np.uint8),
             "y_train": np.tile(np.arange(10, dtype=np.uint8), 20),
             "x_test": rng.integers(0, 256, (50, 28, 28), dtype=np.uint8),
             "y_test": np.tile(np.arange(10, dtype=np.uint8), 5)}
    np.savez(www / "mnist.npz", **parts)
    asset = dataclasses.replace(assets.get("mnist"), url=f"{serve(www)}/mnist.npz",
                                sha256=assets.sha256(www / "mnist.npz"))
    monkeypatch.setitem(assets.REGISTRY, "mnist", asset)
    digits = data.load_mnist(n_train=100)
    assert digits.source == "online" and digits.x_train.shape == (100, 28, 28)
    np.testing.assert_array_equal(data.load_mnist().x_test, parts["x_test"])


def test_rotten_tomatoes_through_an_http_mirror(isolated_env, serve, monkeypatch):
    from tlcourse import data

    if not SHARED_ASSETS.is_dir():
        pytest.skip("../shared/assets is not next to this checkout")
    monkeypatch.setenv("TLCOURSE_MIRROR", serve(SHARED_ASSETS))
    splits = data.load_rotten_tomatoes(n_train=300)
    assert splits.source == "mirror" and len(splits.train_text) == 300
    assert len(splits.val_text) + len(splits.test_text) == 12_808 - 9_221
    assert data.load_rotten_tomatoes(n_train=300).source == "cache"


def test_a_folder_mirror_serves_a_keras_hub_preset(isolated_env, monkeypatch):
    from tlcourse import text

    try:
        folder = text.minilm_path()
    except assets.AssetUnavailable as exc:
        pytest.skip(str(exc))
    mirror = isolated_env / "mirror"
    mirror.mkdir()
    (mirror / "all-MiniLM-L6-v2").symlink_to(folder, target_is_directory=True)
    monkeypatch.setenv("TLCOURSE_MIRROR", str(mirror))
    monkeypatch.setenv("TLCOURSE_OFFLINE", "1")  # a folder mirror is local: used even offline
    enc = text.load_text_encoder("minilm")
    assert enc.source == "mirror"  # the mirror's folder, in keras-hub's BERT layout:
    assert enc.preset == text.bert_layout(mirror / "all-MiniLM-L6-v2")
    vectors = enc.embed(["a good film", "a great movie", "tax forms"], progress=False)
    sim = vectors @ vectors.T / np.outer(*[np.linalg.norm(vectors, axis=1)] * 2)
    assert sim[0, 1] > sim[0, 2]


def minilm_on_a_web_mirror(isolated_env):
    """www/all-MiniLM-L6-v2: the offline MiniLM's checkpoint files and their manifest."""
    from tlcourse import text

    try:
        folder = Path(text.minilm_path())
    except assets.AssetUnavailable as exc:
        pytest.skip(str(exc))
    served = isolated_env / "www" / "all-MiniLM-L6-v2"
    served.mkdir(parents=True)
    for name in text._HF_FILES:
        (served / name).symlink_to(folder / name)
    assets.write_manifest(served)
    return served


def test_an_http_mirror_serves_a_keras_hub_preset(isolated_env, serve, monkeypatch):
    from tlcourse import text

    served = minilm_on_a_web_mirror(isolated_env)
    monkeypatch.setenv("TLCOURSE_MIRROR", serve(served.parent) + "/")
    enc = text.load_text_encoder("minilm")
    cached = isolated_env / "cache" / "presets" / "mirror" / "all-MiniLM-L6-v2"
    assert enc.source == "mirror" and enc.preset == text.bert_layout(cached)
    assert sorted(p.name for p in cached.iterdir() if p.is_file()) == sorted(
        [*text._HF_FILES, "manifest.json"])
    assert (cached / "model.safetensors").read_bytes() == (served / "model.safetensors").read_bytes()
    vectors = enc.embed(["a good film", "a great movie", "tax forms"], progress=False)
    sim = vectors @ vectors.T / np.outer(*[np.linalg.norm(vectors, axis=1)] * 2)
    assert sim[0, 1] > sim[0, 2]
    # a second load takes the checked files from the cache: only the manifest is asked for again
    assert text.load_text_encoder("minilm").source == "mirror"
    assert serve.hits["/all-MiniLM-L6-v2/model.safetensors"] == 1
    assert serve.hits["/all-MiniLM-L6-v2/manifest.json"] == 2


def test_a_damaged_preset_file_from_an_http_mirror_is_refused(isolated_env, serve, monkeypatch):
    import json

    served = minilm_on_a_web_mirror(isolated_env)
    (served / "vocab.txt").unlink()
    (served / "vocab.txt").write_text("[PAD]\n[UNK]\n")  # not the bytes the manifest names
    monkeypatch.setenv("TLCOURSE_MIRROR", serve(served.parent))
    with pytest.raises(assets.AssetDamaged, match="vocab.txt.*SHA-256.*unset TLCOURSE_MIRROR"):
        assets.mirror_preset("hf://sentence-transformers/all-MiniLM-L6-v2")
    cached = isolated_env / "cache" / "presets" / "mirror" / "all-MiniLM-L6-v2"
    assert not (cached / "vocab.txt").exists()
    assert not [p for p in cached.rglob("*") if p.name.startswith(".part-")]
    # a manifest naming a file outside the preset folder is refused before anything is fetched
    manifest = json.loads((served / "manifest.json").read_text())
    entry = manifest.pop("vocab.txt")
    for outside in ("../../outside", "", ".", "/tmp/outside", "a\\..\\..\\outside"):
        (served / "manifest.json").write_text(json.dumps({**manifest, outside: entry}))
        with pytest.raises(assets.AssetDamaged, match="paths inside the folder"):
            assets.mirror_preset("all-MiniLM-L6-v2")
    assert not (isolated_env / "cache" / "outside").exists()


def test_a_preset_from_an_http_mirror_is_reused_when_the_mirror_is_down(isolated_env, serve,
                                                                       monkeypatch, capsys):
    import json

    from tlcourse import text

    served = minilm_on_a_web_mirror(isolated_env)
    monkeypatch.setenv("TLCOURSE_MIRROR", serve(served.parent))
    cached = assets.mirror_preset("all-MiniLM-L6-v2")
    kept = json.loads((cached / "manifest.json").read_text())
    assert kept == json.loads((served / "manifest.json").read_text())
    serve.stop()  # the mirror is down: the verified copy is used, announced, nothing fetched
    assets.forget_probes()
    capsys.readouterr()
    enc = text.load_text_encoder("minilm")
    assert enc.source == "mirror" and enc.preset == text.bert_layout(cached)
    assert "using the copy verified when it was cached" in capsys.readouterr().out
    vectors = enc.embed(["a good film", "a great movie", "tax forms"], progress=False)
    sim = vectors @ vectors.T / np.outer(*[np.linalg.norm(vectors, axis=1)] * 2)
    assert sim[0, 1] > sim[0, 2]
    monkeypatch.setenv("TLCOURSE_OFFLINE", "1")  # offline: the same copy, the mirror not asked
    assert assets.mirror_preset("all-MiniLM-L6-v2") == cached
    # a damaged copy is refused with the fix: a file cut short, then a file missing
    with open(cached / "vocab.txt", "r+b") as fh:
        fh.truncate(10)
    with pytest.raises(assets.AssetDamaged, match="vocab.txt: missing or not the size.*delete"):
        assets.mirror_preset("all-MiniLM-L6-v2")
    (cached / "vocab.txt").unlink()
    with pytest.raises(assets.AssetDamaged, match="damaged \\(vocab.txt"):
        assets.mirror_preset("all-MiniLM-L6-v2")
    (cached / "manifest.json").write_text("{not json")
    with pytest.raises(assets.AssetDamaged, match="not JSON"):
        assets.mirror_preset("all-MiniLM-L6-v2")


def test_a_preset_half_updated_from_an_http_mirror_is_not_reused(isolated_env, serve,
                                                                 monkeypatch):
    """The kept manifest goes before the first changed file is fetched, and comes back only
    once every file passed: a copy cut off halfway through an update is never served."""
    served = minilm_on_a_web_mirror(isolated_env)
    monkeypatch.setenv("TLCOURSE_MIRROR", serve(served.parent))
    cached = assets.mirror_preset("all-MiniLM-L6-v2")
    assert (cached / "manifest.json").is_file()
    (served / "vocab.txt").unlink()
    (served / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    assets.write_manifest(served)  # the mirror changed vocab.txt ...
    (served / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n")  # ... and serves other bytes
    with pytest.raises(assets.AssetDamaged, match="vocab.txt"):
        assets.mirror_preset("all-MiniLM-L6-v2")
    assert not (cached / "manifest.json").exists()
    monkeypatch.setenv("TLCOURSE_OFFLINE", "1")
    assert assets.mirror_preset("all-MiniLM-L6-v2") is None


def test_an_http_mirror_without_the_preset_is_skipped_in_one_line(isolated_env, serve,
                                                                 monkeypatch, capsys):
    (isolated_env / "www").mkdir()
    monkeypatch.setenv("TLCOURSE_MIRROR", serve(isolated_env / "www"))
    assert assets.mirror_preset("bert_tiny_en_uncased") is None
    assert "bert_tiny_en_uncased was not had from the mirror" in capsys.readouterr().out
    monkeypatch.setenv("TLCOURSE_OFFLINE", "1")
    assert assets.mirror_preset("bert_tiny_en_uncased") is None  # offline: never asked
    assert serve.hits["/bert_tiny_en_uncased/manifest.json"] == 1
