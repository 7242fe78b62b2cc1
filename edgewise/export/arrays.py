"""``--data arrays.npz``: model inputs as arrays, for already-preprocessed or non-image data.

The file holds ``x`` (the model's inputs, any shape ``(N, ...)``) and optionally ``y`` (integer class
indices for a classifier, or float targets for a regressor). Optional ``x_test``/``y_test`` are the
held-out split; without them a seeded half of the samples is held out and the other half calibrates.
Optional ``labels`` (strings) names the classes. No pickled objects are read.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgewise.runtime.errors import InputError
from edgewise.runtime.sampling import DEFAULT_SEED

HELD_OUT_FRACTION = 0.5


@dataclass
class ArraySplit:
    images: np.ndarray  # the model inputs (named like the image splits so export handles both alike)
    labels: np.ndarray | None  # int64 class indices, float targets, or None when unlabelled

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class ArraySplits:
    train: ArraySplit
    val: ArraySplit | None
    test: ArraySplit
    class_names: list[str]

    @property
    def labelled(self) -> bool:
        return self.test.labels is not None

    @property
    def regression_targets(self) -> bool:
        return self.labelled and not np.issubdtype(self.test.labels.dtype, np.integer)


def is_array_file(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(".npz")


def load(path: str | os.PathLike, *, seed: int = DEFAULT_SEED) -> ArraySplits:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InputError(
            f"{path}: cannot read the arrays ({reason}); expected an .npz with x (and y)"
        ) from None
    if "x" not in arrays:
        raise InputError(f"{path}: no array named x (has {', '.join(sorted(arrays)) or 'nothing'})")
    x, y = arrays["x"], arrays.get("y")
    _check(path, "x", x, y)
    labels = [str(v) for v in arrays["labels"]] if "labels" in arrays else []
    if "x_test" in arrays:
        x_test, y_test = arrays["x_test"], arrays.get("y_test")
        _check(path, "x_test", x_test, y_test)
        if (y is None) != (y_test is None) or x_test.shape[1:] != x.shape[1:]:
            raise InputError(f"{path}: x_test/y_test do not match x/y in shape or in having labels")
        train, test = ArraySplit(x, _labels(y)), ArraySplit(x_test, _labels(y_test))
    else:
        order = np.random.default_rng(seed).permutation(len(x))
        cut = len(x) - max(1, int(round(len(x) * HELD_OUT_FRACTION)))
        pick = lambda a, idx: None if a is None else a[np.sort(idx)]  # noqa: E731
        train = ArraySplit(x[np.sort(order[:cut])], _labels(pick(y, order[:cut])))
        test = ArraySplit(x[np.sort(order[cut:])], _labels(pick(y, order[cut:])))
    return ArraySplits(train=train, val=None, test=test, class_names=labels)


def _check(path: Path, name: str, x: np.ndarray, y: np.ndarray | None) -> None:
    if x.ndim < 2 or len(x) == 0:
        raise InputError(f"{path}: {name} must be (samples, ...) with at least one sample, not {x.shape}")
    if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
        raise InputError(f"{path}: {name} must be float (model inputs) or uint8 (pixels), not {x.dtype}")
    if y is not None and len(y) != len(x):
        raise InputError(f"{path}: {name} has {len(x)} samples but its labels {len(y)}")


def _labels(y: np.ndarray | None) -> np.ndarray | None:
    if y is None:
        return None
    if np.issubdtype(y.dtype, np.integer):
        return y.reshape(len(y)).astype(np.int64) if y.ndim <= 1 or y.shape[1:] == (1,) else y
    return np.asarray(y, np.float32)
