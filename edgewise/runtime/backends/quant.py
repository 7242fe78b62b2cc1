"""The backend boundary: shape checks and int8/uint8 (de)quantisation with a tensor's scale and zero point.

Backends build their converters once at load time (:func:`input_converter`, :func:`output_converter`):
on a 28x28 model a whole int8 inference takes ~50 microseconds, so the per-call conversion must cost one
numpy call, not a handful of dtype look-ups and temporaries.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgewise.runtime.backends.base import TensorSpec

Converter = Callable[[np.ndarray], np.ndarray]
_FLIP_SIGN_BIT = np.uint8(0x80)


def _quantize_table(dtype: np.dtype, scale: float, zero_point: int) -> np.ndarray:
    """All 256 uint8 pixel values quantised once: a table lookup is one numpy call per batch."""
    info = np.iinfo(dtype)
    q = np.rint(np.arange(256, dtype=np.float32) / np.float32(scale)) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def _quantize(batch: np.ndarray, dtype: np.dtype, scale: float, zero_point: int) -> np.ndarray:
    info = np.iinfo(dtype)
    q = np.rint(batch.astype(np.float32) / np.float32(scale)) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def input_converter(spec: TensorSpec) -> Converter:
    """Raw pixels (uint8 or float32) -> the dtype the graph's input tensor wants."""
    dtype = np.dtype(spec.dtype)
    if not spec.quantized:
        return lambda batch: batch if batch.dtype == dtype else batch.astype(dtype)
    scale, zero_point = float(spec.scale), int(spec.zero_point)
    table = _quantize_table(dtype, scale, zero_point)
    identity = np.arange(256, dtype=np.uint8).view(np.int8) if dtype == np.int8 else np.arange(256)
    if dtype == np.int8 and np.array_equal(table, identity ^ np.int8(-128)):
        # scale 1, zero point -128: the int8 code of a pixel is the pixel with its top bit flipped
        def convert(batch: np.ndarray) -> np.ndarray:
            if batch.dtype == np.uint8:
                return (batch ^ _FLIP_SIGN_BIT).view(np.int8)
            return _quantize(batch, dtype, scale, zero_point)
    else:

        def convert(batch: np.ndarray) -> np.ndarray:
            if batch.dtype == np.uint8:
                return table.take(batch)
            return _quantize(batch, dtype, scale, zero_point)

    return convert


def output_converter(spec: TensorSpec) -> Converter:
    """The graph's output tensor -> float32 (dequantised when the tensor is int8/uint8)."""
    if not spec.quantized:
        return lambda out: out if out.dtype == np.float32 else out.astype(np.float32)
    dtype = np.dtype(spec.dtype)
    codes = np.arange(256, dtype=np.uint8).view(dtype).astype(np.float32)
    table = (codes - np.float32(spec.zero_point)) * np.float32(spec.scale)  # indexed by the code's bits
    return lambda out: table.take(out.view(np.uint8))


def to_graph_input(batch: np.ndarray, spec: TensorSpec) -> np.ndarray:
    return input_converter(spec)(batch)


def from_graph_output(out: np.ndarray, spec: TensorSpec) -> np.ndarray:
    return output_converter(spec)(out)


def shape_fits(expected: tuple[int | None, ...], actual: tuple[int, ...]) -> bool:
    """Whether an array of shape ``actual`` fits a graph tensor of shape ``expected`` (any batch size)."""
    return len(expected) == len(actual) and all(
        e is None or e == a for e, a in zip(expected[1:], actual[1:], strict=True)
    )
