"""The hard cases for int8: what makes each one hard is really in the graph."""

from __future__ import annotations

import numpy as np
import pytest

from edgewise.train import zoo

pytest.importorskip("tensorflow")


def test_outlier_cnn_has_one_always_on_channel():
    import keras

    from edgewise.train.hard_cases import OUTLIER_OFFSET

    model = zoo.create_model("outlier_cnn", num_classes=10)
    shift = model.get_layer("channel_offset")
    assert not shift.trainable and not model.get_layer("drop_outlier").trainable
    probe = keras.Model(model.input, shift.output)
    images = np.random.default_rng(0).integers(0, 256, (4, 28, 28, 1)).astype(np.float32)
    features = np.maximum(np.asarray(probe(images, training=False)), 0)
    assert features[..., 0].min() >= OUTLIER_OFFSET - 50  # always on, whatever the image
    assert features[..., 1:].max() < OUTLIER_OFFSET / 20  # the other channels are ordinary


def test_outlier_cnn_offset_is_an_option():
    model = zoo.create_model("outlier_cnn", num_classes=10, offset=8.0)
    assert model.get_layer("channel_offset").get_weights()[1][0] == 8.0


def test_outlier_conv1d_carries_the_outlier_between_two_of_22_weighted_layers():
    import keras

    from edgewise.train.hard_cases import OUTLIER_OFFSET

    model = zoo.create_model("outlier_conv1d", num_classes=10)
    kinds = (keras.layers.Conv1D, keras.layers.Dense)
    weighted = [layer for layer in model.layers if isinstance(layer, kinds)]
    assert len(weighted) == 22  # so the two fixed layers around the outlier are 9 % of them
    images = np.random.default_rng(0).integers(0, 256, (4, 28, 28, 1)).astype(np.float32)

    def output_of(name):
        return np.asarray(keras.Model(model.input, model.get_layer(name).output)(images, training=False))

    features = np.maximum(output_of("channel_offset"), 0)
    assert features[..., 0].min() >= OUTLIER_OFFSET - 50 and features[..., 1:].max() < OUTLIER_OFFSET / 20
    assert np.all(output_of("drop_outlier")[..., 0] == 0)  # the projection zeroes the outlier channel again


def test_tiny_mobilenet_is_depthwise_with_relu6():
    import keras

    model = zoo.create_model("tiny_mobilenet", num_classes=10)
    depthwise = [layer for layer in model.layers if isinstance(layer, keras.layers.DepthwiseConv2D)]
    relu6 = [layer for layer in model.layers if isinstance(layer, keras.layers.ReLU) and layer.max_value == 6]
    assert len(depthwise) == 5 and len(relu6) == 10
    assert any(isinstance(layer, keras.layers.Add) for layer in model.layers)  # inverted residuals
