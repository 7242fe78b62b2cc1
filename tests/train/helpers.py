"""Small data makers shared by the training tests (everything is generated, nothing downloaded)."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image


def write_idx(path: Path, array: np.ndarray, *, compress: bool = True) -> Path:
    codes = {np.dtype(np.uint8): 0x08}
    header = struct.pack(">BBBB", 0, 0, codes[array.dtype], array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    data = header + array.tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def write_idx_dataset(
    folder: Path, n_train: int = 40, n_test: int = 20, seed: int = 0
) -> dict[str, np.ndarray]:
    """Fashion-MNIST-shaped IDX files (28x28, 10 classes) under ``folder``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for stem, array in arrays.items():
        write_idx(folder / f"{stem}.gz", array)
    return arrays


def write_cifar_tarball(path: Path, per_batch: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """A CIFAR-10 python archive with ``per_batch`` images in each of the six batches."""
    rng = np.random.default_rng(seed)
    batches = {}
    with tarfile.open(path, "w:gz") as tar:
        names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
        for name in names:
            data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
            labels = [int(v) for v in rng.integers(0, 10, per_batch)]
            labels[:10] = list(range(10))[: min(10, per_batch)]
            batches[name] = (data, np.array(labels))
            payload = pickle.dumps(
                {b"batch_label": name.encode(), b"data": data, b"labels": labels}, protocol=2
            )
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return batches


def photo(size: tuple[int, int], seed: int) -> Image.Image:
    """A smooth, photo-like RGB image of ``size`` (width, height)."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    channels = [
        np.sin(xx / (5 + 7 * rng.random()) + rng.random() * 6) + np.cos(yy / (4 + 9 * rng.random()))
        for _ in range(3)
    ]
    arr = ((np.stack(channels, axis=-1) + 2) * 63).clip(0, 255).astype(np.uint8)
    return Image.fromarray(arr, "RGB")


def write_photo_folder(root: Path, classes=("cat", "dog"), per_class: int = 6) -> list[Path]:
    """Class folders of JPEG/PNG/BMP/WebP photos in many sizes and colour modes. Returns the files."""
    kinds = [
        ("jpg", "RGB", (40, 30)),
        ("png", "L", (17, 23)),
        ("png", "RGBA", (64, 64)),
        ("jpg", "CMYK", (50, 20)),
        ("bmp", "P", (31, 31)),
        ("webp", "RGB", (25, 60)),
        ("jpg", "L", (33, 44)),
        ("png", "LA", (20, 20)),
    ]
    files = []
    for c, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            ext, mode, size = kinds[(i + c) % len(kinds)]
            img = photo(size, seed=100 * c + i)
            img = img.convert(mode) if mode != "P" else img.convert("P", palette=Image.Palette.ADAPTIVE)
            path = folder / f"{name}_{i}.{ext}"
            img.save(path)
            files.append(path)
    return files


def write_exif_rotated_jpeg(path: Path, size=(40, 20), orientation: int = 6) -> Path:
    img = photo(size, seed=7)
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(path, exif=exif.tobytes())
    return path
