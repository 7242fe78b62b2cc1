"""End to end: ``edgewise.train.train`` and ``edgewise train`` on tiny generated data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from edgewise.cli import main
from edgewise.runtime.card import ModelCard
from tests.train.helpers import write_idx_dataset, write_photo_folder

pytest.importorskip("tensorflow")

RUN_FILES = (
    "model.keras",
    "edgewise.json",
    "history.json",
    "history.csv",
    "metrics.json",
    "confusion_matrix.json",
    "confusion_matrix.png",
    "training_curves.png",
)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEWISE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")


def _separable_photos(root: Path, per_class: int = 12) -> None:
    """Two classes a tiny model tells apart in a few epochs: dark and bright photos."""
    from PIL import Image

    write_photo_folder(root, classes=("dark", "bright"), per_class=per_class)
    for path in (root / "dark").iterdir():
        Image.eval(Image.open(path).convert("RGB"), lambda v: v // 4).save(path.with_suffix(".png"))
        path.unlink()


@pytest.mark.slow
def test_train_image_folder_end_to_end(tmp_path):
    from edgewise.train import train

    data = tmp_path / "photos"
    _separable_photos(data)
    out = train(
        data=data, model="bikes_cnn", out=tmp_path / "run", epochs=4, image_size=32, lr=3e-3, augment=False
    )
    for name in RUN_FILES:
        assert (out / name).is_file(), name
    card = ModelCard.load(out)
    assert card.labels == ["bright", "dark"] and card.model == "bikes_cnn"
    assert card.input.shape == (32, 32, 3) and card.preprocessing.normalization == "in_model"
    assert card.data["source"] == str(data.resolve()) and card.data["image_size"] == [32, 32]
    assert 0.0 <= card.metrics["test_accuracy"] <= 1.0 and card.metrics["test_images"] > 0
    assert card.provenance["seed"] == 1337 and card.provenance["epochs_run"] == 4
    assert card.provenance["versions"]["tensorflow"]
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 4 and "val_accuracy" in history and "lr" in history
    assert (out / "history.csv").read_text().splitlines()[0].startswith("epoch,")
    matrix = json.loads((out / "confusion_matrix.json").read_text())["rows_true_columns_predicted"]
    assert np.asarray(matrix).sum() == card.metrics["test_images"]

    # the card's data kwargs reproduce the data, and the saved model takes raw pixels
    import keras

    from edgewise.train import load_splits

    splits = load_splits(**card.data)
    model = keras.models.load_model(out / "model.keras")
    probs = model.predict(splits.test.images.astype(np.float32), verbose=0)
    assert probs.shape == (len(splits.test), 2)
    assert abs((probs.argmax(1) == splits.test.labels).mean() - card.metrics["test_accuracy"]) < 1e-6


@pytest.mark.slow
def test_cli_train_on_idx_and_refuse_overwrite(tmp_path, capsys):
    write_idx_dataset(tmp_path / "fm", n_train=60, n_test=20)
    args = ["train", "--data", "fashion_mnist", "--data-dir", str(tmp_path / "fm"), "--model", "mnist_cnn"]
    out = tmp_path / "run"
    assert main([*args, "--out", str(out), "--epochs", "1", "--batch-size", "16"]) == 0
    assert ModelCard.load(out).data["data_dir"] == str((tmp_path / "fm").resolve())
    assert main([*args, "--out", str(out), "--epochs", "1"]) == 2
    assert "already exists; use --force" in capsys.readouterr().err
    assert main([*args, "--out", str(out), "--epochs", "1", "--batch-size", "16", "--force"]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--data", "nosuchset", "--model", "mnist_cnn"], "unknown dataset 'nosuchset'"),
        (["--data", "./missing/photos", "--model", "mnist_cnn"], "no such directory"),
        (["--data", "mnist", "--model", "lenet9000"], "unknown model 'lenet9000'"),
        (["--data", "mnist", "--model", "mnist_cnn", "--image-size", "30"], "multiples of 4"),
        (["--data", "mnist", "--model", "mnist_cnn", "--image-size", "big"], "expected N or HEIGHTxWIDTH"),
        (["--data", "mnist", "--model", "mnist_cnn", "--resume"], "nothing to resume"),
        (["--data", "mnist", "--model", "mnist_cnn", "--epochs", "0"], "epochs must be positive"),
        (["--data", "mnist", "--model", "vgg16", "--image-size", "16"], "at least 32x32"),
        (["--data", "mnist", "--model", "mnist_cnn", "--alpha", "0.5"], "takes no option alpha"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, message):
    os.chdir(tmp_path)
    assert main(["train", *argv, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_cli_multiworker_without_tf_config(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    argv = ["train", "--data", "mnist", "--model", "mnist_cnn", "--out", str(tmp_path / "r")]
    assert main([*argv, "--strategy", "multiworker"]) == 2
    assert "TF_CONFIG" in capsys.readouterr().err


def _state(run: Path) -> dict:
    try:
        return json.loads((run / "checkpoints" / "state.json").read_text())
    except (OSError, ValueError):
        return {}


@pytest.mark.slow
def test_resume_after_the_process_is_killed(tmp_path):
    """Kill training mid-run (SIGKILL: no clean-up at all), then --resume finishes it."""
    write_idx_dataset(tmp_path / "fm", n_train=3000, n_test=50)
    run = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "edgewise",
        "train",
        "--data",
        "fashion_mnist",
        "--data-dir",
        str(tmp_path / "fm"),
    ]
    cmd += [
        "--model",
        "mnist_cnn",
        "--out",
        str(run),
        "--epochs",
        "6",
        "--batch-size",
        "32",
        "--patience",
        "99",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 240
    while _state(run).get("epoch", 0) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _state(run)["epoch"]
    assert 2 <= done < 6 and not (run / "model.keras").exists()
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 2 and "already exists" in again.stderr  # without --resume: refused

    resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming after epoch {done} of 6" in resumed.stderr
    history = json.loads((run / "history.json").read_text())
    assert len(history["loss"]) == 6  # the epochs before the kill plus the ones after, none repeated
    card = ModelCard.load(run)
    assert card.provenance["epochs_run"] == 6
    assert not list((run / "checkpoints").glob("epoch-000[1-5].keras"))  # only the last is kept


@pytest.mark.slow
def test_ctrl_c_says_how_to_resume(tmp_path):
    write_idx_dataset(tmp_path / "fm", n_train=3000, n_test=50)
    run = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "edgewise",
        "train",
        "--data",
        "fashion_mnist",
        "--data-dir",
        str(tmp_path / "fm"),
    ]
    cmd += ["--model", "mnist_cnn", "--out", str(run), "--epochs", "20", "--batch-size", "32"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while _state(run).get("epoch", 0) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "--resume" in err and "Traceback" not in err


@pytest.mark.slow
def test_transfer_learning_frozen_base_then_fine_tune(tmp_path):
    """A weights file stands in for ImageNet (offline): frozen phase, then the fine-tune phase."""
    import keras

    from edgewise.train import train

    weights = tmp_path / "base.weights.h5"
    keras.applications.MobileNetV2(
        input_shape=(32, 32, 3), include_top=False, weights=None, alpha=0.35
    ).save_weights(weights)
    data = tmp_path / "photos"
    _separable_photos(data, per_class=8)
    out = train(
        data=data,
        model="mobilenet_v2",
        out=tmp_path / "run",
        image_size=32,
        epochs=1,
        fine_tune_epochs=1,
        weights=str(weights),
        batch_size=4,
    )
    card = ModelCard.load(out)
    assert card.provenance["fine_tune_epochs"] == 1 and card.provenance["epochs_run"] == 2
    assert len(json.loads((out / "history.json").read_text())["loss"]) == 2
    fine_tuned = keras.models.load_model(out / "checkpoints" / "epoch-0002.keras")
    base = next(layer for layer in fine_tuned.layers if isinstance(layer, keras.Model))
    assert base.trainable and not base.layers[1].trainable  # top unfrozen, bottom still frozen
    assert any(layer.trainable_weights for layer in base.layers[-10:])


@pytest.mark.slow
def test_transfer_model_from_scratch_offline(tmp_path):
    from edgewise.train import train

    data = tmp_path / "photos"
    _separable_photos(data, per_class=8)
    out = train(
        data=data, model="mobilenet_v2", out=tmp_path / "run", image_size=32, epochs=1, weights="none"
    )
    card = ModelCard.load(out)
    assert card.provenance["fine_tune_epochs"] == 0 and card.provenance["weights"] == "none"
