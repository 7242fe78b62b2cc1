"""An image folder: one subfolder per class, optionally inside ``train/``, ``val/`` and ``test/``.

Every file is decoded with :func:`edgewise.runtime.preprocess.load_image` (the code the runtime uses, so
training pixels equal device pixels) exactly once: the decoded arrays are cached in an ``.npz`` keyed by
the file list, sizes, modification times, the target size and the preprocessing code itself. Files that
do not decode are skipped, counted and named in the log.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from edgewise.runtime import atomic, preprocess
from edgewise.runtime.errors import ImageError, InputError
from edgewise.runtime.progress import Progress
from edgewise.train.data import RawSplits, Split

log = logging.getLogger(__name__)

DEFAULT_SIZE = (64, 64)
SPLIT_NAMES = ("train", "val", "test")
_VAL_ALIASES = ("val", "valid", "validation")


def load(
    root: str | os.PathLike,
    *,
    size: tuple[int, int] = DEFAULT_SIZE,
    channels: int = 3,
    resize: str = "bilinear",
    fit: str = "stretch",
    cache: bool = True,
) -> RawSplits:
    """Decode the folder at ``root``; ``val``/``test`` are None when the folder has no such split."""
    root = Path(root)
    layout = split_folders(root)
    class_names = class_folders(layout["train"])
    listing = {name: list_files(folder, class_names) for name, folder in layout.items()}
    key = _cache_key(listing, size, channels, resize, fit)
    cached = _read_cache(key) if cache else None
    if cached is not None:
        log.info("%s: using decoded images from cache %s", root, _cache_path(key))
        arrays = cached
    else:
        arrays = {
            name: decode(files, size, channels, resize=resize, fit=fit, desc=f"decoding {name}")
            for name, files in listing.items()
        }
        if cache:
            _write_cache(key, arrays)
    splits = {name: Split(images, labels) for name, (images, labels) in arrays.items()}
    return RawSplits(
        train=splits["train"], val=splits.get("val"), test=splits.get("test"), class_names=class_names
    )


def split_folders(root: Path) -> dict[str, Path]:
    """``{"train": ..., "val": ..., "test": ...}`` for split layouts, ``{"train": root}`` otherwise."""
    if not root.is_dir():
        raise InputError(f"{root}: no such directory")
    if not (root / "train").is_dir():
        return {"train": root}
    layout = {"train": root / "train"}
    for alias in _VAL_ALIASES:
        if (root / alias).is_dir():
            layout["val"] = root / alias
            break
    if (root / "test").is_dir():
        layout["test"] = root / "test"
    return layout


def class_folders(train_dir: Path) -> list[str]:
    names = sorted(p.name for p in train_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(names) < 2:
        found = f"only {names[0]!r}" if names else "none"
        raise InputError(f"{train_dir}: needs one subfolder per class, at least two ({found} found)")
    return names


def list_files(split_dir: Path, class_names: list[str]) -> list[tuple[Path, int]]:
    """All regular files under each class folder, sorted, with their label index."""
    extra = sorted(p.name for p in split_dir.iterdir() if p.is_dir() and p.name not in class_names)
    if extra:
        raise InputError(f"{split_dir}: class folder(s) not in the training split: {', '.join(extra)}")
    files: list[tuple[Path, int]] = []
    for label, name in enumerate(class_names):
        folder = split_dir / name
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts):
                files.append((path, label))
    return files


def decode(
    files: list[tuple[Path, int]],
    size: tuple[int, int],
    channels: int,
    *,
    resize: str = "bilinear",
    fit: str = "stretch",
    desc: str = "decoding",
) -> tuple[np.ndarray, np.ndarray]:
    """Decode ``files`` in a few threads; skip (and log) the ones that are not readable images."""
    images = np.zeros((len(files), *size, channels), dtype=np.uint8)
    ok = np.zeros(len(files), dtype=bool)
    skipped: list[str] = []

    def one(i: int) -> str | None:
        try:
            images[i] = preprocess.load_image(files[i][0], size, channels, resize=resize, fit=fit)
        except ImageError as e:
            return str(e)
        ok[i] = True
        return None

    with (
        ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool,
        Progress(len(files), desc) as bar,
    ):
        for problem in pool.map(one, range(len(files))):
            bar.update()
            if problem:
                skipped.append(problem)
    if skipped:
        log.warning("skipped %d unreadable file(s):\n  %s", len(skipped), "\n  ".join(skipped))
    labels = np.array([label for _, label in files], dtype=np.int64)
    return images[ok], labels[ok]


def _cache_key(listing: dict[str, list[tuple[Path, int]]], size, channels, resize, fit) -> str:
    h = hashlib.sha256()
    h.update(inspect.getsource(preprocess).encode())
    h.update(json.dumps([list(size), channels, resize, fit]).encode())
    for split, files in listing.items():
        h.update(split.encode())
        for path, label in files:
            st = path.stat()
            h.update(f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{label}\n".encode())
    return h.hexdigest()[:24]


def cache_dir() -> Path:
    base = os.environ.get("EDGEWISE_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return Path(base) / "edgewise" / "folders"


def _cache_path(key: str) -> Path:
    return cache_dir() / f"{key}.npz"


def _read_cache(key: str) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    path = _cache_path(key)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            splits = [name for name in SPLIT_NAMES if f"{name}_images" in z]
            return {name: (z[f"{name}_images"], z[f"{name}_labels"]) for name in splits}
    except (OSError, ValueError, KeyError):
        log.warning("%s: unreadable cache, decoding again", path)
        return None


def _write_cache(key: str, arrays: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    flat = {}
    for name, (images, labels) in arrays.items():
        flat[f"{name}_images"], flat[f"{name}_labels"] = images, labels
    try:
        with atomic.atomic_path(_cache_path(key)) as tmp:
            np.savez(tmp, **flat)
    except OSError as e:  # a read-only home must not stop training
        log.warning("could not write decode cache (%s)", e)
