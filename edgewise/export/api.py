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

import numpy as np

from edgewise.export import calibration_check, int8_variants, keras_model, qat, repair, sources, tflm
from edgewise.export import validate as validation
from edgewise.export.bundle import REJECTED_SUFFIX, Bundle, file_facts
from edgewise.export.calibration import DEFAULT_SAMPLES, DEFAULT_SEED, CalibrationSet
from edgewise.export.errors import ArtifactRejected, UnsupportedCombinationError
from edgewise.export.explain import Explanation
from edgewise.runtime import binding
from edgewise.runtime.card import (
    CLASSIFICATION,
    REGRESSION,
    Artifact,
    Format,
    ModelCard,
    Quantize,
    artifact_name,
)
from edgewise.runtime.errors import InputError, ValidationError
from edgewise.runtime.limits import MAX_THREADS, check_seed
from edgewise.runtime.parity import DEFAULT_SAMPLES as DEFAULT_PARITY_SAMPLES
from edgewise.runtime.parity import ParitySet, load_parity
from edgewise.runtime.sampling import stratified_indices

log = logging.getLogger("edgewise.export")

FORMATS = tuple(f.value for f in Format)
MODES = tuple(q.value for q in Quantize)
MIN_HELD_OUT = 1000
MIN_OPSET = 13


def format_module(fmt: Format | str):
    """The module that converts to ``fmt``; each has ``MODES``, ``IO_TYPES``, ``CALIBRATION_METHODS``."""
    from edgewise.export import onnx, tflite

    return {Format.TFLITE: tflite, Format.ONNX: onnx}[Format(fmt)]


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
    plan, micro = _checked_options(
        format, quantize, io=io, calibration=calibration, calib_samples=calib_samples,
        parity_samples=parity_samples, threads=threads, opset=opset, seed=seed, max_drop=max_drop,
        repair_steps=repair_steps, int8_variant=int8_variant, thresholds=thresholds, fits=fits, npu=npu,
    )  # fmt: skip
    needs_calibration = any(mode is Quantize.INT8 for _, mode in plan)
    qat.check_options(qat_epochs, qat_lr, int8=needs_calibration, max_drop=max_drop, explain=explain)
    source = sources.open_source(
        run, data=data, splits=splits, labels=labels, preprocess=preprocess, task=task, seed=seed
    )
    skipped = "skipped (--no-validate)" if not validate else "skipped (no data)"
    limits = _limits(source, thresholds) if _can_validate(source, validate, needs_calibration) else None
    bundle, result = _open_bundle(source, out)
    calibration_set, held_out = _held_out_and_calibration(
        source, bundle, result, needs_calibration, calib_samples=calib_samples, val_samples=val_samples,
        parity_samples=parity_samples, seed=seed,
    )  # fmt: skip
    repairer = _repairer_for(
        source, calibration_set, max_drop, opset, calibration, repair_steps, threads, seed
    )
    tuned = _qat_for(source, calibration_set, qat_epochs, qat_lr, seed, progress)
    job = _Job(source.model, source.card, bundle, calibration_set, held_out, limits, io, opset, calibration,
               threads, progress, explain, int8_variant, repairer, skipped, tuned)  # fmt: skip
    for step, (fmt, mode) in enumerate(plan, 1):
        log.info("[%d/%d] %s: converting", step, len(plan), artifact_name(fmt, mode))
        _export_one(job, fmt, mode, result)
    if explain and not needs_calibration:
        log.warning("--explain reports on int8 artifacts; none were exported")
    if micro:
        result.micro = _micro(bundle, result, fits, npu)
    if check:
        _raise_on_failures(result)
    return result


# -- the steps of export() -----------------------------------------------------------------------------
def _checked_options(
    format, quantize, *, io, calibration, calib_samples, parity_samples, threads, opset, seed, max_drop,
    repair_steps, int8_variant, thresholds, fits, npu,
):  # fmt: skip
    """Every option check that needs no model: the plan of (format, mode) pairs and whether TFLite Micro
    sources are wanted. Bad input fails here, before the (slow) model load."""
    format, micro = tflm.split_format(format)
    if micro:
        tflm.check_options(quantize, io, fits, npu)
    elif fits is not None:
        raise InputError("--fits checks a microcontroller build; add --format tflm")
    plan = _plan(format, quantize, io=io, calibration=calibration)
    _check_numbers(calib_samples=calib_samples, parity_samples=parity_samples, threads=threads, opset=opset)
    check_seed(seed)
    repair.check_options(max_drop, repair_steps)
    if int8_variant not in int8_variants.CHOICES:
        raise InputError(f"--int8-variant {int8_variant!r}: choose {' or '.join(int8_variants.CHOICES)}")
    validation.thresholds_with(thresholds)
    return plan, micro


def _limits(source: sources.ModelSource, thresholds) -> dict[Quantize, validation.Threshold]:
    """The validation thresholds per mode: the defaults for this kind of model, then the overrides."""
    card = source.card
    base = validation.default_thresholds(classifier=card.is_classifier, labelled=source.labelled)
    return validation.thresholds_with(thresholds, base=base)


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


def _held_out_and_calibration(
    source: sources.ModelSource, bundle: Bundle, result: ExportResult, needs_calibration: bool, *,
    calib_samples: int, val_samples: int | None, parity_samples: int, seed: int,
) -> tuple[CalibrationSet | None, ParitySet | None]:  # fmt: skip
    """The calibration sample (int8 only) and the held-out set with the Keras outputs; writes
    ``parity.npz`` and warns when the calibration sample does not look like the held-out images."""
    splits = source.splits
    if splits is None:
        return None, None
    calibration_set = _calibration_set(splits, calib_samples, seed) if needs_calibration else None
    held_out = _held_out(source.model, splits, val_samples, seed, task=source.card.task)
    result.parity_file = _write_parity(bundle, held_out, parity_samples, seed)
    for message in calibration_check.of(calibration_set, held_out, num_classes=source.card.num_classes):
        log.warning(message)
    return calibration_set, held_out


def _repairer_for(source, calibration_set, max_drop, opset, calibration, repair_steps, threads, seed):
    """The int8 accuracy-budget repair (``--max-drop``), or None when it was not asked for or no
    artifact is int8 (there is then no calibration set)."""
    if max_drop is None or calibration_set is None:
        return None
    model = source.model
    return repair.Repairer(model, calibration_set, repair.validation_set(model, source.splits, seed=seed),
                           max_drop, opset, calibration, repair_steps, threads)  # fmt: skip


def _qat_for(source, calibration_set, epochs, learning_rate, seed, progress) -> qat.QatResult | None:
    """The fine-tuned fake-quantised model the int8 artifacts come from (``--qat-epochs``), or None."""
    if epochs is None or calibration_set is None:
        return None
    return qat.quantization_aware(source.model, calibration_set.images, source.splits, epochs=epochs,
                                  learning_rate=learning_rate, classifier=source.card.is_classifier,
                                  seed=seed, progress=progress)  # fmt: skip


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
    calibration_set: CalibrationSet | None
    held_out: ParitySet | None
    limits: dict[Quantize, validation.Threshold] | None  # None: --no-validate
    io: str | None
    opset: int | None
    calibration: str | None
    threads: int | None
    progress: bool | None
    explain: bool
    int8_variant: str  # "fastest" | "first" (int8_variants.CHOICES)
    repairer: repair.Repairer | None = None  # --max-drop
    skipped: str = "skipped (--no-validate)"  # what the card says when there is no validation
    qat: qat.QatResult | None = None  # --qat-epochs: int8 artifacts come from this model


def _export_one(job: _Job, fmt: Format, mode: Quantize, result: ExportResult) -> None:
    """Convert, stage, validate, then accept or reject one artifact (and explain it when asked)."""
    name = artifact_name(fmt, mode)
    io = (job.io or "int8") if (fmt is Format.TFLITE and mode is Quantize.INT8) else "float"
    searches = job.int8_variant == "fastest" and len(int8_variants.CANDIDATES.get(fmt, ())) > 1
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
        if job.explain and mode is Quantize.INT8:
            result.explanations.append(_explain(fmt, job, final, io, name))


def _validate(job: _Job, staged: Path, artifact: Artifact, mode: Quantize) -> list[str]:
    """Measure the staged artifact's parity into its card entry; the thresholds it missed."""
    if job.limits is None:
        artifact.extra["validation"] = job.skipped
        return []
    parity = validation.measure(staged, job.held_out, threads=job.threads, progress=job.progress)
    missed = validation.failures(parity, job.limits[mode])
    artifact.parity = parity.to_dict()
    artifact.extra["thresholds"] = dataclasses.asdict(job.limits[mode])
    artifact.validated = not missed
    return missed


# -- planning ------------------------------------------------------------------------------------------
def _plan(format, quantize, *, io: str | None, calibration: str | None) -> list[tuple[Format, Quantize]]:
    """Every (format, mode) to export, in order; refuses combinations a format cannot do."""
    formats = _choices(format, FORMATS, "format")
    modes = _choices(quantize, MODES, "quantize")
    plan = [(Format(f), Quantize(q)) for f in formats for q in modes]
    for fmt, mode in plan:
        _check_combination(fmt, mode, io=io, calibration=calibration)
    return plan


def _check_numbers(*, calib_samples, parity_samples, threads, opset) -> None:
    for option, value in (("--calib-samples", calib_samples), ("--parity-samples", parity_samples),
                          ("--threads", threads)):  # fmt: skip
        if value is not None and value < 1:
            raise InputError(f"{option} must be at least 1, not {value}")
    if threads is not None and threads > MAX_THREADS:
        raise InputError(f"--threads must be at most {MAX_THREADS}, not {threads}")
    if opset is not None and opset < MIN_OPSET:
        raise InputError(f"--opset {opset}: ONNX export needs opset {MIN_OPSET} or newer (per-channel int8)")


def _choices(value: str | Iterable[str], allowed: tuple[str, ...], option: str) -> list[str]:
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    chosen: list[str] = []
    for item in (i.strip().lower() for i in items):
        if item == "all":
            picked = list(allowed)
        elif item in allowed:
            picked = [item]
        else:
            raise InputError(f"--{option} {item!r}: choose from {', '.join(allowed)} or all")
        chosen += [p for p in picked if p not in chosen]
    if not chosen:
        raise InputError(f"--{option}: nothing chosen")
    return chosen


def _check_combination(fmt: Format, mode: Quantize, *, io: str | None, calibration: str | None) -> None:
    module = format_module(fmt)
    if mode not in module.MODES:
        raise UnsupportedCombinationError(
            f"{fmt} cannot do --quantize {mode}; it can do {', '.join(str(m) for m in module.MODES)}"
        )
    if io is not None and mode is Quantize.INT8 and io not in module.IO_TYPES:
        raise UnsupportedCombinationError(
            f"{fmt} {mode} cannot have --io {io}; it can do {', '.join(module.IO_TYPES)}"
        )
    if io is not None and io not in ("int8", "float"):
        raise InputError(f"--io {io!r}: choose int8 or float")
    if calibration is not None and calibration not in _all_calibration_methods():
        raise InputError(
            f"--calibration {calibration!r}: choose from {', '.join(_all_calibration_methods())}"
        )
    if calibration is not None and fmt is Format.TFLITE and calibration not in module.CALIBRATION_METHODS:
        raise UnsupportedCombinationError(
            f"tflite calibrates with {', '.join(module.CALIBRATION_METHODS)} only; "
            f"--calibration {calibration} is for --format onnx"
        )


def _all_calibration_methods() -> tuple[str, ...]:
    methods: list[str] = []
    for fmt in Format:
        methods += [m for m in format_module(fmt).CALIBRATION_METHODS if m not in methods]
    return tuple(methods)


# -- inputs --------------------------------------------------------------------------------------------
def _can_validate(source: sources.ModelSource, validate: bool, needs_calibration: bool) -> bool:
    """Whether there are data to validate with; without any, say what each mode needs."""
    if source.splits is not None:
        return validate
    if source.card_found and (validate or needs_calibration):
        raise InputError(f"{source.path}: the model card does not say where the data are; pass --data SOURCE")
    if needs_calibration:
        raise InputError(
            f"int8 needs calibration data and {source.path} names none; pass --data (an image folder, "
            "fashion_mnist/mnist/cifar10, or an .npz with x and optional y), or --quantize fp32,fp16,dynamic"
        )
    if not validate:
        log.warning("no data to write parity.npz with (nothing names a data source)")
    else:
        log.warning(
            "note: no data given (--data), so the artifacts are not validated and no parity.npz is "
            "written; the card records them as not validated"
        )
    return False


def _calibration_set(splits, n: int, seed: int) -> CalibrationSet:
    source = splits.train if len(splits.train.images) or splits.val is None else splits.val
    if not len(source.images):
        raise InputError("int8 needs calibration images, and the data have no training or validation images")
    labels = source.labels
    if labels is None or labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        labels = np.zeros(len(source.images), dtype=np.int64)  # unlabelled or regression: a plain sample
    return CalibrationSet.sample(source.images, labels, n, seed)


def _write_parity(bundle: Bundle, held_out: ParitySet, samples: int, seed: int) -> Path:
    strata = held_out.labels if held_out.labelled else np.zeros(len(held_out), dtype=np.int64)
    keep = stratified_indices(strata, samples, seed)
    path = bundle.write_parity(held_out.subset(keep))
    accuracy = held_out.reference_accuracy
    log.info(
        "held out %d samples%s; %d in %s",
        len(held_out),
        "" if np.isnan(accuracy) else f" (Keras top-1 {100 * accuracy:.2f}%)",
        len(keep),
        path.name,
    )
    return path


def _held_out(model, splits, val_samples: int | None, seed: int, *, task: str = CLASSIFICATION) -> ParitySet:
    """The test split; topped up from the validation split to :data:`MIN_HELD_OUT` when it is smaller."""
    test, val = getattr(splits, "test", None), getattr(splits, "val", None)
    if test is None:
        test, val = val, None
    if test is None:
        raise InputError(
            "no held-out images to validate with (no test or validation split); "
            "pass --no-validate to skip validation"
        )
    images, labels = test.images, test.labels
    if labels is not None and len(labels) < MIN_HELD_OUT and val is not None and len(val.labels):
        top_up = stratified_indices(val.labels, MIN_HELD_OUT - len(labels), seed)
        images = np.concatenate([images, val.images[top_up]]) if len(labels) else val.images[top_up]
        labels = np.concatenate([labels, val.labels[top_up]]) if len(labels) else val.labels[top_up]
    if not len(images):
        raise InputError(
            "no held-out images to validate with (empty test and validation splits); "
            "pass --no-validate to skip validation"
        )
    classifier = task != REGRESSION
    labels = np.asarray(labels, dtype=np.int64) if classifier and labels is not None else None
    if val_samples is not None and val_samples < len(images):
        if val_samples < 1:
            raise InputError(f"--val-samples must be at least 1, not {val_samples}")
        strata = labels if labels is not None else np.zeros(len(images), dtype=np.int64)
        keep = np.sort(stratified_indices(strata, val_samples, seed))
        images, labels = images[keep], None if labels is None else labels[keep]
    images = np.ascontiguousarray(images, dtype=np.uint8 if images.dtype == np.uint8 else np.float32)
    return ParitySet(images, labels, keras_model.predict(model, images), task)


# -- one artifact --------------------------------------------------------------------------------------
def _fastest_int8(job: _Job, fmt: Format, name: str, io: str):
    """The int8 recipe of ``fmt`` that passes the int8 thresholds on the held-out set and runs fastest
    here (:mod:`edgewise.export.int8_variants`); candidates share one float graph and one calibration."""
    import tempfile

    threshold = job.limits[Quantize.INT8] if job.limits is not None else None

    def gate(path: Path) -> list[str]:
        if threshold is None or job.held_out is None:
            return []
        parity = validation.measure(path, job.held_out, threads=job.threads, progress=False)
        return validation.failures(parity, threshold)

    images = job.held_out.images if job.held_out is not None else job.calibration_set.images
    candidates = int8_variants.CANDIDATES[fmt]
    if job.explain and fmt is Format.ONNX:  # the per-layer report compares QDQ tensors with the float graph
        candidates = tuple(v for v in candidates if v.quant_format == "QDQ")
    with tempfile.TemporaryDirectory(prefix="edgewise-int8-") as workdir:
        return int8_variants.fastest(
            fmt,
            lambda variant: _convert(job, fmt, Quantize.INT8, name, io, variant, Path(workdir)),
            gate,
            images,
            suffix=f".{fmt}",
            threads=job.threads,
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
        calibration_method=job.calibration or module.DEFAULT_CALIBRATION,
        opset=job.opset or module.DEFAULT_OPSET,
        card_json=embedded.to_json(),
        int8_variant=variant,
        workdir=workdir,
    )


def _convert_qat(job: _Job, fmt: Format, name: str, io: str):
    from edgewise.export import qat_convert

    embedded = dataclasses.replace(
        job.card, artifacts={name: Artifact(file=name, format=str(fmt), quantize=str(Quantize.INT8))}
    )
    opset = job.opset or format_module(Format.ONNX).DEFAULT_OPSET
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

    model, calibration_set, opset = job.model, job.calibration_set, job.opset
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
