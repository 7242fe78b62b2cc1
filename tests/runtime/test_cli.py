"""`edgewise predict` output, and the runtime's import rule."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import edgewise.runtime
from edgewise.cli import build_parser, main
from tests.imports import imports

pytestmark = pytest.mark.runtime_only

FORBIDDEN = {"tensorflow", "keras", "tf2onnx", "onnx"}


@pytest.fixture
def images(tiny_bundle, tmp_path):
    with np.load(tiny_bundle / "parity.npz", allow_pickle=False) as parity:
        pixels, reference = parity["images"][:3], parity["reference"][:3]
    paths = []
    for i, img in enumerate(pixels):
        paths.append(tmp_path / f"img{i}.png")
        Image.fromarray(img).save(paths[-1])
    labels = [["red", "green", "blue"][k] for k in reference.argmax(1)]
    return paths, labels


@pytest.mark.parametrize(
    "name", ["model_fp32.tflite", "model_int8.tflite", "model_fp32.onnx", "model_int8.onnx"]
)
def test_predict_table(tiny_bundle, images, capsys, name):
    paths, labels = images
    assert main(["predict", str(tiny_bundle / name), *map(str, paths), "--top", "2", "--threads", "1"]) == 0
    out, err = capsys.readouterr()
    header, *rows = out.splitlines()
    assert header.startswith("IMAGE") and err == ""
    assert [row.split()[0] for row in rows] == [str(p) for p in paths]
    assert [row.split()[1] for row in rows] == labels
    assert all(len(row.split()) == 5 for row in rows)  # path + 2 x (label score)


def test_predict_json_lines(tiny_bundle, images, capsys):
    paths, labels = images
    assert main(["predict", str(tiny_bundle / "model_int8.onnx"), *map(str, paths), "--json", "-k", "3"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["image"] for r in records] == [str(p) for p in paths]
    for record, label in zip(records, labels, strict=True):
        scores = [p["score"] for p in record["predictions"]]
        assert record["predictions"][0]["label"] == label and scores == sorted(scores, reverse=True)
        assert {p["index"] for p in record["predictions"]} == {0, 1, 2}


def test_predict_without_card_notes_index_labels(tiny_bundle, images, tmp_path, capsys):
    model = tmp_path / "solo" / "model.tflite"
    model.parent.mkdir()
    model.write_bytes((tiny_bundle / "model_fp32.tflite").read_bytes())
    assert main(["predict", str(model), str(images[0][0]), "--top", "1"]) == 0
    out, err = capsys.readouterr()
    assert "labels are class indices" in err
    assert out.splitlines()[1].split()[1] in {"0", "1", "2"}


def test_predict_gpu_on_a_cpu_machine_is_one_line(tiny_bundle, images, capsys):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    rc = main(["predict", str(tiny_bundle / "model_fp32.onnx"), str(images[0][0]), "--device", "gpu"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "no GPU execution provider" in err


def test_help_explains_the_options():
    text = build_parser()._subparsers._group_actions[0].choices["predict"].format_help()
    for option in ("--top", "--json", "--threads", "--device", "--engine", "IMAGE|DIR"):
        assert option in text


def test_runtime_modules_never_import_tensorflow_at_all():
    """Static: no forbidden import anywhere in edgewise.runtime but litert's last-resort fallback."""
    root = Path(edgewise.runtime.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for found in imports(path, "edgewise.runtime"):
            fallback = path.name == "litert.py" and found.function == "_import_interpreter"
            if found.top in FORBIDDEN and not (fallback and found.top == "tensorflow"):
                offenders.append(f"{path.name}:{found.line} {found.module}")
    assert offenders == []


def test_predicting_loads_no_forbidden_module(tiny_bundle, images):
    code = f"""
import sys
import edgewise.runtime, edgewise.runtime.cli
assert not {{"onnxruntime", "ai_edge_litert"}} & set(sys.modules), "engine imported eagerly"
from edgewise.cli import main
for name in ("model_int8.tflite", "model_fp32.onnx"):
    assert main(["predict", r"{tiny_bundle}/" + name, r"{images[0][0]}"]) == 0
print(sorted({{m.split(".")[0] for m in sys.modules}} & {FORBIDDEN!r}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
