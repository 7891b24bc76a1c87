"""Tests of tlcourse.sentiment (lesson 05) on a tiny BERT saved as a keras-hub preset, so they
run in seconds and offline. The real MiniLM is exercised by the lesson notebook itself."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

keras_hub = pytest.importorskip("keras_hub")
import keras  # noqa: E402

from tlcourse import sentiment as S  # noqa: E402

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "film", "the", "was",
         "great", "awful", "##s", "plot", "a", "very"]
GOOD = ["good film", "the film was great", "a very good plot", "great", "good good film",
        "the plot was very great", "a great film", "very good"]
BAD = ["bad film", "the film was awful", "a very bad plot", "awful", "bad bad film",
       "the plot was very awful", "an awful film", "very bad"]


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    """A tiny randomly initialised BERT and its WordPiece tokenizer, saved as a preset."""
    keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("tiny_bert") / "preset"
    tok = keras_hub.models.BertTokenizer(vocabulary=VOCAB, lowercase=True)
    bb = keras_hub.models.BertBackbone(vocabulary_size=len(VOCAB), num_layers=2, num_heads=2,
                                       hidden_dim=16, intermediate_dim=32, max_sequence_length=32)
    bb.save_to_preset(str(folder))
    tok.save_to_preset(str(folder))
    return str(folder)


@pytest.fixture(scope="module")
def pre(preset):
    return keras_hub.models.BertTextClassifierPreprocessor.from_preset(preset, sequence_length=12)


# --------------------------------------------------------------------------- lengths
# --------------------------------------------------------------------------- pipeline
def test_encode_shapes(pre):
    f = S.encode(pre, GOOD[:3])
    assert set(f) == {"token_ids", "padding_mask", "segment_ids"}
    assert all(v.shape == (3, 12) and v.dtype == np.int32 for v in f.values())
    assert f["padding_mask"].sum(1).tolist() == [4, 6, 6]
    with pytest.raises(ValueError, match="preprocessor"):
        S.encode(pre.tokenizer, GOOD)


def test_training_dataset_pads_each_batch_to_its_longest_and_keeps_every_example(pre):
    texts = GOOD + BAD + ["the " * k + "film" for k in range(1, 9)]
    labels = np.arange(len(texts)) % 2
    f = S.encode(pre, texts)
    lengths = f["padding_mask"].sum(1)
    seen = []
    for x, y in S.make_dataset(f, labels, batch_size=4, shuffle=True, seed=1, bucket_width=4):
        mask = x["padding_mask"].numpy()
        own = mask.sum(1)
        # padded only to its own longest, rounded up to a multiple of 4 (at most 12)
        assert x["token_ids"].shape[1] == min(-(-own.max() // 4) * 4, 12)
        assert own.max() - own.min() < 4  # one length bucket per batch
        seen.extend(own.tolist())
        assert set(y.numpy().tolist()) <= {0, 1}
    assert sorted(seen) == sorted(lengths.tolist())


def test_eval_dataset_keeps_order_and_rounds_lengths(pre):
    f = S.encode(pre, GOOD)
    batches = list(S.make_dataset(f, batch_size=3, bucket_width=4))
    ids = np.concatenate([x["token_ids"].numpy()[:, :2] for x in batches])
    assert (ids == f["token_ids"][:, :2]).all()
    assert all(x["token_ids"].shape[1] in (4, 8, 12) for x in batches)


def test_make_dataset_rejects_bad_input(pre):
    f = S.encode(pre, GOOD)
    with pytest.raises(ValueError, match="encode"):
        S.make_dataset({"token_ids": f["token_ids"]})
    with pytest.raises(ValueError, match="one label per text"):
        S.make_dataset(f, [0, 1])
    with pytest.raises(ValueError, match="integers"):
        S.make_dataset(f, np.zeros(len(GOOD)))
    with pytest.raises(ValueError, match="batch_size"):
        S.make_dataset(f, batch_size=0)


# --------------------------------------------------------------------------- models
def test_build_classifier_pretrained_and_random_twin(preset):
    pretrained = S.build_classifier(preset)
    twin = S.build_classifier(preset, pretrained=False)
    assert pretrained.count_params() == twin.count_params()
    saved = keras_hub.models.BertBackbone.from_preset(preset)
    emb = saved.get_layer("token_embedding").embeddings.numpy()
    assert np.allclose(pretrained.backbone.get_layer("token_embedding").embeddings.numpy(), emb)
    assert not np.allclose(twin.backbone.get_layer("token_embedding").embeddings.numpy(), emb)
    # the head: a dense layer named "logits" on a 16-wide pooled vector, 2 classes
    assert pretrained.get_layer("logits").kernel.shape == (16, 2)
    # the mean head never reads the [CLS] pooler, so it is frozen (no gradient would reach it)
    pooler = pretrained.backbone.get_layer("pooled_dense")
    assert not pooler.trainable
    with pytest.raises(ValueError):
        S.build_classifier(preset, pretrained="yes")
    with pytest.raises(ValueError):
        S.build_classifier(preset, num_classes=1)
    with pytest.raises(ValueError, match="dropout"):
        S.build_classifier(preset, dropout=1.5)


def test_mean_head_reads_the_masked_mean(preset, pre):
    """With the dense layer made the identity, the mean classifier's logits are the masked
    mean of the backbone's token vectors (padding left out)."""
    model = S.build_classifier(preset, num_classes=16)
    dense = model.get_layer("logits")
    dense.kernel.assign(np.eye(16, dtype="float32"))
    dense.bias.assign(np.zeros(16, dtype="float32"))
    x = {k: v for k, v in S.encode(pre, ["the film", "a very good plot was great"]).items()}
    seq = np.asarray(model.backbone(x, training=False)["sequence_output"])
    mask = x["padding_mask"][..., None].astype("float32")
    wanted = (seq * mask).sum(1) / mask.sum(1)
    assert np.allclose(np.asarray(model(x, training=False)), wanted, atol=1e-5)


def _fit(model, features, labels, epochs, batch_size=8, lr=1e-2):
    """Plain Keras training on the pipeline (the lesson writes its own recipe)."""
    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ds = S.make_dataset(features, labels, batch_size, shuffle=True, seed=0)
    model.fit(ds, epochs=epochs, verbose=0)
    return model


@pytest.fixture(scope="module")
def trained(preset, pre):
    keras.utils.set_random_seed(0)
    model = S.build_classifier(preset)
    texts = (GOOD + BAD) * 4
    labels = np.array(([1] * len(GOOD) + [0] * len(BAD)) * 4)
    return _fit(model, S.encode(pre, texts), labels, epochs=8)


def test_trained_classifier_learns_a_toy_task(trained, pre):
    probs = S.predict_proba(trained, S.encode(pre, GOOD + BAD))
    acc = (probs.argmax(1) == np.array([1] * len(GOOD) + [0] * len(BAD))).mean()
    assert acc >= 0.9
    assert np.allclose(probs.sum(1), 1.0, atol=1e-5)


def test_predict_proba_matches_the_unbatched_model_in_input_order(trained, pre):
    model = trained
    texts = ["the plot was very awful", "good", "a great film", "bad"]
    f = S.encode(pre, texts)
    batched = S.predict_proba(model, f, batch_size=2)
    one_by_one = np.concatenate([
        S.predict_proba(model, {k: v[i:i + 1] for k, v in f.items()}) for i in range(len(texts))])
    assert np.allclose(batched, one_by_one, atol=1e-5)


def test_save_and_reload_in_safe_mode_with_its_preprocessor(trained, pre, tmp_path):
    model = trained
    path = S.save_classifier(model, pre, tmp_path / "sentiment.keras")
    assert model.preprocessor is None  # attached only while saving
    again = S.load_classifier(path)
    assert again.preprocessor is not None and again.preprocessor.sequence_length == 12
    texts = ["a very good film", "awful plot"]
    expected = S.classify(model, texts, pre)
    got = S.classify(again, texts)  # the reloaded model brings its own preprocessor
    assert got["verdict"].tolist() == expected["verdict"].tolist()
    assert np.allclose(got["p_fresh"], expected["p_fresh"], atol=1e-3)
    with pytest.raises(ValueError, match=".keras"):
        S.save_classifier(model, pre, tmp_path / "sentiment.h5")
    with pytest.raises(ValueError, match="preprocessor"):
        S.save_classifier(model, pre.tokenizer, tmp_path / "x.keras")
    with pytest.raises(ValueError, match="save_classifier"):
        S.load_classifier(tmp_path / "missing.keras")


def test_classify(trained, pre):
    model = trained
    table = S.classify(model, ["a very good film", "awful plot"], pre)
    assert table["verdict"].tolist() == ["fresh", "rotten"]
    with pytest.raises(ValueError, match="preprocessor"):
        S.classify(model, ["good"])
    with pytest.raises(ValueError, match="empty"):
        S.classify(model, ["  "], pre)


def test_sentence_box_wraps_classify(trained, pre):
    model = trained
    ui = S.sentence_box(model, pre)
    ui.text.value = "a very good film"  # Enter in the box
    ui.button.click()
    ui.text.value = ""
    ui.button.click()  # an empty box prints the reason instead of raising


# --------------------------------------------------------------------------- cache, ready-made
class _FakeEncoder:
    name, preset, source = "fake", "nowhere", "offline"

    class backbone:  # noqa: N801 - mimics encoder.backbone.hidden_dim
        hidden_dim = 3

    def __init__(self):
        self.calls = 0

    def embed(self, texts, sequence_length):
        self.calls += 1
        return np.arange(len(texts) * 3, dtype=np.float32).reshape(-1, 3) + sequence_length


def test_cached_embeddings_computes_once(monkeypatch, tmp_path):
    monkeypatch.setenv("TLCOURSE_CACHE", str(tmp_path))
    enc = _FakeEncoder()
    a = S.cached_embeddings(enc, ["x", "y"], 16)
    b = S.cached_embeddings(enc, ["x", "y"], 16)
    assert enc.calls == 1 and np.array_equal(a, b)
    S.cached_embeddings(enc, ["x", "z"], 16)
    S.cached_embeddings(enc, ["x", "y"], 32)
    assert enc.calls == 3
    with pytest.raises(ValueError):
        S.cached_embeddings(object(), ["x"])


def test_ready_made_classifier_offline(monkeypatch, capsys):
    monkeypatch.setenv("TLCOURSE_OFFLINE", "1")
    assert S.ready_made_classifier() is None
    assert "needs the network" in capsys.readouterr().out
    from tlcourse import assets

    monkeypatch.setattr(assets, "reachable", lambda url, timeout=3.0: False)
    monkeypatch.setenv("TLCOURSE_OFFLINE", "0")
    with pytest.raises(assets.AssetUnavailable, match="TLCOURSE_OFFLINE=0"):
        S.ready_made_classifier()
    monkeypatch.delenv("TLCOURSE_OFFLINE")
    assert S.ready_made_classifier() is None
    assert "skipped" in capsys.readouterr().out


# --------------------------------------------------------------------------- baselines
def test_fit_best_logreg_on_texts_and_features():
    texts = GOOD + BAD
    y = np.array([1] * len(GOOD) + [0] * len(BAD))
    pipe, c, acc = S.fit_best_logreg(texts, y, texts, y, cs=(1.0, 100.0), tfidf=True)
    assert c in (1.0, 100.0) and acc == 1.0
    assert pipe.predict(["a good film"]).tolist() == [1]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    yy = (x[:, 0] > 0).astype(int)
    _, _, acc = S.fit_best_logreg(x[:30], yy[:30], x[30:], yy[30:])
    assert acc >= 0.8
    with pytest.raises(ValueError, match="class"):
        S.fit_best_logreg(x, np.zeros(40, int), x, yy)
    with pytest.raises(ValueError, match="2D"):
        S.fit_best_logreg(x[:, 0], yy, x, yy)
    with pytest.raises(ValueError, match="cs"):
        S.fit_best_logreg(x, yy, x, yy, cs=(0.0,))


def test_fit_best_logreg_tfidf_matches_a_pipeline_fitted_per_c():
    # the vocabulary is fitted once for all values of C: the same choice and the same model as
    # fitting TF-IDF and the regression together for each C
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(1)
    words = ["good", "bad", "film", "plot", "dull", "fine", "great", "awful", "long", "fun"]
    texts = [" ".join(rng.choice(words, 6)) for _ in range(120)]
    y = np.array([int(t.count("good") + t.count("great") + t.count("fun")
                      > t.count("bad") + t.count("awful") + t.count("dull")) for t in texts])
    cs = (0.1, 1.0, 10.0)
    pipe, c, acc = S.fit_best_logreg(texts[:80], y[:80], texts[80:], y[80:], cs=cs, tfidf=True)
    reference = {}
    for value in cs:
        ref = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                            LogisticRegression(C=value, max_iter=3000)).fit(texts[:80], y[:80])
        reference[value] = (float(np.mean(ref.predict(texts[80:]) == y[80:])), ref)
    best = max(cs, key=lambda v: reference[v][0])  # the first of equals, as fit_best_logreg
    assert (c, acc) == (best, reference[best][0])
    np.testing.assert_allclose(pipe.predict_proba(texts), reference[best][1].predict_proba(texts))
    assert len(pipe) == 2 and pipe[0].vocabulary_ == reference[best][1][0].vocabulary_


def test_embed_traces_its_pooling_once_per_encoder(preset):
    from tlcourse import text

    model = S.build_classifier(preset)
    tok = keras_hub.models.BertTokenizer.from_preset(preset)
    encoder = text.TextEncoder("tiny", preset, model.backbone, tok, "offline", "tiny BERT")
    feats = encoder.embed(GOOD + BAD, sequence_length=12, progress=False)
    assert feats.shape == (len(GOOD + BAD), 16)
    encoder.embed(GOOD[:3], sequence_length=12, progress=False)
    assert encoder.__dict__["_pooled"].experimental_get_tracing_count() <= 2


def test_build_classifier_in_mixed_bfloat16(preset, pre):
    model = S.build_classifier(preset, dtype="mixed_bfloat16")
    assert model.backbone.dtype_policy.name == "mixed_bfloat16"
    assert all(w.dtype == "float32" for w in model.weights)  # weights stay float32
    probs = S.predict_proba(model, S.encode(pre, GOOD))
    assert probs.dtype == np.float32 and np.allclose(probs.sum(1), 1.0, atol=1e-2)
    with pytest.raises(ValueError, match="dtype"):
        S.build_classifier(preset, dtype="float16")


# --------------------------------------------------------------------------- the lesson's recipe
def test_warmup_cosine_rises_then_falls_to_zero():
    schedule = S.warmup_cosine(100, 5e-5, 0.1)
    rates = [float(schedule(s)) for s in (0, 5, 10, 55, 100)]
    assert rates[0] == 0.0 and rates[1] == pytest.approx(2.5e-5) and rates[2] == pytest.approx(5e-5)
    assert rates[2] > rates[3] > rates[4] and rates[4] == pytest.approx(0.0, abs=1e-12)


def test_warm_start_copies_the_probe_into_the_head(preset, pre):
    from sklearn.linear_model import LogisticRegression

    model = S.build_classifier(preset)
    f = S.encode(pre, GOOD + BAD)
    seq = np.asarray(model.backbone(f, training=False)["sequence_output"])
    mask = f["padding_mask"][..., None].astype("float32")
    pooled = (seq * mask).sum(1) / mask.sum(1)
    y = np.array([1] * len(GOOD) + [0] * len(BAD))
    probe = LogisticRegression().fit(pooled, y)
    S.warm_start(model, probe)
    assert np.allclose(S.predict_proba(model, f), probe.predict_proba(pooled), atol=1e-4)


def test_finetune_trains_and_frees_the_optimizer(preset, pre):
    import weakref

    keras.utils.set_random_seed(0)
    model = S.build_classifier(preset)
    texts = (GOOD + BAD) * 2
    labels = np.array(([1] * len(GOOD) + [0] * len(BAD)) * 2)
    losses = S.finetune(model, S.encode(pre, texts), labels, epochs=2, peak_lr=1e-3, verbose=0)
    assert len(losses) == 2 * int(np.ceil(len(labels) / S.BATCH)) and np.isfinite(losses).all()
    assert model.optimizer is None and model.get_layer("logits").trainable
    alive = [weakref.ref(o) for o in __import__("gc").get_objects()
             if isinstance(o, keras.optimizers.AdamW)]
    assert not any(ref() is not None for ref in alive)  # AdamW's state is not held any more
