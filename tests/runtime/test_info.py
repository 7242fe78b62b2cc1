"""`edgewise info`: a model file described for people and as JSON, and a bundle directory's artifacts."""

import json

import pytest

from edgewise.cli import build_parser, main

pytestmark = pytest.mark.runtime_only


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


def test_info_on_a_bundle_lists_its_artifacts_and_the_one_that_runs_here(tiny_bundle, capsys):
    assert main(["info", str(tiny_bundle)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"bundle    {tiny_bundle}") and out[0].endswith(": 4 artifacts")
    listed = [line.split()[0] for line in out[1:5]]
    assert sorted(listed) == ["model_fp32.onnx", "model_fp32.tflite", "model_int8.onnx", "model_int8.tflite"]
    assert out[5].startswith("runs here model_fp32.tflite, the default")
    assert out[6] == f"model     {tiny_bundle / 'model_fp32.tflite'}"


def test_info_json_on_a_bundle(tiny_bundle, capsys):
    assert main(["info", str(tiny_bundle), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {a["file"] for a in info["bundle"]["artifacts"]} >= {"model_int8.tflite", "model_fp32.onnx"}
    assert all(a["present"] for a in info["bundle"]["artifacts"])
    assert info["model"].endswith("model_fp32.tflite")


def test_info_on_a_directory_that_is_not_a_bundle(tmp_path, capsys):
    assert main(["info", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("edgewise info: error:")
    assert f"{tmp_path}: no edgewise.json here; give a model file, or a bundle directory" in err[0]
