"""BatchNorm folded into the convolution before it, for the fake-quantised copy (:mod:`edgewise.export.qat`).

A BatchNormalization that only rescales a convolution's output (inference statistics) is the same
convolution with ``w' = w * gamma / sqrt(var + eps)`` per output channel and ``b' = (b - mean) * gamma /
sqrt(var + eps) + beta``. The copy folds it before fake quantisation where the converters would
otherwise not give the trained weights: a Conv1D (TFLite runs it as ``EXPAND_DIMS`` + ``CONV_2D`` +
``RESHAPE`` and leaves the BatchNorm after it as a float MUL and ADD; tf2onnx leaves a Mul and an Add)
and the depthwise convolutions, whose per-tensor kernel grid a later fold would move. Conv2D kernels are
quantised per output channel and both converters fold the BatchNorm after them onto the same grid, so
they are left as they are.
"""

from __future__ import annotations

import numpy as np

FOLDS_INTO = {"Conv1D", "DepthwiseConv1D", "DepthwiseConv2D"}
_DEPTHWISE = {"DepthwiseConv1D", "DepthwiseConv2D"}


def foldable(model) -> dict[str, str]:
    """BatchNorm layer name -> the name of the convolution it folds into: a convolution in
    :data:`FOLDS_INTO`, channels last, no activation of its own, called once and read only by a
    BatchNormalization over the last axis that is called once."""
    pairs = {}
    for layer in model.layers:
        if type(layer).__name__ != "BatchNormalization" or len(_nodes(layer, "_inbound_nodes")) != 1:
            continue
        conv = _single_producer(layer)
        if conv is not None and _folds(conv, layer):
            pairs[layer.name] = conv.name
    return pairs


def folded_weights(conv, batchnorm) -> list[np.ndarray]:
    """``[kernel, bias]`` of ``conv`` with ``batchnorm`` folded in (float32)."""
    weights = conv.get_weights()
    kernel = weights[0].astype(np.float64)
    mean = _value(batchnorm.moving_mean)
    bias = weights[1].astype(np.float64) if len(weights) > 1 else np.zeros_like(mean)
    gamma = _value(batchnorm.gamma) if batchnorm.scale else np.ones_like(mean)
    beta = _value(batchnorm.beta) if batchnorm.center else np.zeros_like(mean)
    scale = gamma / np.sqrt(_value(batchnorm.moving_variance) + batchnorm.epsilon)
    per_channel = scale.reshape(kernel.shape[-2:]) if type(conv).__name__ in _DEPTHWISE else scale
    return [(kernel * per_channel).astype(np.float32), ((bias - mean) * scale + beta).astype(np.float32)]


def _folds(conv, batchnorm) -> bool:
    rank = len(conv.output.shape)
    return (
        type(conv).__name__ in FOLDS_INTO
        and getattr(conv, "data_format", "channels_last") == "channels_last"
        and getattr(getattr(conv, "activation", None), "__name__", "linear") == "linear"
        and len(_nodes(conv, "_inbound_nodes")) == 1
        and len(_nodes(conv, "_outbound_nodes")) == 1
        and batchnorm.axis in (-1, rank - 1)
    )


def _single_producer(layer):
    """The layer whose output is ``layer``'s only input, or None."""
    (node,) = _nodes(layer, "_inbound_nodes")
    parents = getattr(node, "parent_nodes", [])
    if len(node.arguments.keras_tensors) != 1 or len(parents) != 1:
        return None
    return parents[0].operation


def _nodes(layer, attribute: str) -> list:
    return list(getattr(layer, attribute, []))


def _value(variable) -> np.ndarray:
    return np.asarray(variable.numpy() if hasattr(variable, "numpy") else variable, dtype=np.float64)
