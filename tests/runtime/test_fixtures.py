"""The tiny bundle fixture itself: complete, consistent with its card, and a model that learned something."""

import numpy as np

from edgewise.runtime.card import ModelCard


def test_tiny_bundle_is_complete_and_consistent(tiny_bundle):
    card = ModelCard.load(tiny_bundle)
    assert card.labels == ["red", "green", "blue"]
    assert card.input.shape == (16, 16, 3)
    expected = {"model_fp32.tflite", "model_int8.tflite", "model_fp32.onnx", "model_int8.onnx"}
    assert set(card.artifacts) == expected
    for name, art in card.artifacts.items():
        assert (tiny_bundle / name).stat().st_size == art.size_bytes

    with np.load(tiny_bundle / "parity.npz", allow_pickle=False) as parity:
        images, labels, reference = parity["images"], parity["labels"], parity["reference"]
    assert images.dtype == np.uint8 and images.shape[1:] == (16, 16, 3)
    assert labels.dtype == np.int64 and reference.dtype == np.float32
    assert reference.shape == (len(images), 3)
    np.testing.assert_allclose(reference.sum(axis=1), 1.0, atol=1e-5)
    assert (reference.argmax(axis=1) == labels).mean() >= 0.8
