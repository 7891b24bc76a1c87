"""Lesson 05's infrastructure: cached embeddings and keras-hub's ready-made classifier.

The lesson's own code (the length-bucketed pipeline, the baselines, the classifier with its
mean-pooling head and the fine-tuning recipe) is written in its cells; the cells marked
``#@save sentiment`` are copied below the mark, for the solutions and the tests.
"""

from __future__ import annotations

import gc
import hashlib
from pathlib import Path

import keras
import keras_hub
import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from . import text

#: label names of the Rotten Tomatoes snippets (index = label)
LABELS = ("rotten", "fresh")


# --------------------------------------------------------------------------- frozen features
def cached_embeddings(encoder, texts, sequence_length: int = 64) -> np.ndarray:
    """``encoder.embed(texts)`` computed once and kept in the course cache as a ``.npy`` file
    named by a hash of the encoder, the length and the texts; read back without pickle."""
    from . import assets, config

    texts = text.as_texts(texts)
    config.integer("sequence_length", sequence_length, 4)
    if not hasattr(encoder, "embed"):
        raise ValueError("encoder must be a tlcourse TextEncoder: text.load_text_encoder(...)")
    key = hashlib.sha256(f"{encoder.name}|{encoder.preset}|{encoder.source}|{sequence_length}".encode())
    for t in texts:
        key.update(t.encode("utf-8") + b"\0")
    path = config.cache_dir() / "features" / f"embed_{encoder.name}_{key.hexdigest()[:20]}.npy"
    return assets.cached_array(
        path, lambda: encoder.embed(texts, sequence_length=sequence_length),
        f"embeddings of {len(texts)} texts", shape=(len(texts), encoder.backbone.hidden_dim))


# --------------------------------------------------------------------------- ready-made model
#: keras-hub preset already fine-tuned for sentiment (SST-2: 0 = negative, 1 = positive)
READY_MADE = "bert_tiny_en_uncased_sst2"


def ready_made_classifier(preset: str = READY_MADE):
    """keras-hub's BERT fine-tuned for sentiment, with its preprocessor (a Kaggle download), or
    None where it cannot be had: ``TLCOURSE_OFFLINE=1`` never downloads, ``=0`` makes a failed
    download an error, unset prints one line and returns None."""
    from . import assets

    if not isinstance(preset, str) or not preset:
        raise ValueError("preset must be a keras-hub preset name such as 'bert_tiny_en_uncased_sst2'")
    if (local := assets.mirror_preset(preset)) is not None:
        return keras_hub.models.TextClassifier.from_preset(str(local))

    def online():
        if not assets.reachable("https://www.kaggle.com"):
            raise assets.AssetUnavailable("www.kaggle.com is unreachable")
        try:
            return assets.Sourced(keras_hub.models.TextClassifier.from_preset(preset), "online", preset)
        except Exception as exc:  # keras-hub raises various errors for failed downloads
            raise assets.AssetUnavailable(f"keras-hub preset {preset!r}: {exc}") from exc

    return assets.with_fallback(f"the ready-made classifier {preset}", online,
                                lambda: assets.Sourced(None, "offline", ""),
                                "nothing: it needs the network, skipped").value


# ---- saved from the lessons by tools/save_cells.py: edit the cells there, not here ----


# Defined in notebooks/05_bert_sentiment.ipynb, section "How long should a sequence be?"
def make_dataset(features, labels=None, batch_size=32, shuffle=False, seed=0, bucket_width=8):
    """A tf.data pipeline of the token ids from encode() (and integer labels), each batch padded
    only to its own longest text, rounded up to a multiple of bucket_width. shuffle=True
    (training): reshuffled every epoch, texts of similar length batched together."""
    if not isinstance(features, dict) or "padding_mask" not in features:
        raise ValueError("features must be the dict that encode(preprocessor, texts) returns")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    seq_len = features["token_ids"].shape[1]
    lengths = features["padding_mask"].sum(1).astype("int32")
    lengths = np.minimum(-(-lengths // bucket_width) * bucket_width, seq_len)  # round up
    parts = (dict(features), lengths)
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != lengths.shape or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError("labels must be integers (0 = rotten, 1 = fresh), one label per text")
        parts += (labels.astype("int32"),)
    ds = tf.data.Dataset.from_tensor_slices(parts)

    def trim(x, length, *y):  # cut the padding past this text's rounded length
        x = {k: v[:length] for k, v in x.items()}
        return (x, *y) if y else x

    if shuffle:
        ds = ds.shuffle(len(lengths), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(trim, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if shuffle:
        boundaries = list(range(bucket_width + 1, seq_len + 1, bucket_width))
        ds = ds.bucket_by_sequence_length(lambda x, *_: tf.shape(x["token_ids"])[0], boundaries,
                                          [batch_size] * (len(boundaries) + 1))
    else:
        ds = ds.padded_batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE)


def encode(preprocessor, texts):
    """Tokenise texts once: a dict of int32 arrays token_ids, padding_mask and segment_ids of
    shape (n, sequence_length), truncated and padded to the preprocessor's length."""
    texts = text.as_texts(texts)
    if not (hasattr(preprocessor, "sequence_length") and hasattr(preprocessor, "tokenizer")):
        raise ValueError("preprocessor must be a keras-hub text classifier preprocessor, e.g. "
                         "encoder.preprocessor(48)")
    parts = [preprocessor(texts[s:s + 1024]) for s in range(0, len(texts), 1024)]
    return {k: np.concatenate([np.asarray(x[k]).astype(np.int32) for x in parts])
            for k in ("token_ids", "padding_mask", "segment_ids")}


def predict_proba(model, features, batch_size=32):
    """Class probabilities (n, classes) in the input order, of a model that outputs logits.
    Texts are sorted by length, so each batch carries little padding; up to 512 texts run
    eagerly (tracing the network would take longer than it saves)."""
    if not isinstance(features, dict) or "padding_mask" not in features:
        raise ValueError("features must be the dict that encode(preprocessor, texts) returns")
    order = np.argsort(features["padding_mask"].sum(1), kind="stable")
    ds = make_dataset({k: v[order] for k, v in features.items()}, batch_size=batch_size)
    attached, model.preprocessor = getattr(model, "preprocessor", None), None  # the features are token ids already
    try:
        if len(order) > 512:
            logits = np.asarray(model.predict(ds, verbose=0), np.float32)
        else:
            logits = np.concatenate([np.asarray(model(x, training=False), np.float32) for x in ds])
    finally:
        model.preprocessor = attached
    out = np.empty_like(logits)
    out[order] = keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1))
    return out


# Defined in notebooks/05_bert_sentiment.ipynb, section "4. Baselines first"
def fit_best_logreg(x_train, y_train, x_val, y_val, cs=(0.25, 1.0, 4.0, 16.0), tfidf=False):
    """Logistic regression with its regularisation strength C picked on the validation split.
    tfidf=True: x_train and x_val are texts, turned into TF-IDF weights of words and word pairs;
    otherwise feature matrices. Returns (fitted pipeline, best C, its validation accuracy)."""
    if not cs or min(cs) <= 0:
        raise ValueError(f"cs must be positive values of C, e.g. (0.25, 1, 4); got {cs!r}")
    if len(x_train) != len(y_train) or len(x_val) != len(y_val):
        raise ValueError("give one label per example: len(x_train) == len(y_train) and "
                         "len(x_val) == len(y_val)")
    steps = []
    if tfidf:  # the vocabulary and its weights depend on the texts, not on C: fitted once
        steps = [TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(x_train)]
        x_train, x_val = steps[0].transform(x_train), steps[0].transform(x_val)
    best = None
    for c in cs:
        probe = LogisticRegression(C=c, max_iter=3000).fit(x_train, y_train)
        accuracy = float(np.mean(probe.predict(x_val) == np.asarray(y_val)))
        if best is None or accuracy > best[2]:
            best = (probe, c, accuracy)
    return make_pipeline(*steps, best[0]), best[1], best[2]


# Defined in notebooks/05_bert_sentiment.ipynb, section "6. Fine-tuning the whole encoder"
BATCH, EPOCHS = 16, 1
PEAK_LR, WARMUP_SHARE, WEIGHT_DECAY, CLIPNORM = 5e-5, 0.1, 0.01, 1.0


def warmup_cosine(total_steps, peak_lr=PEAK_LR, warmup_share=WARMUP_SHARE):
    """Linear warm-up from 0 to peak_lr, then cosine decay to 0 at total_steps."""
    warmup = max(1, round(warmup_share * total_steps))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0, warmup_target=peak_lr, warmup_steps=warmup,
        decay_steps=max(total_steps - warmup, 1))


def make_optimizer(total_steps, peak_lr=PEAK_LR, warmup_share=WARMUP_SHARE):
    """AdamW on that schedule, with decoupled weight decay and gradient clipping."""
    optimizer = keras.optimizers.AdamW(learning_rate=warmup_cosine(total_steps, peak_lr, warmup_share),
                                       weight_decay=WEIGHT_DECAY, clipnorm=CLIPNORM)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])  # LayerNorm: gamma, beta
    return optimizer


# Defined in notebooks/05_bert_sentiment.ipynb, section "6. Fine-tuning the whole encoder"
@keras.saving.register_keras_serializable(package="tlcourse")
class MeanPooledBertClassifier(keras_hub.models.TextClassifier):
    """A keras-hub text classifier whose head (dropout, then the dense layer "logits") reads the
    masked mean of the token vectors. A keras-hub task saves with its preprocessor."""

    backbone_cls = keras_hub.models.BertBackbone
    preprocessor_cls = keras_hub.models.BertTextClassifierPreprocessor

    def __init__(self, backbone, num_classes, preprocessor=None, dropout=0.1, **kwargs):
        self.backbone, self.preprocessor = backbone, preprocessor
        backbone.get_layer("pooled_dense").trainable = False  # the [CLS] pooler: unused here
        self.output_dropout = keras.layers.Dropout(dropout, dtype=backbone.dtype_policy,
                                                   name="classifier_dropout")
        # float32 head whatever the backbone computes in: bfloat16 logits would lose digits
        self.output_dense = keras.layers.Dense(
            num_classes, kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            dtype="float32", name="logits")
        inputs = backbone.input
        tokens = keras.ops.cast(backbone(inputs)["sequence_output"], "float32")
        mask = keras.ops.cast(keras.ops.expand_dims(inputs["padding_mask"], -1), "float32")
        pooled = keras.ops.sum(tokens * mask, axis=1) / keras.ops.maximum(
            keras.ops.sum(mask, axis=1), 1.0)  # the masked mean
        outputs = self.output_dense(self.output_dropout(pooled))
        super().__init__(inputs=inputs, outputs=outputs, **{"compile": False, **kwargs})
        self.num_classes, self.dropout = num_classes, dropout

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "dropout": self.dropout}


def build_classifier(preset, num_classes=2, pretrained=True, dropout=0.1, dtype="float32"):
    """The classifier on a keras-hub preset (e.g. encoder.preset), fed by make_dataset, with
    the preset's weights or (pretrained=False) the same network with random weights.
    dtype: "float32", or "mixed_bfloat16" (float32 weights, bfloat16 arithmetic)."""
    if not isinstance(preset, str) or not preset:
        raise ValueError("preset must be a keras-hub preset name or folder, e.g. encoder.preset")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    if not isinstance(pretrained, bool) or dtype not in ("float32", "mixed_bfloat16"):
        raise ValueError(f"pretrained must be True or False and dtype 'float32' or "
                         f"'mixed_bfloat16'; got {pretrained!r}, {dtype!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a rate from 0 to below 1, e.g. 0.1; got {dropout!r}")
    backbone = keras_hub.models.BertBackbone.from_preset(preset, load_weights=pretrained,
                                                         dtype=dtype)
    return MeanPooledBertClassifier(backbone, num_classes, dropout=dropout)


def warm_start(model, probe):
    """Copy a fitted binary logistic regression on the pooled features into the 2-logit head."""
    dense = model.get_layer("logits")
    w = probe.coef_[0].astype("float32") / 2
    b = float(probe.intercept_[0]) / 2
    dense.kernel.assign(np.stack([-w, w], axis=1))  # logits (-s/2, s/2), s = w . x + b
    dense.bias.assign(np.array([-b, b], dtype="float32"))
    return model


# Defined in notebooks/05_bert_sentiment.ipynb, section "6. Fine-tuning the whole encoder"
def finetune(model, features, labels, epochs=EPOCHS, peak_lr=PEAK_LR, seed=0, eager=False,
             verbose=1):
    """Fine-tune model on token ids from encode() with the recipe above; returns the running
    mean of the training loss after each step."""
    steps = int(np.ceil(len(labels) / BATCH)) * epochs
    model.compile(optimizer=make_optimizer(steps, peak_lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False, run_eagerly=eager)
    losses = []
    keep = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: losses.append(float(logs["loss"])))
    ds = make_dataset(features, labels, BATCH, shuffle=True, seed=seed)
    model.fit(ds.repeat().take(steps), epochs=1, steps_per_epoch=steps, callbacks=[keep],
              verbose=verbose)
    # done training: free AdamW's two numbers per weight and the traced step. Keras keeps the
    # optimizer in its tracking and in the compile settings too: drop it there as well
    del model.optimizer
    model.optimizer, model.train_function, model.compiled, model._compile_config = None, None, False, None
    gc.collect()
    return np.array(losses)


# Defined in notebooks/05_bert_sentiment.ipynb, section "6. Fine-tuning the whole encoder"
def save_classifier(model, preprocessor, path):
    """Save ``model`` with ``preprocessor`` attached as one ``.keras`` file (configuration,
    weights and the tokenizer's vocabulary; no pickled Python, no optimizer state). Returns
    the path; ``model`` itself is left as it was."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"save to a file ending in .keras, got {path.name!r}")
    if not hasattr(model, "preprocessor"):
        raise ValueError("model must be a classifier from build_classifier()")
    if not hasattr(preprocessor, "tokenizer"):
        raise ValueError("preprocessor must be the keras-hub preprocessor the model was trained "
                         "with, e.g. encoder.preprocessor(48)")
    path.parent.mkdir(parents=True, exist_ok=True)
    previous, optimizer = model.preprocessor, getattr(model, "optimizer", None)
    model.preprocessor, model.optimizer = preprocessor, None
    try:
        model.save(path)
    finally:
        model.preprocessor, model.optimizer = previous, optimizer
    return path


# Defined in notebooks/05_bert_sentiment.ipynb, section "Save, reload in safe mode, and use"
def classify(model, sentences, preprocessor=None):
    """A table of each sentence, its verdict (rotten or fresh) and P(fresh). model outputs
    logits and carries its preprocessor (a reloaded one does) or takes preprocessor."""
    if isinstance(sentences, str) or not all(isinstance(s, str) and s.strip() for s in sentences):
        raise ValueError("sentences must be a list of non-empty strings, e.g. [\"A fine film.\"]")
    preprocessor = preprocessor or getattr(model, "preprocessor", None)
    if preprocessor is None:
        raise ValueError("this model has no preprocessor: pass preprocessor="
                         "encoder.preprocessor(sequence_length)")
    probs = predict_proba(model, encode(preprocessor, list(sentences)))
    return pd.DataFrame({"sentence": sentences, "verdict": [LABELS[i] for i in probs.argmax(1)],
                         "p_fresh": probs[:, 1].round(3)})


def sentence_box(model, preprocessor=None, placeholder="Type a sentence about a film"):
    """A text box and a button (ipywidgets) that run classify() on what you type."""
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


# Defined in notebooks/05_bert_sentiment.ipynb, section "Save, reload in safe mode, and use"
def load_classifier(path):
    """Load a classifier saved by :func:`save_classifier` in Keras' safe mode; it comes back
    with its preprocessor, so it takes raw strings."""
    path = Path(path)
    if path.suffix != ".keras" or not path.is_file():
        raise ValueError(f"{path} is not a saved .keras file: save one with save_classifier()")
    return keras.models.load_model(path, safe_mode=True, compile=False)
