"""Training data as plain arrays: ``load_splits(source, ...) -> Splits``.

Every source (an image folder, IDX files, the CIFAR-10 archive) returns uint8 images ``(N, H, W, C)``,
int64 labels and class names. ``load_splits`` adds what is common to all of them: stratified, seeded
validation (and, for image folders without ``test/``, test) splits carved from the training images
when the source has none, and resizing / colour
conversion through :mod:`edgewise.runtime.preprocess` when the caller asks for another image size or
channel count than the source stores.

Nothing here imports TensorFlow, so the export step and tests can reload data cheaply.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgewise.runtime.errors import InputError
from edgewise.runtime.preprocess import load_image
from edgewise.runtime.sampling import DEFAULT_SEED, fraction_per_class

log = logging.getLogger(__name__)

NAMED_SOURCES = ("fashion_mnist", "mnist", "cifar10")


@dataclass
class Split:
    images: np.ndarray  # uint8 (N, H, W, C)
    labels: np.ndarray  # int64 (N,)

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Splits:
    train: Split
    val: Split
    test: Split
    class_names: list[str]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.train.images.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def load_splits(
    source: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    image_size: int | tuple[int, int] | None = None,
    channels: int | None = None,
    val_fraction: float = 0.1,
    seed: int = DEFAULT_SEED,
    resize: str = "bilinear",
    fit: str = "stretch",
    cache: bool = True,
) -> Splits:
    """Load ``source`` ("fashion_mnist", "mnist", "cifar10" or an image-folder path) as train/val/test.

    ``image_size`` (an int or ``(height, width)``) and ``channels`` (1 or 3) default to what the source
    stores (for an image folder: 64x64 RGB). ``val_fraction`` is used only when the source has no
    validation split of its own. ``data_dir`` is where named datasets are looked up first.
    """
    if not 0.0 <= float(val_fraction) < 1.0:
        raise InputError(f"--val-fraction must be in [0, 1), not {val_fraction}")
    if channels not in (None, 1, 3):
        raise InputError(f"channels must be 1 or 3, not {channels}")
    size = _as_size(image_size)
    name = os.fspath(source)

    if name in ("fashion_mnist", "mnist"):
        from edgewise.train.sources import idx

        raw = idx.load(name, data_dir=data_dir)
    elif name == "cifar10":
        from edgewise.train.sources import cifar

        raw = cifar.load(data_dir=data_dir)
    else:
        from edgewise.train.sources import folder

        check_source(name)
        raw = folder.load(
            name,
            size=size or folder.DEFAULT_SIZE,
            channels=channels or 3,
            resize=resize,
            fit=fit,
            cache=cache,
        )

    _check_classes(raw.class_names, raw.train.labels, name)
    train, val, test = raw.train, raw.val, raw.test
    if test is None:  # an image folder without test/: hold out the same fraction again
        train, test = stratified_split(train, val_fraction, seed + 1)
        log.info("%s: no test/ split, holding out %d training images for testing", name, len(test))
    if val is None:
        train, val = stratified_split(train, val_fraction, seed)
    splits = Splits(train=train, val=val, test=test, class_names=list(raw.class_names))
    return _conform(splits, size, channels, resize=resize, fit=fit)


@dataclass
class RawSplits:
    """What a source returns; ``val`` / ``test`` are None when the source has no such split."""

    train: Split
    val: Split | None
    test: Split | None
    class_names: list[str]


def stratified_split(split: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """Move ``fraction`` of every class (at least one image when the class has two) into a new split
    (:func:`edgewise.runtime.sampling.fraction_per_class`)."""
    mask = np.zeros(len(split.labels), dtype=bool)
    mask[fraction_per_class(split.labels, fraction, seed)] = True
    train = Split(split.images[~mask], split.labels[~mask])
    val = Split(split.images[mask], split.labels[mask])
    return train, val


def _check_classes(class_names: list[str], labels: np.ndarray, source: str) -> None:
    if len(class_names) < 2:
        raise InputError(f"{source}: found {len(class_names)} class(es); a classifier needs at least two")
    counts = np.bincount(labels, minlength=len(class_names))
    empty = [class_names[i] for i in np.flatnonzero(counts == 0)]
    if empty:
        raise InputError(f"{source}: class(es) with no training images: {', '.join(empty)}")


def _conform(splits: Splits, size: tuple[int, int] | None, channels: int | None, **kw) -> Splits:
    """Resize / change colour mode of array sources through the shared preprocessing code."""
    h, w, c = splits.image_shape
    target = (size or (h, w), channels or c)
    if target == ((h, w), c):
        return splits
    log.info("converting images %dx%dx%d -> %dx%dx%d", h, w, c, *target[0], target[1])

    def convert(split: Split) -> Split:
        images = np.stack([load_image(im, target[0], target[1], **kw) for im in split.images])
        return Split(images.reshape(len(split), *target[0], target[1]), split.labels)

    return Splits(convert(splits.train), convert(splits.val), convert(splits.test), splits.class_names)


def _as_size(image_size: int | tuple[int, int] | list[int] | None) -> tuple[int, int] | None:
    if image_size is None:
        return None
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    h, w = (int(v) for v in image_size)
    if h < 1 or w < 1:
        raise InputError(f"image size must be positive, not {h}x{w}")
    return h, w


def check_source(source: str | os.PathLike) -> None:
    """One-line errors for a ``--data`` that names nothing loadable, before any work. A dataset's own
    files (IDX, the CIFAR-10 archive) are read by name from a folder (``--data cifar10 --data-dir DIR``);
    given directly, the error says so."""
    name = os.fspath(source)
    if name in NAMED_SOURCES:
        return
    path = Path(name)
    if path.is_dir():
        found = _dataset_in(path, [p.name for p in path.iterdir()])
        if found and sum(p.is_dir() for p in path.iterdir()) < 2:
            raise InputError(f"{name}: holds {found[0]}, not class subfolders; pass {found[1]}")
        return
    if path.exists():
        found = _dataset_in(path.parent, [path.name])
        hint = f"; for {found[0]} pass {found[1]}" if found else ""
        raise InputError(f"{name}: not a directory; --data takes an image folder or one of {_names()}{hint}")
    if os.sep in name or "/" in name or name.startswith("."):
        raise InputError(f"{name}: no such directory")
    raise InputError(f"unknown dataset {name!r}; use one of {_names()} or a path to an image folder")


def _dataset_in(directory: Path, names: list[str]) -> tuple[str, str] | None:
    """(what, the options that read it) when ``names`` in ``directory`` are IDX files or CIFAR-10's."""
    from edgewise.train.sources import cifar, idx

    where = f"--data-dir {directory}"
    if any(n.startswith(tuple(idx.FILES.values())) for n in names):
        return "IDX files", f"--data fashion_mnist {where} (or --data mnist)"
    if any(n in (*cifar.ARCHIVE_NAMES, cifar.FOLDER_NAME) for n in names):
        return "the CIFAR-10 archive", f"--data cifar10 {where}"
    return None


def _names() -> str:
    return ", ".join(NAMED_SOURCES)
