"""Sentiment classification with a pretrained BERT-family encoder: lesson 05's infrastructure.

Introduced in lesson 05 (BERT sentiment with keras-hub). The fine-tuning recipe itself
(AdamW, warm-up and cosine decay, clipping, the warm-started head, compile, fit) is written
in the lesson's cells; this module holds what those cells stand on:

* sequence lengths: :func:`token_lengths`, :func:`truncated_share`,
  :func:`length_for_coverage`, :func:`length_table`;
* a length-bucketed, dynamically padded ``tf.data`` pipeline: :func:`encode`,
  :func:`make_dataset`, :func:`predict_proba`;
* the classifier the lesson fine-tunes (a keras-hub task, so that it saves with its
  preprocessor): :func:`build_classifier` (pretrained, or its randomly initialised twin),
  :func:`save_classifier`, :func:`load_classifier` (safe mode);
* baselines and frozen features cached on disk: :func:`fit_best_logreg`,
  :func:`cached_embeddings`;
* error analysis and the sentence box: :func:`confident_mistakes`, :func:`classify`,
  :func:`sentence_box`.

TensorFlow and keras-hub are imported inside the functions that need them.
"""

from __future__ import annotations

import hashlib

import numpy as np

#: label names of the Rotten Tomatoes snippets (index = label)
LABELS = ("rotten", "fresh")


# --------------------------------------------------------------------------- validation
def _texts(texts, name="texts") -> list:
    if isinstance(texts, str):
        raise ValueError(f"{name} must be a list of strings, not one string: wrap it as [text]")
    try:
        texts = list(texts)
    except TypeError:
        raise ValueError(f"{name} must be a list of strings, got {type(texts).__name__}") from None
    if not texts:
        raise ValueError(f"{name} is empty: give at least one string")
    bad = next((t for t in texts if not isinstance(t, str)), None)
    if bad is not None:
        raise ValueError(f"{name} must hold only strings, found {type(bad).__name__}: "
                         f"convert with [str(t) for t in {name}]")
    return texts


def _positive_int(name, value, minimum=1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _labels(labels, n, name="labels") -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"{name} must be a 1-D array with one label per text "
                         f"({n} texts, got shape {y.shape})")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name} must be integers (0 = rotten, 1 = fresh), got dtype {y.dtype}")
    return y.astype(np.int32)


# --------------------------------------------------------------------------- lengths
def token_lengths(tokenizer, texts) -> np.ndarray:
    """Number of tokens each text becomes, counting the ``[CLS]`` and ``[SEP]`` the
    preprocessor adds (so it compares directly with a sequence length)."""
    texts = _texts(texts)
    if not callable(tokenizer):
        raise ValueError("tokenizer must be a keras-hub tokenizer, e.g. encoder.tokenizer")
    pieces = tokenizer(texts)
    if hasattr(pieces, "to_list"):  # a tf.RaggedTensor (TensorFlow workflow)
        pieces = pieces.to_list()
    return np.array([len(p) + 2 for p in pieces], dtype=np.int64)


def _lengths(lengths) -> np.ndarray:
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or len(lengths) == 0 or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError("lengths must be a non-empty 1-D integer array, e.g. from token_lengths()")
    return lengths


def truncated_share(lengths, sequence_length: int) -> float:
    """Share of texts longer than ``sequence_length`` tokens (those lose their end)."""
    lengths = _lengths(lengths)
    sequence_length = _positive_int("sequence_length", sequence_length, 2)
    return float(np.mean(lengths > sequence_length))


def length_for_coverage(lengths, coverage: float = 0.95) -> int:
    """The shortest sequence length that holds at least ``coverage`` of the texts whole."""
    lengths = _lengths(lengths)
    if isinstance(coverage, bool) or not isinstance(coverage, float) or not 0 < coverage <= 1:
        raise ValueError(f"coverage must be a float in (0, 1], e.g. 0.95; got {coverage!r}")
    ordered = np.sort(lengths)
    k = int(np.ceil(coverage * len(ordered))) - 1
    return int(ordered[max(k, 0)])


def length_table(lengths, sequence_lengths=(16, 32, 48, 64, 128)):
    """A DataFrame: for each candidate sequence length, the share of texts truncated and the
    share of the padded positions that would be padding with fixed-length padding."""
    import pandas as pd

    lengths = _lengths(lengths)
    rows = []
    for s in sequence_lengths:
        s = _positive_int("sequence length", s, 2)
        kept = np.minimum(lengths, s)
        rows.append({"sequence_length": s, "truncated": truncated_share(lengths, s),
                     "padding_share": float(1 - kept.sum() / (s * len(lengths)))})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- data pipeline
def encode(preprocessor, texts) -> dict:
    """Tokenise ``texts`` once with a keras-hub ``BertTextClassifierPreprocessor``: a dict of
    int32 numpy arrays ``token_ids``, ``padding_mask``, ``segment_ids`` of shape
    ``(n, sequence_length)`` (truncated, padded to the preprocessor's length)."""
    texts = _texts(texts)
    if not (hasattr(preprocessor, "sequence_length") and hasattr(preprocessor, "tokenizer")):
        raise ValueError("preprocessor must be a keras-hub text classifier preprocessor, e.g. "
                         "encoder.preprocessor(48)")
    out = {k: [] for k in ("token_ids", "padding_mask", "segment_ids")}
    for start in range(0, len(texts), 1024):
        x = preprocessor(texts[start:start + 1024])
        for k in out:
            out[k].append(np.asarray(x[k]).astype(np.int32))
    return {k: np.concatenate(v) for k, v in out.items()}


def _features(features) -> tuple[dict, int]:
    keys = ("token_ids", "padding_mask", "segment_ids")
    if not isinstance(features, dict) or set(features) != set(keys):
        raise ValueError(f"features must be the dict that encode() returns, with keys {keys}")
    n = len(features["token_ids"])
    if n == 0 or any(np.ndim(features[k]) != 2 or len(features[k]) != n for k in keys):
        raise ValueError("features must hold equally long 2-D arrays: use encode(preprocessor, texts)")
    return features, n


def make_dataset(features, labels=None, batch_size: int = 32, shuffle: bool = False,
                 seed: int = 0, bucket_width: int = 8):
    """A ``tf.data`` pipeline that pads each batch only to its own longest text.

    * ``shuffle=True`` (training): texts are shuffled, grouped into length buckets
      ``bucket_width`` tokens wide (``tf.data.Dataset.bucket_by_sequence_length``), and each
      batch is padded to its bucket's length; the shuffle is reseeded every epoch.
    * ``shuffle=False`` (evaluation): the input order is kept, each batch padded to its own
      longest member. Sort the texts by length first to save the most (as
      :func:`predict_proba` does).

    Lengths are rounded up to a multiple of ``bucket_width`` (at most the preprocessor's
    length), so the model sees a handful of batch shapes rather than one per length:
    TensorFlow's CPU kernels are set up once per shape, which costs time every new shape.
    ``features`` comes from :func:`encode`; ``labels`` (optional) are integers.
    """
    import tensorflow as tf

    features, n = _features(features)
    batch_size = _positive_int("batch_size", batch_size)
    bucket_width = _positive_int("bucket_width", bucket_width)
    seq_len = features["token_ids"].shape[1]
    lengths = features["padding_mask"].sum(1).astype(np.int32)
    lengths = np.minimum(-(-lengths // bucket_width) * bucket_width, seq_len).astype(np.int32)
    parts = (dict(features), lengths)
    if labels is not None:
        parts = parts + (_labels(labels, n),)
    ds = tf.data.Dataset.from_tensor_slices(parts)

    def trim(x, length, *y):
        x = {k: v[:length] for k, v in x.items()}
        return (x, *y) if y else x

    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(trim, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if shuffle:
        boundaries = list(range(bucket_width + 1, seq_len + 1, bucket_width))
        ds = ds.bucket_by_sequence_length(
            lambda x, *_: tf.shape(x["token_ids"])[0], boundaries,
            [batch_size] * (len(boundaries) + 1))
    else:
        ds = ds.padded_batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE)


def predict_proba(model, features, batch_size: int = 64) -> np.ndarray:
    """Class probabilities ``(n, num_classes)`` of a classifier that outputs logits, in the
    input order. Texts are sorted by length so each batch carries little padding."""
    import keras

    features, n = _features(features)
    order = np.argsort(features["padding_mask"].sum(1), kind="stable")
    ds = make_dataset({k: v[order] for k, v in features.items()}, batch_size=batch_size)
    attached = getattr(model, "preprocessor", None)
    if attached is not None:  # the features are already token ids: skip the model's own
        model.preprocessor = None
    try:
        logits = model.predict(ds, verbose=0)
    finally:
        if attached is not None:
            model.preprocessor = attached
    probs = np.asarray(keras.ops.softmax(np.asarray(logits, dtype=np.float32), axis=-1))
    out = np.empty_like(probs)
    out[order] = probs
    return out


# --------------------------------------------------------------------------- baselines
def fit_best_logreg(x_train, y_train, x_val, y_val, cs=(0.25, 1.0, 4.0, 16.0),
                    tfidf: bool = False):
    """Logistic regression with its regularisation ``C`` picked on the validation split.

    ``tfidf=True``: ``x_*`` are raw texts, turned into TF-IDF features of words and word
    pairs (a strong classic baseline); otherwise ``x_*`` are feature matrices (e.g. frozen
    embeddings). Returns ``(fitted scikit-learn pipeline, best C, validation accuracy)``.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    if tfidf:
        x_train, x_val = _texts(x_train, "x_train"), _texts(x_val, "x_val")
    else:
        x_train, x_val = np.asarray(x_train), np.asarray(x_val)
        if x_train.ndim != 2 or x_val.ndim != 2 or x_train.shape[1] != x_val.shape[1]:
            raise ValueError("x_train and x_val must be 2-D feature matrices with the same "
                             "number of columns (or pass texts with tfidf=True)")
    y_train = _labels(y_train, len(x_train), "y_train")
    y_val = _labels(y_val, len(x_val), "y_val")
    if len(np.unique(y_train)) < 2:
        raise ValueError("y_train holds a single class: a classifier needs both labels")
    cs = [float(c) for c in cs]
    if not cs or min(cs) <= 0:
        raise ValueError(f"cs must be positive values of C, e.g. (0.25, 1, 4), got {cs!r}")
    best = None
    for c in cs:
        steps = [TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)] if tfidf else []
        pipe = make_pipeline(*steps, LogisticRegression(C=c, max_iter=3000))
        pipe.fit(x_train, y_train)
        acc = float(np.mean(pipe.predict(x_val) == y_val))
        if best is None or acc > best[2]:
            best = (pipe, c, acc)
    return best


# --------------------------------------------------------------------------- models
POOLINGS = ("mean", "cls")
DTYPES = ("float32", "mixed_bfloat16")
_MEAN_TASK = []  # the keras-hub task class below, defined on first use (keras-hub is heavy)


def _mean_task_class():
    """``MeanPooledBertClassifier``: a keras-hub ``TextClassifier`` whose head reads the masked
    mean of the token vectors. Being a keras-hub task, it carries its preprocessor (tokenizer
    and vocabulary) into a saved ``.keras`` file. Registered with Keras as
    ``tlcourse>MeanPooledBertClassifier``, so loading needs ``tlcourse.sentiment`` (see
    :func:`load_classifier`)."""
    if _MEAN_TASK:
        return _MEAN_TASK[0]
    import keras
    import keras_hub

    @keras.saving.register_keras_serializable(package="tlcourse")
    class MeanPooledBertClassifier(keras_hub.models.TextClassifier):
        backbone_cls = keras_hub.models.BertBackbone
        preprocessor_cls = keras_hub.models.BertTextClassifierPreprocessor

        def __init__(self, backbone, num_classes, preprocessor=None, dropout=0.1, **kwargs):
            self.backbone = backbone
            self.preprocessor = preprocessor
            # the backbone's [CLS] pooler never reaches this head: keep it out of training
            backbone.get_layer("pooled_dense").trainable = False
            self.output_dropout = keras.layers.Dropout(
                dropout, dtype=backbone.dtype_policy, name="classifier_dropout")
            # the pooling and the head compute in float32 whatever the backbone's policy: under
            # mixed_bfloat16 a mean of bfloat16 vectors and bfloat16 logits lose digits
            self.output_dense = keras.layers.Dense(
                num_classes, kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
                dtype="float32", name="logits")
            inputs = backbone.input
            tokens = keras.ops.cast(backbone(inputs)["sequence_output"], "float32")
            mask = keras.ops.cast(keras.ops.expand_dims(inputs["padding_mask"], -1), "float32")
            pooled = keras.ops.sum(tokens * mask, axis=1) / keras.ops.maximum(
                keras.ops.sum(mask, axis=1), 1.0)
            outputs = self.output_dense(self.output_dropout(pooled))
            kwargs.setdefault("compile", False)  # the lesson compiles it with its own recipe
            super().__init__(inputs=inputs, outputs=outputs, **kwargs)
            self.num_classes = num_classes
            self.dropout = dropout

        def get_config(self):
            config = super().get_config()
            config.update({"num_classes": self.num_classes, "dropout": self.dropout})
            return config

    _MEAN_TASK.append(MeanPooledBertClassifier)
    return MeanPooledBertClassifier


def build_classifier(preset: str, num_classes: int = 2, pretrained: bool = True,
                     pooling: str = "mean", dropout: float = 0.1, dtype: str = "float32"):
    """A keras-hub BERT text classifier on ``preset`` (a preset name or a checkpoint folder,
    e.g. ``encoder.preset``), without a preprocessor (feed it :func:`make_dataset`); it
    outputs logits, and ``model.backbone`` is its ``BertBackbone``.

    * ``pooling="mean"``: the head (dropout + dense layer ``logits``) reads the masked mean of
      the token vectors, the pooling sentence-transformers models such as MiniLM were
      trained with.
    * ``pooling="cls"``: keras-hub's own ``BertTextClassifier``, whose head reads the ``[CLS]``
      position through the checkpoint's pooler (a tanh dense layer).

    ``pretrained=False`` builds the same architecture with random weights (keras-hub's
    ``load_weights=False``): the twin to compare with.

    ``dtype`` is a Keras dtype policy for the whole network: ``"float32"``, or
    ``"mixed_bfloat16"`` (weights in float32, arithmetic in bfloat16: faster on CPUs with
    AVX512_BF16 or AMX, and on recent GPUs).
    """
    import keras_hub

    if not isinstance(preset, str) or not preset:
        raise ValueError("preset must be a keras-hub preset name or folder, e.g. encoder.preset")
    num_classes = _positive_int("num_classes", num_classes, 2)
    if not isinstance(pretrained, bool):
        raise ValueError(f"pretrained must be True or False, got {pretrained!r}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a rate from 0 to below 1, e.g. 0.1; got {dropout!r}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if pooling == "cls":
        return keras_hub.models.BertTextClassifier.from_preset(
            preset, num_classes=num_classes, preprocessor=None, load_weights=pretrained,
            dropout=dropout, dtype=dtype)
    backbone = keras_hub.models.BertBackbone.from_preset(preset, load_weights=pretrained,
                                                         dtype=dtype)
    return _mean_task_class()(backbone, num_classes, dropout=dropout)


def save_classifier(model, preprocessor, path):
    """Save ``model`` with ``preprocessor`` attached as one ``.keras`` file (configuration,
    weights and the tokenizer's vocabulary; no pickled Python, no optimizer state: it is for
    predicting). Returns the path; ``model`` itself is left as it was."""
    from pathlib import Path

    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"save to a file ending in .keras, got {path.name!r}")
    if not hasattr(model, "preprocessor"):
        raise ValueError("model must be a classifier from build_classifier()")
    if not (hasattr(preprocessor, "sequence_length") and hasattr(preprocessor, "tokenizer")):
        raise ValueError("preprocessor must be e.g. encoder.preprocessor(sequence_length)")
    path.parent.mkdir(parents=True, exist_ok=True)
    previous, optimizer = model.preprocessor, getattr(model, "optimizer", None)
    model.preprocessor = preprocessor
    model.optimizer = None  # AdamW's two moments per weight would triple the file
    try:
        model.save(path)
    finally:
        model.preprocessor, model.optimizer = previous, optimizer
    return path


def load_classifier(path):
    """Load a classifier saved by :func:`save_classifier`, in Keras' safe mode (no arbitrary
    code runs). It comes back with its preprocessor, so it takes raw strings."""
    from pathlib import Path

    import keras

    path = Path(path)
    if path.suffix != ".keras" or not path.is_file():
        raise ValueError(f"{path} is not a saved .keras file: save one with save_classifier()")
    _mean_task_class()  # registers the lesson's classifier class with Keras
    return keras.models.load_model(path, safe_mode=True, compile=False)


# --------------------------------------------------------------------------- frozen features
def cached_embeddings(encoder, texts, sequence_length: int = 64, batch_size: int = 64,
                      progress: bool = True) -> np.ndarray:
    """``encoder.embed(texts)`` (masked mean pooling), computed once and kept in the course
    cache as a ``.npy`` file named by a hash of the encoder, the length and the texts, so a
    rerun of the lesson loads it in a second. Loading never unpickles (``allow_pickle=False``)."""
    from . import assets, config

    texts = _texts(texts)
    sequence_length = _positive_int("sequence_length", sequence_length, 4)
    if not hasattr(encoder, "embed"):
        raise ValueError("encoder must be a tlcourse TextEncoder: text.load_text_encoder(...)")
    key = hashlib.sha256()
    key.update(f"{encoder.name}|{encoder.preset}|{encoder.source}|{sequence_length}".encode())
    for t in texts:
        key.update(t.encode("utf-8") + b"\0")
    path = config.cache_dir() / "features" / f"embed_{encoder.name}_{key.hexdigest()[:20]}.npy"
    return assets.cached_array(
        path, lambda: encoder.embed(texts, batch_size=batch_size, sequence_length=sequence_length,
                                    progress=progress),
        f"embeddings of {len(texts)} texts", shape=(len(texts), encoder.backbone.hidden_dim))


# --------------------------------------------------------------------------- using the model
def confident_mistakes(texts, labels, probs, k: int = 10):
    """The ``k`` test snippets the model got wrong with the highest confidence: a DataFrame
    with the text, the true and predicted label names and the probability it gave its
    (wrong) answer."""
    import pandas as pd

    texts = _texts(texts)
    y = _labels(labels, len(texts))
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape != (len(texts), len(LABELS)):
        raise ValueError(f"probs must have shape ({len(texts)}, {len(LABELS)}), one row of class "
                         f"probabilities per text (from predict_proba); got {probs.shape}")
    k = _positive_int("k", k)
    pred = probs.argmax(1)
    wrong = np.flatnonzero(pred != y)
    wrong = wrong[np.argsort(-probs[wrong, pred[wrong]], kind="stable")][:k]
    return pd.DataFrame({
        "text": [texts[i] for i in wrong],
        "true": [LABELS[y[i]] for i in wrong],
        "predicted": [LABELS[pred[i]] for i in wrong],
        "confidence": probs[wrong, pred[wrong]].round(3),
    })


def classify(model, sentences, preprocessor=None):
    """Classify raw sentences: a DataFrame with each sentence, the verdict (``rotten`` or
    ``fresh``) and P(fresh). ``model`` outputs logits; it either carries its own
    preprocessor (a saved and reloaded lesson model does) or takes ``preprocessor``."""
    import pandas as pd

    sentences = _texts(sentences, "sentences")
    if any(not s.strip() for s in sentences):
        raise ValueError("sentences must not be empty strings: type a sentence first")
    if preprocessor is None:
        preprocessor = getattr(model, "preprocessor", None)
        if preprocessor is None:
            raise ValueError("this model has no preprocessor: pass preprocessor="
                             "encoder.preprocessor(sequence_length)")
    probs = predict_proba(model, encode(preprocessor, sentences))
    return pd.DataFrame({"sentence": sentences,
                         "verdict": [LABELS[i] for i in probs.argmax(1)],
                         "p_fresh": probs[:, 1].round(3)})


def sentence_box(model, preprocessor=None, placeholder="Type a sentence about a film"):
    """A text box and a button (ipywidgets) that run :func:`classify` on what you type."""
    if not callable(model):
        raise TypeError(f"model must be a keras text classifier, got {type(model).__name__}")
    import ipywidgets as widgets
    from IPython.display import display

    # continuous_update=False: the value changes (and we classify) on Enter, not per key
    box = widgets.Text(placeholder=placeholder, continuous_update=False,
                       layout=widgets.Layout(width="70%"))
    button = widgets.Button(description="Classify", button_style="primary")
    out = widgets.Output()

    def run(_=None):
        out.clear_output()
        with out:
            try:
                display(classify(model, [box.value], preprocessor))
            except ValueError as exc:
                print(exc)

    button.on_click(run)
    box.observe(run, names="value")
    ui = widgets.VBox([widgets.HBox([box, button]), out])
    ui.text, ui.button, ui.output = box, button, out  # handles for tests and exercises
    return ui


# --------------------------------------------------------------------------- ready-made model
#: keras-hub preset already fine-tuned for sentiment (SST-2: 0 = negative, 1 = positive)
READY_MADE = "bert_tiny_en_uncased_sst2"


def ready_made_classifier(preset: str = READY_MADE):
    """keras-hub's BERT already fine-tuned for sentiment, with its preprocessor, or None when
    it cannot be had offline (it is downloaded from Kaggle; no package ships it).

    ``TLCOURSE_OFFLINE=1``: never downloads, returns None. ``TLCOURSE_OFFLINE=0``: a failed
    download is an error. Unset: a failure prints one line and returns None.
    """
    from . import assets, config

    if not isinstance(preset, str) or not preset:
        raise ValueError("preset must be a keras-hub preset name such as 'bert_tiny_en_uncased_sst2'")
    if (local := assets.mirror_preset(preset)) is not None:
        import keras_hub

        return keras_hub.models.TextClassifier.from_preset(str(local))
    mode = config.network_mode()
    if mode == config.OFFLINE:
        assets.announce(f"offline (TLCOURSE_OFFLINE=1): the ready-made classifier {preset} "
                        f"needs the network; skipped")
        return None
    try:
        if not assets.reachable("https://www.kaggle.com"):
            raise assets.AssetUnavailable("www.kaggle.com is unreachable")
        import keras_hub

        try:
            return keras_hub.models.TextClassifier.from_preset(preset)
        except Exception as exc:  # keras-hub raises various errors for failed downloads
            raise assets.AssetUnavailable(f"keras-hub preset {preset!r}: {exc}") from exc
    except assets.AssetUnavailable as exc:
        if mode == config.ONLINE:
            raise assets.AssetUnavailable(f"{exc} (TLCOURSE_OFFLINE=0 forbids skipping it)") from exc
        assets.announce(f"offline: the ready-made classifier {preset} needs the network "
                        f"({exc}); skipped")
        return None
