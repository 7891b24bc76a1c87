"""Figures used across the course; every function returns the matplotlib Figure."""

from __future__ import annotations

import numpy as np

from . import config


def use_course_style() -> None:
    """The course's plot style (called by :func:`tlcourse.setup`)."""
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 100, "figure.figsize": (7, 4), "axes.grid": True,
                         "grid.alpha": 0.3, "axes.spines.top": False,
                         "axes.spines.right": False, "font.size": 10})


def _finish(fig, title=None, ax=None):
    """``fig`` with its title (on ``ax`` when given, else over the figure), laid out tight."""
    if title:
        (ax.set_title if ax is not None else fig.suptitle)(title)
    fig.tight_layout()
    return fig


def histories(runs: dict, metrics=("loss", "accuracy"), title: str | None = None):
    """Training curves of ``runs`` ({name: keras History or dict of metric lists}): a panel
    per metric, training solid and validation (``val_*``) dashed in the same colour."""
    import matplotlib.pyplot as plt

    if not isinstance(runs, dict) or not runs:
        raise ValueError("runs must be a non-empty dict {name: History or dict of lists}")
    if isinstance(metrics, str):
        metrics = (metrics,)
    if not metrics or not all(isinstance(m, str) for m in metrics):
        raise ValueError(f"metrics must name at least one metric, e.g. ('loss', 'accuracy'); "
                         f"got {metrics!r}")
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for i, (name, h) in enumerate(runs.items()):
            h = getattr(h, "history", h)
            if not isinstance(h, dict):
                raise ValueError(f"expected a keras History or a dict of lists, got {type(h).__name__}")
            for key, style, part in ((metric, "-", "train"), (f"val_{metric}", "--", "val")):
                if key in h:
                    ax.plot(range(1, len(h[key]) + 1), h[key], style, color=f"C{i}",
                            label=f"{name} ({part})")
        ax.set(xlabel="epoch", ylabel=metric)
        ax.legend(fontsize=8)
    return _finish(fig, title)


def learning_curves(budgets, curves: dict, xlabel="labelled examples", ylabel="test accuracy",
                    title=None, logx=True):
    """Accuracy against a budget (labels, epochs...) for several methods on one figure."""
    import matplotlib.pyplot as plt

    if not isinstance(curves, dict) or not curves:
        raise ValueError("curves must be a non-empty dict {method: list of scores}")
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, scores in curves.items():
        if len(scores) != len(budgets):
            raise ValueError(f"{name!r} has {len(scores)} scores for {len(budgets)} budgets")
        ax.plot(budgets, scores, "o-", label=name)
    if logx:
        ax.set_xscale("log")
        ax.minorticks_off()  # else the log axis labels minor ticks ("6x10^1") over the budgets
    ax.set_xticks(budgets, [str(b) for b in budgets])
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.legend()
    return _finish(fig, title, ax)


def image_grid(images, true=None, pred=None, class_names=None, ncols=8, title=None, cmap="gray"):
    """A grid of images with optional true/predicted labels (wrong predictions in red)."""
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(f"images must be a non-empty batch (n, h, w[, c]), got shape {images.shape}")
    n = len(images)
    config.integer("ncols", ncols, example=" (images per row)")
    for name, labels in (("true", true), ("pred", pred)):
        if labels is not None and len(labels) != n:
            raise ValueError(f"{name} has {len(labels)} labels for {n} images")
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.4 * ncols, 1.6 * nrows), squeeze=False)

    def name(i):
        return class_names[i] if class_names is not None else str(i)

    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        img = images[k]
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        ax.imshow(img, cmap=cmap if img.ndim == 2 else None)
        parts, color = [], "black"
        if true is not None:
            parts.append(f"true {name(int(true[k]))}")
        if pred is not None:
            parts.append(f"pred {name(int(pred[k]))}")
            if true is not None and int(pred[k]) != int(true[k]):
                color = "red"
        ax.set_title("\n".join(parts), fontsize=8, color=color)
    return _finish(fig, title)


def topk_bars(decoded, ax=None, title=None):
    """Horizontal bars of one image's top-k predictions, ``(label, prob)`` or ``(class_id,
    label, prob)`` tuples as Keras' ``decode_predictions`` gives."""
    import matplotlib.pyplot as plt

    if not decoded:
        raise ValueError("decoded must be a non-empty list of (label, probability) tuples")
    labels = [str(d[-2]) for d in decoded]
    probs = [float(d[-1]) for d in decoded]
    fig, ax = plt.subplots(figsize=(4, 0.4 * len(labels) + 0.8)) if ax is None else (ax.figure, ax)
    y = np.arange(len(labels))[::-1]
    ax.barh(y, probs, color=["C0"] + ["C7"] * (len(labels) - 1))
    ax.set_yticks(y, labels)
    ax.set(xlim=(0, 1), xlabel="probability")
    for yi, p in zip(y, probs, strict=True):
        ax.text(min(p + 0.02, 0.85), yi, f"{p:.2f}", va="center", fontsize=8)
    if title:
        ax.set_title(title)
    return fig


def confusion_matrix(y_true, y_pred, labels=None, title=None, normalize=None):
    """scikit-learn's ``ConfusionMatrixDisplay`` on a course-sized figure."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    if len(y_true) != len(y_pred) or len(y_true) == 0:
        raise ValueError(f"y_true and y_pred must be non-empty and equally long "
                         f"({len(y_true)} vs {len(y_pred)})")
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"normalize must be None, 'true', 'pred' or 'all', got {normalize!r}")
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ConfusionMatrixDisplay.from_predictions(y_true, y_pred, display_labels=labels, ax=ax,
                                            colorbar=False, normalize=normalize,
                                            values_format=".2f" if normalize else "d")
    ax.grid(False)
    return _finish(fig, title, ax)


def embedding_2d(features, labels, domains=None, method="pca", seed=0, title=None,
                 max_points=2000):
    """Features projected to 2-D by scikit-learn (``"pca"`` or ``"tsne"``) and scattered by
    class, with ``domains`` a second panel by domain; the points are in ``fig.points``."""
    import matplotlib.pyplot as plt

    features = np.asarray(features, dtype=np.float32).reshape(len(features), -1)
    labels = np.asarray(labels)
    if len(features) != len(labels) or len(features) < 3:
        raise ValueError(f"need at least 3 feature rows with one label each "
                         f"(got {len(features)} rows, {len(labels)} labels)")
    if method not in ("pca", "tsne"):
        raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(features), min(max_points, len(features)), replace=False))
    features, labels = features[keep], labels[keep]
    if domains is not None:
        domains = np.asarray(domains)[keep]
    if method == "pca":
        from sklearn.decomposition import PCA

        points = PCA(n_components=2, random_state=seed).fit_transform(features)
    else:
        from sklearn.manifold import TSNE

        points = TSNE(n_components=2, random_state=seed, init="pca",
                      perplexity=min(30, len(features) - 1)).fit_transform(features)
    ncols = 2 if domains is not None else 1
    fig, axes = plt.subplots(1, ncols, figsize=(5 * ncols, 4.2), squeeze=False)
    sc = axes[0, 0].scatter(points[:, 0], points[:, 1], c=labels, cmap="tab10", s=6)
    axes[0, 0].set_title("coloured by class")
    fig.colorbar(sc, ax=axes[0, 0], fraction=0.04)
    if domains is not None:
        for i, d in enumerate(np.unique(domains)):
            m = domains == d
            axes[0, 1].scatter(points[m, 0], points[m, 1], s=6, color=f"C{i}", label=str(d), alpha=0.6)
        axes[0, 1].legend(markerscale=3)
        axes[0, 1].set_title("coloured by domain")
    fig.points = points
    return _finish(fig, title and f"{title} ({method.upper()})")


def trainable_map(model, expand_nested=True, title=None):
    """One bar per layer with weights, its parameter count (log scale), green when it trains
    and grey when frozen: where the trainable parameters sit in the network."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from .layers import layer_table

    table = layer_table(model, expand_nested=expand_nested)
    table = table[table["params"] > 0]
    if table.empty:
        raise ValueError(f"{model.name} has no layers with parameters to draw")
    fig, ax = plt.subplots(figsize=(10, 2.6))
    colors = ["tab:green" if t else "0.7" for t in table["trainable"]]
    ax.bar(np.arange(len(table)), table["params"], color=colors, width=1.0)
    ax.set(yscale="log", xlim=(-0.5, len(table) - 0.5), ylabel="parameters",
           xlabel="layers with weights, input side -> output side")
    trainable = int(table.loc[table["trainable"], "trainable_params"].sum())
    ax.set_title(title or f"{model.name}: {trainable:,} trainable parameters")
    ax.legend(handles=[Patch(color="tab:green", label="trainable"), Patch(color="0.7", label="frozen")],
              loc="upper left", fontsize=8)
    ax.grid(False)
    return _finish(fig)
