"""MobileNetV2's 155 layers in 19 units that only make sense whole: the ``stem``, 17 blocks
``block_0`` ... ``block_16`` (Keras names block 0 ``expanded_conv``) and the ``top``. Finding the
base inside a model is kept here; lesson 02's units, block table and freeze loop are saved from it."""

from __future__ import annotations

import numpy as np


def find_base(model):
    """The MobileNetV2 base inside ``model``: ``model`` itself, or the one nested model (at
    any depth) that is a MobileNetV2. ValueError when there is none."""
    import keras

    if not isinstance(model, keras.Model):
        raise ValueError(f"expected a keras.Model, got {type(model).__name__}: pass "
                         "load_imagenet('mobilenet_v2', include_top=False).model or a model on it")

    def nested(m):
        yield m
        for layer in m.layers:
            if isinstance(layer, keras.Model):
                yield from nested(layer)

    mobilenet_v2 = {"Conv1", "block_16_project", "Conv_1"}  # layer names only MobileNetV2 has
    found = [m for m in nested(model) if mobilenet_v2 <= {layer.name for layer in m.layers}]
    if len(found) != 1:
        raise ValueError(f"{model.name} contains {len(found) or 'no'} MobileNetV2 base(s): the "
                         "block helpers need exactly one (load_imagenet('mobilenet_v2', include_top=False))")
    return found[0]


# ---- saved from the lessons by tools/save_cells.py: edit the cells there, not here ----


# Defined in notebooks/02_freezing_layers.ipynb, section "1. The pretrained base, and what its counts mean"
def block_of(layer):
    """The MobileNetV2 unit a layer belongs to: "stem", "block_0" ... "block_16" or "top".
    Takes a layer or a layer name; refuses a layer that is not MobileNetV2's."""
    import re

    name = layer if isinstance(layer, str) else getattr(layer, "name", None)
    if not isinstance(name, str):
        raise ValueError(f"expected a Keras layer or a layer name, got {type(layer).__name__}")
    kind = "" if isinstance(layer, str) else type(layer).__name__
    numbered = re.match(r"block_(\d+)_", name)
    if name in ("Conv1", "bn_Conv1", "Conv1_relu") or kind == "InputLayer":
        return "stem"
    if numbered or name.startswith("expanded_conv"):  # Keras names block 0 expanded_conv
        return f"block_{int(numbered.group(1)) if numbered else 0}"
    if name in ("Conv_1", "Conv_1_bn", "out_relu") or kind.startswith("Global"):
        return "top"
    raise ValueError(f"layer {name!r} is not part of a Keras MobileNetV2: the block helpers "
                     "work on load_imagenet('mobilenet_v2', include_top=False).model")


def blocks(model):
    """{unit: [layer names]} of the MobileNetV2 base in ``model`` (itself, or nested in it),
    input side first: stem, block_0 ... block_16, top."""
    from tlcourse import freezing

    units = {}
    for layer in freezing.find_base(model).layers:
        units.setdefault(block_of(layer), []).append(layer.name)
    return units


def depth_of(model, block):
    """How many units are frozen when everything up to and including ``block`` is:
    depth_of(base, "stem") == 1, depth_of(base, "block_5") == 7."""
    names = list(blocks(model))
    if block not in names:
        raise ValueError(f"no block {block!r}: choose one of stem, block_0 ... block_16, top")
    return names.index(block) + 1


# Defined in notebooks/02_freezing_layers.ipynb, section "The first N layers, or whole blocks"
def block_table(model):
    """One row per unit of the MobileNetV2 base in ``model``: first and last layer, layers,
    parameters, trainable parameters and status: "frozen", "trainable", or "partial" when only
    some of its layers with weights train. Reads the flags; changes nothing."""
    import pandas as pd

    from tlcourse import freezing

    def count(weights):
        return sum(int(np.prod(w.shape)) for w in weights)

    base = freezing.find_base(model)
    rows = []
    for name, members in freezing.blocks(base).items():
        unit = [base.get_layer(n) for n in members]
        flags = {layer.trainable and base.trainable for layer in [la for la in unit if la.weights] or unit}
        rows.append({"block": name, "first_layer": members[0], "last_layer": members[-1],
                     "layers": len(members), "params": sum(count(la.weights) for la in unit),
                     "trainable_params": sum(count(la.trainable_weights) for la in unit) if base.trainable else 0,
                     "status": "partial" if len(flags) == 2 else "trainable" if True in flags else "frozen"})
    return pd.DataFrame(rows)


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
