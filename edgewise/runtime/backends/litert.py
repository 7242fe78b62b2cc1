"""TFLite models through LiteRT (``ai_edge_litert``), else ``tflite_runtime``, else ``tensorflow.lite``.

The engine is imported when a model is loaded, never at import time. ``tensorflow.lite`` is only a last
resort for machines that happen to have TensorFlow and neither LiteRT package.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter

import numpy as np

from edgewise.runtime.backends.base import PACKAGES, TFLITE_ENGINES, TensorSpec, path_or_bytes
from edgewise.runtime.backends.quant import input_converter, output_converter, shape_fits
from edgewise.runtime.errors import BackendUnavailable, InputError, ModelFileError

ENGINES = TFLITE_ENGINES


def _import_interpreter(engine: str):
    if engine == "litert":
        from ai_edge_litert.interpreter import Interpreter
    elif engine == "tflite_runtime":
        from tflite_runtime.interpreter import Interpreter
    elif engine == "tensorflow":
        import tensorflow as tf  # last resort: only reached when neither LiteRT package is installed

        Interpreter = tf.lite.Interpreter
    else:
        raise BackendUnavailable(f"unknown TFLite engine {engine!r}; choose from {', '.join(ENGINES)}")
    return Interpreter


def find_interpreter(engine: str | None = None):
    """``(engine name, Interpreter class)``: the requested engine, or the first installed one."""
    candidates = [engine] if engine else list(ENGINES)
    reasons = []
    for name in candidates:
        try:
            return name, _import_interpreter(name)
        except ImportError as e:  # not installed, or built against another NumPy (tflite_runtime on NumPy 2)
            reasons.append(f"{name}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
    raise BackendUnavailable(
        "no TFLite engine could be imported (" + "; ".join(reasons) + "); "
        'install one: pip install "edgewise[litert]" (or "edgewise[tflite]" on older Raspberry Pi OS)'
    )


def _spec(detail: dict) -> TensorSpec:
    signature = detail.get("shape_signature", detail["shape"])
    shape = tuple(None if int(d) < 0 else int(d) for d in signature)
    dtype = np.dtype(detail["dtype"]).name
    scale, zero_point = detail.get("quantization", (0.0, 0))
    quantized = dtype in ("int8", "uint8") and scale != 0.0
    return TensorSpec(
        name=detail["name"],
        shape=shape,
        dtype=dtype,
        scale=float(scale) if quantized else None,
        zero_point=int(zero_point) if quantized else None,
    )


class LiteRTBackend:
    """One TFLite model file; ``run`` is serialised by a lock (an interpreter is not thread-safe)."""

    def __init__(
        self,
        path: str,
        *,
        threads: int | None = None,
        device: str = "cpu",
        engine: str | None = None,
        reference_kernels: bool = False,
    ):
        """``reference_kernels``: TFLite's reference kernels, no XNNPACK (what TFLite Micro implements)."""
        if device == "gpu":
            raise BackendUnavailable(
                f"{path}: TFLite models run on the CPU here; for a GPU use the .onnx model with --device gpu"
            )
        if device not in ("cpu", "auto"):
            raise InputError(f"unknown device {device!r}; choose cpu, gpu or auto")
        self.path = str(path)
        self.threads = threads
        self.device = "cpu"
        self.name, interpreter_cls = find_interpreter(engine)
        try:
            # No stderr redirection or warning filters here: both are global to the host process. The
            # engine's own lines ("INFO: Created TensorFlow Lite XNNPACK delegate") are dropped by the
            # edgewise command (edgewise/native_log.py); a library caller sees them as the engine prints them.
            options = {}
            if reference_kernels:
                options["experimental_op_resolver_type"] = _reference_resolver(interpreter_cls)
            self._interpreter = interpreter_cls(**_model_source(self.path), num_threads=threads, **options)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise ModelFileError(f"{path}: {self.name} cannot load this model ({_first_line(e)})") from None
        in_details = self._interpreter.get_input_details()
        out_details = self._interpreter.get_output_details()
        self.inputs = [_spec(d) for d in in_details]
        self.outputs = [_spec(d) for d in out_details]
        if len(self.inputs) != 1 or len(self.outputs) != 1:
            raise ModelFileError(
                f"{path}: expected one input and one output tensor, found {len(self.inputs)} and "
                f"{len(self.outputs)}"
            )
        self._max_batch = self.inputs[0].shape[0]  # None when the batch dimension can be resized
        self._to_graph = input_converter(self.inputs[0])
        self._from_graph = output_converter(self.outputs[0])
        self._in_index = in_details[0]["index"]
        self._out_index = out_details[0]["index"]
        self._batch = int(in_details[0]["shape"][0])
        self._image_shape = tuple(int(d) for d in in_details[0]["shape"][1:])  # fast path of the shape check
        self._lock = threading.Lock()

    @property
    def max_batch(self) -> int | None:
        return self._max_batch

    def run(self, batch: np.ndarray) -> np.ndarray:
        spec_in = self.inputs[0]
        if batch.shape[1:] != self._image_shape and not shape_fits(spec_in.shape, batch.shape):
            raise InputError(
                f"{self.path}: input of shape {tuple(batch.shape)} does not fit the model's input "
                f"{_shape_text(spec_in.shape)}"
            )
        x = self._to_graph(batch)
        n = len(x)
        with self._lock:
            step = self._max_batch
            if step is None:
                return self._from_graph(self._invoke(x))
            parts = []
            for start in range(0, n, step):
                chunk = x[start : start + step]
                if len(chunk) < step:  # a fixed batch larger than what is left: pad, then drop the padding
                    pad = np.zeros((step - len(chunk), *chunk.shape[1:]), chunk.dtype)
                    parts.append(self._invoke(np.concatenate([chunk, pad]))[: len(chunk)])
                else:
                    parts.append(self._invoke(chunk))
            return self._from_graph(np.concatenate(parts) if len(parts) != 1 else parts[0])

    def _invoke(self, x: np.ndarray) -> np.ndarray:
        interpreter = self._interpreter
        if len(x) != self._batch:
            interpreter.resize_tensor_input(self._in_index, list(x.shape), strict=True)
            interpreter.allocate_tensors()
            self._batch = len(x)
        try:
            interpreter.set_tensor(self._in_index, x)
            interpreter.invoke()
        except (RuntimeError, ValueError) as e:  # a damaged graph that loaded but cannot run
            raise ModelFileError(
                f"{self.path}: {self.name} failed to run the model ({_first_line(e)})"
            ) from None
        return interpreter.get_tensor(self._out_index)

    def ops(self) -> Counter:
        """Builtin ops of the graph (``DELEGATE`` nodes, which stand for a delegated subgraph, left out)."""
        try:
            details = self._interpreter._get_ops_details()
        except (AttributeError, RuntimeError):  # older tflite_runtime lacks this private helper
            return Counter()
        return Counter(op.get("op_name", "?") for op in details if op.get("op_name") != "DELEGATE")

    def describe(self) -> dict:
        from importlib import metadata  # only here: it costs ~10 ms of start-up

        try:
            version = metadata.version(PACKAGES[self.name].distribution)
        except metadata.PackageNotFoundError:
            version = "unknown"
        return {
            "engine": self.name,
            "engine_version": version,
            "device": self.device,
            "threads": self.threads,
            "max_batch": self.max_batch,
            "ops": dict(self.ops()),
        }


def _reference_resolver(interpreter_cls):
    """``OpResolverType.BUILTIN_REF`` from the module that defines this engine's Interpreter."""
    return sys.modules[interpreter_cls.__module__].OpResolverType.BUILTIN_REF


def _model_source(path: str) -> dict:
    source = path_or_bytes(path)
    return {"model_content": source} if isinstance(source, bytes) else {"model_path": source}


def _shape_text(shape) -> str:
    return "(" + ", ".join("N" if d is None else str(d) for d in shape) + ")"


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0].rstrip(".") if text else type(e).__name__
