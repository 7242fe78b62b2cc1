"""load_backend: every artifact of the tiny bundle against the Keras reference, batching, devices, engines."""

import numpy as np
import pytest

from edgewise.runtime.backends import load_backend
from edgewise.runtime.backends.base import Backend, TensorSpec
from edgewise.runtime.backends.onnxruntime import CPU, choose_providers
from edgewise.runtime.backends.quant import from_graph_output, to_graph_input
from edgewise.runtime.errors import BackendUnavailable, InputError

pytestmark = pytest.mark.runtime_only

ARTIFACTS = ["model_fp32.tflite", "model_int8.tflite", "model_fp32.onnx", "model_int8.onnx"]


@pytest.fixture(scope="module")
def parity(tiny_bundle):
    with np.load(tiny_bundle / "parity.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize("name", ARTIFACTS)
def test_artifact_matches_the_keras_reference(tiny_bundle, parity, name):
    backend = load_backend(tiny_bundle / name, threads=1)
    assert isinstance(backend, Backend)
    out = backend.run(parity["images"])
    assert out.dtype == np.float32 and out.shape == parity["reference"].shape
    tolerance = 1e-5 if "fp32" in name else 0.05  # int8: a few quantisation steps of 1/256
    np.testing.assert_allclose(out, parity["reference"], atol=tolerance)
    assert (out.argmax(1) == parity["reference"].argmax(1)).mean() >= 0.95


@pytest.mark.parametrize("name", ARTIFACTS)
def test_batches_of_any_size_give_the_same_rows(tiny_bundle, parity, name):
    backend = load_backend(tiny_bundle / name)
    images = parity["images"][:7]
    whole = backend.run(images)
    one_by_one = np.concatenate([backend.run(images[i : i + 1]) for i in range(len(images))])
    again = backend.run(images[:3])
    np.testing.assert_allclose(whole, one_by_one, atol=1e-6)
    np.testing.assert_allclose(again, whole[:3], atol=1e-6)


@pytest.mark.parametrize("name", ARTIFACTS)
def test_uint8_and_float32_pixels_give_the_same_result(tiny_bundle, parity, name):
    backend = load_backend(tiny_bundle / name)
    images = parity["images"][:4]
    np.testing.assert_allclose(backend.run(images), backend.run(images.astype(np.float32)), atol=1e-6)


def test_int8_tflite_reports_its_quantisation(tiny_bundle):
    backend = load_backend(tiny_bundle / "model_int8.tflite")
    (inp,), (out,) = backend.inputs, backend.outputs
    assert inp.dtype == "int8" and inp.quantized and inp.shape == (None, 16, 16, 3)
    assert out.dtype == "int8" and out.quantized
    fp32 = load_backend(tiny_bundle / "model_fp32.tflite")
    assert not fp32.inputs[0].quantized and fp32.inputs[0].dtype == "float32"


def test_quantise_boundary_uses_scale_and_zero_point():
    spec = TensorSpec("x", (None, 2), "int8", scale=0.5, zero_point=-10)
    q = to_graph_input(np.array([[0.0, 300.0]], np.float32), spec)
    assert q.dtype == np.int8 and q.tolist() == [[-10, 127]]  # 300/0.5-10 = 590 clips to 127
    np.testing.assert_allclose(from_graph_output(np.array([[-10, 0]], np.int8), spec), [[0.0, 5.0]])


@pytest.mark.parametrize("name", ["model_fp32.tflite", "model_fp32.onnx"])
def test_wrong_input_shape_is_an_input_error(tiny_bundle, name):
    backend = load_backend(tiny_bundle / name)
    with pytest.raises(InputError, match="does not fit"):
        backend.run(np.zeros((1, 28, 28, 1), np.uint8))


def test_describe_lists_engine_and_ops(tiny_bundle):
    tfl = load_backend(tiny_bundle / "model_fp32.tflite").describe()
    assert tfl["engine"] == "litert" and tfl["ops"]["CONV_2D"] == 2
    onnx = load_backend(tiny_bundle / "model_int8.onnx").describe()
    assert onnx["engine"] == "onnxruntime" and onnx["ops"]["Conv"] == 2 and onnx["ops"]["QuantizeLinear"] > 0


def test_forced_engine_and_threads(tiny_bundle):
    backend = load_backend(tiny_bundle / "model_fp32.tflite", engine="litert", threads=2)
    assert backend.name == "litert" and backend.threads == 2
    with pytest.raises(BackendUnavailable, match="cannot run TFLite"):
        load_backend(tiny_bundle / "model_fp32.tflite", engine="onnxruntime")
    with pytest.raises(BackendUnavailable, match="cannot run ONNX"):
        load_backend(tiny_bundle / "model_fp32.onnx", engine="litert")


def test_gpu_for_tflite_says_to_use_onnx(tiny_bundle):
    with pytest.raises(BackendUnavailable, match="use the .onnx model"):
        load_backend(tiny_bundle / "model_fp32.tflite", device="gpu")


def test_gpu_without_a_gpu_provider_is_one_clear_error(tiny_bundle):
    import onnxruntime

    if any(
        p in onnxruntime.get_available_providers() for p in ("CUDAExecutionProvider", "ROCMExecutionProvider")
    ):
        pytest.skip("this onnxruntime has a GPU provider")
    with pytest.raises(BackendUnavailable, match="no GPU execution provider"):
        load_backend(tiny_bundle / "model_fp32.onnx", device="gpu")
    assert load_backend(tiny_bundle / "model_fp32.onnx", device="auto").device == CPU


def test_provider_choice():
    cuda = ["TensorrtExecutionProvider", "CUDAExecutionProvider", CPU]
    assert choose_providers(cuda, "cpu") == [CPU]
    assert choose_providers(cuda, "gpu") == ["CUDAExecutionProvider", CPU]
    assert choose_providers(cuda, "auto") == ["CUDAExecutionProvider", CPU]
    assert choose_providers(cuda, "gpu", "tensorrt") == [
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",
        CPU,
    ]
    assert choose_providers([CPU], "auto") == [CPU]
    with pytest.raises(BackendUnavailable):
        choose_providers([CPU], "gpu")
    with pytest.raises(BackendUnavailable, match="TensorRT"):
        choose_providers([CPU, "CUDAExecutionProvider"], "gpu", "tensorrt")
    with pytest.raises(InputError):
        choose_providers(cuda, "tpu")
