"""Layer tables and parameter counts (lesson 02 on); freezing is lesson 02's ``freeze_blocks``."""

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


def _walk(model, prefix: str = ""):
    """(prefix, layer) for every layer, the layers of nested models included."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _walk(layer, prefix + layer.name + "/")
        else:
            yield prefix, layer


def layer_table(model, expand_nested: bool = False):
    """A DataFrame, one row per layer: name, type, output shape, parameters, trainable
    parameters and the ``trainable`` flag; ``expand_nested`` lists the layers inside nested
    models (a pretrained base) too."""
    import pandas as pd

    _check_model(model)
    rows = []
    for prefix, layer in _walk(model) if expand_nested else (("", la) for la in model.layers):
        try:
            shape = tuple(layer.output.shape)
        except (AttributeError, ValueError):
            shape = None
        rows.append({"name": prefix + layer.name, "type": type(layer).__name__,
                     "output_shape": shape, "params": _count(layer.weights),
                     "trainable_params": _count(layer.trainable_weights),
                     "trainable": bool(layer.trainable)})
    return pd.DataFrame(rows)


def batchnorm_layers(model):
    """A DataFrame of the BatchNormalization layers (nested ones included): name, whether
    trainable, momentum and epsilon."""
    import keras
    import pandas as pd

    _check_model(model)
    rows = [{"name": prefix + layer.name, "trainable": bool(layer.trainable),
             "momentum": layer.momentum, "epsilon": layer.epsilon}
            for prefix, layer in _walk(model) if isinstance(layer, keras.layers.BatchNormalization)]
    return pd.DataFrame(rows, columns=["name", "trainable", "momentum", "epsilon"])
