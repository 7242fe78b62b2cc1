"""The backend boundary: shape checks and int8/uint8 (de)quantisation with a tensor's scale and zero point."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from edgewise.runtime.backends.base import TensorSpec


@lru_cache(maxsize=64)
def _quantize_table(dtype: str, scale: float, zero_point: int) -> np.ndarray:
    """All 256 uint8 pixel values quantised once: a table lookup is one numpy call per batch."""
    info = np.iinfo(dtype)
    q = np.rint(np.arange(256, dtype=np.float32) / np.float32(scale)) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


@lru_cache(maxsize=64)
def _dequantize_table(dtype: str, scale: float, zero_point: int) -> np.ndarray:
    """The float value of every 8-bit code, indexed by the code's bit pattern read as uint8."""
    codes = np.arange(256, dtype=np.uint8).view(dtype).astype(np.float32)
    return (codes - np.float32(zero_point)) * np.float32(scale)


def to_graph_input(batch: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """Raw pixels (uint8 or float32) -> the dtype the graph's input tensor wants."""
    dtype = np.dtype(spec.dtype)
    if spec.quantized:
        if spec.scale == 1.0 and spec.zero_point == 0 and batch.dtype == dtype:
            return batch
        if batch.dtype == np.uint8:
            return np.take(_quantize_table(dtype.name, spec.scale, spec.zero_point), batch)
        info = np.iinfo(dtype)
        q = np.rint(batch.astype(np.float32) / np.float32(spec.scale)) + spec.zero_point
        return np.clip(q, info.min, info.max).astype(dtype)
    return batch if batch.dtype == dtype else batch.astype(dtype)


def from_graph_output(out: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """The graph's output tensor -> float32 (dequantised when the tensor is int8/uint8)."""
    if spec.quantized and out.dtype.itemsize == 1:
        return np.take(_dequantize_table(out.dtype.name, spec.scale, spec.zero_point), out.view(np.uint8))
    if spec.quantized:
        return (out.astype(np.float32) - np.float32(spec.zero_point)) * np.float32(spec.scale)
    return out if out.dtype == np.float32 else out.astype(np.float32)


def shape_fits(expected: tuple[int | None, ...], actual: tuple[int, ...]) -> bool:
    """Whether an array of shape ``actual`` fits a graph tensor of shape ``expected`` (any batch size)."""
    return len(expected) == len(actual) and all(
        e is None or e == a for e, a in zip(expected[1:], actual[1:], strict=True)
    )
