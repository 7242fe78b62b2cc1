"""One calibration source for both formats: a seeded, class-stratified sample of training images
(:func:`edgewise.runtime.sampling.stratified_indices`).

The same uint8 images feed TFLite's ``representative_dataset`` and ONNX Runtime's
``CalibrationDataReader``, so the two int8 artifacts of one export are calibrated on identical data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from edgewise.runtime.sampling import DEFAULT_SEED, stratified_indices

DEFAULT_SAMPLES = 300


@dataclass
class CalibrationSet:
    """Raw uint8 pixels (N, H, W, C) that calibrate activation ranges."""

    images: np.ndarray
    seed: int = DEFAULT_SEED
    labels: np.ndarray | None = None  # the images' classes, when sampled from labelled data

    @classmethod
    def sample(
        cls, images: np.ndarray, labels: np.ndarray, n: int = DEFAULT_SAMPLES, seed: int = DEFAULT_SEED
    ):
        if len(images) == 0:
            raise ValueError("no images to calibrate with")
        keep = stratified_indices(labels, n, seed)
        return cls(images=np.asarray(images)[keep], seed=seed, labels=np.asarray(labels)[keep])

    def __len__(self) -> int:
        return len(self.images)

    def batches(self, batch_size: int = 1) -> Iterator[np.ndarray]:
        """Float32 batches of raw 0..255 pixels, the Keras model's input."""
        for start in range(0, len(self.images), batch_size):
            yield self.images[start : start + batch_size].astype(np.float32)

    def representative_dataset(self) -> Callable[[], Iterator[list[np.ndarray]]]:
        """For ``tf.lite.TFLiteConverter.representative_dataset``: one image per step."""
        return lambda: ([batch] for batch in self.batches(1))

    def reader(self, input_name: str, batch_size: int | None = None):
        """An ``onnxruntime.quantization.CalibrationDataReader`` over these images.

        By default batches are as large as possible up to 16 but all of one size: ORT's histogram
        calibrators (entropy, percentile) stack the per-batch outputs and fail on a ragged last batch.
        """
        from onnxruntime.quantization import CalibrationDataReader

        images = self
        if batch_size is None:
            batch_size = max(d for d in range(1, 17) if len(self) % d == 0)

        class _Reader(CalibrationDataReader):
            def __init__(self):
                self._batches = images.batches(batch_size)

            def get_next(self):
                batch = next(self._batches, None)
                return None if batch is None else {input_name: batch}

            def rewind(self):
                self._batches = images.batches(batch_size)

        return _Reader()
