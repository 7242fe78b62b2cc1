"""``--max-drop PP``: int8 that repairs itself by keeping the fewest layers in float.

Plain full-int8 post-training quantisation can lose a lot on a few layers: one outlier channel that sets
a whole tensor's range, a depthwise layer whose channels differ wildly. With a budget, export measures
the int8 artifact's top-1 drop against the Keras model on the *validation* split (the test split stays
untouched for the final gate) and, while the drop is over budget, keeps one more activation in float
(the one whose int8 version loses the most, with the layers that share its range), re-quantises, and
measures again. Once within budget it tries to give back each earlier step's layers, then each single
layer (weighted layers first: their share is what the target bounds), and keeps the smallest set that
still meets the budget; all within ``max_steps`` re-quantisations. An ONNX result is then re-quantised in
the fastest recipe that still meets the budget (the ranking needs QDQ; the deployed graph does not).

Ranking and grouping: :mod:`edgewise.export.repair_ranking`; per format: :mod:`.repair_tflite`,
:mod:`.repair_onnx`.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edgewise.export import validate as validation
from edgewise.export.calibration import CalibrationSet
from edgewise.export.converted import Converted
from edgewise.export.repair_ranking import Candidate, Requantizer
from edgewise.runtime.errors import InputError
from edgewise.runtime.parity import ParitySet
from edgewise.runtime.sampling import stratified_indices

log = logging.getLogger("edgewise.export")

DEFAULT_MAX_STEPS = 8  # re-quantisations the search may spend
DEFAULT_SAMPLES = 2000  # validation images each step is judged on


@dataclass
class Step:
    float_layers: list[str]
    accuracy: float  # on the validation images
    drop_pp: float  # Keras top-1 minus artifact top-1 on the same images, percentage points
    seconds: float  # re-quantising plus validating this step
    action: str = "plain int8"  # what this step tried: "+ TENSOR" (grow), "- N layer(s)" (prune)


@dataclass
class Repair:
    """What the search did; recorded in the card under ``extra["repair"]``."""

    budget_pp: float
    split: str
    samples: int
    reference_accuracy: float
    quantised_layers: int = 0  # activations the plain int8 graph quantises (the ranking's length)
    weighted_layers: frozenset[str] = frozenset()  # the quantised layers that carry weights
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

    @property
    def float_weighted(self) -> list[str]:
        return [layer for layer in self.float_layers if layer in self.weighted_layers]

    @property
    def float_weighted_share(self) -> float:
        """Share of the weighted layers (convolutions, dense) kept in float: what the target bounds."""
        return len(self.float_weighted) / len(self.weighted_layers) if self.weighted_layers else 0.0

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
            "weighted_layers": len(self.weighted_layers),
            "float_weighted_layers": self.float_weighted,
            "float_weighted_share": round(self.float_weighted_share, 4),
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
            f"{self.quantised_layers}; weighted {len(self.float_weighted)}/{len(self.weighted_layers)}), "
            f"validation drop {step.drop_pp:+.2f} pp, {verdict} the {self.budget_pp:g} pp budget after "
            f"{len(self.steps) - 1} re-quantisation(s)"
        )


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


@dataclass
class _Search:
    """One artifact's search: the record, the models each step made, and what every step needs."""

    result: Repair
    requantizer: Requantizer
    held_out: ParitySet
    name: str
    max_steps: int
    threads: int | None
    data: dict[int, bytes] = field(default_factory=dict)

    @property
    def steps_left(self) -> bool:
        return len(self.result.steps) <= self.max_steps

    def try_set(self, float_layers: list[str], action: str) -> Step | None:
        """Re-quantise with ``float_layers`` in float and validate; None when the converter refuses."""
        started = time.perf_counter()
        try:
            blob = self.requantizer.requantize(float_layers)
        except Exception as e:  # noqa: BLE001 - a converter refusing one denylist should not end the export
            log.warning("%s: cannot re-quantise with %s (%s)", self.name, action, e)
            return None
        step = _step(list(float_layers), blob, self.requantizer.suffix, self.held_out, self.threads, started)
        step.action = action
        self.result.steps.append(step)
        self.data[len(self.result.steps) - 1] = blob
        log.info("%s: [repair %d/%d] %s: %d layer(s) in float -> validation drop %+.2f pp (%.1f s)",
                 self.name, len(self.result.steps) - 1, self.max_steps, action, len(float_layers),
                 step.drop_pp, step.seconds)  # fmt: skip
        return step


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
    result = Repair(budget_pp=budget_pp, split="val", samples=len(held_out),
                    reference_accuracy=held_out.reference_accuracy)  # fmt: skip
    search = _Search(result, requantizer, held_out, name, max_steps, threads, {0: converted.data})
    started = time.perf_counter()
    result.steps.append(_step([], converted.data, requantizer.suffix, held_out, threads, started))
    log.info("%s: validation drop %+.2f pp (budget %g pp)", name, result.steps[0].drop_pp, budget_pp)
    if not result.met:
        _grow(search)
        if result.met:
            _prune(search)
    if not result.met:
        log.warning("%s: no fallback within %d steps met the budget; kept the one that lost least", name,
                    max_steps)  # fmt: skip
    log.info("%s: %s", name, result.summary())
    repaired = Converted(**{**converted.__dict__, "data": search.data[result.chosen]})
    repaired.extra = {**converted.extra, "repair": result.to_dict()}
    return repaired


def _grow(search: _Search) -> None:
    """Add the worst-ranked activation's group to the float set until the budget is met."""
    result, requantizer = search.result, search.requantizer
    float_layers: list[str] = []
    blob = requantizer.rank_base(search.data[0])
    while search.steps_left:
        started = time.perf_counter()
        ranked, quantised = requantizer.candidates(blob)
        result.rank_seconds += time.perf_counter() - started
        if len(result.steps) == 1:
            result.candidates, result.quantised_layers = ranked, quantised
            result.weighted_layers = requantizer.weighted
        pick = next((c for c in ranked if any(layer not in float_layers for layer in c.layers)), None)
        if pick is None:
            break
        trial = float_layers + [layer for layer in pick.layers if layer not in float_layers]
        step = search.try_set(trial, f"+ {pick.tensor} ({pick.score_db:.1f} dB)")
        if step is None:
            break
        float_layers, blob = trial, search.data[len(result.steps) - 1]
        if step.drop_pp <= result.budget_pp:
            result.chosen = len(result.steps) - 1
            return
    # Over budget everywhere: the step that lost least, the fewer float layers on a tie.
    result.chosen = min(range(len(result.steps)), key=lambda i: (result.steps[i].drop_pp, i))


def _prune(search: _Search) -> None:
    """Once the budget is met, give layers back (a ranking is a guess): first each earlier step's group,
    then single layers, weighted ones first; a smaller set that stays within budget replaces the chosen."""
    result = search.result
    grown = [s.float_layers for s in result.steps[: result.chosen + 1]]
    groups = [
        (f"- step {i + 1}'s {len(now) - len(grown[i])} layer(s)", [x for x in now if x not in grown[i]])
        for i, now in enumerate(grown[1:-1])
    ]
    singles = sorted(result.float_layers, key=lambda layer: layer not in result.weighted_layers)
    for action, group in [*groups, *((f"- {layer}", [layer]) for layer in singles)]:
        trial = [layer for layer in result.float_layers if layer not in group]
        if len(trial) == len(result.float_layers) or not trial:
            continue
        if not search.steps_left:
            return
        step = search.try_set(trial, action)
        if step is not None and step.drop_pp <= result.budget_pp:
            result.chosen = len(result.steps) - 1


def _step(float_layers, blob: bytes, suffix: str, held_out, threads, started: float) -> Step:
    with tempfile.TemporaryDirectory(prefix="edgewise-repair-") as tmp:
        path = Path(tmp) / f"candidate{suffix}"
        path.write_bytes(blob)
        parity = validation.measure(path, held_out, threads=threads, progress=False)
    return Step(float_layers, parity.accuracy, parity.drop_pp, time.perf_counter() - started)


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
    requantizer = _requantizer(fmt, converted, model, calibration, held_out.images, io=io, opset=opset,
                               method=method)  # fmt: skip
    try:
        repaired = within_budget(
            converted, requantizer, held_out, budget_pp, name=name, max_steps=max_steps, threads=threads
        )
        if str(fmt) == "onnx" and repaired.data is not converted.data and repaired.extra["repair"]["met"]:
            repaired = _fastest_recipe(repaired, requantizer, held_out, budget_pp, name=name, threads=threads)
    finally:
        requantizer.close()
    if str(fmt) == "tflite" and repaired.data is not converted.data:
        from edgewise.export.tflite import graph_ops

        ops = graph_ops(repaired.data)
        repaired.integer_only = not ops.float_ops
        repaired.extra.update(ops=ops.ops, float_ops=ops.float_ops)
    return repaired


def _requantizer(fmt, converted: Converted, model, calibration, images, *, io, opset, method) -> Requantizer:
    if str(fmt) == "tflite":
        from edgewise.export.repair_tflite import TFLiteRequantizer

        return TFLiteRequantizer(model, calibration, images, io=io)
    from edgewise.export import onnx as onnx_export
    from edgewise.export.repair_onnx import OnnxRequantizer

    return OnnxRequantizer(
        model,
        calibration,
        images,
        opset=opset or onnx_export.DEFAULT_OPSET,
        method=method or onnx_export.DEFAULT_CALIBRATION,
        plain=converted.data,
        plain_is_qdq=converted.extra.get("quant_format", "QDQ") == "QDQ",
    )


def _fastest_recipe(repaired: Converted, requantizer, held_out, budget_pp: float, *, name: str, threads):
    """The repaired float set quantised in each ONNX int8 recipe; the fastest here within the budget."""
    from edgewise.export import int8_variants
    from edgewise.runtime.card import Format

    info = repaired.extra["repair"]

    def convert(variant) -> Converted:
        data = requantizer.requantize(info["float_layers"], variant=variant)
        extra = {**repaired.extra, "quant_format": variant.quant_format, "activations": variant.activations}
        return Converted(**{**repaired.__dict__, "data": data, "extra": extra})

    def gate(path: Path) -> list[str]:
        parity = validation.measure(path, held_out, threads=threads, progress=False)
        return [] if parity.drop_pp <= budget_pp else [f"validation drop {parity.drop_pp:+.2f} pp"]

    log.info("%s: the repaired float set in each int8 recipe, the fastest within budget kept:", name)
    started = time.perf_counter()
    images = held_out.images
    chosen = int8_variants.fastest(Format.ONNX, convert, gate, images, suffix=".onnx", threads=threads)
    chosen.extra["repair"] = {**info, "recipe": chosen.extra["int8_variant"],
                              "recipe_seconds": round(time.perf_counter() - started, 2)}  # fmt: skip
    return chosen
