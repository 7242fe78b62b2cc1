"""``edgewise export`` end to end through the CLI, on a run whose card points at an image folder."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgewise.cli import main
from edgewise.runtime.card import ModelCard

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def folder_run(trained_run, band_splits, tmp_path_factory) -> Path:
    """The trained run with its card's ``data`` pointing at the same images saved as PNG files."""
    root = tmp_path_factory.mktemp("bands")
    data = root / "images"
    for split_name in ("train", "test"):
        split = getattr(band_splits, split_name)
        for i, (image, label) in enumerate(zip(split.images, split.labels, strict=True)):
            folder = data / split_name / band_splits.class_names[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image[..., 0], "L").save(folder / f"{i}.png")
    run = Path(shutil.copytree(trained_run, root / "run"))
    card = ModelCard.load(run)
    card.data = {"source": str(data), "image_size": 8, "channels": 1, "cache": False}
    card.save(run)
    return run


@pytest.fixture
def cli_run(folder_run, tmp_path) -> Path:
    return Path(shutil.copytree(folder_run, tmp_path / "run"))


def test_export_reloads_the_data_from_the_card_and_prints_a_table(cli_run, capsys):
    code = main(["export", str(cli_run), "--format", "all", "--quantize", "int8", "--calib-samples", "50"])
    out = capsys.readouterr().out
    assert code == 0
    assert "model_int8.tflite" in out and "model_int8.onnx" in out and out.count("| ok ") == 2
    card = ModelCard.load(cli_run)
    assert card.artifacts["model_int8.onnx"].calibration_samples == 50
    # the folder has 400 test images; the held-out set is topped up from the validation split
    assert card.artifacts["model_int8.tflite"].parity["samples"] > 400
    assert card.artifacts["model_int8.tflite"].parity["reference_accuracy"] > 0.95
    assert np.load(cli_run / "parity.npz", allow_pickle=False)["images"].shape == (300, 8, 8, 1)


def test_no_validate(cli_run, capsys):
    assert (
        main(["export", str(cli_run), "--format", "onnx", "--quantize", "fp32,dynamic", "--no-validate"]) == 0
    )
    assert capsys.readouterr().out.count("not validated") == 2
    card = json.loads((cli_run / "edgewise.json").read_text())
    assert {a["validated"] for a in card["artifacts"].values()} == {False}


def test_rejection_exits_1_with_the_miss_on_one_line(cli_run, capsys, monkeypatch):
    from edgewise.runtime import parity

    monkeypatch.setattr(parity, "compare", _shifted(parity.compare))
    code = main(["export", str(cli_run), "--quantize", "fp16"])
    captured = capsys.readouterr()
    assert code == 1
    error = [line for line in captured.err.splitlines() if line.startswith("edgewise export: error:")]
    assert len(error) == 1 and "model_fp16.tflite: rejected" in error[0] and "missed by" in error[0]
    assert "REJECTED" in captured.out
    assert (cli_run / "model_fp16.tflite.rejected").exists() and not (cli_run / "model_fp16.tflite").exists()


def _shifted(compare):
    """Pretend the artifact answers with the next class: agreement collapses."""

    def shifted(outputs, held_out, backend=""):
        return compare(np.roll(outputs, 1, axis=1), held_out, backend)

    return shifted


@pytest.mark.parametrize(
    "args, words",
    [
        (["--quantize", "int4"], "--quantize 'int4': choose from fp32, fp16, dynamic, int8 or all"),
        (["--format", "coreml"], "--format 'coreml': choose from tflite, onnx or all"),
        (["--format", "tflite", "--calibration", "entropy"], "tflite calibrates with minmax only"),
        (["--format", "onnx", "--io", "int8"], "onnx int8 cannot have --io int8; it can do float"),
        (["--threshold", "int8.speed=2"], "unknown figure 'speed'"),
        (["--calib-samples", "0"], "--calib-samples must be at least 1"),
        (["--threads", "0"], "--threads must be at least 1"),
        (["--threads", "50000"], "--threads must be at most 256"),
        (["--seed", "-1"], "--seed -1: must be between 0 and"),
        (["--opset", "11", "--format", "onnx"], "needs opset 13 or newer"),
        (["--max-drop", "-1"], "--max-drop must be a non-negative number of percentage points"),
        (["--max-drop", "1", "--repair-steps", "0"], "--repair-steps must be at least 1"),
    ],
)
def test_bad_options_are_one_line_errors(cli_run, capsys, args, words):
    assert main(["export", str(cli_run), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err


def test_data_whose_classes_disagree_with_the_card(cli_run, capsys):
    card = ModelCard.load(cli_run)
    card.labels = card.labels[::-1]
    card.save(cli_run)
    assert main(["export", str(cli_run)]) == 2
    assert "have classes ['a_top', 'b_middle', 'c_bottom'], but the model card" in capsys.readouterr().err


def test_run_without_a_model(tmp_path, capsys):
    assert main(["export", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path}: no model.keras in this directory" in err and "Traceback" not in err
    assert main(["export", str(tmp_path / "nowhere")]) == 2
    assert "no such run directory" in capsys.readouterr().err


def test_out_that_is_a_file(cli_run, capsys):
    (cli_run / "taken").write_text("")
    assert main(["export", str(cli_run), "--out", str(cli_run / "taken")]) == 2
    assert "taken: exists and is not a directory" in capsys.readouterr().err


def test_corrupt_model_file(cli_run, capsys):
    (cli_run / "model.keras").write_bytes(b"not a zip")
    assert main(["export", str(cli_run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.keras: not a .keras file" in err[0]


def test_zip_that_is_not_a_keras_model(cli_run, capsys):
    with zipfile.ZipFile(cli_run / "model.keras", "w") as archive:
        archive.writestr("notes.txt", "not a model")
    assert main(["export", str(cli_run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.keras: cannot load the Keras model" in err[0]


def test_missing_package_is_named(cli_run, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # makes `import tf2onnx` raise ImportError
    assert main(["export", str(cli_run), "--format", "onnx", "--quantize", "fp32"]) == 2
    err = capsys.readouterr().err
    assert "ONNX fp32 export needs tf2onnx, not installed here" in err and "edgewise[train]" in err


def test_help_explains_the_vocabulary(capsys):
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    out = capsys.readouterr().out
    for words in (
        "--format",
        "--quantize",
        "--calibration",
        "--no-validate",
        "--explain",
        ".rejected",
        "99.9%",
    ):
        assert words in out


@pytest.mark.slow
def test_export_error_after_importing_tensorflow_is_one_line(tmp_path):
    """The Keras file is loaded (TensorFlow imported) before the error: still one line on stderr."""
    from edgewise.runtime.card import InputSpec

    ModelCard(labels=["a", "b"], input=InputSpec(shape=(8, 8, 1))).save(tmp_path)
    with zipfile.ZipFile(tmp_path / "model.keras", "w") as archive:  # loads TensorFlow, then fails
        archive.writestr("notes.txt", "not a model")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "GRPC_"))}
    done = subprocess.run(
        [sys.executable, "-m", "edgewise", "export", str(tmp_path), "--no-validate", "--quantize", "fp32"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr
    assert done.stderr.startswith("edgewise export: error:") and "cannot load the Keras model" in done.stderr


def test_preprocess_ranges_read_as_values_not_options():
    from edgewise.cli import build_parser

    args = build_parser().parse_args(["export", "mine.h5", "--preprocess", "-1..1", "--labels", "l.txt"])
    assert args.preprocess == "-1..1" and args.labels == "l.txt" and args.run == "mine.h5"
