"""Layer tables, parameter counts and freezing by layer (lesson 02 on; shows what trains)."""

from __future__ import annotations


def _check_model(model):
    import keras

    if not isinstance(model, keras.Model):
        raise ValueError(f"expected a keras.Model, got {type(model).__name__}: build or load a model first")
    if not model.built:
        raise ValueError("the model is not built yet: call it on data or build(input_shape) first")


def _count(weights) -> int:
    import numpy as np

    return int(sum(int(np.prod(w.shape)) for w in weights))


def param_counts(model) -> dict:
    """``{"trainable": ..., "non_trainable": ..., "total": ...}`` parameter counts."""
    _check_model(model)
    trainable = _count(model.trainable_weights)
    non_trainable = _count(model.non_trainable_weights)
    return {"trainable": trainable, "non_trainable": non_trainable, "total": trainable + non_trainable}


def _walk(model, expand_nested: bool, prefix: str = ""):
    import keras

    for layer in model.layers:
        if expand_nested and isinstance(layer, keras.Model):
            yield from _walk(layer, True, prefix + layer.name + "/")
        else:
            yield prefix, layer


def layer_table(model, expand_nested: bool = False):
    """A pandas DataFrame: one row per layer with name, type, output shape, parameters,
    trainable parameters and the layer's ``trainable`` flag.

    ``expand_nested=True`` lists the layers inside nested models (e.g. a pretrained base).
    """
    import pandas as pd

    _check_model(model)
    rows = []
    for prefix, layer in _walk(model, expand_nested):
        try:
            shape = tuple(layer.output.shape)
        except (AttributeError, ValueError):
            shape = None
        rows.append({
            "name": prefix + layer.name,
            "type": type(layer).__name__,
            "output_shape": shape,
            "params": _count(layer.weights),
            "trainable_params": _count(layer.trainable_weights),
            "trainable": bool(layer.trainable),
        })
    return pd.DataFrame(rows)


def set_trainable(layer, value: bool) -> None:
    """Set ``trainable`` on a layer and, explicitly, on every layer nested inside it.

    Keras documents that ``trainable`` propagates to sub-layers, but in Keras 3.15 with the
    TensorFlow backend ``outer.trainable = True`` does not reach a nested model that was frozen
    on its own before (lesson 02 shows this); walking the layers makes the result certain.
    """
    import numpy as np

    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"value must be True or False, got {value!r} (a string such as "
                        f"'False' would count as True)")
    if not hasattr(layer, "trainable"):
        raise TypeError(f"layer must be a Keras layer or model, got {type(layer).__name__}")
    layer.trainable = bool(value)
    for sub in getattr(layer, "layers", []):
        set_trainable(sub, value)


def layer_names(model) -> list:
    """Names of the model's top-level layers, in order."""
    _check_model(model)
    return [layer.name for layer in model.layers]


def freeze(model, first_n: int | None = None, up_to: str | None = None):
    """Freeze the first layers of ``model`` and make every later layer trainable.

    Give exactly one of ``first_n`` (freeze ``model.layers[:first_n]``) or ``up_to`` (freeze
    every layer up to and including the layer of that name). ``freeze(model, first_n=len(
    model.layers))`` freezes everything. Returns the model. Remember: Keras reads
    ``trainable`` when the model is compiled, so compile (again) after freezing.
    """
    _check_model(model)
    if (first_n is None) == (up_to is None):
        raise ValueError("give exactly one of first_n=<int> or up_to=<layer name>")
    names = layer_names(model)
    if up_to is not None:
        if not isinstance(up_to, str):
            raise TypeError(f"up_to must be a layer name (str), got {up_to!r}: for a number of "
                            f"layers use first_n={up_to!r}")
        if up_to not in names:
            close = [n for n in names if up_to.split("_")[0] in n][:5]
            hint = f" (similar names: {', '.join(close)})" if close else ""
            raise ValueError(f"no layer named {up_to!r} in {model.name}{hint}; "
                             f"see tlcourse.layers.layer_names(model)")
        first_n = names.index(up_to) + 1
    if isinstance(first_n, bool) or not isinstance(first_n, int) or first_n < 0:
        raise ValueError(f"first_n must be a non-negative integer, got {first_n!r}")
    if first_n > len(names):
        raise ValueError(f"first_n={first_n} but {model.name} has only {len(names)} layers; "
                         f"use at most {len(names)} (all frozen)")
    set_trainable(model, True)
    for layer in model.layers[:first_n]:
        set_trainable(layer, False)
    return model


def unfreeze(model, from_layer: str | None = None):
    """Make the whole model trainable, or only the layers from ``from_layer`` on (the earlier
    ones are frozen). Returns the model; compile again afterwards."""
    _check_model(model)
    if from_layer is None:
        set_trainable(model, True)
        return model
    names = layer_names(model)
    if from_layer not in names:
        raise ValueError(f"no layer named {from_layer!r} in {model.name}; "
                         f"see tlcourse.layers.layer_names(model)")
    return freeze(model, first_n=names.index(from_layer))


def batchnorm_layers(model):
    """A DataFrame of the BatchNormalization layers (nested ones included): name, whether
    trainable, and their momentum and epsilon."""
    import keras
    import pandas as pd

    _check_model(model)
    rows = [
        {"name": prefix + layer.name, "trainable": bool(layer.trainable),
         "momentum": layer.momentum, "epsilon": layer.epsilon}
        for prefix, layer in _walk(model, True)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    return pd.DataFrame(rows, columns=["name", "trainable", "momentum", "epsilon"])
