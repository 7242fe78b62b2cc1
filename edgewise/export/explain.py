"""``--explain``: which layers of an int8 model lose the most, so a collapsed model can be fixed.

- TFLite: ``tf.lite.experimental.QuantizationDebugger`` compares every quantised tensor with its float
  value; the figure is RMSE / scale (about 0.29 is plain rounding noise, well above 1 means the range is
  wrong for the data).
- ONNX: ``onnxruntime.quantization.qdq_loss_debug`` runs the float and the QDQ model side by side; the
  figure is the signal-to-quantisation-noise ratio (SQNR, dB) of each activation against the float model,
  errors of earlier layers included (higher is better: a healthy int8 CNN shows 30-40 dB; under ~20 dB
  real information is lost, and the first layer that drops is where to look). The SQNR of a tensor's
  own QDQ pair is not used: ORT folds ReLU into the quantiser, which makes that figure meaningless there.
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgewise.export.calibration import CalibrationSet
from edgewise.export.converted import quiet
from edgewise.runtime import atomic

DEBUG_SAMPLES = 64
ROUNDING_NOISE = 1 / math.sqrt(12)  # RMSE/scale of ideal uniform rounding


@dataclass
class LayerLoss:
    tensor: str
    op: str
    value: float  # TFLite: RMSE/scale (lower is better); ONNX: SQNR dB (higher is better)


@dataclass
class Explanation:
    artifact: str
    metric: str
    higher_is_better: bool
    layers: list[LayerLoss]  # worst first

    def worst(self, n: int = 5) -> list[LayerLoss]:
        return self.layers[:n]

    def summary(self, n: int = 5) -> str:
        lines = [
            f"{self.artifact}: layers that lose the most ({self.metric}, "
            f"{'higher' if self.higher_is_better else 'lower'} is better)"
        ]
        for layer in self.worst(n):
            lines.append(f"  {layer.value:10.3f}  {layer.op:<18} {layer.tensor}")
        return "\n".join(lines)

    def write_csv(self, path: Path) -> Path:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["rank", "op", "tensor", self.metric])
        for rank, layer in enumerate(self.layers, 1):
            writer.writerow([rank, layer.op, layer.tensor, f"{layer.value:.6g}"])
        return atomic.write_text(path, buf.getvalue())


def explain_tflite(
    model, calibration: CalibrationSet, images: np.ndarray, *, io_type: str, artifact: str
) -> Explanation:
    import tensorflow as tf

    from edgewise.export import tflite
    from edgewise.runtime.card import Quantize

    conv = tflite.converter(model, Quantize.INT8, calibration=calibration, io=io_type)
    debug = CalibrationSet(images[:DEBUG_SAMPLES])
    dump = io.StringIO()
    with quiet():
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=conv, debug_dataset=debug.representative_dataset()
        )
        debugger.run()
        debugger.layer_statistics_dump(dump)
    layers = []
    for row in csv.DictReader(io.StringIO(dump.getvalue())):
        scale = float(row["scale"] or "nan")
        mse = float(row["mean_squared_error"] or "nan")
        value = math.sqrt(mse) / scale if scale > 0 else math.nan
        layers.append(LayerLoss(tensor=row["tensor_name"], op=row["op_name"], value=value))
    layers.sort(key=lambda layer: -layer.value if math.isfinite(layer.value) else math.inf)
    return Explanation(artifact=artifact, metric="rmse/scale", higher_is_better=False, layers=layers)


def explain_onnx(model, qdq_path: Path, images: np.ndarray, *, opset: int, artifact: str) -> Explanation:
    import onnx
    from onnxruntime.quantization import qdq_loss_debug as qdq

    from edgewise.export import onnx as onnx_export

    debug = CalibrationSet(images[:DEBUG_SAMPLES])
    with tempfile.TemporaryDirectory(prefix="edgewise-explain-") as tmp:
        tmp = Path(tmp)
        onnx.save(onnx_export.to_onnx(model, opset), tmp / "float.onnx")
        onnx_export.preprocess(tmp / "float.onnx", tmp / "float.pre.onnx")
        float_graph = onnx.load(tmp / "float.pre.onnx").graph
        input_name = float_graph.input[0].name
        producers = {out: node.op_type for node in float_graph.node for out in node.output}
        with quiet():
            qdq.modify_model_output_intermediate_tensors(tmp / "float.pre.onnx", tmp / "float.aug.onnx")
            qdq.modify_model_output_intermediate_tensors(qdq_path, tmp / "qdq.aug.onnx")
            float_acts = qdq.collect_activations(str(tmp / "float.aug.onnx"), debug.reader(input_name))
            qdq_acts = qdq.collect_activations(str(tmp / "qdq.aug.onnx"), debug.reader(input_name))
            matches = qdq.create_activation_matching(qdq_acts, float_acts)
    sqnr = qdq.compute_signal_to_quantization_noice_ratio
    # Tensors the QDQ graph renamed have no float twin; ORT's compute_activation_error trips on them.
    layers = [
        LayerLoss(
            tensor=name, op=producers.get(name, "?"), value=float(sqnr(match["float"], match["post_qdq"]))
        )
        for name, match in matches.items()
        if match.get("float") is not None and match.get("post_qdq") is not None
    ]
    layers.sort(key=lambda layer: layer.value if math.isfinite(layer.value) else -math.inf)
    return Explanation(artifact=artifact, metric="SQNR dB vs float", higher_is_better=True, layers=layers)
