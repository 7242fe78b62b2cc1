"""``edgewise export`` hands every option to :func:`edgewise.export.export` under its API name."""

import inspect

import pytest

from edgewise.cli import main
from edgewise.export import api

PYTHON_ONLY = {"splits", "check", "progress"}
EXPORT_PARAMETERS = inspect.signature(api.export).parameters


@pytest.fixture
def captured(monkeypatch):
    calls = []

    def fake_export(run, **keywords):
        calls.append({"run": run, **keywords})
        return api.ExportResult(directory=run, card=None)

    fake_export.__signature__ = inspect.signature(api.export)  # what the CLI filters its options by
    monkeypatch.setattr(api, "export", fake_export)
    monkeypatch.setattr("edgewise.export.cli._print_report", lambda result: None)
    return calls


def test_every_api_keyword_but_the_python_only_ones_comes_from_an_option(captured):
    assert main(["export", "runs/fm"]) == 0
    (keywords,) = captured
    assert set(keywords) == set(EXPORT_PARAMETERS) - PYTHON_ONLY


def test_options_arrive_under_their_api_names(captured):
    argv = "export m.keras --format onnx --quantize fp32,int8 --threshold int8.drop=0.5 --data photos "
    argv += "--data-dir cache --npu none --max-drop 1 --seed 7"
    assert main(argv.split()) == 0
    (keywords,) = captured
    assert keywords["run"] == "m.keras" and keywords["format"] == "onnx"
    assert keywords["quantize"] == "fp32,int8"
    assert keywords["thresholds"] == ["int8.drop=0.5"]
    assert keywords["data"] == {"source": "photos", "data_dir": "cache"}
    assert keywords["npu"] is None and keywords["max_drop"] == 1.0 and keywords["seed"] == 7
    assert "command" not in keywords and "verbose" not in keywords
