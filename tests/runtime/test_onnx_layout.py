"""ONNX graphs that take NCHW input (e.g. exported from PyTorch) still get NHWC pixels from callers."""

import numpy as np
import pytest

from edgewise.runtime import Classifier
from edgewise.runtime.backends import load_backend


@pytest.fixture(scope="module")
def nchw_model(tmp_path_factory):
    onnx = pytest.importorskip("onnx")  # building the graph needs onnx; running it does not
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["x"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"]),
            helper.make_node("Softmax", ["flat"], ["probs"], axis=1),
        ],
        "brightest_channel",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path_factory.mktemp("nchw") / "model.onnx"
    onnx.save(model, path)
    return path


def test_nchw_input_is_detected_and_transposed(nchw_model):
    backend = load_backend(nchw_model)
    assert backend.layout == "NCHW"
    pixels = np.zeros((2, 8, 8, 3), np.uint8)
    pixels[0, ..., 2] = 200  # blue brightest
    pixels[1, ..., 0] = 200  # red brightest
    assert backend.run(pixels).argmax(1).tolist() == [2, 0]


def test_classifier_without_card_reads_hwc_from_an_nchw_graph(nchw_model):
    clf = Classifier(nchw_model)
    assert clf.input_shape == (8, 8, 3) and clf.labels == ["0", "1", "2"]
    green = np.zeros((20, 20, 3), np.uint8)
    green[..., 1] = 255
    assert clf.predict(green, top=1)[0][0][0] == "1"
