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
