import matplotlib

matplotlib.use("Agg")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tlcourse import plot  # noqa: E402


def test_histories_draws_train_and_val():
    fig = plot.histories({"a": {"loss": [1, 0.5], "val_loss": [1.2, 0.7]}, "b": {"loss": [2, 1]}},
                         metrics="loss")
    assert len(fig.axes[0].lines) == 3
    with pytest.raises(ValueError):
        plot.histories({})


def test_learning_curves_checks_lengths():
    fig = plot.learning_curves([10, 30], {"a": [0.5, 0.6], "b": [0.4, 0.7]})
    assert len(fig.axes[0].lines) == 2
    with pytest.raises(ValueError, match="2 budgets"):
        plot.learning_curves([10, 30], {"a": [0.5]})


def test_learning_curves_label_only_the_budgets():
    fig = plot.learning_curves([64, 128, 300], {"a": [0.5, 0.6, 0.7]})
    fig.canvas.draw()
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["64", "128", "300"]
    assert [t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text()] == []


def test_image_grid_marks_mistakes_red():
    fig = plot.image_grid(np.zeros((3, 8, 8)), true=[1, 2, 3], pred=[1, 0, 3], ncols=3)
    titles = [ax.title for ax in fig.axes[:3]]
    assert titles[1].get_color() == "red" and titles[0].get_color() == "black"
    with pytest.raises(ValueError, match="labels"):
        plot.image_grid(np.zeros((3, 8, 8)), true=[1])


def test_topk_and_confusion():
    fig = plot.topk_bars([("n1", "cat", 0.7), ("n2", "dog", 0.2)])
    ticks = {t.get_text(): t.get_position()[1] for t in fig.axes[0].get_yticklabels()}
    assert ticks["cat"] > ticks["dog"]  # the best class on top
    assert sorted(p.get_width() for p in fig.axes[0].patches) == pytest.approx([0.2, 0.7])
    fig = plot.confusion_matrix([0, 1, 1], [0, 1, 0])
    assert fig.axes
    with pytest.raises(ValueError):
        plot.topk_bars([])


def test_embedding_2d_pca_and_domains():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(50, 5))
    fig = plot.embedding_2d(feats, rng.integers(0, 3, 50), domains=np.repeat(["s", "t"], 25))
    assert fig.points.shape == (50, 2) and len(fig.axes) >= 2
    with pytest.raises(ValueError, match="method"):
        plot.embedding_2d(feats, np.zeros(50), method="umap")


def test_trainable_map_counts():
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    m.layers[0].trainable = False
    fig = plot.trainable_map(m)
    assert "8 trainable" in fig.axes[0].get_title()
