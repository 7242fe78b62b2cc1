"""The tf.data pipeline feeds the model exactly the pixels the runtime's preprocessing produces."""

from __future__ import annotations

import numpy as np
import pytest

from edgewise.runtime.preprocess import load_image
from edgewise.train.data import load_splits
from tests.train.helpers import write_exif_rotated_jpeg, write_photo_folder

pytest.importorskip("tensorflow")


def test_training_pixels_equal_runtime_preprocessing(tmp_path, monkeypatch):
    from edgewise.train.pipeline import make_dataset

    monkeypatch.setenv("EDGEWISE_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "photos"
    files = write_photo_folder(root / "train", classes=("a", "b"), per_class=8)
    files.append(write_exif_rotated_jpeg(root / "train" / "a" / "rotated.jpg"))
    splits = load_splits(root, image_size=(20, 24), channels=3, val_fraction=0.0)
    fed = np.concatenate([x.numpy() for x, _ in make_dataset(splits.train, batch_size=5)])
    assert fed.dtype == np.float32 and fed.shape == (len(files), 20, 24, 3)
    # file order is class by class, sorted by name: the unshuffled pipeline keeps it
    ordered = sorted(p for p in files if p.parent.name == "a") + sorted(
        p for p in files if p.parent.name == "b"
    )
    for got, path in zip(fed, ordered, strict=True):
        np.testing.assert_array_equal(
            got, load_image(path, (20, 24), 3).astype(np.float32), err_msg=str(path)
        )


def test_training_pipeline_shuffles_and_augments_without_changing_scale():
    from edgewise.train.augment import build_augmenter
    from edgewise.train.data import Split
    from edgewise.train.pipeline import make_dataset

    images = np.random.default_rng(0).integers(0, 256, (64, 12, 12, 1), dtype=np.uint8)
    split = Split(images, np.arange(64, dtype=np.int64) % 4)
    batches = list(make_dataset(split, 16, training=True, seed=1))
    labels = np.concatenate([y.numpy() for _, y in batches])
    assert sorted(labels.tolist()) == sorted(split.labels.tolist()) and not np.array_equal(
        labels, split.labels
    )
    augmented = make_dataset(
        split, 64, training=True, augmenter=build_augmenter(["flip", "translate"], seed=1)
    )
    x = next(iter(augmented))[0].numpy()
    assert x.shape == (64, 12, 12, 1) and 0.0 <= x.min() and x.max() <= 255.0
