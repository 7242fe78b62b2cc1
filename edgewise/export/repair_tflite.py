"""``--max-drop`` for TFLite: rank layers with the QuantizationDebugger, re-quantise with a denylist.

``tf.lite.experimental.QuantizationDebugger`` runs every quantised op beside its float twin on the same
dequantised inputs, so each figure is that layer's own loss and one ranking serves the whole search; the
selective model comes from the same (once calibrated) debugger with ``denylisted_nodes``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from edgewise.export.calibration import CalibrationSet
from edgewise.export.converted import quiet
from edgewise.export.repair_ranking import (
    RANK_SAMPLES,
    WEIGHTED_OPS,
    Candidate,
    Requantizer,
    channel_sqnr,
    float_group,
)


class TFLiteRequantizer(Requantizer):
    """Selective int8 TFLite through one calibrated ``QuantizationDebugger``."""

    suffix = ".tflite"

    def __init__(self, model, calibration: CalibrationSet, images: np.ndarray, *, io: str):
        import tensorflow as tf

        from edgewise.export import tflite
        from edgewise.runtime.card import Quantize

        self._tf = tf
        self._ranked: list[Candidate] | None = None
        self._fully_quantize = io == "int8"
        conv = tflite.converter(model, Quantize.INT8, calibration=calibration, io=io)
        options = tf.lite.experimental.QuantizationDebugOptions(
            layer_direct_compare_metrics={"channel_sqnr": _channel_sqnr},
            fully_quantize=self._fully_quantize,
        )
        with quiet():
            self._debugger = tf.lite.experimental.QuantizationDebugger(
                converter=conv,
                debug_dataset=CalibrationSet(images[:RANK_SAMPLES]).representative_dataset(),
                debug_options=options,
            )

    def candidates(self, current: bytes) -> tuple[list[Candidate], int]:
        if self._ranked is None:  # each figure is the layer's own loss: one ranking serves every step
            with quiet():
                self._debugger.run()
            stats = {}
            for verify_name, metrics in self._debugger.layer_statistics.items():
                tensor, _ = self._debugger._get_operand_name_and_index(verify_name)
                stats[tensor] = float(metrics["channel_sqnr"])
            readers, producers, op_of = _graph(self._debugger)
            self.weighted = frozenset(t for t in stats if op_of.get(t) in WEIGHTED_OPS)
            ranked = sorted(stats, key=lambda t: stats[t] if math.isfinite(stats[t]) else -math.inf)
            self._ranked = [Candidate(t, stats[t], float_group(t, readers, producers, op_of)) for t in ranked]
        return self._ranked, len(self._ranked)

    def requantize(self, float_layers: Sequence[str]) -> bytes:
        options = self._tf.lite.experimental.QuantizationDebugOptions(
            denylisted_nodes=list(float_layers), fully_quantize=self._fully_quantize
        )
        with quiet():
            self._debugger.options = options
            return bytes(self._debugger.get_nondebug_quantized_model())


def _channel_sqnr(float_values, quant_values, scale, zero_point) -> float:
    dequantised = (np.asarray(quant_values, dtype=np.int32) - zero_point) * scale
    return channel_sqnr(float_values, dequantised, axis=-1)


def _graph(debugger) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, str]]:
    """In the debug model: layer name -> the quantised layers that read its output, -> the quantised
    layers whose outputs it reads, and each layer's op name.

    The debug model holds each quantised op beside its float twin; ``NumericVerify`` ops pair them, the
    first input being the quantised tensor. Layer names are what the debugger reports (and
    ``denylisted_nodes`` takes): the float twin's output name. Read without the default delegate, which
    would hide the ops it takes behind one DELEGATE node.
    """
    import tensorflow as tf

    with quiet():  # tf.lite.Interpreter warns that it is deprecated; the debugger uses it all the same
        interpreter = tf.lite.Interpreter(
            model_content=debugger.quant_model,
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
    ops = interpreter._get_ops_details()
    layer_of = {}  # quantised tensor index -> layer name
    for op in ops:
        if op["op_name"] == "NumericVerify":
            verify_name = interpreter._get_tensor_details(op["outputs"][0], subgraph_index=0)["name"]
            layer_of[int(op["inputs"][0])] = debugger._get_operand_name_and_index(verify_name)[0]
    readers: dict[str, list[str]] = {}
    producers: dict[str, list[str]] = {}
    op_of: dict[str, str] = {}
    for op in ops:
        outputs = [layer_of[int(i)] for i in op["outputs"] if int(i) in layer_of]
        if op["op_name"] == "NumericVerify" or not outputs:
            continue
        op_of[outputs[0]] = op["op_name"]
        for i in op["inputs"]:
            if int(i) in layer_of and layer_of[int(i)] != outputs[0]:
                readers.setdefault(layer_of[int(i)], []).append(outputs[0])
                producers.setdefault(outputs[0], []).append(layer_of[int(i)])
    return readers, producers, op_of
