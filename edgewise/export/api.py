"""``edgewise.export.export``: the Python face of ``edgewise export``, with the same vocabulary.

    export("runs/fm", format="tflite", quantize="int8")          # edgewise export runs/fm
    export("runs/fm", format="all", quantize="all", out="dist")  # edgewise export runs/fm --format all ...

For each format x mode: convert, stage the file next to its final name, validate it through the TF-free
runtime against the Keras model on held-out images, then rename it into place (or aside as
``.rejected``). Conversion and validation are separate modules; this one only sequences them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgewise.export import held_out, int8_variants, keras_model, options, qat, repair, sources, tflm
from edgewise.export import validate as validation
from edgewise.export.bundle import REJECTED_SUFFIX, Bundle, file_facts
from edgewise.export.calibration import DEFAULT_SAMPLES, DEFAULT_SEED, CalibrationSet
from edgewise.export.errors import ArtifactRejected
from edgewise.export.explain import Explanation
from edgewise.export.options import Options, format_module
from edgewise.runtime import binding
from edgewise.runtime.card import (
    Artifact,
    Format,
    ModelCard,
    Quantize,
    artifact_name,
)
from edgewise.runtime.errors import ValidationError
from edgewise.runtime.parity import DEFAULT_SAMPLES as DEFAULT_PARITY_SAMPLES
from edgewise.runtime.parity import ParitySet, load_parity

log = logging.getLogger("edgewise.export")


@dataclass
class ExportResult:
    directory: Path
    card: ModelCard
    artifacts: list[Artifact] = field(default_factory=list)  # every artifact made, in order
    rejected: list[ArtifactRejected] = field(default_factory=list)  # written aside as <name>.rejected
    explanations: list[Explanation] = field(default_factory=list)
    parity_file: Path | None = None
    micro: dict | None = None  # --format tflm: the TFLite Micro figures (also in the card)

    @property
    def exported(self) -> list[Artifact]:
        """The artifacts written under their final names."""
        rejected = {r.artifact for r in self.rejected}
        return [a for a in self.artifacts if a.file not in rejected]

    @property
    def ok(self) -> bool:
        return not self.rejected


class ExportRejected(ValidationError):
    """Raised by :func:`export` after all artifacts are done when any failed validation."""

    def __init__(self, result: ExportResult):
        self.result = result
        super().__init__("; ".join(f"{r} (kept as {r.artifact}{REJECTED_SUFFIX})" for r in result.rejected))


def export(
    run: str | os.PathLike,
    format: str | Iterable[str] = "tflite",
    quantize: str | Iterable[str] = "int8",
    *,
    out: str | os.PathLike | None = None,
    io: str | None = None,
    opset: int | None = None,
    calibration: str | None = None,
    calib_samples: int = DEFAULT_SAMPLES,
    validate: bool = True,
    thresholds: dict[str, float] | list[str] | None = None,
    val_samples: int | None = None,
    parity_samples: int = DEFAULT_PARITY_SAMPLES,
    explain: bool = False,
    int8_variant: str = "fastest",
    data: dict[str, Any] | None = None,
    splits=None,
    labels: str | os.PathLike | None = None,
    preprocess: str | None = None,
    task: str | None = None,
    seed: int = DEFAULT_SEED,
    threads: int | None = None,
    progress: bool | None = None,
    check: bool = True,
    fits: str | None = None,
    npu: str | None = "ethos-u55-128",
    max_drop: float | None = None,
    repair_steps: int = repair.DEFAULT_MAX_STEPS,
    qat_epochs: int | None = None,
    qat_lr: float = qat.DEFAULT_LEARNING_RATE,
) -> ExportResult:
    """Export a Keras model and write the bundle. ``run``: a run directory of ``edgewise train``, a
    ``.keras``/``.h5`` file or a SavedModel directory (:mod:`edgewise.export.sources`). The keywords are
    the options of ``edgewise export --help`` (``--calib-samples`` is ``calib_samples``); ``format`` and
    ``quantize`` also take lists, ``thresholds`` a dict like ``{"int8.drop": 0.5}``, ``npu`` None (no
    estimate). Python only: ``splits`` passes the data directly (anything with ``.train/.val/.test``
    splits of ``.images``/``.labels``); ``data`` overrides the card's keywords for ``load_splits``
    (``{"source": "x.npz"}`` reads arrays ``x`` and optional ``y``). With ``check`` (default) a rejected
    artifact raises :class:`ExportRejected`, and a TFLite Micro build that misses its ``fits`` board
    :class:`edgewise.export.tflm.DoesNotFit`, after everything else is written.
    """
    o = Options(**locals())  # every keyword above, by name
    plan = options.plan(o)  # bad input fails here, before the (slow) model load
    source = sources.open_source(
        run, data=data, splits=splits, labels=labels, preprocess=preprocess, task=task, seed=seed
    )
    limits = held_out.limits(source, o, plan)
    bundle, result = _open_bundle(source, out)
    job = _job(o, plan, source, bundle, result, limits)
    for step, (fmt, mode) in enumerate(plan.artifacts, 1):
        log.info("[%d/%d] %s: converting", step, len(plan.artifacts), artifact_name(fmt, mode))
        _export_one(job, fmt, mode, result)
    if explain and not plan.int8:
        log.warning("--explain reports on int8 artifacts; none were exported")
    if plan.micro:
        result.micro = _micro(bundle, result, fits, npu)
    if check:
        _raise_on_failures(result)
    return result


# -- the steps of export() -----------------------------------------------------------------------------
def _open_bundle(source: sources.ModelSource, out) -> tuple[Bundle, ExportResult]:
    """The bundle directory (``out`` or the source's home) with the source's card."""
    model_file = source.path / keras_model.MODEL_FILE if source.kind == sources.RUN else source.path
    bundle = Bundle.open(
        Path(out) if out is not None else source.home,
        source.card,
        model_sha256=binding.file_sha256(model_file) if model_file.is_file() else "",
    )
    if not source.card_found:
        bundle.save_card()  # written even when no artifact passes, so the bundle says what it is
    return bundle, ExportResult(directory=bundle.dir, card=bundle.card)


def _job(o: Options, plan: options.Plan, source, bundle: Bundle, result: ExportResult, limits) -> _Job:
    """What every artifact shares: the samples (``parity.npz`` is written here), the ``--max-drop``
    repairer and the ``--qat-epochs`` model."""
    taken = held_out.samples(source, bundle, o, plan)
    result.parity_file = taken.parity_file
    calibration_set = taken.calibration
    return _Job(
        model=source.model,
        card=source.card,
        bundle=bundle,
        options=o,
        calibration_set=calibration_set,
        held_out=taken.held_out,
        limits=limits,
        skipped="skipped (--no-validate)" if not o.validate else "skipped (no data)",
        repairer=_repairer_for(source, calibration_set, o),
        qat=_qat_for(source, calibration_set, o),
    )


def _repairer_for(source, calibration_set, o: Options) -> repair.Repairer | None:
    """The int8 accuracy-budget repair (``--max-drop``), or None when it was not asked for or no
    artifact is int8 (there is then no calibration set)."""
    if o.max_drop is None or calibration_set is None:
        return None
    model = source.model
    return repair.Repairer(model, calibration_set, repair.validation_set(model, source.splits, seed=o.seed),
                           o.max_drop, o.opset, o.calibration, o.repair_steps, o.threads)  # fmt: skip


def _qat_for(source, calibration_set, o: Options) -> qat.QatResult | None:
    """The fine-tuned fake-quantised model the int8 artifacts come from (``--qat-epochs``), or None."""
    if o.qat_epochs is None or calibration_set is None:
        return None
    return qat.quantization_aware(source.model, calibration_set.images, source.splits, epochs=o.qat_epochs,
                                  learning_rate=o.qat_lr, classifier=source.card.is_classifier,
                                  seed=o.seed, progress=o.progress)  # fmt: skip


def _raise_on_failures(result: ExportResult) -> None:
    """``check=True``: a rejected artifact, or a TFLite Micro build that does not fit its board, raises."""
    if result.rejected:
        raise ExportRejected(result)
    if result.micro is not None:
        tflm.check_fit(artifact_name(Format.TFLITE, Quantize.INT8), result.micro, result)


@dataclass(frozen=True)
class _Job:
    """What every artifact of one export shares."""

    model: Any
    card: ModelCard
    bundle: Bundle
    options: Options
    calibration_set: CalibrationSet | None
    held_out: ParitySet | None
    limits: dict[Quantize, validation.Threshold] | None  # None: not validated
    skipped: str  # what the card says when there is no validation
    repairer: repair.Repairer | None  # --max-drop
    qat: qat.QatResult | None  # --qat-epochs: int8 artifacts come from this model


def _export_one(job: _Job, fmt: Format, mode: Quantize, result: ExportResult) -> None:
    """Convert, stage, validate, then accept or reject one artifact (and explain it when asked)."""
    name = artifact_name(fmt, mode)
    io = (job.options.io or "int8") if (fmt is Format.TFLITE and mode is Quantize.INT8) else "float"
    searches = job.options.int8_variant == "fastest" and len(int8_variants.CANDIDATES.get(fmt, ())) > 1
    if mode is Quantize.INT8 and job.qat is not None:
        converted = _convert_qat(job, fmt, name, io)
    elif mode is Quantize.INT8 and searches:
        converted = _fastest_int8(job, fmt, name, io)
    else:
        converted = _convert(job, fmt, mode, name, io)
    if job.repairer is not None and mode is Quantize.INT8:
        converted = job.repairer(fmt, converted, name=name, io=io)
    artifact = _artifact(name, fmt, mode, converted)
    if mode is Quantize.INT8 and converted.integer_only is False:
        log.warning("%s: not integer-only, float ops: %s", name, ", ".join(converted.extra["float_ops"]))
    with job.bundle.staged(name, converted.data) as staged:
        missed = _validate(job, staged, artifact, mode)
        if missed:
            final = job.bundle.reject(staged, name)
            result.rejected.append(ArtifactRejected(name, missed, artifact.parity))
            log.error("%s: REJECTED: %s", name, "; ".join(missed))
        else:
            final = job.bundle.accept(staged, artifact)
        result.artifacts.append(artifact)
        if job.options.explain and mode is Quantize.INT8:
            result.explanations.append(_explain(fmt, job, final, io, name))


def _validate(job: _Job, staged: Path, artifact: Artifact, mode: Quantize) -> list[str]:
    """Measure the staged artifact's parity into its card entry; the thresholds it missed."""
    if job.limits is None:
        artifact.extra["validation"] = job.skipped
        return []
    o = job.options
    parity = validation.measure(staged, job.held_out, threads=o.threads, progress=o.progress)
    missed = validation.failures(parity, job.limits[mode])
    artifact.parity = parity.to_dict()
    artifact.extra["thresholds"] = dataclasses.asdict(job.limits[mode])
    artifact.validated = not missed
    return missed


# -- one artifact --------------------------------------------------------------------------------------
def _fastest_int8(job: _Job, fmt: Format, name: str, io: str):
    """The int8 recipe of ``fmt`` that passes the int8 thresholds on the held-out set and runs fastest
    here (:mod:`edgewise.export.int8_variants`); candidates share one float graph and one calibration."""
    import tempfile

    threshold = job.limits[Quantize.INT8] if job.limits is not None else None

    def gate(path: Path) -> list[str]:
        if threshold is None or job.held_out is None:
            return []
        parity = validation.measure(path, job.held_out, threads=job.options.threads, progress=False)
        return validation.failures(parity, threshold)

    images = job.held_out.images if job.held_out is not None else job.calibration_set.images
    candidates = int8_variants.CANDIDATES[fmt]
    if job.options.explain and fmt is Format.ONNX:  # the per-layer report compares QDQ tensors with float
        candidates = tuple(v for v in candidates if v.quant_format == "QDQ")
    with tempfile.TemporaryDirectory(prefix="edgewise-int8-") as workdir:
        return int8_variants.fastest(
            fmt,
            lambda variant: _convert(job, fmt, Quantize.INT8, name, io, variant, Path(workdir)),
            gate,
            images,
            suffix=f".{fmt}",
            threads=job.options.threads,
            candidates=candidates,
        )


def _convert(job: _Job, fmt: Format, mode: Quantize, name: str, io: str, variant=None, workdir=None):
    module = format_module(fmt)
    if fmt is Format.TFLITE:
        return module.convert(job.model, mode, calibration=job.calibration_set, io=io, int8_variant=variant)
    embedded = dataclasses.replace(
        job.card, artifacts={name: Artifact(file=name, format=str(fmt), quantize=str(mode))}
    )
    return module.convert(
        job.model,
        mode,
        calibration=job.calibration_set,
        calibration_method=job.options.calibration or module.DEFAULT_CALIBRATION,
        opset=job.options.opset or module.DEFAULT_OPSET,
        card_json=embedded.to_json(),
        int8_variant=variant,
        workdir=workdir,
    )


def _convert_qat(job: _Job, fmt: Format, name: str, io: str):
    from edgewise.export import qat_convert

    embedded = dataclasses.replace(
        job.card, artifacts={name: Artifact(file=name, format=str(fmt), quantize=str(Quantize.INT8))}
    )
    opset = job.options.opset or format_module(Format.ONNX).DEFAULT_OPSET
    converted = qat_convert.convert(fmt, job.qat.model, io=io, calibration_samples=len(job.calibration_set),
                                    opset=opset, card_json=embedded.to_json())  # fmt: skip
    converted.extra["qat"] = job.qat.to_dict()
    return converted


def _artifact(name: str, fmt: Format, mode: Quantize, converted) -> Artifact:
    from edgewise import __version__

    return Artifact(
        file=name,
        format=str(fmt),
        quantize=str(mode),
        io=converted.io,
        **file_facts(converted.data),
        calibration_samples=converted.calibration_samples,
        calibration_method=converted.calibration_method,
        integer_only=converted.integer_only,
        tools={**converted.tools, "edgewise": __version__},
        extra={"created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), **converted.extra},
    )


def _micro(bundle: Bundle, result: ExportResult, board: str | None, npu: str | None) -> dict | None:
    """TFLite Micro sources and figures for the int8 TFLite artifact, recorded in the card."""
    name = artifact_name(Format.TFLITE, Quantize.INT8)
    artifact = bundle.card.artifacts.get(name)
    if artifact is None or name not in {a.file for a in result.exported}:
        log.error("%s was not exported; no TFLite Micro sources written", name)
        return None
    log.info("%s: checking and measuring for TFLite Micro", name)
    images = load_parity(result.parity_file).images if result.parity_file is not None else None
    info = tflm.build(
        bundle.path(name),
        bundle.card,
        out_dir=bundle.dir,
        board=board,
        parity_images=images,
        accelerator=npu,
        sha256=artifact.sha256,
    )
    artifact.extra["tflm"] = info
    bundle.save_card()
    return info


def _explain(fmt: Format, job: _Job, path: Path, io: str, name: str) -> Explanation:
    from edgewise.export import explain

    model, calibration_set, opset = job.model, job.calibration_set, job.options.opset
    images = job.held_out.images if job.held_out is not None else calibration_set.images
    log.info("%s: measuring per-layer quantisation error", name)
    if fmt is Format.TFLITE:
        report = explain.explain_tflite(model, calibration_set, images, io_type=io, artifact=name)
    else:
        report = explain.explain_onnx(
            model, path, images, opset=opset or format_module(fmt).DEFAULT_OPSET, artifact=name
        )
    report.write_csv(job.bundle.path(f"{name}.explain.csv"))
    return report
