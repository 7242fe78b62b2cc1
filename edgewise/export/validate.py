"""Validation, separate from conversion: run an artifact through ``edgewise.runtime`` on held-out images
and compare it with the Keras model's own outputs.

Figures (accuracy, reference_accuracy, agreement) are fractions in the card and percentages in messages.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, replace

import numpy as np

from edgewise.runtime.card import Quantize
from edgewise.runtime.errors import InputError
from edgewise.runtime.progress import Progress

VALIDATION_BATCH = 256


@dataclass(frozen=True)
class Threshold:
    """What an artifact must reach; ``None`` means "not checked"."""

    min_agreement: float | None = None  # percent of top-1 predictions equal to the Keras model's
    max_abs_diff: float | None = None  # largest absolute difference of any probability
    max_drop: float | None = None  # percentage points of top-1 accuracy lost against the Keras model


DEFAULT_THRESHOLDS: dict[Quantize, Threshold] = {
    Quantize.FP32: Threshold(min_agreement=99.9, max_abs_diff=1e-4),
    Quantize.FP16: Threshold(min_agreement=99.5),
    Quantize.DYNAMIC: Threshold(max_drop=1.0),
    Quantize.INT8: Threshold(max_drop=1.0),
}
_KEYS = {
    "agreement": "min_agreement",
    "min_agreement": "min_agreement",
    "max_abs_diff": "max_abs_diff",
    "drop": "max_drop",
    "max_drop": "max_drop",
}


@dataclass
class HeldOut:
    """Held-out images with their labels and the Keras model's probabilities for them."""

    images: np.ndarray  # uint8 (N, H, W, C)
    labels: np.ndarray  # int64 (N,)
    reference: np.ndarray  # float32 (N, K)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def reference_accuracy(self) -> float:
        return float(np.mean(self.reference.argmax(axis=1) == self.labels)) if len(self) else math.nan


@dataclass
class Parity:
    samples: int
    accuracy: float
    reference_accuracy: float
    agreement: float
    max_abs_diff: float
    mean_abs_diff: float
    backend: str = ""

    @property
    def drop_pp(self) -> float:
        """Top-1 accuracy lost against the Keras model, in percentage points (negative: gained)."""
        return 100.0 * (self.reference_accuracy - self.accuracy)

    def to_dict(self) -> dict:
        return {**asdict(self), "accuracy_drop_pp": round(self.drop_pp, 4)}


def compare(outputs: np.ndarray, held_out: HeldOut, backend: str = "") -> Parity:
    outputs = np.asarray(outputs, dtype=np.float32)
    if outputs.shape != held_out.reference.shape:
        raise ValueError(
            f"artifact outputs have shape {outputs.shape}, the Keras model {held_out.reference.shape}"
        )
    diff = np.abs(outputs - held_out.reference)
    top1 = outputs.argmax(axis=1)
    return Parity(
        samples=len(held_out),
        accuracy=float(np.mean(top1 == held_out.labels)),
        reference_accuracy=held_out.reference_accuracy,
        agreement=float(np.mean(top1 == held_out.reference.argmax(axis=1))),
        max_abs_diff=float(diff.max(initial=0.0)),
        mean_abs_diff=float(diff.mean()) if diff.size else 0.0,
        backend=backend,
    )


def run_artifact(
    path: str | os.PathLike, images: np.ndarray, *, threads: int | None = None, progress: bool | None = None
) -> tuple[np.ndarray, str]:
    """The artifact's outputs for ``images`` through the TF-free runtime, and the backend's name."""
    from edgewise.runtime.backends import load_backend

    backend = load_backend(path, threads=threads)
    step = min(backend.max_batch or VALIDATION_BATCH, VALIDATION_BATCH)
    outputs = []
    with Progress(len(images), f"validating {os.path.basename(path)}", enabled=progress) as bar:
        for start in range(0, len(images), step):
            chunk = images[start : start + step]
            outputs.append(np.asarray(backend.run(chunk), dtype=np.float32))
            bar.update(len(chunk))
    return np.concatenate(outputs), backend.name


def measure(
    path: str | os.PathLike, held_out: HeldOut, *, threads: int | None = None, progress: bool | None = None
) -> Parity:
    outputs, backend = run_artifact(path, held_out.images, threads=threads, progress=progress)
    return compare(outputs, held_out, backend)


def failures(parity: Parity, threshold: Threshold) -> list[str]:
    """One sentence per missed threshold, each saying by how much it missed; empty when it passes."""
    missed = []
    if threshold.min_agreement is not None and 100 * parity.agreement < threshold.min_agreement:
        got = 100 * parity.agreement
        missed.append(
            f"top-1 agreement {got:.2f}% < {threshold.min_agreement:g}% "
            f"(missed by {threshold.min_agreement - got:.2f} pp)"
        )
    if threshold.max_abs_diff is not None and parity.max_abs_diff > threshold.max_abs_diff:
        missed.append(
            f"max abs diff {parity.max_abs_diff:.3g} > {threshold.max_abs_diff:g} "
            f"(over by {parity.max_abs_diff - threshold.max_abs_diff:.3g})"
        )
    if threshold.max_drop is not None and parity.drop_pp > threshold.max_drop:
        missed.append(
            f"top-1 accuracy {100 * parity.accuracy:.2f}% vs Keras {100 * parity.reference_accuracy:.2f}%: "
            f"drop {parity.drop_pp:.2f} pp > {threshold.max_drop:g} pp "
            f"(missed by {parity.drop_pp - threshold.max_drop:.2f} pp)"
        )
    return missed


def thresholds_with(overrides: dict[str, float] | list[str] | None) -> dict[Quantize, Threshold]:
    """The default thresholds with overrides like ``{"int8.max_drop": 0.5}`` or ``["fp16.agreement=99"]``."""
    result = dict(DEFAULT_THRESHOLDS)
    if not overrides:
        return result
    items = overrides.items() if isinstance(overrides, dict) else (_split(text) for text in overrides)
    for key, value in items:
        mode, _, name = str(key).partition(".")
        try:
            quantize = Quantize(mode)
        except ValueError:
            raise InputError(
                f"threshold {key!r}: unknown mode {mode!r}; use fp32, fp16, dynamic or int8"
            ) from None
        if name not in _KEYS:
            raise InputError(
                f"threshold {key!r}: unknown figure {name!r}; use agreement, max_abs_diff or drop"
            )
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InputError(f"threshold {key!r}: {value!r} is not a number") from None
        if not math.isfinite(number) or number < 0:
            raise InputError(f"threshold {key!r}: {value!r} must be a non-negative number")
        result[quantize] = replace(result[quantize], **{_KEYS[name]: number})
    return result


def _split(text: str) -> tuple[str, str]:
    key, sep, value = str(text).partition("=")
    if not sep:
        raise InputError(f"threshold {text!r}: expected MODE.FIGURE=VALUE, e.g. int8.drop=0.5")
    return key.strip(), value.strip()
