"""`edgewise predict` and `edgewise info` output, and the runtime's import rule."""

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


def test_info_text(tiny_bundle, capsys):
    assert main(["info", str(tiny_bundle / "model_int8.tflite")]) == 0
    out = capsys.readouterr().out
    assert "input     pixels  int8  (N, 16, 16, 3)  quantised: scale" in out
    assert "CONV_2D x2" in out and "labels  red, green, blue" in out and "tflite int8 (I/O int8)" in out
    assert "warning" not in out


def test_info_json_onnx(tiny_bundle, capsys):
    assert main(["info", str(tiny_bundle / "model_int8.onnx"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["engine"] == "onnxruntime" and info["ops"]["QuantizeLinear"] > 0
    assert info["inputs"][0]["shape"] == [None, 16, 16, 3] and info["inputs"][0]["dtype"] == "float32"
    assert info["card"]["labels"] == ["red", "green", "blue"]
    assert info["sha256"] == info["card"]["artifacts"]["model_int8.onnx"]["sha256"]
    assert info["warnings"] == []


def test_info_warns_when_the_file_changed_after_export(tiny_bundle, tmp_path, capsys):
    for name in ("model_fp32.tflite", "edgewise.json"):
        (tmp_path / name).write_bytes((tiny_bundle / name).read_bytes())
    (tmp_path / "model_fp32.tflite").write_bytes((tiny_bundle / "model_int8.tflite").read_bytes())
    assert main(["info", str(tmp_path / "model_fp32.tflite")]) == 0
    assert "sha256 differs" in capsys.readouterr().out


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


def test_info_help_has_examples_and_export_help_has_single_percent_signs():
    subcommands = build_parser()._subparsers._group_actions[0].choices
    assert "examples:\n  edgewise info runs/fm/model_int8.tflite" in subcommands["info"].format_help()
    export_help = subcommands["export"].format_help()
    assert "99.9%" in export_help and "%%" not in export_help


def test_info_prints_parity_for_people(tiny_bundle, tmp_path, capsys):
    card = json.loads((tiny_bundle / "edgewise.json").read_text())
    card["artifacts"]["model_int8.tflite"]["parity"] = {
        "samples": 300, "accuracy": 0.9294, "reference_accuracy": 0.9307, "agreement": 0.9933,
        "max_abs_diff": 0.0123, "mean_abs_diff": 0.0004, "backend": "litert", "accuracy_drop_pp": 0.13,
    }  # fmt: skip
    (tmp_path / "edgewise.json").write_text(json.dumps(card))
    (tmp_path / "model_int8.tflite").write_bytes((tiny_bundle / "model_int8.tflite").read_bytes())
    assert main(["info", str(tmp_path / "model_int8.tflite")]) == 0
    parity = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  parity")]
    assert parity == [
        "  parity  top-1 92.94% vs 93.07% for the reference (-0.13 pp); agrees on 99.33%; "
        "max abs diff 0.0123 (mean 0.0004); 300 held-out images, checked with litert"
    ]
