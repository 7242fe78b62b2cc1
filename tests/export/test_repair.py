"""``--max-drop``: a run with an always-on outlier channel loses accuracy in plain int8; the search keeps
the fewest layers in float that bring the validation drop within the budget, in both formats."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from edgewise.export.repair_ranking import SQNR_CAP_DB, channel_sqnr
from tests.export.conftest import CLASSES, LABELS, SIZE

OFFSET = 1024.0  # the always-on channel; the other channels are BatchNorm + ReLU outputs of ~0..5


def per_tensor_int8(x: np.ndarray) -> np.ndarray:
    """Quantise and dequantise ``x`` with one asymmetric uint8-range scale for the whole tensor."""
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    scale = (hi - lo) / 255
    return np.round((x - lo) / scale) * scale + lo


def test_channel_sqnr_sees_a_range_that_one_outlier_channel_sets():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 4, (8, 6, 6, 16))
    healthy = channel_sqnr(x, per_tensor_int8(x))
    x[..., 0] += OFFSET
    outlier = channel_sqnr(x, per_tensor_int8(x))
    # Tensor-wide, the error is still rounding noise against a huge signal; per channel it is not.
    tensor_wide = 10 * np.log10(np.sum(x**2) / np.sum((x - per_tensor_int8(x)) ** 2))
    assert healthy > 40 and tensor_wide > 40
    assert outlier < 10, outlier


def test_channel_sqnr_edge_cases():
    x = np.zeros((4, 3))
    assert channel_sqnr(x, x) == SQNR_CAP_DB  # no signal anywhere
    x[:, 1] = 1.0
    assert channel_sqnr(x, x) == SQNR_CAP_DB  # exact
    assert channel_sqnr(x, x * 0.9) == pytest.approx(20.0)  # 10% error in the one live channel


def build_outlier_run(directory: Path, splits) -> Path:
    import keras

    from edgewise.runtime.card import InputSpec, ModelCard

    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    shift = keras.layers.DepthwiseConv2D(1, trainable=False, name="channel_offset")
    x = keras.layers.ReLU()(shift(x))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax")(x))
    bias = np.zeros(8, "float32")
    bias[0] = OFFSET
    shift.set_weights([np.ones((1, 1, 8, 1), "float32"), bias])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
    model.fit(splits.train.images.astype("float32"), splits.train.labels, epochs=15, batch_size=32, verbose=0)
    directory.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model.save(directory / "model.keras")
    card = ModelCard(labels=list(LABELS), input=InputSpec(shape=(SIZE, SIZE, 1)), model="band_outlier")
    card.save(directory)
    return directory


@pytest.fixture(scope="module")
def outlier_run(tmp_path_factory, band_splits) -> Path:
    pytest.importorskip("tensorflow")
    return build_outlier_run(tmp_path_factory.mktemp("outlier") / "run", band_splits)


@pytest.mark.slow
def test_max_drop_keeps_the_fewest_layers_in_float(outlier_run, band_splits, tmp_path):
    pytest.importorskip("onnxruntime")
    from edgewise.export.api import export
    from edgewise.export.report import repairs
    from edgewise.runtime.card import ModelCard

    plain = export(outlier_run, format="all", quantize="int8", splits=band_splits, out=tmp_path / "plain",
                   check=False)  # fmt: skip
    assert {r.artifact for r in plain.rejected} == {"model_int8.tflite", "model_int8.onnx"}

    result = export(outlier_run, format="all", quantize="int8", splits=band_splits, out=tmp_path / "fixed",
                    max_drop=0.5, repair_steps=4)  # fmt: skip
    assert result.ok
    card = ModelCard.load(tmp_path / "fixed" / "edgewise.json")
    for name in ("model_int8.tflite", "model_int8.onnx"):
        info = card.artifacts[name].extra["repair"]
        steps = info["steps"]
        assert info["split"] == "val" and info["met"]
        assert steps[0]["float_layers"] == [] and steps[0]["drop_pp"] > 0.5  # plain int8 over budget
        chosen = steps[info["chosen_step"]]
        assert chosen["drop_pp"] <= 0.5 and chosen["float_layers"] == info["float_layers"]
        first_met = next(i for i, s in enumerate(steps) if s["drop_pp"] <= 0.5)
        assert all(s["drop_pp"] > 0.5 for s in steps[:first_met])  # the search grew until it met it...
        assert len(info["float_layers"]) <= len(steps[first_met]["float_layers"])  # ...then pruned
        assert 0 < len(info["float_layers"]) < info["quantised_layers"]
        # the outlier's producer and its reader are the weighted layers the fallback needs; no more
        assert 0 < len(info["float_weighted_layers"]) <= 2 and info["weighted_layers"] == 4
        assert info["float_weighted_share"] == pytest.approx(len(info["float_weighted_layers"]) / 4)
        # step 0 only validates the plain model (can round to 0.00 s); later steps also re-quantise
        assert steps[0]["seconds"] >= 0 and all(s["seconds"] > 0 for s in steps[1:])
        assert info["ranking"][0]["tensor"]  # the worst layer first, as measured
        assert card.artifacts[name].validated
    assert card.artifacts["model_int8.tflite"].integer_only is False
    lines = repairs(result)
    assert any(line.startswith("model_int8.onnx: --max-drop 0.5:") for line in lines)
    assert any(line.strip().startswith("float: ") for line in lines)


@pytest.mark.slow
def test_max_drop_leaves_an_int8_model_within_budget_alone(run_dir, band_splits):
    from edgewise.export.api import export

    result = export(run_dir, format="tflite", quantize="int8", splits=band_splits, max_drop=5.0)
    info = result.artifacts[0].extra["repair"]
    assert len(info["steps"]) == 1 and info["float_layers"] == [] and info["met"]
    assert result.artifacts[0].integer_only is True


def test_range_group_follows_ops_that_hand_the_range_on():
    from edgewise.export.repair_ranking import range_group as _range_group

    readers = {"relu": ["pool"], "pool": ["conv", "reshape"], "reshape": ["dense"], "conv": ["relu2"]}
    ops = {"relu": "Relu", "pool": "MaxPool", "conv": "Conv", "reshape": "Reshape", "dense": "Gemm"}
    # max-pool and reshape keep the relu's range: their readers must stay float too; conv sets a new one.
    assert _range_group("relu", readers, ops) == ["pool", "conv", "reshape", "dense"]
    assert _range_group("conv", readers, ops) == ["relu2"]
    assert _range_group("dense", readers, ops) == []


def test_float_group_takes_the_producer_whose_range_a_relu_hands_on():
    from edgewise.export.repair_ranking import float_group

    # conv -> relu -> pool -> conv2 -> relu2; ONNX Runtime quantises conv's output with relu's range
    readers = {"conv": ["relu"], "relu": ["pool"], "pool": ["conv2"], "conv2": ["relu2"]}
    producers = {"relu": ["conv"], "pool": ["relu"], "conv2": ["pool"], "relu2": ["conv2"]}
    ops = {"conv": "Conv", "relu": "Relu", "pool": "MaxPool", "conv2": "Conv", "relu2": "Relu"}
    assert float_group("relu", readers, producers, ops) == ("relu", "conv", "pool", "conv2")
    assert float_group("pool", readers, producers, ops) == ("pool", "relu", "conv", "conv2")
    assert float_group("conv", readers, producers, ops) == ("conv", "relu", "pool", "conv2")
    # a join (two producers) sets its own range: nothing upstream joins
    producers["relu"] = ["conv", "other"]
    assert float_group("relu", readers, producers, ops) == ("relu", "pool", "conv2")
