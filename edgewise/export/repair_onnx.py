"""``--max-drop`` for ONNX: rank nodes with ``qdq_loss_debug``, re-quantise with ``nodes_to_exclude``.

``onnxruntime.quantization.qdq_loss_debug`` runs the float and QDQ graphs side by side, so errors
accumulate downstream: a node's own loss is how far its output's figure falls below its worst input's
(dB, negative: it lost), measured again on the model the search has reached after each step. The ranking
needs a QDQ graph; the final float set is then quantised in whichever recipe of the variant search runs
fastest (:func:`edgewise.export.repair.repair`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgewise.export.calibration import CalibrationSet
from edgewise.export.converted import quiet
from edgewise.export.repair_ranking import (
    RANK_SAMPLES,
    SQNR_CAP_DB,
    WEIGHTED_OPS,
    Candidate,
    Requantizer,
    channel_sqnr,
    float_group,
)


class OnnxRequantizer(Requantizer):
    """Selective int8 ONNX: ``quantize_static`` with ``nodes_to_exclude``."""

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
        plain_is_qdq: bool = True,
    ):
        import onnx

        from edgewise.export import onnx as onnx_export

        self._tmp = tempfile.TemporaryDirectory(prefix="edgewise-repair-")
        self.dir = Path(self._tmp.name)
        self._calibration, self._images, self._method = calibration, images, method
        onnx.save(onnx_export.to_onnx(model, opset), self.dir / "float.onnx")
        onnx_export.preprocess(self.dir / "float.onnx", self.dir / "float.pre.onnx")
        (self.dir / "plain.onnx").write_bytes(plain)  # its metadata (the embedded card) is copied along
        self._plain_is_qdq = plain_is_qdq

    def rank_base(self, plain: bytes) -> bytes:
        return plain if self._plain_is_qdq else self.requantize([])

    def candidates(self, current: bytes) -> tuple[list[Candidate], int]:
        import onnx

        graph = onnx.load(self.dir / "float.pre.onnx").graph
        (self.dir / "current.onnx").write_bytes(current)
        sqnr, quantised = self._figures(graph.input[0].name)
        producer = {out: node for node in graph.node for out in node.output}
        readers: dict[str, list[str]] = {}  # node name -> names of the nodes reading its outputs
        producers: dict[str, list[str]] = {}  # node name -> names of the nodes whose outputs it reads
        for node in graph.node:
            for name in node.input:
                if name in producer:
                    readers.setdefault(producer[name].name, []).append(node.name)
                    producers.setdefault(node.name, []).append(producer[name].name)
        op_of = {node.name: node.op_type for node in graph.node}
        constants = {init.name for init in graph.initializer}
        self.weighted = frozenset(
            node.name
            for node in graph.node
            if node.op_type in WEIGHTED_OPS and (node.op_type != "MatMul" or constants & set(node.input))
        )
        order = {out: i for i, node in enumerate(graph.node) for out in node.output}
        found = []  # in graph order, so that ties (capped figures) rank the earlier tensor first
        for tensor in sorted(quantised & set(sqnr), key=lambda t: order.get(t, len(order))):
            node = producer.get(tensor)
            if node is None:
                continue
            inputs = [sqnr[i] for i in node.input if i in sqnr]
            fall = sqnr[tensor] - min(min(inputs, default=SQNR_CAP_DB), SQNR_CAP_DB)  # < 0: this node lost
            found.append(Candidate(tensor, fall, float_group(node.name, readers, producers, op_of)))
        found.sort(key=lambda c: c.score_db)
        return found, len(quantised)

    def _figures(self, input_name: str) -> tuple[dict[str, float], set[str]]:
        """Per activation of the float graph, the mean over images of its channel SQNR in the current
        model (after its quantiser when it has one); and the activations the current model quantises."""
        from onnxruntime.quantization import qdq_loss_debug as qdq

        debug = CalibrationSet(self._images[:RANK_SAMPLES])
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
        return sqnr, quantised

    def requantize(self, float_layers: Sequence[str], variant=None) -> bytes:
        """``variant`` (an :class:`~edgewise.export.int8_variants.Int8Variant`): the recipe, by default
        the first candidate (QDQ S8S8 per-channel, which the ranking reads)."""
        import onnx

        from edgewise.export import onnx as onnx_export

        out = self.dir / "selective.onnx"
        onnx_export.quantize_int8(
            self.dir / "float.onnx",
            out,
            self._calibration,
            method=self._method,
            variant=variant,
            nodes_to_exclude=list(float_layers),
        )
        proto = onnx.load(out)
        plain = onnx.load(self.dir / "plain.onnx", load_external_data=False)
        proto.metadata_props.extend(plain.metadata_props)  # the embedded model card travels along
        return proto.SerializeToString()

    def close(self) -> None:
        self._tmp.cleanup()
