"""What ``--max-drop``'s search ranks and moves: the per-channel SQNR figure, the layers that must stay
float together, which of them carry weights, and the interface each format implements.

The ranking figure is the median over channels of each quantised activation's SQNR against float (dB,
lower is worse). Per channel, because a per-tensor range set by one outlier channel leaves the other
channels a handful of levels while the tensor-wide error still looks like plain rounding noise.

Keeping an activation in float means keeping the layer that produces it *and* the layers that read it in
float: a quantised reader would quantise it again with the same range. Ops that only move values around
(max-pool, reshape, ReLU...) hand the same range on in both directions: their readers join, and so does
the producer of their input, whose output carries the same range (ONNX Runtime, for one, quantises a
convolution's output with the range of the ReLU after it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SQNR_CAP_DB = 100.0  # an exact channel (no noise) counts as this
RANK_SAMPLES = 64  # images the per-layer figures are measured on
# Ops whose output keeps (the top of) their input's range, TFLite and ONNX names.
RANGE_PRESERVING = {
    "MAX_POOL_2D", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "PAD", "STRIDED_SLICE", "SLICE",
    "RELU",  # TFLite
    "MaxPool", "Reshape", "Squeeze", "Unsqueeze", "Transpose", "Flatten", "Identity", "Pad", "Slice",
    "Relu", "LeakyRelu",  # ONNX
}  # fmt: skip
# Ops that carry a weight tensor: the "weighted layers", whose share in float the target bounds.
WEIGHTED_OPS = {
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "CONV_3D",  # TFLite
    "Conv", "ConvTranspose", "Gemm", "MatMul",  # ONNX (MatMul only with a constant operand, see onnx)
}  # fmt: skip


@dataclass
class Candidate:
    """An activation whose int8 version loses information, and the layers that keep it in float."""

    tensor: str
    score_db: float  # the layer's own loss, lower is worse (dB; see each format's requantizer)
    layers: tuple[str, ...]  # producer, range-sharing producers and readers, as the quantiser names them


class Requantizer:
    """One format's half of the search: rank activations, and re-quantise with some layers in float."""

    suffix: str
    weighted: frozenset[str] = frozenset()  # the quantised layers that carry weights, once ranked

    def candidates(self, current: bytes) -> tuple[list[Candidate], int]:
        """Activations worst first, and how many the graph quantises; ``current`` is the model the
        search has reached (a format whose figures are per layer may rank once and ignore it)."""
        raise NotImplementedError

    def requantize(self, float_layers: Sequence[str]) -> bytes:
        raise NotImplementedError

    def rank_base(self, plain: bytes) -> bytes:
        """The all-int8 model the first ranking reads: the plain artifact, unless its format cannot be
        ranked (then the same quantisation in a format that can)."""
        return plain

    def close(self) -> None:
        """Drop temporary files."""


def float_group(
    layer: str, readers: dict[str, list[str]], producers: dict[str, list[str]], op_of: dict[str, str]
) -> tuple[str, ...]:
    """``layer`` and what must stay float with it: the producers upstream while the op on the way hands
    its input's range on (so theirs is the same range), and the readers downstream, through
    range-preserving readers theirs; in order, without repeats."""
    upstream: list[str] = []
    current = layer
    while op_of.get(current) in RANGE_PRESERVING:
        sources = [p for p in producers.get(current, []) if p not in upstream and p != layer]
        if len(sources) != 1:  # a graph input or a join: the range is not simply handed on
            break
        current = sources[0]
        upstream.append(current)
    downstream = [r for r in range_group(layer, readers, op_of) if r not in upstream]
    for producer in upstream:  # readers of a range-sharing producer read the same range
        downstream += [r for r in range_group(producer, readers, op_of) if r not in (layer, *upstream)]
    group = [layer, *upstream]
    return tuple(group + [r for i, r in enumerate(downstream) if r not in group and r not in downstream[:i]])


def range_group(layer: str, readers: dict[str, list[str]], op_of: dict[str, str]) -> list[str]:
    """``layer``'s readers, and through range-preserving readers theirs, in order, without repeats."""
    group: list[str] = []
    pending = list(readers.get(layer, []))
    while pending:
        reader = pending.pop(0)
        if reader in group or reader == layer:
            continue
        group.append(reader)
        if op_of.get(reader) in RANGE_PRESERVING:
            pending += readers.get(reader, [])
    return group


def channel_sqnr(reference: np.ndarray, approx: np.ndarray, axis: int = -1) -> float:
    """Median over channels (``axis``) of the SQNR of ``approx`` against ``reference``, in dB.

    Channels that are all zero in the reference carry no signal and are left out; an exact channel
    counts as :data:`SQNR_CAP_DB`.
    """
    reference = np.asarray(reference, dtype=np.float64)
    approx = np.asarray(approx, dtype=np.float64)
    if reference.ndim == 0:
        reference, approx = reference.reshape(1), approx.reshape(1)
    axis = axis % reference.ndim
    others = tuple(i for i in range(reference.ndim) if i != axis)
    signal = np.sum(reference**2, axis=others)
    noise = np.sum((reference - approx) ** 2, axis=others)
    live = signal > 0
    if not live.any():
        return SQNR_CAP_DB
    with np.errstate(divide="ignore"):
        ratio = 10 * np.log10(signal[live] / noise[live])
    return float(np.median(np.minimum(ratio, SQNR_CAP_DB)))
