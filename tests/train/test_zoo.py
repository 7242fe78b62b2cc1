"""The model zoo: registry, configs, shapes, parameter counts and input-size checks."""

from __future__ import annotations

import numpy as np
import pytest

from edgewise.runtime.errors import InputError
from edgewise.train import zoo

pytest.importorskip("tensorflow")

EXPECTED = {
    # name: (input shape, classes, parameter range)
    "fashion_cnn": ((28, 28, 1), 10, (50_000, 100_000)),
    "mnist_cnn": ((28, 28, 1), 10, (30_000, 40_000)),
    "bikes_cnn": ((64, 64, 3), 2, (100_000, 110_000)),
    "cifar_base": ((32, 32, 3), 10, (70_000, 80_000)),
    "cifar_deep": ((32, 32, 3), 10, (840_000, 850_000)),
    "resnet8": ((32, 32, 3), 10, (77_000, 80_000)),
    "outlier_cnn": ((28, 28, 1), 10, (44_000, 45_000)),
    "outlier_conv1d": ((28, 28, 1), 10, (62_000, 64_000)),
    "tiny_mobilenet": ((28, 28, 1), 10, (70_000, 72_000)),
}


def test_registry_lists_the_whole_zoo():
    assert set(zoo.list_models()) >= {*EXPECTED, "mobilenet_v2", "vgg16"}
    cfg = zoo.get_config("fashion_cnn")
    assert (cfg.input_size, cfg.channels) == ((28, 28), 1)
    assert cfg.description.startswith("Small BatchNorm CNN")
    with pytest.raises(InputError, match="unknown model 'nope'"):
        zoo.get_config("nope")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shapes_params_and_in_graph_normalisation(name):
    shape, classes, (low, high) = EXPECTED[name]
    model = zoo.create_model(name, num_classes=classes)
    assert tuple(model.input_shape[1:]) == shape
    assert tuple(model.output_shape) == (None, classes)
    assert low <= model.count_params() <= high, model.count_params()
    assert any(layer.name == "normalize" for layer in model.layers)
    probs = np.asarray(model(np.full((2, *shape), 255.0, np.float32), training=False))
    assert probs.shape == (2, classes)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_fashion_cnn_is_under_100k_parameters():
    assert zoo.create_model("fashion_cnn", num_classes=10).count_params() < 100_000


def test_mlperf_resnet8_parameter_count():
    # The MLPerf Tiny reference ResNet-8 has 78,666 parameters (10 classes, 32x32x3).
    assert zoo.create_model("resnet8", num_classes=10).count_params() == 78_666


def test_other_input_sizes_and_refusals():
    model = zoo.create_model("bikes_cnn", num_classes=3, input_shape=(96, 80, 1))
    assert tuple(model.input_shape[1:]) == (96, 80, 1)
    with pytest.raises(InputError, match="multiples of 4"):
        zoo.create_model("fashion_cnn", num_classes=10, input_shape=(30, 30, 1))
    with pytest.raises(InputError, match="at least 32x32"):
        zoo.create_model("mobilenet_v2", num_classes=2, input_shape=(16, 16, 3), weights="none")
    with pytest.raises(InputError, match="RGB"):
        zoo.create_model("vgg16", num_classes=2, input_shape=(32, 32, 1), weights="none")
    with pytest.raises(InputError, match="at least two classes"):
        zoo.create_model("mnist_cnn", num_classes=1)


def test_register_model_decorator():
    @zoo.register_model("tiny_test_model", input_size=(8, 8), channels=1, epochs=1)
    def tiny(input_shape, num_classes):
        """A test model."""
        import keras

        inputs = keras.Input(input_shape)
        x = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))
        return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))

    try:
        assert tiny.config.epochs == 1 and "tiny_test_model" in zoo.list_models()
        assert zoo.create_model("tiny_test_model", num_classes=3).output_shape == (None, 3)
        with pytest.raises(ValueError, match="already registered"):
            zoo.register_model("tiny_test_model")(tiny)
    finally:
        zoo._REGISTRY.pop("tiny_test_model", None)


@pytest.mark.slow
def test_transfer_models_offline_without_weights():
    mobilenet = zoo.create_model("mobilenet_v2", num_classes=4, weights="none", alpha=0.35)
    assert mobilenet.output_shape == (None, 4)
    bases = [layer for layer in mobilenet.layers if hasattr(layer, "layers")]
    assert bases and bases[0].trainable  # no pretrained weights: the whole network trains
    vgg = zoo.create_model("vgg16", num_classes=3, input_shape=(32, 32, 3), weights="none")
    assert vgg.output_shape == (None, 3)
    assert 14_700_000 < vgg.count_params() < 14_800_000


def test_missing_weights_file_is_one_line():
    with pytest.raises(InputError, match="no such weights file"):
        zoo.create_model("mobilenet_v2", num_classes=2, weights="/nonexistent/w.h5")


def test_unavailable_imagenet_weights_say_what_to_do():
    from edgewise.train.weights import build_base

    def offline(**kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/some/very/long/url.h5")

    message = r"could not be downloaded \(URL fetch failure\); use --weights none"
    with pytest.raises(InputError, match=message):
        build_base(offline, "mobilenet_v2", "imagenet")
    assert build_base(lambda weights: weights, "x", "none") is None
