"""Model files are validated before an engine sees them: one line naming a bad file, never a crash."""

import random
import subprocess
import sys
import textwrap

import pytest

from edgewise.runtime import onnx_proto
from edgewise.runtime.backends import load_backend
from edgewise.runtime.errors import ModelFileError
from edgewise.runtime.modelfile import check_model_file

pytestmark = pytest.mark.runtime_only


def _write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _one_line_naming(excinfo, path):
    message = str(excinfo.value)
    assert "\n" not in message
    assert str(path) in message
    return message


@pytest.mark.parametrize(
    "name", ["model_fp32.tflite", "model_int8.tflite", "model_fp32.onnx", "model_int8.onnx"]
)
def test_good_files_pass(tiny_bundle, name):
    assert check_model_file(tiny_bundle / name) == name.rsplit(".", 1)[1]


def test_missing_model_file(tmp_path):
    path = tmp_path / "nope.tflite"
    with pytest.raises(ModelFileError) as e:
        load_backend(path)
    assert "no such file" in _one_line_naming(e, path)


@pytest.mark.parametrize("name", ["empty.tflite", "empty.onnx"])
def test_empty_model_file(tmp_path, name):
    path = _write(tmp_path, name, b"")
    with pytest.raises(ModelFileError) as e:
        load_backend(path)
    assert "0 bytes" in _one_line_naming(e, path)


def test_unknown_suffix(tmp_path):
    path = _write(tmp_path, "model.pb", b"x" * 100)
    with pytest.raises(ModelFileError) as e:
        load_backend(path)
    assert "expected .tflite or .onnx" in _one_line_naming(e, path)


@pytest.mark.parametrize("keep", [4, 20, 200, 0.5, -100, -1])
def test_truncated_tflite(tiny_bundle, tmp_path, keep):
    data = (tiny_bundle / "model_fp32.tflite").read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep if keep > 0 else len(data) + keep
    path = _write(tmp_path, "cut.tflite", data[:cut])
    with pytest.raises(ModelFileError) as e:
        load_backend(path)
    _one_line_naming(e, path)


@pytest.mark.parametrize("keep", [4, 40, 0.3, 0.9, -1])
def test_truncated_onnx(tiny_bundle, tmp_path, keep):
    data = (tiny_bundle / "model_fp32.onnx").read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep if keep > 0 else len(data) + keep
    path = _write(tmp_path, "cut.onnx", data[:cut])
    with pytest.raises(ModelFileError) as e:
        load_backend(path)
    _one_line_naming(e, path)


def test_text_named_tflite(tmp_path):
    path = _write(tmp_path, "model.tflite", b"this is not a model, just some text in a file\n" * 3)
    with pytest.raises(ModelFileError) as e:
        load_backend(path)
    assert "TFL3" in _one_line_naming(e, path)


def test_onnx_file_named_tflite(tiny_bundle, tmp_path):
    path = _write(tmp_path, "model.tflite", (tiny_bundle / "model_fp32.onnx").read_bytes())
    with pytest.raises(ModelFileError) as e:
        load_backend(path)
    assert "looks like an ONNX file" in _one_line_naming(e, path)


def test_tflite_file_named_onnx(tiny_bundle, tmp_path):
    path = _write(tmp_path, "model.onnx", (tiny_bundle / "model_fp32.tflite").read_bytes())
    with pytest.raises(ModelFileError) as e:
        load_backend(path)
    _one_line_naming(e, path)


def test_corrupt_tflite_root_offset(tiny_bundle, tmp_path):
    data = bytearray((tiny_bundle / "model_fp32.tflite").read_bytes())
    data[0:4] = (len(data) + 1000).to_bytes(4, "little")
    path = _write(tmp_path, "bad.tflite", bytes(data))
    with pytest.raises(ModelFileError) as e:
        load_backend(path)
    assert "outside the file" in _one_line_naming(e, path)


def test_onnx_summary_reads_ops_opsets_and_embedded_card(tiny_bundle):
    summary = onnx_proto.summarize(tiny_bundle / "model_fp32.onnx")
    assert summary.ops["Conv"] == 2 and summary.ops["Softmax"] == 1
    assert summary.opsets["ai.onnx"] == 13
    assert '"edgewise.card"' in summary.metadata["edgewise.card"]


def test_onnx_wire_reader_rejects_garbage():
    with pytest.raises(onnx_proto.WireError):
        onnx_proto.summarize_bytes(b"\x0a\xff\xff\xff\x0f")  # length far past the end
    with pytest.raises(onnx_proto.WireError, match="graph"):
        onnx_proto.summarize_bytes(b"\x08\x07")  # ir_version only


@pytest.mark.slow
def test_randomly_damaged_models_never_crash_the_process(tiny_bundle, tmp_path):
    """Flip bytes in and truncate all four artifacts; load and run each in a child that must exit 0."""
    rng = random.Random(1234)
    cases = []
    for name in ("model_fp32.tflite", "model_int8.tflite", "model_fp32.onnx", "model_int8.onnx"):
        data = (tiny_bundle / name).read_bytes()
        for i in range(12):
            damaged = bytearray(data)
            for _ in range(rng.choice((1, 4, 32))):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            if i % 3 == 0:
                damaged = damaged[: rng.randrange(8, len(damaged))]
            cases.append(_write(tmp_path, f"{i}_{name}", bytes(damaged)))
    script = textwrap.dedent(
        """
        import sys, numpy as np
        from edgewise.runtime.backends import load_backend
        from edgewise.runtime.errors import EdgewiseError
        for path in sys.argv[1:]:
            try:
                load_backend(path).run(np.zeros((2, 16, 16, 3), np.uint8))
            except EdgewiseError as e:
                assert "\\n" not in str(e), str(e)
        print("survived", len(sys.argv) - 1)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, cases)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"survived {len(cases)}" in done.stdout
