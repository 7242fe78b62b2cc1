import numpy as np
import pytest

from edgewise.export.calibration import CalibrationSet
from edgewise.runtime.sampling import stratified_indices


def test_calibration_sample_is_the_shared_stratified_sample():
    labels = np.random.default_rng(1).integers(0, 4, 200)
    images = np.arange(200, dtype=np.uint8).reshape(200, 1, 1, 1)
    calib = CalibrationSet.sample(images, labels, n=40, seed=5)
    assert np.array_equal(calib.images[:, 0, 0, 0], stratified_indices(labels, 40, seed=5))


def test_one_source_feeds_tflite_and_onnx_runtime_identically():
    pytest.importorskip("onnxruntime")
    images = np.arange(5 * 4 * 4 * 1, dtype=np.uint8).reshape(5, 4, 4, 1)
    calib = CalibrationSet.sample(images, np.array([0, 1, 0, 1, 0]), n=5)
    steps = list(calib.representative_dataset()())
    assert len(steps) == 5 and all(s[0].shape == (1, 4, 4, 1) and s[0].dtype == np.float32 for s in steps)

    reader = calib.reader("input", batch_size=2)
    feeds = []
    while (feed := reader.get_next()) is not None:
        feeds.append(feed["input"])
    assert [len(f) for f in feeds] == [2, 2, 1]
    assert np.array_equal(np.concatenate(feeds), np.concatenate([s[0] for s in steps]))
    reader.rewind()
    assert reader.get_next() is not None


def test_onnx_batches_are_all_one_size():
    pytest.importorskip("onnxruntime")
    calib = CalibrationSet(np.zeros((300, 2, 2, 1), np.uint8))
    reader = calib.reader("x")
    sizes = set()
    while (feed := reader.get_next()) is not None:
        sizes.add(len(feed["x"]))
    assert sizes == {15}


def test_empty_data_cannot_calibrate():
    with pytest.raises(ValueError):
        CalibrationSet.sample(np.zeros((0, 4, 4, 1), np.uint8), np.zeros(0, np.int64))
