"""The data one export works from: the thresholds, the held-out set the artifacts are validated
against (with the Keras model's outputs), the int8 calibration sample, and ``parity.npz``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgewise.export import calibration_check, keras_model, sources
from edgewise.export import validate as validation
from edgewise.export.bundle import Bundle
from edgewise.export.calibration import CalibrationSet
from edgewise.export.options import Options, Plan
from edgewise.runtime.card import CLASSIFICATION, REGRESSION, Quantize
from edgewise.runtime.errors import InputError
from edgewise.runtime.parity import ParitySet
from edgewise.runtime.sampling import stratified_indices

log = logging.getLogger("edgewise.export")

MIN_HELD_OUT = 1000


def limits(
    source: sources.ModelSource, o: Options, plan: Plan
) -> dict[Quantize, validation.Threshold] | None:
    """The validation thresholds per mode (the defaults for this kind of model, then ``--threshold``), or
    None when nothing is validated; refuses int8 without calibration data before anything is written."""
    if not _can_validate(source, o.validate, plan.int8):
        return None
    base = validation.default_thresholds(classifier=source.card.is_classifier, labelled=source.labelled)
    return validation.thresholds_with(o.thresholds, base=base)


@dataclass(frozen=True)
class Samples:
    calibration: CalibrationSet | None  # int8 only
    held_out: ParitySet | None  # None without data
    parity_file: Path | None


def samples(source: sources.ModelSource, bundle: Bundle, o: Options, plan: Plan) -> Samples:
    """The calibration sample (int8 only) and the held-out set with the Keras outputs; writes
    ``parity.npz`` and warns when the calibration sample does not look like the held-out images."""
    splits = source.splits
    if splits is None:
        return Samples(None, None, None)
    calibration_set = _calibration_set(splits, o.calib_samples, o.seed) if plan.int8 else None
    held_out = _held_out(source.model, splits, o.val_samples, o.seed, task=source.card.task)
    parity_file = _write_parity(bundle, held_out, o.parity_samples, o.seed)
    for message in calibration_check.of(calibration_set, held_out, num_classes=source.card.num_classes):
        log.warning(message)
    return Samples(calibration_set, held_out, parity_file)


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
