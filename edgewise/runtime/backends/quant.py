"""The backend boundary: shape checks and int8/uint8 (de)quantisation with a tensor's scale and zero point."""

from __future__ import annotations

import numpy as np

from edgewise.runtime.backends.base import TensorSpec


def to_graph_input(batch: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """Raw pixels (uint8 or float32) -> the dtype the graph's input tensor wants."""
    dtype = np.dtype(spec.dtype)
    if spec.quantized:
        if spec.scale == 1.0 and spec.zero_point == 0 and batch.dtype == dtype:
            return batch
        info = np.iinfo(dtype)
        q = np.rint(batch.astype(np.float32) / np.float32(spec.scale)) + spec.zero_point
        return np.clip(q, info.min, info.max).astype(dtype)
    return batch if batch.dtype == dtype else batch.astype(dtype)


def from_graph_output(out: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """The graph's output tensor -> float32 (dequantised when the tensor is int8/uint8)."""
    if spec.quantized:
        return (out.astype(np.float32) - np.float32(spec.zero_point)) * np.float32(spec.scale)
    return out if out.dtype == np.float32 else out.astype(np.float32)


def shape_fits(expected: tuple[int | None, ...], actual: tuple[int, ...]) -> bool:
    """Whether an array of shape ``actual`` fits a graph tensor of shape ``expected`` (any batch size)."""
    return len(expected) == len(actual) and all(
        e is None or e == a for e, a in zip(expected[1:], actual[1:], strict=True)
    )
