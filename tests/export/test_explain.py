import csv

import pytest

from edgewise.export import export

pytestmark = pytest.mark.slow


def test_explain_names_the_lossiest_layers_of_both_int8_models(run_dir, band_splits):
    result = export(run_dir, format="all", quantize="int8", splits=band_splits, explain=True)
    assert [e.artifact for e in result.explanations] == ["model_int8.tflite", "model_int8.onnx"]
    tflite_report, onnx_report = result.explanations
    assert {"CONV_2D", "FULLY_CONNECTED"} <= {layer.op for layer in tflite_report.layers}
    assert {"Conv", "Gemm"} & {layer.op for layer in onnx_report.layers}
    # worst first: the largest RMSE/scale for TFLite, the lowest SQNR for ONNX
    tflite_values = [layer.value for layer in tflite_report.layers]
    onnx_values = [layer.value for layer in onnx_report.layers]
    assert tflite_values == sorted(tflite_values, reverse=True)
    assert onnx_values == sorted(onnx_values)
    assert "layers that lose the most" in tflite_report.summary()
    for name in ("model_int8.tflite", "model_int8.onnx"):
        rows = list(csv.DictReader((run_dir / f"{name}.explain.csv").open()))
        assert rows and rows[0]["rank"] == "1"


def test_explain_without_int8_is_a_warning_not_an_error(run_dir, band_splits, caplog):
    result = export(run_dir, format="tflite", quantize="fp32", splits=band_splits, explain=True)
    assert result.explanations == []
    assert "--explain reports on int8 artifacts" in caplog.text
