"""``edgewise train`` hands every option to :func:`edgewise.train.train` under its API name."""

import inspect

from edgewise.cli import main
from edgewise.train import api


def test_options_arrive_under_their_api_names(monkeypatch, tmp_path):
    calls = []
    parameters = inspect.signature(api.train).parameters

    def fake_train(**keywords):
        calls.append(keywords)

    fake_train.__signature__ = inspect.signature(api.train)  # what the CLI filters its options by
    monkeypatch.setattr(api, "train", fake_train)
    argv = ["train", "--data", "fashion_mnist", "--model", "fashion_cnn", "--out", str(tmp_path / "run"),
            "--epochs", "2", "--alpha", "0.5", "--no-augment", "--val-fraction", "0.2"]  # fmt: skip
    assert main(argv) == 0
    (keywords,) = calls
    assert keywords["data"] == "fashion_mnist" and keywords["epochs"] == 2 and keywords["augment"] is False
    assert keywords["val_fraction"] == 0.2 and keywords["model_options"] == {"alpha": 0.5}
    assert keywords["command"].startswith("edgewise ")
    not_options = {"resize", "fit"}  # Python only: image folders carry them in the card
    assert set(keywords) == set(parameters) - not_options
