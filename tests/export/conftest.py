"""A tiny trained run directory (model.keras + edgewise.json) and its data, made here, for export tests.

Images are 8x8 grayscale; the class (0, 1, 2) is which horizontal band is bright, so a small CNN learns it
to near 100% in a few epochs and accuracy figures mean something.
"""

from __future__ import annotations

import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SIZE, CLASSES = 8, 3
LABELS = ["a_top", "b_middle", "c_bottom"]  # sorted, as an image folder orders its classes


@dataclass
class Split:
    images: np.ndarray
    labels: np.ndarray


@dataclass
class Splits:
    train: Split
    val: Split
    test: Split
    class_names: list


def band_images(n: int, seed: int) -> Split:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, n)
    images = rng.integers(0, 90, (n, SIZE, SIZE, 1))
    for i, label in enumerate(labels):
        rows = slice(label * SIZE // CLASSES, (label + 1) * SIZE // CLASSES + 1)
        images[i, rows] += rng.integers(100, 166)
    return Split(images.clip(0, 255).astype(np.uint8), labels.astype(np.int64))


def make_splits() -> Splits:
    return Splits(band_images(600, 1), band_images(90, 2), band_images(400, 3), list(LABELS))


def build_run(directory: Path, splits: Splits, *, epochs: int = 12) -> Path:
    import keras

    from edgewise.runtime.card import InputSpec, ModelCard

    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(CLASSES, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
    model.fit(
        splits.train.images.astype("float32"), splits.train.labels, epochs=epochs, batch_size=32, verbose=0
    )
    directory.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # Keras 3.15 + NumPy 2 emit a copy= DeprecationWarning while saving
        warnings.simplefilter("ignore", DeprecationWarning)
        model.save(directory / "model.keras")
    ModelCard(labels=list(LABELS), input=InputSpec(shape=(SIZE, SIZE, 1)), model="band_cnn").save(directory)
    return directory


@pytest.fixture(scope="session")
def band_splits() -> Splits:
    return make_splits()


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, band_splits) -> Path:
    pytest.importorskip("tensorflow")
    return build_run(tmp_path_factory.mktemp("band") / "run", band_splits)


@pytest.fixture
def run_dir(trained_run, tmp_path) -> Path:
    """A private copy of the trained run that a test may write its bundle into."""
    return Path(shutil.copytree(trained_run, tmp_path / "run"))
