"""An artifact that misses its threshold is kept aside as .rejected, never under its real name."""

import numpy as np
import pytest

from edgewise.export import ExportRejected, export
from edgewise.export.errors import ArtifactRejected
from edgewise.runtime.card import ModelCard

pytestmark = pytest.mark.slow


def break_tflite(monkeypatch):
    """Convert a re-initialised copy of the model instead: a plausible-looking file with wrong weights."""
    import keras

    from edgewise.export import tflite

    real_convert = tflite.convert

    def convert_wrong_weights(model, quantize, **kw):
        keras.utils.set_random_seed(123)
        return real_convert(keras.models.clone_model(model), quantize, **kw)

    monkeypatch.setattr(tflite, "convert", convert_wrong_weights)


@pytest.fixture
def broken_tflite(monkeypatch):
    break_tflite(monkeypatch)


def test_failed_artifact_is_written_aside_and_reported(run_dir, band_splits, broken_tflite):
    with pytest.raises(ExportRejected) as caught:
        export(run_dir, format="tflite", quantize="fp32,int8", splits=band_splits)
    result = caught.value.result
    assert [r.artifact for r in result.rejected] == ["model_fp32.tflite", "model_int8.tflite"]
    for rejected in result.rejected:
        assert isinstance(rejected, ArtifactRejected)
        assert "missed by" in str(rejected)
        assert not (run_dir / rejected.artifact).exists()
        assert (run_dir / f"{rejected.artifact}.rejected").stat().st_size > 0
    assert "agreement" in str(result.rejected[0]) and "max abs diff" in str(result.rejected[0])
    assert "drop" in str(result.rejected[1])
    assert "kept as model_int8.tflite.rejected" in str(caught.value)
    assert caught.value.exit_code == 1
    assert ModelCard.load(run_dir).artifacts == {}


def test_rejection_keeps_the_previous_good_artifact(run_dir, band_splits, monkeypatch):
    export(run_dir, format="tflite", quantize="fp32", splits=band_splits)
    good = (run_dir / "model_fp32.tflite").read_bytes()
    break_tflite(monkeypatch)
    with pytest.raises(ExportRejected):
        export(run_dir, format="tflite", quantize="fp32", splits=band_splits)
    assert (run_dir / "model_fp32.tflite").read_bytes() == good
    assert ModelCard.load(run_dir).artifacts["model_fp32.tflite"].validated is True
    assert (run_dir / "model_fp32.tflite.rejected").read_bytes() != good


def test_zero_tolerance_threshold_reports_the_excess(run_dir, band_splits):
    result = export(
        run_dir,
        format="tflite",
        quantize="fp32",
        splits=band_splits,
        check=False,
        thresholds=["fp32.max_abs_diff=0", "fp32.agreement=100"],
        val_samples=100,
    )
    entry = result.artifacts[0]
    assert entry.parity["samples"] == 100
    if entry.parity["max_abs_diff"] > 0:
        assert "over by" in str(result.rejected[0])
    else:
        assert result.ok


def test_check_false_returns_the_rejections_instead_of_raising(run_dir, band_splits, broken_tflite):
    result = export(run_dir, format="tflite", quantize="fp32", splits=band_splits, check=False)
    assert not result.ok and result.exported == []
    assert result.artifacts[0].validated is False


def test_no_validate_writes_artifacts_marked_unvalidated(run_dir, band_splits, broken_tflite):
    result = export(run_dir, format="tflite", quantize="fp32", splits=band_splits, validate=False)
    entry = ModelCard.load(run_dir).artifacts["model_fp32.tflite"]
    assert result.ok and entry.validated is False and entry.parity is None
    assert "skipped" in entry.extra["validation"]
    assert np.load(run_dir / "parity.npz", allow_pickle=False)["images"].shape[0] == 300
