"""``--max-drop PP``: int8 that repairs itself by keeping the fewest layers in float.

Plain full-int8 post-training quantisation can lose a lot on a few layers: one outlier channel that sets
a whole tensor's range, a depthwise layer whose channels differ wildly. With a budget, export measures
the int8 artifact's top-1 drop against the Keras model on the *validation* split (the test split stays
untouched for the final gate) and, while the drop is over budget, keeps one more activation in float
(the one whose int8 version loses the most), re-quantises, and measures again. It stops at the first,
smallest, set of float layers that meets the budget, or after ``max_steps`` re-quantisations.

The ranking figure is the median over channels of each quantised activation's SQNR against float (dB,
lower is worse). Per channel, because a per-tensor range set by one outlier channel leaves the other
channels a handful of levels while the tensor-wide error still looks like plain rounding noise.

- TFLite: ``tf.lite.experimental.QuantizationDebugger`` runs every quantised op beside its float twin on
  the same dequantised inputs, so each figure is that layer's own loss; the selective model comes from
  the same (once calibrated) debugger with ``denylisted_nodes``.
- ONNX: ``onnxruntime.quantization.qdq_loss_debug`` runs the float and QDQ graphs side by side (errors
  accumulate downstream), so a node's own loss is how far its output's figure falls below its worst
  input's (dB, negative: it lost); the selective model is ``quantize_static(nodes_to_exclude=...)``.

Keeping an activation in float means keeping its producer *and* its consumers in float: a quantised
consumer would quantise it again with the same range. Consumers that only move values around (max-pool,
reshape, transpose...) hand the same range on, so their consumers join too.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edgewise.export import validate as validation
from edgewise.export.calibration import CalibrationSet
from edgewise.export.converted import Converted, quiet
from edgewise.runtime.errors import InputError
from edgewise.runtime.parity import ParitySet
from edgewise.runtime.sampling import stratified_indices

log = logging.getLogger("edgewise.export")

DEFAULT_MAX_STEPS = 8  # re-quantisations the search may spend
DEFAULT_SAMPLES = 2000  # validation images each step is judged on
RANK_SAMPLES = 64  # images the per-layer figures are measured on
SQNR_CAP_DB = 100.0  # an exact channel (no noise) counts as this
# Ops whose int8 output keeps the input's range: keeping their input float must keep their readers float.
RANGE_PRESERVING = {
    "MAX_POOL_2D", "RESHAPE", "SQUEEZE", "TRANSPOSE", "PAD", "STRIDED_SLICE", "SLICE",  # TFLite
    "MaxPool", "Reshape", "Squeeze", "Unsqueeze", "Transpose", "Flatten", "Identity", "Pad", "Slice",  # ONNX
}  # fmt: skip


@dataclass
class Candidate:
    """An activation whose int8 version loses information, and the layers that keep it in float."""

    tensor: str
    score_db: float  # the layer's own loss, lower is worse (dB; see the module docstring per format)
    layers: tuple[str, ...]  # producer and consumers, by the names the quantiser takes


@dataclass
class Step:
    float_layers: list[str]
    accuracy: float  # on the validation images
    drop_pp: float  # Keras top-1 minus artifact top-1 on the same images, percentage points
    seconds: float  # re-quantising plus validating this step


@dataclass
class Repair:
    """What the search did; recorded in the card under ``extra["repair"]``."""

    budget_pp: float
    split: str
    samples: int
    reference_accuracy: float
    quantised_layers: int = 0  # activations the plain int8 graph quantises (the ranking's length)
    candidates: list[Candidate] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    rank_seconds: float = 0.0
    chosen: int = 0  # index into steps of the artifact kept

    @property
    def met(self) -> bool:
        return self.steps[self.chosen].drop_pp <= self.budget_pp

    @property
    def float_layers(self) -> list[str]:
        return self.steps[self.chosen].float_layers

    @property
    def float_share(self) -> float:
        """Share of the plain graph's quantised layers kept in float (0 when nothing was ranked)."""
        return len(self.float_layers) / self.quantised_layers if self.quantised_layers else 0.0

    def to_dict(self) -> dict:
        return {
            "budget_pp": self.budget_pp,
            "split": self.split,
            "samples": self.samples,
            "reference_accuracy": self.reference_accuracy,
            "met": self.met,
            "chosen_step": self.chosen,
            "float_layers": self.float_layers,
            "float_share": round(self.float_share, 4),
            "quantised_layers": self.quantised_layers,
            "rank_seconds": round(self.rank_seconds, 2),
            "steps": [
                {**asdict(s), "drop_pp": round(s.drop_pp, 4), "seconds": round(s.seconds, 2)}
                for s in self.steps
            ],
            "ranking": [
                {"tensor": c.tensor, "score_db": round(c.score_db, 2), "layers": list(c.layers)}
                for c in self.candidates
            ],
        }

    def summary(self) -> str:
        step = self.steps[self.chosen]
        verdict = "within" if self.met else "OVER"
        return (
            f"{len(step.float_layers)} layer(s) in float ({100 * self.float_share:.0f}% of "
            f"{self.quantised_layers}), validation drop {step.drop_pp:+.2f} pp, {verdict} the "
            f"{self.budget_pp:g} pp budget after {len(self.steps) - 1} re-quantisation(s)"
        )


class Requantizer:
    """One format's half of the search: rank activations, and re-quantise with some layers in float."""

    suffix: str

    def candidates(self, current: bytes) -> tuple[list[Candidate], int]:
        """Activations worst first, and how many the graph quantises; ``current`` is the model the
        search has reached (a format whose figures are per layer may rank once and ignore it)."""
        raise NotImplementedError

    def requantize(self, float_layers: Sequence[str]) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        """Drop temporary files."""


def validation_set(model, splits, n: int = DEFAULT_SAMPLES, seed: int = 0) -> ParitySet:
    """A class-stratified sample of the validation split with the Keras model's outputs for it."""
    from edgewise.export import keras_model

    val = getattr(splits, "val", None)
    if val is None or not len(val.labels):
        raise InputError("--max-drop judges on the validation split, and the data have none")
    keep = np.sort(stratified_indices(val.labels, n, seed))
    images = np.ascontiguousarray(val.images[keep], dtype=np.uint8)
    labels = np.asarray(val.labels[keep], dtype=np.int64)
    return ParitySet(images, labels, keras_model.predict(model, images))


def check_options(max_drop: float | None, steps: int) -> None:
    """Refuse a negative budget or no steps before any work."""
    if max_drop is not None and not max_drop >= 0:
        raise InputError(f"--max-drop must be a non-negative number of percentage points, not {max_drop}")
    if steps < 1:
        raise InputError(f"--repair-steps must be at least 1, not {steps}")


@dataclass(frozen=True)
class Repairer:
    """What every int8 artifact of one export shares for ``--max-drop``; call it on each one."""

    model: object
    calibration: CalibrationSet
    held_out: ParitySet  # validation images, not the test split
    budget_pp: float
    opset: int | None = None
    method: str | None = None
    max_steps: int = DEFAULT_MAX_STEPS
    threads: int | None = None

    def __call__(self, fmt, converted: Converted, *, name: str, io: str) -> Converted:
        return repair(fmt, converted, self.model, self.calibration, self.held_out, self.budget_pp, name=name,
                      io=io, opset=self.opset, method=self.method, max_steps=self.max_steps,
                      threads=self.threads)  # fmt: skip


def within_budget(
    converted: Converted,
    requantizer: Requantizer,
    held_out: ParitySet,
    budget_pp: float,
    *,
    name: str,
    max_steps: int = DEFAULT_MAX_STEPS,
    threads: int | None = None,
) -> Converted:
    """``converted`` if its validation drop is within ``budget_pp``; else the smallest float fallback
    found that is (or, failing that within ``max_steps``, the one that lost least)."""
    result = Repair(
        budget_pp=budget_pp,
        split="val",
        samples=len(held_out),
        reference_accuracy=held_out.reference_accuracy,
    )
    data = {0: converted.data}
    try:
        started = time.perf_counter()
        result.steps.append(_step([], converted.data, requantizer.suffix, held_out, threads, started))
        log.info("%s: validation drop %+.2f pp (budget %g pp)", name, result.steps[0].drop_pp, budget_pp)
        if not result.met:
            _search(result, requantizer, held_out, data, name=name, max_steps=max_steps, threads=threads)
    finally:
        requantizer.close()
    if not result.met:
        log.warning("%s: no fallback within %d steps met the budget; kept the one that lost least", name,
                    max_steps)  # fmt: skip
    log.info("%s: %s", name, result.summary())
    repaired = Converted(**{**converted.__dict__, "data": data[result.chosen]})
    repaired.extra = {**converted.extra, "repair": result.to_dict()}
    return repaired


def _search(result: Repair, requantizer: Requantizer, held_out, data: dict, *, name, max_steps, threads):
    float_layers: list[str] = []
    blob = data[0]
    while len(result.steps) <= max_steps:
        started = time.perf_counter()
        ranked, quantised = requantizer.candidates(blob)
        result.rank_seconds += time.perf_counter() - started
        if len(result.steps) == 1:
            result.candidates, result.quantised_layers = ranked, quantised
        pick = next((c for c in ranked if any(layer not in float_layers for layer in c.layers)), None)
        if pick is None:
            break
        trial = float_layers + [layer for layer in pick.layers if layer not in float_layers]
        started = time.perf_counter()
        try:
            blob = requantizer.requantize(trial)
        except Exception as e:  # a converter refusing one denylist should not end the search
            log.warning("%s: cannot keep %s in float (%s); search stopped", name, pick.tensor, e)
            break
        float_layers = trial
        step = _step(list(float_layers), blob, requantizer.suffix, held_out, threads, started)
        result.steps.append(step)
        data[len(result.steps) - 1] = blob
        log.info(
            "%s: [repair %d/%d] +%s in float (%.1f dB) -> validation drop %+.2f pp (%.1f s)",
            name,
            len(result.steps) - 1,
            max_steps,
            pick.tensor,
            pick.score_db,
            step.drop_pp,
            step.seconds,
        )
        if step.drop_pp <= result.budget_pp:
            result.chosen = len(result.steps) - 1
            _prune(result, requantizer, held_out, data, name=name, max_steps=max_steps, threads=threads)
            return
    # Over budget everywhere: the step that lost least, the fewer float layers on a tie.
    result.chosen = min(range(len(result.steps)), key=lambda i: (result.steps[i].drop_pp, i))


def _prune(result: Repair, requantizer: Requantizer, held_out, data: dict, *, name, max_steps, threads):
    """Once the budget is met, try dropping each earlier step's layers again (a ranking is a guess):
    a set that stays within budget without them replaces the chosen one."""
    added = [
        [layer for layer in result.steps[i].float_layers if layer not in result.steps[i - 1].float_layers]
        for i in range(1, len(result.steps) - 1)
    ]
    for group in added:
        if len(result.steps) > max_steps:
            return
        trial = [layer for layer in result.float_layers if layer not in group]
        if len(trial) == len(result.float_layers):
            continue
        started = time.perf_counter()
        try:
            blob = requantizer.requantize(trial)
        except Exception:  # noqa: BLE001 - a refused denylist just means this group stays
            continue
        step = _step(trial, blob, requantizer.suffix, held_out, threads, started)
        result.steps.append(step)
        data[len(result.steps) - 1] = blob
        kept = step.drop_pp <= result.budget_pp
        log.info(
            "%s: [repair %d/%d] without %d of them -> validation drop %+.2f pp (%.1f s)%s",
            name,
            len(result.steps) - 1,
            max_steps,
            len(group),
            step.drop_pp,
            step.seconds,
            ", dropped" if kept else ", kept",
        )
        if kept:
            result.chosen = len(result.steps) - 1


def _range_group(layer: str, readers: dict[str, list[str]], op_of: dict[str, str]) -> list[str]:
    """``layer``'s readers, and through range-preserving readers theirs, in order, without repeats."""
    group: list[str] = []
    pending = list(readers.get(layer, []))
    while pending:
        reader = pending.pop(0)
        if reader in group or reader == layer:
            continue
        group.append(reader)
        if op_of.get(reader) in RANGE_PRESERVING:
            pending += readers.get(reader, [])
    return group


def _step(float_layers, blob: bytes, suffix: str, held_out, threads, started: float) -> Step:
    with tempfile.TemporaryDirectory(prefix="edgewise-repair-") as tmp:
        path = Path(tmp) / f"candidate{suffix}"
        path.write_bytes(blob)
        parity = validation.measure(path, held_out, threads=threads, progress=False)
    return Step(float_layers, parity.accuracy, parity.drop_pp, time.perf_counter() - started)


def channel_sqnr(reference: np.ndarray, approx: np.ndarray, axis: int = -1) -> float:
    """Median over channels (``axis``) of the SQNR of ``approx`` against ``reference``, in dB.

    Channels that are all zero in the reference carry no signal and are left out; an exact channel
    counts as :data:`SQNR_CAP_DB`.
    """
    reference = np.asarray(reference, dtype=np.float64)
    approx = np.asarray(approx, dtype=np.float64)
    if reference.ndim == 0:
        reference, approx = reference.reshape(1), approx.reshape(1)
    axis = axis % reference.ndim
    others = tuple(i for i in range(reference.ndim) if i != axis)
    signal = np.sum(reference**2, axis=others)
    noise = np.sum((reference - approx) ** 2, axis=others)
    live = signal > 0
    if not live.any():
        return SQNR_CAP_DB
    with np.errstate(divide="ignore"):
        ratio = 10 * np.log10(signal[live] / noise[live])
    return float(np.median(np.minimum(ratio, SQNR_CAP_DB)))


def repair(
    fmt,
    converted: Converted,
    model,
    calibration: CalibrationSet,
    held_out: ParitySet,
    budget_pp: float,
    *,
    name: str,
    io: str,
    opset: int | None,
    method: str | None,
    max_steps: int = DEFAULT_MAX_STEPS,
    threads: int | None = None,
) -> Converted:
    """:func:`within_budget` for an int8 artifact of format ``fmt`` ("tflite" or "onnx")."""
    if str(fmt) == "tflite":
        requantizer: Requantizer = TFLiteRequantizer(model, calibration, held_out.images, io=io)
    else:
        from edgewise.export import onnx as onnx_export

        requantizer = OnnxRequantizer(
            model,
            calibration,
            held_out.images,
            opset=opset or onnx_export.DEFAULT_OPSET,
            method=method or onnx_export.DEFAULT_CALIBRATION,
            plain=converted.data,
        )
    repaired = within_budget(
        converted, requantizer, held_out, budget_pp, name=name, max_steps=max_steps, threads=threads
    )
    if str(fmt) == "tflite" and repaired.data is not converted.data:
        from edgewise.export.tflite import graph_ops

        ops = graph_ops(repaired.data)
        repaired.integer_only = not ops.float_ops
        repaired.extra.update(ops=ops.ops, float_ops=ops.float_ops)
    return repaired


# -- TFLite ----------------------------------------------------------------------------------------------
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
            layer_direct_compare_metrics={"channel_sqnr": _tflite_channel_sqnr},
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
            consumers, op_of = _tflite_consumers(self._debugger)
            ranked = sorted(stats, key=lambda t: stats[t] if math.isfinite(stats[t]) else -math.inf)
            self._ranked = [Candidate(t, stats[t], (t, *_range_group(t, consumers, op_of))) for t in ranked]
        return self._ranked, len(self._ranked)

    def requantize(self, float_layers: Sequence[str]) -> bytes:
        options = self._tf.lite.experimental.QuantizationDebugOptions(
            denylisted_nodes=list(float_layers), fully_quantize=self._fully_quantize
        )
        with quiet():
            self._debugger.options = options
            return bytes(self._debugger.get_nondebug_quantized_model())


def _tflite_channel_sqnr(float_values, quant_values, scale, zero_point) -> float:
    dequantised = (np.asarray(quant_values, dtype=np.int32) - zero_point) * scale
    return channel_sqnr(float_values, dequantised, axis=-1)


def _tflite_consumers(debugger) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Layer name -> names of the quantised layers that read its output, in the debug model; and each
    layer's op name.

    The debug model holds each quantised op beside its float twin; ``NumericVerify`` ops pair them, the
    first input being the quantised tensor. Layer names are what the debugger reports (and
    ``denylisted_nodes`` takes): the float twin's output name.
    """
    interpreter = debugger._quant_interpreter
    ops = interpreter._get_ops_details()
    layer_of = {}  # quantised tensor index -> layer name
    for op in ops:
        if op["op_name"] == "NumericVerify":
            verify_name = interpreter._get_tensor_details(op["outputs"][0], subgraph_index=0)["name"]
            layer_of[int(op["inputs"][0])] = debugger._get_operand_name_and_index(verify_name)[0]
    consumers: dict[str, list[str]] = {}
    op_of: dict[str, str] = {}
    for op in ops:
        outputs = [layer_of[int(i)] for i in op["outputs"] if int(i) in layer_of]
        if op["op_name"] == "NumericVerify" or not outputs:
            continue
        op_of[outputs[0]] = op["op_name"]
        for i in op["inputs"]:
            if int(i) in layer_of and layer_of[int(i)] != outputs[0]:
                consumers.setdefault(layer_of[int(i)], []).append(outputs[0])
    return consumers, op_of


# -- ONNX ------------------------------------------------------------------------------------------------
class OnnxRequantizer(Requantizer):
    """Selective QDQ int8 ONNX: ``quantize_static`` with ``nodes_to_exclude``."""

    suffix = ".onnx"

    def __init__(
        self,
        model,
        calibration: CalibrationSet,
        images: np.ndarray,
        *,
        opset: int,
        method: str,
        plain: bytes,
    ):
        import onnx

        from edgewise.export import onnx as onnx_export

        self._tmp = tempfile.TemporaryDirectory(prefix="edgewise-repair-")
        self.dir = Path(self._tmp.name)
        self._calibration, self._images, self._method = calibration, images, method
        onnx.save(onnx_export.to_onnx(model, opset), self.dir / "float.onnx")
        onnx_export.preprocess(self.dir / "float.onnx", self.dir / "float.pre.onnx")
        (self.dir / "plain.onnx").write_bytes(plain)  # its metadata (the embedded card) is copied along

    def candidates(self, current: bytes) -> tuple[list[Candidate], int]:
        import onnx
        from onnxruntime.quantization import qdq_loss_debug as qdq

        graph = onnx.load(self.dir / "float.pre.onnx").graph
        (self.dir / "current.onnx").write_bytes(current)
        debug = CalibrationSet(self._images[:RANK_SAMPLES])
        input_name = graph.input[0].name
        with quiet():
            qdq.modify_model_output_intermediate_tensors(self.dir / "float.pre.onnx", self.dir / "f.aug.onnx")
            qdq.modify_model_output_intermediate_tensors(self.dir / "current.onnx", self.dir / "q.aug.onnx")
            float_acts = qdq.collect_activations(str(self.dir / "f.aug.onnx"), debug.reader(input_name))
            qdq_acts = qdq.collect_activations(str(self.dir / "q.aug.onnx"), debug.reader(input_name))
            matches = qdq.create_activation_matching(qdq_acts, float_acts)
        quantised = {t for t, m in matches.items() if m.get("post_qdq") is not None}
        sqnr = {}
        for tensor, float_values in float_acts.items():
            match = matches.get(tensor, {})
            # A quantised tensor is compared after its quantiser; one kept in float under its own name.
            approx = match.get("post_qdq") if match.get("post_qdq") is not None else qdq_acts.get(tensor)
            if approx is None:
                continue
            # NCHW inside tf2onnx graphs: channels on axis 1 of 4-D tensors, last otherwise.
            pairs = zip(float_values, approx, strict=False)
            sqnr[tensor] = float(
                np.mean([channel_sqnr(f, q, axis=1 if np.ndim(f) == 4 else -1) for f, q in pairs])
            )
        producer = {out: node for node in graph.node for out in node.output}
        readers: dict[str, list[str]] = {}  # node name -> names of the nodes reading its outputs
        for node in graph.node:
            for name in node.input:
                if name in producer:
                    readers.setdefault(producer[name].name, []).append(node.name)
        op_of = {node.name: node.op_type for node in graph.node}
        found = []
        for tensor in quantised & set(sqnr):
            node = producer.get(tensor)
            if node is None:
                continue
            inputs = [sqnr[i] for i in node.input if i in sqnr]
            fall = sqnr[tensor] - min(min(inputs, default=SQNR_CAP_DB), SQNR_CAP_DB)  # < 0: this node lost
            found.append(Candidate(tensor, fall, (node.name, *_range_group(node.name, readers, op_of))))
        found.sort(key=lambda c: c.score_db)
        return found, len(quantised)

    def requantize(self, float_layers: Sequence[str]) -> bytes:
        import onnx

        from edgewise.export import onnx as onnx_export

        out = self.dir / "selective.onnx"
        onnx_export.quantize_int8(
            self.dir / "float.onnx",
            out,
            self._calibration,
            method=self._method,
            nodes_to_exclude=list(float_layers),
        )
        proto = onnx.load(out)
        plain = onnx.load(self.dir / "plain.onnx", load_external_data=False)
        proto.metadata_props.extend(plain.metadata_props)  # the embedded model card travels along
        return proto.SerializeToString()

    def close(self) -> None:
        self._tmp.cleanup()
