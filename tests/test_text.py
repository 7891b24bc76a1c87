import numpy as np
import pytest

from tlcourse import text


@pytest.fixture(scope="module")
def encoder():
    import os

    os.environ["TLCOURSE_OFFLINE"] = "1"
    try:
        return text.load_text_encoder("minilm")
    finally:
        del os.environ["TLCOURSE_OFFLINE"]


def test_offline_minilm_is_the_real_checkpoint(encoder):
    assert encoder.source == "offline" and "MiniLM" in encoder.description
    assert encoder.backbone.num_layers == 6 and encoder.backbone.hidden_dim == 384
    assert encoder.backbone.count_params() == 22_713_216


def test_embeddings_capture_meaning(encoder):
    emb = encoder.embed(["A wonderful, moving film.", "A truly great movie.",
                         "The stock market fell sharply today."], progress=False)
    emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    sim = emb @ emb.T
    assert sim[0, 1] > sim[0, 2] + 0.3  # two film reviews are closer than a finance headline


def test_embed_order_and_padding_do_not_matter(encoder):
    texts = ["short", "a somewhat longer sentence about a film", "mid length text"]
    one = encoder.embed(texts, batch_size=1, progress=False)
    many = encoder.embed(texts, batch_size=3, progress=False)
    assert np.allclose(one, many, atol=1e-4)


@pytest.mark.parametrize("bad", ["a single string", [], [1, 2]])
def test_embed_bad_input(encoder, bad):
    with pytest.raises(ValueError, match="list of strings|not one string"):
        encoder.embed(bad)


def test_sequence_length_past_the_position_table_is_refused(encoder):
    longest = encoder.backbone.max_sequence_length
    with pytest.raises(ValueError, match=f"at most {longest}"):
        encoder.embed(["a film"], sequence_length=longest + 88)


def test_unknown_encoder():
    with pytest.raises(ValueError, match="choose one of: minilm"):
        text.load_text_encoder("gpt5")


def test_online_only_without_network_is_an_error(isolated_env, monkeypatch):
    monkeypatch.setenv("TLCOURSE_OFFLINE", "0")
    from tlcourse.assets import AssetUnavailable

    if text.assets.reachable("https://huggingface.co"):
        pytest.skip("the network is reachable here")
    with pytest.raises(AssetUnavailable, match="TLCOURSE_OFFLINE=0"):
        text.load_text_encoder("minilm")


def test_bert_layout_renames_keys_only(isolated_env):
    """The tensors keras-hub 0.26 reads are the checkpoint's own, under the original BERT names."""
    from safetensors.numpy import load_file

    src = text.minilm_path()
    out = text.bert_layout(src)
    assert out != src and text.bert_layout(out) == out  # converted once; the result needs nothing
    assert text.bert_layout(src) == out  # the second call reuses the cached folder
    before = load_file(f"{src}/model.safetensors")
    after = load_file(f"{out}/model.safetensors")
    assert "bert.embeddings.word_embeddings.weight" in after
    assert "bert.encoder.layer.0.attention.output.LayerNorm.gamma" in after
    assert len(after) == len(before) - 1  # only the constant position_ids index is left out
    for key, value in before.items():
        if "position_ids" not in key:
            assert np.array_equal(after[text._renamed(key)], value), key
    import os

    assert {"config.json", "model.safetensors", "vocab.txt"} <= set(os.listdir(out))


def test_bert_layout_leaves_other_folders(tmp_path):
    assert text.bert_layout(tmp_path) == str(tmp_path)  # no model.safetensors: not a BERT checkpoint


def test_online_minilm_goes_through_the_same_conversion(isolated_env, monkeypatch):
    """hf://sentence-transformers/all-MiniLM-L6-v2 has the same layout: the files that
    huggingface_hub downloads are converted the same way (download replaced by the local copy)."""
    import huggingface_hub

    asked = {}

    def fake_snapshot(repo_id, allow_patterns=None, **kw):
        asked["repo"], asked["files"] = repo_id, allow_patterns
        return text.minilm_path()

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot)
    got = text._load("minilm", text.ENCODERS["minilm"][0], "online", "test")
    enc = got.value
    assert asked["repo"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert "model.safetensors" in asked["files"] and "vocab.txt" in asked["files"]
    assert enc.preset.startswith(str(isolated_env)) and enc.backbone.count_params() == 22_713_216
