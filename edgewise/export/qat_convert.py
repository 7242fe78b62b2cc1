"""A fake-quantised Keras model (:mod:`edgewise.export.qat`) -> int8 TFLite and QDQ ONNX.

- TFLite: ``TFLiteConverter`` with ``Optimize.DEFAULT`` and no representative dataset: every activation's
  scale and zero point come from its FakeQuant op, every kernel's from the per-channel FakeQuant on it.
  (With a representative dataset as well, TF 2.21 leaves a float DEQUANTIZE in the graph; without
  ``TFLITE_BUILTINS_INT8`` the converter does not ask for one.) ``io`` int8 gives int8 input/output.
- ONNX: tf2onnx turns each FakeQuantWithMinMaxVars into a QuantizeLinear/DequantizeLinear pair (uint8).
  The per-channel FakeQuant on a constant kernel is folded into float weights that already lie on the
  int8 grid, so the weights of Conv/MatMul/Gemm are stored back as int8 with a per-channel
  DequantizeLinear, and a Conv's bias as int32 at the input scale times the weight scale, the form ONNX
  Runtime fuses into integer kernels. A Conv1D (Conv + Squeeze in tf2onnx) gets its bias Add moved into
  the Conv and its Squeeze moved after the QuantizeLinear, so that fusion applies to it too.
"""

from __future__ import annotations

import functools

from edgewise.export import keras_model, onnx, tflite
from edgewise.export.converted import Converted, converter_message, quiet
from edgewise.export.errors import ConversionError, require
from edgewise.runtime.card import Format

CALIBRATION_METHOD = "qat"  # the card's calibration_method: ranges trained, not calibrated at export
_WEIGHT_AXIS = {"Conv": 0, "MatMul": 1}  # Gemm: 0 with transB, else 1
_PASS_BACK = {"Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "MaxPool", "Identity"}
_QDQ = {"QuantizeLinear", "DequantizeLinear"}
_FUSED_INTO_QUANTIZE = {"Relu", "Clip"}  # before a QuantizeLinear, ONNX Runtime folds them into its range
_CONSTANT_ARGUMENTS = {"Clip", "Pad", "Resize"}  # their constant inputs are bounds and sizes, not data
_DATA_MOVEMENT = _PASS_BACK | {"Shape", "Gather", "Concat", "Slice"}


def convert(fmt: Format | str, qat_model, *, io: str, calibration_samples: int, opset: int, card_json: str):
    """The int8 artifact of ``qat_model`` in ``fmt``."""
    if Format(fmt) is Format.TFLITE:
        converted = to_tflite(qat_model, io=io)
    else:
        converted = to_onnx(qat_model, opset=opset, card_json=card_json)
    converted.calibration_samples = calibration_samples
    converted.calibration_method = CALIBRATION_METHOD
    return converted


def to_tflite(qat_model, *, io: str = "int8") -> Converted:
    require(*tflite.PACKAGES, purpose="TFLite export")
    import tensorflow as tf

    fn, _ = keras_model.serving_function(qat_model)
    with quiet():
        conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()])
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if io == "int8":
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    try:
        with quiet():
            data = bytes(conv.convert())
    except Exception as e:  # the converter raises ConverterError, RuntimeError, ValueError...
        raise ConversionError(
            f"TFLite int8 conversion of the QAT model failed: {converter_message(e)}"
        ) from None
    ops = tflite.graph_ops(data)
    result = Converted(data=data, io=io, tools={"tensorflow": tf.__version__})
    result.integer_only = not ops.float_ops
    result.extra.update(ops=ops.ops, float_ops=ops.float_ops)
    return result


def to_onnx(qat_model, *, opset: int, card_json: str | None = None) -> Converted:
    from edgewise.runtime.card import Quantize

    require(*onnx.PACKAGES, purpose="ONNX int8 export")
    proto = onnx.to_onnx(qat_model, opset)
    _drop_zero_adds(proto)
    _dense_as_gemm(proto)
    _conv1d_bias_into_conv(proto)
    quantize_weights(proto)
    _quantize_constant_operands(proto)
    _squeeze_after_quantize(proto)
    _drop_unused_initializers(proto)
    float_ops = compute_outside_qdq(proto)
    if card_json is not None:
        onnx.embed_card(proto, card_json)
    result = Converted(data=proto.SerializeToString(), tools=onnx.tool_versions(Quantize.INT8))
    result.integer_only = not float_ops
    result.extra.update(opset=opset, quant_format="QDQ", activations="uint8", per_channel=True,
                        float_ops=float_ops)  # fmt: skip
    return result


def quantize_weights(proto) -> int:
    """Store the float weights of Conv/MatMul/Gemm (on the int8 grid already) as int8 + per-channel
    DequantizeLinear, and Conv/Gemm biases as int32; returns how many weights were stored."""
    import numpy as np
    from onnx import helper, numpy_helper

    graph = proto.graph
    initializers = {i.name: i for i in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    added, stored = [], 0
    for node in list(graph.node):
        axis = _weight_axis(node)
        if axis is None or len(node.input) < 2 or node.input[1] not in initializers:
            continue
        weights = numpy_helper.to_array(initializers[node.input[1]])
        if weights.dtype != np.float32 or weights.ndim < 2:
            continue
        others = tuple(a for a in range(weights.ndim) if a != axis)
        scale = np.maximum(np.abs(weights).max(axis=others), 1e-12).astype(np.float32) / 127
        shape = [1] * weights.ndim
        shape[axis] = -1
        quantized = np.clip(np.round(weights / scale.reshape(shape)), -127, 127).astype(np.int8)
        name = node.input[1]
        added.append(_dequantize(helper, numpy_helper, graph, name, quantized, scale, np.int8, axis))
        node.input[1] = f"{name}_dequantized"
        stored += 1
        input_scale = _input_scale(node.input[0], producers, initializers, numpy_helper)
        if len(node.input) > 2 and node.input[2] in initializers and input_scale is not None:
            bias = numpy_helper.to_array(initializers[node.input[2]]).astype(np.float64)
            bias_scale = (input_scale * scale).astype(np.float32)
            values = np.round(bias / bias_scale).astype(np.int32)
            added.append(
                _dequantize(helper, numpy_helper, graph, node.input[2], values, bias_scale, np.int32, 0)
            )
            node.input[2] = f"{node.input[2]}_dequantized"
    for dequantize in added:
        graph.node.insert(0, dequantize)
    return stored


def _drop_zero_adds(proto) -> None:
    """``Add(x, 0)`` (a Rescaling without offset) reads as ``x``: it would sit unquantised between a
    quantised Mul and its QuantizeLinear."""
    from onnx import numpy_helper

    graph = proto.graph
    initializers = {i.name: i for i in graph.initializer}
    outputs = {o.name for o in graph.output}
    for node in list(graph.node):
        if node.op_type != "Add" or node.output[0] in outputs:
            continue
        zero = [
            n for n in node.input if n in initializers and not numpy_helper.to_array(initializers[n]).any()
        ]
        if len(zero) != 1 or numpy_helper.to_array(initializers[zero[0]]).size != 1:
            continue
        (kept,) = [n for n in node.input if n != zero[0]]
        for reader in graph.node:
            reader.input[:] = [kept if n == node.output[0] else n for n in reader.input]
        graph.node.remove(node)


def _dense_as_gemm(proto) -> None:
    """tf2onnx writes a Dense layer as MatMul + Add(bias); as one Gemm the bias becomes int32 and ONNX
    Runtime runs the layer as an integer kernel instead of a float Add after it."""
    import onnx as onnx_lib
    from onnx import helper, numpy_helper

    graph = proto.graph
    inferred = onnx_lib.shape_inference.infer_shapes(proto).graph
    ranks = {v.name: len(v.type.tensor_type.shape.dim) for v in [*inferred.value_info, *inferred.input]}
    initializers = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    readers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    for node in list(graph.node):
        weights = initializers.get(node.input[1]) if node.op_type == "MatMul" else None
        after = readers.get(node.output[0], [])
        if weights is None or weights.ndim != 2 or ranks.get(node.input[0]) != 2 or len(after) != 1:
            continue
        add = after[0]
        bias = [n for n in add.input if n != node.output[0]]
        if add.op_type != "Add" or len(bias) != 1 or initializers.get(bias[0]) is None:
            continue
        if initializers[bias[0]].shape != (weights.shape[1],):
            continue
        gemm = helper.make_node(
            "Gemm", [node.input[0], node.input[1], bias[0]], [add.output[0]], name=node.name
        )
        graph.node.insert(list(graph.node).index(node), gemm)
        graph.node.remove(node)
        graph.node.remove(add)


def _conv1d_bias_into_conv(proto) -> None:
    """tf2onnx writes a Conv1D as Conv + Squeeze and its bias as an ``Add`` after the Squeeze; as the
    Conv's own bias it becomes int32 (:func:`quantize_weights`) instead of a float Add."""
    from onnx import numpy_helper

    graph = proto.graph
    initializers = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    producers, readers, outputs = _links(graph)
    only_reader = functools.partial(_only_reader, readers=readers, outputs=outputs)
    for add in list(graph.node):
        found = _biased_conv1d(add, producers, initializers) if add.op_type == "Add" else None
        if found is None:
            continue
        conv, squeeze, bias_name = found
        if only_reader(conv) is not squeeze or only_reader(squeeze) is not add:
            continue
        name = f"{bias_name}_conv_bias"
        graph.initializer.append(numpy_helper.from_array(initializers[bias_name].reshape(-1), name))
        conv.input.append(name)
        squeeze.output[0] = add.output[0]
        graph.node.remove(add)


def _biased_conv1d(add, producers: dict, initializers: dict):
    """``(conv, squeeze, bias)`` when ``add`` is Squeeze(Conv without bias) + a constant (1, C, 1)."""
    if len(add.input) != 2:
        return None
    data, bias = add.input if add.input[1] in initializers else reversed(add.input)
    squeeze = producers.get(data)
    conv = producers.get(squeeze.input[0]) if getattr(squeeze, "op_type", None) == "Squeeze" else None
    if conv is None or conv.op_type != "Conv" or len(conv.input) != 2 or conv.input[1] not in initializers:
        return None
    channels = initializers[conv.input[1]].shape[0]
    if bias not in initializers or initializers[bias].shape != (1, channels, 1):  # per channel of N, C, W
        return None
    return conv, squeeze, bias


def _squeeze_after_quantize(proto) -> None:
    """Conv -> Squeeze -> [Relu/Clip] -> QuantizeLinear (tf2onnx's Conv1D) becomes Conv -> [Relu/Clip] ->
    QuantizeLinear -> Squeeze: ONNX Runtime then sees DequantizeLinear -> Conv -> QuantizeLinear and runs a
    QLinearConv (a per-tensor QuantizeLinear commutes with a Squeeze)."""
    graph = proto.graph
    producers, readers, outputs = _links(graph)
    only_reader = functools.partial(_only_reader, readers=readers, outputs=outputs)
    for quantize in [n for n in graph.node if n.op_type == "QuantizeLinear"]:
        chain = [producers.get(quantize.input[0])]
        if chain[-1] is not None and chain[-1].op_type in _FUSED_INTO_QUANTIZE:
            chain.append(producers.get(chain[-1].input[0]))
        squeeze = chain[-1]
        conv = producers.get(squeeze.input[0]) if getattr(squeeze, "op_type", None) == "Squeeze" else None
        if conv is None or conv.op_type != "Conv" or only_reader(conv) is not squeeze:
            continue
        if any(only_reader(n) is None for n in chain) or quantize.output[0] in outputs:
            continue
        first = chain[-2] if len(chain) > 1 else quantize  # reads the Squeeze now, the Conv then
        first.input[0] = conv.output[0]
        for reader in readers.get(quantize.output[0], []):
            reader.input[:] = [squeeze.output[0] if n == quantize.output[0] else n for n in reader.input]
        squeeze.input[0] = quantize.output[0]
        graph.node.remove(squeeze)
        graph.node.insert(list(graph.node).index(quantize) + 1, squeeze)


def _links(graph) -> tuple[dict, dict[str, list], set[str]]:
    """``(producers, readers, graph outputs)``: tensor -> the node writing it / the nodes reading it."""
    producers = {out: node for node in graph.node for out in node.output}
    readers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    return producers, readers, {o.name for o in graph.output}


def _only_reader(node, readers: dict[str, list], outputs: set[str]):
    """The one node reading ``node``'s output, or None (several readers, or a graph output)."""
    found = readers.get(node.output[0], [])
    return found[0] if len(found) == 1 and node.output[0] not in outputs else None


def _quantize_constant_operands(proto) -> None:
    """The constant operand of a Mul/Add between a DequantizeLinear and a QuantizeLinear (a Rescaling, a
    BatchNorm the converter could not fold) stored as 8 bits per tensor, as TFLite stores it: uint8 over
    [0, max] when it has no negative value (a positive scalar is then exact), else int8 symmetric. ONNX
    Runtime then fuses the op into an integer one."""
    import numpy as np
    from onnx import helper, numpy_helper

    graph = proto.graph
    initializers = {i.name: i for i in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    readers: dict[str, list[str]] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node.op_type)
    added = []
    for node in graph.node:
        if node.op_type not in ("Mul", "Add") or readers.get(node.output[0]) != ["QuantizeLinear"]:
            continue
        for i, name in enumerate(node.input):
            other = node.input[1 - i]
            value = numpy_helper.to_array(initializers[name]) if name in initializers else None
            from_dq = getattr(producers.get(other), "op_type", None) == "DequantizeLinear"
            if value is None or not from_dq or value.dtype != np.float32 or not np.abs(value).max() > 0:
                continue
            unsigned = value.min() >= 0
            dtype, levels = (np.uint8, 255) if unsigned else (np.int8, 127)
            scale = np.asarray(np.abs(value).max() / levels, np.float32)
            quantized = np.clip(np.round(value / scale), -levels, levels).astype(dtype)
            added.append(_dequantize(helper, numpy_helper, graph, name, quantized, scale, dtype, 0))
            node.input[i] = f"{name}_dequantized"
    for dequantize in added:
        graph.node.insert(0, dequantize)


def _drop_unused_initializers(proto) -> None:
    used = {name for node in proto.graph.node for name in node.input} | {o.name for o in proto.graph.output}
    for i in reversed(range(len(proto.graph.initializer))):
        if proto.graph.initializer[i].name not in used:
            del proto.graph.initializer[i]


def _weight_axis(node) -> int | None:
    if node.op_type == "Gemm":
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return 0 if trans_b else 1
    return _WEIGHT_AXIS.get(node.op_type)


def _dequantize(helper, numpy_helper, graph, name: str, values, scale, dtype, axis: int):
    """Add ``values`` and ``DequantizeLinear -> name_dequantized`` beside initializer ``name`` (which
    tf2onnx may share with other nodes: :func:`_drop_unused_initializers` removes it when it is not)."""
    import numpy as np

    graph.initializer.extend([
        numpy_helper.from_array(values, f"{name}_quantized"),
        numpy_helper.from_array(np.asarray(scale, np.float32), f"{name}_scale"),
        numpy_helper.from_array(np.zeros(np.shape(scale), dtype), f"{name}_zero_point"),
    ])  # fmt: skip
    node = helper.make_node(
        "DequantizeLinear",
        [f"{name}_quantized", f"{name}_scale", f"{name}_zero_point"],
        [f"{name}_dequantized"],
        name=f"{name}_DequantizeLinear",
        axis=axis,
    )
    return node


def _input_scale(tensor: str, producers: dict, initializers: dict, numpy_helper):
    """The scale of the DequantizeLinear a tensor comes from (through reshapes and the like), or None."""
    node = producers.get(tensor)
    while node is not None and node.op_type in _PASS_BACK:
        node = producers.get(node.input[0])
    if node is None or node.op_type != "DequantizeLinear" or node.input[1] not in initializers:
        return None
    return float(numpy_helper.to_array(initializers[node.input[1]]).reshape(-1)[0])


def compute_outside_qdq(proto) -> list[str]:
    """Op types that compute in float: a compute node with an input not from a DequantizeLinear
    (a constant weight or a float tensor); data-movement ops, the Q/DQ pairs themselves and a Relu or
    Clip read only by a QuantizeLinear excepted."""
    producers = {out: node for node in proto.graph.node for out in node.output}
    readers: dict[str, list[str]] = {}
    for node in proto.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node.op_type)
    initializers = {i.name for i in proto.graph.initializer}
    graph_inputs = {i.name for i in proto.graph.input}
    float_ops = set()
    for node in proto.graph.node:
        if node.op_type in _QDQ or node.op_type in _DATA_MOVEMENT:
            continue
        if node.op_type in _FUSED_INTO_QUANTIZE and readers.get(node.output[0]) == ["QuantizeLinear"]:
            continue
        for name in node.input:
            if not name or name in graph_inputs:
                continue
            source = producers.get(name)
            constant = source is None and name in initializers and node.op_type not in _CONSTANT_ARGUMENTS
            computed = source is not None and source.op_type not in _DATA_MOVEMENT | {"DequantizeLinear"}
            if constant or computed:
                float_ops.add(node.op_type)
    return sorted(float_ops)
