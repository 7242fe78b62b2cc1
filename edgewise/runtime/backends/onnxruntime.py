"""ONNX models through ONNX Runtime, with execution-provider selection for ``--device cpu|gpu|auto``.

``gpu`` uses CUDA (or ROCm, DirectML, CoreML: whatever GPU provider the installed onnxruntime build has);
``engine="tensorrt"`` puts TensorRT in front of it. When a GPU is asked for and the build or the machine
has none, loading fails with one line instead of silently running on the CPU. ``auto`` takes a GPU when
there is one and the CPU otherwise.
"""

from __future__ import annotations

import numpy as np

from edgewise.runtime import onnx_proto
from edgewise.runtime.backends.base import ONNX_ENGINES, PACKAGES, TensorSpec, path_or_bytes
from edgewise.runtime.backends.quant import input_converter, output_converter, shape_fits
from edgewise.runtime.errors import BackendUnavailable, InputError, ModelFileError

CPU = "CPUExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
GPU_PROVIDERS = (
    "CUDAExecutionProvider",
    "ROCMExecutionProvider",
    "MIGraphXExecutionProvider",
    "DmlExecutionProvider",
    "CoreMLExecutionProvider",
)
ENGINES = ONNX_ENGINES
ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(uint8)": "uint8",
    "tensor(int8)": "int8",
}


def _import_ort():
    try:
        import onnxruntime
    except ImportError as e:
        raise BackendUnavailable(
            f'onnxruntime is not installed ({e}); pip install "edgewise[onnx]" (or "edgewise[gpu]")'
        ) from None
    return onnxruntime


def choose_providers(available: list[str], device: str, engine: str | None = None) -> list[str]:
    """The providers to ask ONNX Runtime for, best first; raises when ``device="gpu"`` cannot be met."""
    if device not in ("cpu", "gpu", "auto"):
        raise InputError(f"unknown device {device!r}; choose cpu, gpu or auto")
    if engine not in (None, *ENGINES):
        raise BackendUnavailable(f"unknown ONNX engine {engine!r}; choose from {', '.join(ENGINES)}")
    if device == "cpu":
        return [CPU]
    gpus = [p for p in GPU_PROVIDERS if p in available]
    if engine == "tensorrt":
        if TENSORRT not in available:
            raise BackendUnavailable(
                "TensorRT was asked for, but this onnxruntime build has no TensorRT provider"
            )
        gpus.insert(0, TENSORRT)
    if not gpus and device == "gpu":
        raise BackendUnavailable(
            "--device gpu: this onnxruntime has no GPU execution provider (it has "
            f"{', '.join(available)}); install onnxruntime-gpu, or use --device cpu"
        )
    return [*gpus, CPU]


def _spec(arg) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) and d >= 0 else None for d in (arg.shape or ()))
    return TensorSpec(name=arg.name, shape=shape, dtype=ORT_TYPES.get(arg.type, arg.type))


class OnnxRuntimeBackend:
    """One ONNX model file in an ``InferenceSession`` (whose ``run`` is thread-safe)."""

    name = "onnxruntime"

    def __init__(
        self, path: str, *, threads: int | None = None, device: str = "cpu", engine: str | None = None
    ):
        ort = _import_ort()
        self.path = str(path)
        self.threads = threads
        try:
            providers = choose_providers(ort.get_available_providers(), device, engine)
        except BackendUnavailable as e:
            raise BackendUnavailable(f"{path}: {e}") from None
        options = ort.SessionOptions()
        options.log_severity_level = 3  # provider fall-back chatter is reported by us, in one line
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                path_or_bytes(self.path), sess_options=options, providers=providers
            )
        except Exception as e:  # onnxruntime raises pybind11 classes (InvalidProtobuf, Fail, ...)
            raise ModelFileError(f"{path}: onnxruntime cannot load this model ({_first_line(e)})") from None
        active = self._session.get_providers()
        if device == "gpu" and active[0] == CPU:
            raise BackendUnavailable(
                f"{path}: --device gpu: {', '.join(p for p in providers if p != CPU)} could not start "
                "(no GPU, or driver/CUDA libraries missing); use --device cpu"
            )
        self.device = active[0]
        self.providers = active
        self.inputs = [_spec(a) for a in self._session.get_inputs()]
        self.outputs = [_spec(a) for a in self._session.get_outputs()]
        if len(self.inputs) != 1 or len(self.outputs) != 1:
            raise ModelFileError(
                f"{path}: expected one input and one output tensor, found {len(self.inputs)} and "
                f"{len(self.outputs)}"
            )
        self._to_graph = input_converter(self.inputs[0])
        self._from_graph = output_converter(self.outputs[0])
        shape = self.inputs[0].shape
        self.layout = "NCHW" if len(shape) == 4 and shape[1] in (1, 3) and shape[3] not in (1, 3) else "NHWC"
        self._in_name = self.inputs[0].name
        self._out_names = [self.outputs[0].name]

    @property
    def max_batch(self) -> int | None:
        return self.inputs[0].shape[0] if self.inputs[0].shape else None

    def run(self, batch: np.ndarray) -> np.ndarray:
        if self.layout == "NCHW" and batch.ndim == 4:
            batch = batch.transpose(0, 3, 1, 2)
        spec = self.inputs[0]
        if not shape_fits(spec.shape, batch.shape):
            raise InputError(
                f"{self.path}: input of shape {tuple(batch.shape)} does not fit the model's input "
                f"{spec.shape}"
            )
        x = self._to_graph(batch)
        step = self.max_batch
        try:
            if step is None or len(x) == step:
                out = self._session.run(self._out_names, {self._in_name: x})[0]
            else:
                out = np.concatenate(
                    [self._run_padded(x[i : i + step], step) for i in range(0, len(x), step)]
                )
        except Exception as e:  # onnxruntime's pybind11 errors (Fail, RuntimeException, ...) share no base
            raise ModelFileError(
                f"{self.path}: onnxruntime failed to run the model ({_first_line(e)})"
            ) from None
        return self._from_graph(out)

    def _run_padded(self, chunk: np.ndarray, step: int) -> np.ndarray:
        n = len(chunk)
        if n < step:
            chunk = np.concatenate([chunk, np.zeros((step - n, *chunk.shape[1:]), chunk.dtype)])
        return self._session.run(self._out_names, {self._in_name: chunk})[0][:n]

    def metadata(self) -> dict[str, str]:
        return dict(self._session.get_modelmeta().custom_metadata_map)

    def describe(self) -> dict:
        from importlib import metadata  # only here: it costs ~10 ms of start-up

        try:
            version = metadata.version(PACKAGES["onnxruntime"].distribution)
        except metadata.PackageNotFoundError:
            version = _import_ort().__version__
        summary = onnx_proto.summarize(self.path)
        return {
            "engine": self.name,
            "engine_version": version,
            "device": self.device,
            "providers": self.providers,
            "threads": self.threads,
            "max_batch": self.max_batch,
            "layout": self.layout,
            "opsets": summary.opsets,
            "producer": summary.producer,
            "ops": dict(summary.ops),
        }


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0].rstrip(".") if text else type(e).__name__
