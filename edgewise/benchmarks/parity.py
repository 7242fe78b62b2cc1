"""Accuracy parity on a bundle's ``parity.npz``: does the artifact still say what the Keras model said?

``parity.npz`` travels in the bundle with held-out ``images`` (uint8 N,H,W,C), their ``labels`` (int64 N)
and the Keras model's ``reference`` probabilities (float32 N,K), so a device without TensorFlow can check
an artifact against the model it came from.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgewise.runtime.errors import ModelFileError

PARITY_FILE = "parity.npz"
PARITY_KEYS = (
    "samples",
    "accuracy",
    "reference_accuracy",
    "agreement",
    "max_abs_diff",
    "mean_abs_diff",
)


@dataclass(frozen=True)
class ParitySet:
    images: np.ndarray  # uint8 (N, H, W, C)
    labels: np.ndarray  # int64 (N,)
    reference: np.ndarray  # float32 (N, K)

    def __len__(self) -> int:
        return len(self.labels)


def find_parity(model_or_bundle: str | os.PathLike) -> Path | None:
    """``parity.npz`` in the bundle directory, or beside the model file."""
    path = Path(model_or_bundle)
    candidate = (path if path.is_dir() else path.parent) / PARITY_FILE
    return candidate if candidate.is_file() else None


def load_parity(path: str | os.PathLike) -> ParitySet:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in ("images", "labels", "reference") if k not in npz.files]
            if missing:
                raise ModelFileError(f"{path}: parity file lacks {', '.join(missing)}")
            images, labels, reference = npz["images"], npz["labels"], npz["reference"]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise ModelFileError(f"{path}: cannot read parity file ({str(e).splitlines()[0]})") from None
    if images.ndim != 4 or labels.ndim != 1 or reference.ndim != 2:
        raise ModelFileError(
            f"{path}: expected images (N,H,W,C), labels (N,) and reference (N,K); got shapes "
            f"{images.shape}, {labels.shape}, {reference.shape}"
        )
    if not len(images) == len(labels) == len(reference):
        raise ModelFileError(
            f"{path}: images, labels and reference disagree in length "
            f"({len(images)}, {len(labels)}, {len(reference)})"
        )
    return ParitySet(images, labels.astype(np.int64), reference.astype(np.float32))


def figures(outputs: np.ndarray, labels: np.ndarray, reference: np.ndarray) -> dict[str, float | int]:
    """Top-1 accuracy against the labels, top-1 agreement and abs differences against the reference."""
    outputs = np.asarray(outputs, dtype=np.float32)
    if outputs.shape != reference.shape:
        raise ModelFileError(
            f"artifact outputs have shape {outputs.shape} but the reference outputs {reference.shape}"
        )
    predicted = outputs.argmax(axis=1)
    reference_predicted = reference.argmax(axis=1)
    diff = np.abs(outputs - reference)
    return {
        "samples": int(len(labels)),
        "accuracy": float((predicted == labels).mean()),
        "reference_accuracy": float((reference_predicted == labels).mean()),
        "agreement": float((predicted == reference_predicted).mean()),
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
    }


def evaluate(backend, parity: ParitySet, *, chunk: int = 64) -> dict[str, float | int]:
    """Run every parity image through ``backend`` (in chunks it accepts) and compute :func:`figures`."""
    step = min(chunk, backend.max_batch or chunk)
    outputs = [backend.run(parity.images[i : i + step]) for i in range(0, len(parity), step)]
    return figures(np.concatenate(outputs, axis=0), parity.labels, parity.reference)
