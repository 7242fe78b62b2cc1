"""The backend protocol: what every inference engine looks like to the rest of edgewise.

A backend wraps one loaded model file. ``run`` takes a batch of *logical* inputs (raw pixels,
``float32`` or ``uint8``, NHWC) and returns *logical* outputs (``float32`` probabilities). When the graph
itself has int8/uint8 inputs or outputs, the backend quantises and dequantises at this boundary using the
tensor's own scale and zero point, so callers never see the difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

TFLITE_ENGINES = ("litert", "tflite_runtime", "tensorflow")  # in the order .tflite tries them
MICRO_ENGINES = ("tflm",)  # TFLite Micro on the host: only when asked for
ONNX_ENGINES = ("onnxruntime", "tensorrt")
ENGINES = TFLITE_ENGINES + MICRO_ENGINES + ONNX_ENGINES


@dataclass(frozen=True)
class EnginePackage:
    """Where an engine comes from: the module edgewise imports, the distribution pip installs (whose
    version the card and reports record) and the edgewise extra that pulls it in."""

    module: str
    distribution: str
    extra: str


PACKAGES = {
    "litert": EnginePackage("ai_edge_litert", "ai-edge-litert", "litert"),
    "tflite_runtime": EnginePackage("tflite_runtime", "tflite-runtime", "tflite"),
    "tensorflow": EnginePackage("tensorflow", "tensorflow", "train"),
    "tflm": EnginePackage("tflite_micro", "tflite-micro", "micro"),
    "onnxruntime": EnginePackage("onnxruntime", "onnxruntime", "onnx"),
}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int | None, ...]  # None for a dynamic dimension (e.g. ONNX batch)
    dtype: str  # numpy dtype name of the graph tensor: float32, float16, int8, uint8
    scale: float | None = None  # quantisation parameters when dtype is int8/uint8
    zero_point: int | None = None

    @property
    def quantized(self) -> bool:
        return self.scale is not None and self.dtype in ("int8", "uint8")


@runtime_checkable
class Backend(Protocol):
    name: str  # "litert", "tflite_runtime", "tensorflow", "onnxruntime"
    path: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    device: str  # what really runs it: "cpu", "CUDAExecutionProvider", ...
    threads: int | None

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Run a batch (N, H, W, C) of raw pixels; return float32 outputs (N, classes)."""
        ...

    @property
    def max_batch(self) -> int | None:
        """Largest batch one call accepts (1 for a fixed-batch TFLite graph); None for unlimited."""
        ...

    def describe(self) -> dict:
        """Versions, provider/delegate, ops used: for ``edgewise info`` and benchmark reports."""
        ...


def path_or_bytes(path: str) -> str | bytes:
    """``path``, or the file's bytes when the path is not valid UTF-8.

    Engines' C++ bindings take a path as UTF-8 text; ``os.fsdecode`` keeps undecodable bytes of a file
    name as lone surrogates, which such a binding refuses. Both engines also load a model from bytes.
    """
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        with open(path, "rb") as f:
            return f.read()
    return path
