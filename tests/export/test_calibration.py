import numpy as np
import pytest

from edgewise.export.calibration import CalibrationSet, stratified_indices


def test_stratified_sample_keeps_class_proportions():
    labels = np.array([0] * 600 + [1] * 300 + [2] * 100)
    picked = labels[stratified_indices(labels, 100, seed=3)]
    assert np.bincount(picked, minlength=3).tolist() == [60, 30, 10]


def test_every_class_is_represented_even_when_rare():
    labels = np.array([0] * 990 + [1] * 9 + [2] * 1)
    picked = labels[stratified_indices(labels, 10, seed=0)]
    assert set(picked.tolist()) >= {0, 1}
    assert len(picked) == 10


def test_sample_is_seeded_and_smaller_samples_are_prefixes():
    labels = np.random.default_rng(0).integers(0, 5, 2000)
    a = stratified_indices(labels, 300, seed=7)
    assert np.array_equal(a, stratified_indices(labels, 300, seed=7))
    assert not np.array_equal(a, stratified_indices(labels, 300, seed=8))
    assert np.array_equal(stratified_indices(labels, 100, seed=7), a[:100])
    assert len(set(a.tolist())) == 300


def test_sample_larger_than_data_takes_everything():
    labels = np.array([1, 0, 1])
    assert sorted(stratified_indices(labels, 50).tolist()) == [0, 1, 2]
    assert stratified_indices(labels, 0).size == 0


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
