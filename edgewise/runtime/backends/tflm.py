"""TFLite models through TensorFlow Lite for Microcontrollers on the host (``tflite_micro`` from PyPI).

The same C++ interpreter and reference kernels that run on a microcontroller, compiled for this machine:
it shows whether a graph runs under TFLM at all, what it computes there (its int8 arithmetic is not
LiteRT's), and how much tensor arena it needs. The arena figure is the interpreter's own: its recording
allocator reports what it took from the arena after the first inference (:attr:`TFLMBackend.arena_bytes`).

That figure is measured on a 64-bit host. On a 32-bit Cortex-M the interpreter's own structs are smaller,
so the host figure is an upper bound for the reference kernels; optimised kernels (CMSIS-NN) may ask for
scratch buffers the reference kernels do not, so a firmware build should keep a margin.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from importlib import metadata
from pathlib import Path

import numpy as np

from edgewise.runtime.backends.base import PACKAGES, TensorSpec
from edgewise.runtime.backends.quant import input_converter, output_converter, shape_fits
from edgewise.runtime.errors import BackendUnavailable, InputError, ModelFileError
from edgewise.runtime.native_stderr import captured_native_stderr

ENGINE = "tflm"
ARENA_START = 1 << 20  # the first arena offered; doubled until the model fits
ARENA_LIMIT = 1 << 30
_ARENA_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")
_ARENA_PART = re.compile(r"Arena allocation (head|tail) (\d+) bytes")


def import_runtime():
    """The ``tflite_micro.runtime`` module, or :class:`BackendUnavailable` saying how to install it."""
    try:
        from tflite_micro import runtime
    except ImportError as e:
        raise BackendUnavailable(
            f"TFLite Micro is not installed ({str(e).splitlines()[0]}); "
            'pip install "edgewise[micro]" (the tflite-micro package)'
        ) from None
    return runtime


def _spec(detail: dict, name: str) -> TensorSpec:
    dtype = np.dtype(detail["dtype"]).name
    params = detail.get("quantization_parameters") or {}
    scales, zero_points = params.get("scales", []), params.get("zero_points", [])
    quantized = dtype in ("int8", "uint8") and len(scales) == 1 and float(scales[0]) != 0.0
    return TensorSpec(
        name=name,
        shape=tuple(int(d) for d in detail["shape"]),
        dtype=dtype,
        scale=float(scales[0]) if quantized else None,
        zero_point=int(zero_points[0]) if quantized else None,
    )


class TFLMBackend:
    """One ``.tflite`` file in a TFLite Micro interpreter; batches run one image at a time, as on a device."""

    name = ENGINE

    def __init__(self, path: str, *, threads: int | None = None, device: str = "cpu"):
        if device not in ("cpu", "auto"):
            raise BackendUnavailable(f"{path}: TFLite Micro runs on the CPU only, not on {device!r}")
        runtime = import_runtime()
        self.path = str(path)
        self.threads = 1  # TFLM is single-threaded; --threads is ignored
        self.device = "cpu"
        self._data = Path(path).read_bytes()
        self._interpreter, self.arena_size = self._load(runtime)
        self.inputs = [_spec(self._interpreter.get_input_details(0), "input")]
        self.outputs = [_spec(self._interpreter.get_output_details(0), "output")]
        self._to_graph = input_converter(self.inputs[0])
        self._from_graph = output_converter(self.outputs[0])
        self._lock = threading.Lock()
        self._arena: dict[str, int] | None = None

    def _load(self, runtime):
        """An interpreter with an arena large enough for the model (the first of 1 MiB, 2 MiB, ...)."""
        size = max(ARENA_START, 10 * len(self._data))
        while True:
            with captured_native_stderr() as lines:
                try:
                    interpreter = runtime.Interpreter.from_bytes(self._data, arena_size=size)
                    return interpreter, size
                except (RuntimeError, ValueError):
                    pass
            text = " ".join(lines)
            if "Failed to allocate" not in text or size >= ARENA_LIMIT:
                raise ModelFileError(f"{self.path}: TFLite Micro cannot load this model ({_reason(lines)})")
            size *= 2

    @property
    def max_batch(self) -> int | None:
        return self.inputs[0].shape[0] or 1

    def run(self, batch: np.ndarray) -> np.ndarray:
        expected = self.inputs[0].shape
        if not shape_fits(expected, batch.shape):
            raise InputError(
                f"{self.path}: input of shape {tuple(batch.shape)} does not fit the model's input {expected}"
            )
        x = self._to_graph(batch)
        with self._lock:
            outputs = [self._invoke(x[i : i + 1]) for i in range(len(x))]
        return self._from_graph(np.concatenate(outputs, axis=0))

    def run_raw(self, batch: np.ndarray) -> np.ndarray:
        """The graph's own output tensors (int8 codes for an int8 graph), for step-by-step comparisons."""
        x = self._to_graph(batch)
        with self._lock:
            return np.concatenate([self._invoke(x[i : i + 1]) for i in range(len(x))], axis=0)

    def _invoke(self, x: np.ndarray) -> np.ndarray:
        with captured_native_stderr() as lines:
            try:
                self._interpreter.set_input(np.ascontiguousarray(x), 0)
                self._interpreter.invoke()
                return np.array(self._interpreter.get_output(0), copy=True)
            except (RuntimeError, ValueError):
                pass
        raise ModelFileError(f"{self.path}: TFLite Micro failed to run the model ({_reason(lines)})")

    @property
    def arena(self) -> dict[str, int]:
        """``{"total": bytes, "head": bytes, "tail": bytes}`` the interpreter took from its arena.

        Read from the interpreter's recording allocator after one inference (the first call runs one on
        zeros when nothing has run yet): head holds the activations (planned, reused between layers),
        tail what persists (tensor structs, quantisation parameters, kernel data).
        """
        if self._arena is None:
            with self._lock:
                if self._arena is None:
                    self._arena = self._measure_arena()
        return dict(self._arena)

    @property
    def arena_bytes(self) -> int:
        return self.arena["total"]

    def _measure_arena(self) -> dict[str, int]:
        zeros = np.zeros(self.inputs[0].shape, dtype=self.inputs[0].dtype)
        self._invoke(zeros)
        with captured_native_stderr() as lines:
            self._interpreter.print_allocations()
        text = "\n".join(lines)
        total = _ARENA_TOTAL.search(text)
        if total is None:
            raise BackendUnavailable(
                f"{self.path}: this tflite-micro build did not report its arena use ({_reason(lines)})"
            )
        figures = {"total": int(total.group(1))}
        figures.update({part: int(n) for part, n in _ARENA_PART.findall(text)})
        return figures

    def ops(self) -> Counter:
        """Builtin operators of the graph, counted, read with the flatbuffer schema TFLM ships."""
        runtime = import_runtime()
        names = {v: k for k, v in vars(runtime.schema_fb.BuiltinOperator).items() if not k.startswith("_")}
        model = runtime.convert_bytearray_to_object(bytearray(self._data))
        counts: Counter = Counter()
        for graph in model.subgraphs or []:
            for op in graph.operators or []:
                code = runtime.get_builtin_code_from_operator_code(model.operatorCodes[op.opcodeIndex])
                counts[names.get(code, f"BUILTIN_{code}")] += 1
        return counts

    def describe(self) -> dict:
        try:
            version = metadata.version(PACKAGES[ENGINE].distribution)
        except metadata.PackageNotFoundError:
            version = "unknown"
        return {
            "engine": ENGINE,
            "engine_version": version,
            "device": self.device,
            "threads": self.threads,
            "max_batch": self.max_batch,
            "arena_bytes": self.arena_bytes,
            "ops": dict(self.ops()),
        }


def _reason(lines: list[str]) -> str:
    """The engine's own words: its last non-empty lines on stderr, joined."""
    useful = [line.strip() for line in lines if line.strip()]
    return "; ".join(useful[-3:]) if useful else "no reason given"
