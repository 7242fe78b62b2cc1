"""``--qat-epochs``: a fake-quantised copy of the model, fine-tuned, converts to fully-int8 TFLite and QDQ
ONNX that pass the same validation gate against the original model."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import numpy as np
import pytest

from edgewise.cli import main
from edgewise.runtime.errors import InputError
from tests.export.conftest import CLASSES, LABELS, SIZE

OFFSET = 1024.0  # the always-on channel, as in the zoo's outlier_cnn


def build_dropped_outlier_run(directory, splits):
    """The zoo's ``outlier_cnn`` in small: one channel always at 1024, dropped again by a fixed 1x1
    projection, so the float model ignores it and only a per-tensor int8 range sees it."""
    import warnings

    import keras

    from edgewise.runtime.card import InputSpec, ModelCard

    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.BatchNormalization()(keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(x))
    shift = keras.layers.DepthwiseConv2D(1, trainable=False, name="channel_offset")
    x = keras.layers.ReLU(name="outlier")(shift(keras.layers.ReLU()(x)))
    drop = keras.layers.Conv2D(7, 1, use_bias=False, trainable=False, name="drop_outlier")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(drop(x))
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax")(x))
    bias = np.zeros(8, "float32")
    bias[0] = OFFSET
    shift.set_weights([np.ones((1, 1, 8, 1), "float32"), bias])
    drop.set_weights([np.eye(8, 7, k=-1, dtype="float32")[None, None]])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
    model.fit(splits.train.images.astype("float32"), splits.train.labels, epochs=15, batch_size=32, verbose=0)
    directory.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model.save(directory / "model.keras")
    ModelCard(labels=list(LABELS), input=InputSpec(shape=(SIZE, SIZE, 1)), model="band_outlier").save(
        directory
    )
    return directory


@pytest.fixture(scope="module")
def outlier_run(tmp_path_factory, band_splits):
    pytest.importorskip("tensorflow")
    return build_dropped_outlier_run(tmp_path_factory.mktemp("qat-outlier") / "run", band_splits)


def test_quantisers_sit_where_the_converters_keep_a_quantised_tensor(trained_run, band_splits):
    from edgewise.export import keras_model, qat

    model = keras_model.load(trained_run / keras_model.MODEL_FILE)
    copy, quantizers = qat.fake_quantized(model)
    kinds = {layer.name: type(layer).__name__ for layer in copy.layers}
    name = {type(layer).__name__: layer.name for layer in model.layers}  # Keras numbers names per process
    # input; rescaling; conv+relu (BatchNorm after it is not fused into the conv: it keeps its range);
    # batchnorm; max-pool and flatten hand their input's range on; dense logits split from the softmax.
    assert [q.name for q in quantizers] == [
        f"{name['InputLayer']}_quant", f"{name['Rescaling']}_quant", f"{name['Conv2D']}_quant",
        f"{name['BatchNormalization']}_quant", f"{name['Dense']}_logits_quant", f"{name['Dense']}_quant",
    ]  # fmt: skip
    assert kinds[name["Conv2D"]] == "QuantizedConv2D" and kinds[name["Dense"]] == "QuantizedDense"
    assert not copy.get_layer(name["BatchNormalization"]).trainable
    assert quantizers[0].fixed_range == qat.PIXEL_RANGE and quantizers[-1].fixed_range == qat.SOFTMAX_RANGE

    images = band_splits.test.images[:64].astype(np.float32)
    for q in quantizers:
        q.enabled = False
    float_out = np.asarray(model(images))
    weights_only = np.asarray(copy(images))  # only the kernels are fake-quantised now
    assert np.abs(weights_only - float_out).max() < 0.05
    assert np.mean(weights_only.argmax(1) == float_out.argmax(1)) > 0.95
    assert model.get_layer(name["Conv2D"]).kernel.shape == copy.get_layer(name["Conv2D"]).kernel.shape


def test_range_search_narrows_a_range_only_an_ignored_channel_sets(outlier_run, band_splits):
    from edgewise.export import keras_model, qat

    model = keras_model.load(outlier_run / keras_model.MODEL_FILE)
    images = band_splits.train.images[:200]
    result = qat.quantization_aware(model, images, band_splits, epochs=0)
    outlier = result.model.get_layer("outlier_quant")  # after channel_offset: one channel at 1024
    assert "outlier_quant" in result.narrowed
    assert float(outlier.maximum.numpy()) <= OFFSET / 4
    assert result.epochs == 0 and result.val_accuracy_after == result.val_accuracy_before


@pytest.mark.slow
def test_qat_export_is_integer_in_both_formats_and_passes_validation(outlier_run, band_splits, tmp_path):
    pytest.importorskip("onnxruntime")
    import onnx
    from onnx import numpy_helper

    from edgewise.export.api import export
    from edgewise.export.tflite import graph_ops
    from edgewise.runtime.card import ModelCard

    result = export(outlier_run, format="all", quantize="int8", splits=band_splits, out=tmp_path / "qat",
                    qat_epochs=1, calib_samples=200)  # fmt: skip
    assert result.ok, result.rejected
    card = ModelCard.load(tmp_path / "qat" / "edgewise.json")
    for name in ("model_int8.tflite", "model_int8.onnx"):
        artifact = card.artifacts[name]
        assert artifact.validated and artifact.calibration_method == "qat"
        info = artifact.extra["qat"]
        assert info["epochs"] == 1 and info["learning_rate"] == pytest.approx(1e-4) and info["seconds"] > 0
        assert 0 <= info["val_accuracy_before"] <= 1 and 0 <= info["val_accuracy_after"] <= 1
        assert artifact.parity["accuracy_drop_pp"] <= 1.0  # the default int8 gate

    tflite = card.artifacts["model_int8.tflite"]
    assert tflite.integer_only is True and tflite.io == "int8"
    assert graph_ops((tmp_path / "qat" / "model_int8.tflite").read_bytes()).float_ops == []

    proto = onnx.load(tmp_path / "qat" / "model_int8.onnx")
    ops = [node.op_type for node in proto.graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    weights = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    conv_weights = [node.input[1] for node in proto.graph.node if node.op_type == "Conv"]
    producers = {out: node for node in proto.graph.node for out in node.output}
    for tensor in conv_weights:  # every Conv reads int8 weights through a per-channel DequantizeLinear
        dequantize = producers[tensor]
        assert dequantize.op_type == "DequantizeLinear"
        assert weights[dequantize.input[0]].dtype == np.int8
    assert card.artifacts["model_int8.onnx"].integer_only is True


def test_onnx_runtime_runs_the_qat_onnx_as_integer_kernels(outlier_run, band_splits, tmp_path):
    """What ONNX Runtime makes of the QDQ graph: integer kernels, one Quantize in, one Dequantize out."""
    pytest.importorskip("onnxruntime")
    from edgewise.export import keras_model, qat, qat_convert

    model = keras_model.load(outlier_run / keras_model.MODEL_FILE)
    result = qat.quantization_aware(model, band_splits.train.images[:100], band_splits, epochs=0)
    ops = _onnx_runtime_ops(qat_convert.to_onnx(result.model, opset=17).data, tmp_path)
    assert ops["QLinearConv"] == 4 and ops["QuantizeLinear"] == 1 and ops["DequantizeLinear"] == 1, ops
    assert not {"Conv", "MatMul", "Gemm", "Add", "Mul"} & set(ops), ops


def test_quantization_aware_needs_labelled_training_images(trained_run, band_splits):
    from edgewise.export import keras_model, qat

    model = keras_model.load(trained_run / keras_model.MODEL_FILE)
    unlabelled = replace(band_splits, train=replace(band_splits.train, labels=None))
    with pytest.raises(InputError, match="--qat-epochs fine-tunes on labelled data"):
        qat.quantization_aware(model, band_splits.train.images[:50], unlabelled, epochs=1)
    empty = replace(band_splits, train=replace(band_splits.train, images=band_splits.train.images[:0]))
    with pytest.raises(InputError, match="no training images"):
        qat.quantization_aware(model, band_splits.train.images[:50], empty, epochs=1)


@pytest.mark.parametrize(
    "args, words",
    [
        (["--qat-epochs", "-1"], "--qat-epochs must be a whole number of at least 0, not -1"),
        (["--qat-epochs", "1", "--qat-lr", "0"], "--qat-lr must be above 0"),
        (["--qat-lr", "0.001"], "--qat-lr sets the fine-tuning of --qat-epochs; add --qat-epochs N"),
        (["--qat-epochs", "1", "--quantize", "fp32"], "--qat-epochs trains for int8 artifacts"),
        (["--qat-epochs", "1", "--max-drop", "1"], "choose one"),
        (["--qat-epochs", "1", "--explain"], "--explain measures post-training quantisation"),
        (["--qat-epochs", "1"], "does not say where the data are; pass --data"),  # no training data
    ],
)
def test_bad_qat_options_are_one_line_errors(run_dir, capsys, args, words):
    assert main(["export", str(run_dir), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err


def test_a_conv1d_model_with_batchnorm_converts_to_integer_only_tflite_and_onnx(band_splits, tmp_path):
    """1-D convolutions run as 2-D ones between reshapes: per-tensor kernels, and each BatchNorm after
    them folded into the convolution in the copy, so neither format keeps a float Mul or Add; ONNX
    Runtime runs every Conv1D (Conv + Squeeze in ONNX) as a QLinearConv."""
    from edgewise.export import qat, qat_convert

    model = _conv1d_batchnorm_model()
    flat = replace(band_splits, train=replace(band_splits.train, images=_flat(band_splits.train.images)),
                   val=replace(band_splits.val, images=_flat(band_splits.val.images)))  # fmt: skip
    result = qat.quantization_aware(model, flat.train.images[:100], flat, epochs=1)
    assert not [layer for layer in result.model.layers if type(layer).__name__ == "BatchNormalization"]
    converted = qat_convert.to_tflite(result.model, io="int8")
    assert converted.integer_only and converted.extra["float_ops"] == []
    assert "CONV_2D" in converted.extra["ops"] and "MUL" not in converted.extra["ops"]
    onnx_model = qat_convert.to_onnx(result.model, opset=17)
    assert onnx_model.integer_only and onnx_model.extra["float_ops"] == []
    if importlib.util.find_spec("onnxruntime") is not None:
        ops = _onnx_runtime_ops(onnx_model.data, tmp_path)
        assert ops["QLinearConv"] == 3 and not {"Conv", "Add", "Mul"} & set(ops), ops


def test_batchnorm_after_a_conv1d_folds_into_it_with_the_same_float_outputs(band_splits):
    from edgewise.export import qat

    model = _conv1d_batchnorm_model()
    copy, quantizers = qat.fake_quantized(model, pixel_input=False)
    assert not [layer for layer in copy.layers if type(layer).__name__ == "BatchNormalization"]
    images = _flat(band_splits.test.images[:64])
    for q in quantizers:
        q.enabled = False
    float_out, weights_only = np.asarray(model(images)), np.asarray(copy(images))  # kernels fake-quantised
    assert np.abs(weights_only - float_out).max() < 0.05
    assert np.mean(weights_only.argmax(1) == float_out.argmax(1)) > 0.95


@pytest.mark.parametrize("kind", ["Conv1D", "DepthwiseConv2D"])
def test_folded_weights_give_the_convolution_and_batchnorm_outputs(kind):
    """w * gamma / sqrt(var + eps) per output channel, (b - mean) * that + beta: the same outputs."""
    import keras

    from edgewise.export import qat_fold

    rng = np.random.default_rng(0)
    if kind == "Conv1D":
        shape, conv = (12, 3), keras.layers.Conv1D(5, 3)
    else:
        shape, conv = (6, 6, 3), keras.layers.DepthwiseConv2D(3, depth_multiplier=2)
    inputs = keras.Input(shape)
    batchnorm = keras.layers.BatchNormalization(epsilon=1e-2)
    model = keras.Model(inputs, batchnorm(conv(inputs)))
    _randomise_batchnorm(batchnorm, rng)
    assert qat_fold.foldable(model) == {batchnorm.name: conv.name}
    folded = type(conv).from_config({**conv.get_config(), "name": "folded", "use_bias": True})
    folded.build((None, *shape))
    folded.set_weights(qat_fold.folded_weights(conv, batchnorm))
    x = rng.normal(0, 1, (4, *shape)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(folded(x)), np.asarray(model(x)), rtol=1e-4, atol=1e-4)


def _conv1d_batchnorm_model():
    """Conv1D + BatchNorm + ReLU, a residual Conv1D + BatchNorm + Add (as in the zoo's outlier_conv1d),
    BatchNorm statistics away from the identity."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE * SIZE, 1))
    x = keras.layers.BatchNormalization()(keras.layers.Conv1D(4, 5, use_bias=False)(inputs))
    x = keras.layers.MaxPooling1D()(keras.layers.ReLU()(x))
    y = keras.layers.BatchNormalization()(keras.layers.Conv1D(4, 3, padding="same")(x))
    x = keras.layers.ReLU()(keras.layers.Add()([x, y]))
    x = keras.layers.GlobalAveragePooling1D()(keras.layers.Conv1D(4, 3, activation="relu")(x))
    model = keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax")(x))
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            _randomise_batchnorm(layer, rng)
    return model


def _randomise_batchnorm(layer, rng) -> None:
    channels = layer.gamma.shape[0]
    layer.set_weights([rng.uniform(0.5, 2, channels), rng.normal(0, 0.5, channels),
                       rng.normal(0, 0.5, channels), rng.uniform(0.5, 2, channels)])  # fmt: skip


def _onnx_runtime_ops(data: bytes, tmp_path) -> dict[str, int]:
    """Op type -> count in the graph ONNX Runtime makes of ``data`` (its QDQ fusions applied)."""
    from collections import Counter

    import onnx
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimised.onnx")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    return Counter(node.op_type for node in onnx.load(tmp_path / "optimised.onnx").graph.node)


def _flat(images: np.ndarray) -> np.ndarray:
    return (images.reshape(len(images), -1, 1) / 255.0).astype(np.float32)
