"""The TFLite engine order: ai_edge_litert, then tflite_runtime, then tensorflow.lite."""

import importlib.util

import numpy as np
import pytest

from edgewise.runtime.backends import litert, load_backend
from edgewise.runtime.errors import BackendUnavailable

pytestmark = pytest.mark.runtime_only


def _without(monkeypatch, *missing):
    real = litert._import_interpreter

    def fake(engine):
        if engine in missing:
            raise ImportError(f"No module named '{engine}'")
        return real(engine)

    monkeypatch.setattr(litert, "_import_interpreter", fake)


def test_litert_comes_first(tiny_bundle):
    assert load_backend(tiny_bundle / "model_fp32.tflite").name == "litert"


def test_falls_back_in_order_and_explains_when_nothing_is_installed(monkeypatch, tiny_bundle):
    _without(monkeypatch, "litert", "tflite_runtime", "tensorflow")
    with pytest.raises(BackendUnavailable) as e:
        load_backend(tiny_bundle / "model_fp32.tflite")
    message = str(e.value)
    assert "litert:" in message and "tflite_runtime:" in message and "tensorflow:" in message
    assert 'pip install "edgewise[litert]"' in message and "\n" not in message


def test_tflite_runtime_is_next_when_litert_is_missing(monkeypatch, tiny_bundle):
    if importlib.util.find_spec("tflite_runtime") is None:
        _without(monkeypatch, "litert", "tflite_runtime", "tensorflow")
        with pytest.raises(BackendUnavailable, match="tflite_runtime: No module"):
            load_backend(tiny_bundle / "model_fp32.tflite")
        return
    _without(monkeypatch, "litert")
    assert load_backend(tiny_bundle / "model_fp32.tflite").name == "tflite_runtime"


@pytest.mark.slow
def test_tensorflow_lite_as_last_resort(tiny_bundle):
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("TensorFlow is not installed (as in the runtime-only venv)")
    backend = load_backend(tiny_bundle / "model_int8.tflite", engine="tensorflow")
    assert backend.name == "tensorflow"
    with np.load(tiny_bundle / "parity.npz", allow_pickle=False) as parity:
        out = backend.run(parity["images"][:8])
        np.testing.assert_allclose(out, parity["reference"][:8], atol=0.05)
