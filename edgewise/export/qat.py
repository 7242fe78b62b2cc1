"""Quantisation-aware training for Keras 3 models: a fake-quantised copy, its ranges, a short fine-tune.

The TF Model Optimization Toolkit's QAT works with Keras 2 only (keras-team/keras#18930). This module
does the part edgewise needs with plain TensorFlow ops the converters already understand:

- weights: Conv2D kernels pass through ``tf.quantization.fake_quant_with_min_max_vars_per_channel``,
  symmetric per output channel over [-127, 127], the scheme TFLite and ONNX Runtime use for int8
  weights; Conv1D, depthwise and dense kernels per tensor (``fake_quant_with_min_max_vars``), as the TF
  Model Optimization Toolkit does: the TFLite converter cannot carry a per-channel range through the
  reshape or transpose those kernels go through. A BatchNorm after a Conv1D or depthwise convolution
  is folded into it first (:mod:`edgewise.export.qat_fold`), so the fake-quantised kernel is the folded
  one and no BatchNorm is left to run in float; after a Conv2D it is not: a per-channel symmetric grid
  scales with the channel, so the converters' own fold lands on the same grid (only the int32 bias differs).
- activations: ``tf.quantization.fake_quant_with_min_max_vars`` (8 bits, asymmetric) on the model input
  and on every tensor the converters keep as a quantised tensor: a layer's output unless its only reader
  is a BatchNormalization or activation fused into it, or the layer only moves values (pooling by max,
  reshape, dropout), which keeps its input's range. A softmax inside a Dense layer is split off so the
  logits get their own range. The ranges are calibrated, then narrowed where that brings the outputs
  closer to the float model's (:mod:`edgewise.export.qat_ranges`). During fine-tuning they are
  trainable (the ops' own gradients) and BatchNorm statistics are frozen.

``edgewise.export.qat_convert`` turns the result into int8 TFLite and QDQ ONNX artifacts.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from edgewise.export import qat_fold, qat_ranges
from edgewise.runtime import formatting
from edgewise.runtime.errors import InputError
from edgewise.runtime.progress import Progress

log = logging.getLogger("edgewise.export")

DEFAULT_LEARNING_RATE = 1e-4
DEFAULT_BATCH_SIZE = 128
PIXEL_RANGE = (0.0, 255.0)  # raw pixels: int8 with scale 1, exact
SOFTMAX_RANGE = (0.0, 255 / 256)  # what TFLite's int8 softmax writes: scale 1/256, zero point -128
_WEIGHTED = {"Conv1D", "Conv2D", "Dense", "DepthwiseConv1D", "DepthwiseConv2D"}
# TFLite folds a BatchNorm into these; after a Conv1D (run as a 2-D convolution between reshapes) or a
# depthwise convolution the copy folds it itself (qat_fold); one left unfolded after a Conv1D stays a MUL
# and an ADD that need ranges of their own.
_FOLDS_BATCHNORM = {"Conv2D", "Dense", "DepthwiseConv2D"}
_PER_CHANNEL = {"Conv2D"}  # Conv1D kernels are reshaped to 2-D by the converter: per tensor
_FUSABLE_ACTIVATIONS = {"linear", "relu", "relu6"}
_KEEPS_RANGE = {"MaxPooling1D", "MaxPooling2D", "Reshape", "Flatten", "Dropout", "InputLayer", "Identity"}


@dataclass
class QatResult:
    """The fine-tuned fake-quantised model and what the card records about it."""

    model: Any
    epochs: int
    learning_rate: float
    seconds: float
    quantizers: int  # activation quantisers inserted
    narrowed: list[str] = field(default_factory=list)  # quantisers whose range the search narrowed
    val_accuracy_keras: float | None = None  # the float model on the validation split
    val_accuracy_before: float | None = None  # the fake-quantised model, before fine-tuning
    val_accuracy_after: float | None = None

    def to_dict(self) -> dict:
        """The card's record (``asdict`` would deep-copy the Keras model)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}

    def summary(self) -> str:
        def pct(value):
            return formatting.pct(value, missing="n/a")

        return (
            f"QAT: {self.epochs} epoch(s) at lr {self.learning_rate:g} in {self.seconds:.0f}s; "
            f"validation top-1 Keras {pct(self.val_accuracy_keras)}, fake-quantised "
            f"{pct(self.val_accuracy_before)} before, {pct(self.val_accuracy_after)} after"
        )


def check_options(
    epochs: int | None, learning_rate: float, *, int8: bool, max_drop=None, explain=False
) -> None:
    """One-line errors for ``--qat-epochs`` / ``--qat-lr`` before anything loads."""
    if epochs is None:
        if learning_rate != DEFAULT_LEARNING_RATE:
            raise InputError("--qat-lr sets the fine-tuning of --qat-epochs; add --qat-epochs N")
        return
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise InputError(f"--qat-epochs must be a whole number of at least 0, not {epochs}")
    if not learning_rate > 0:
        raise InputError(f"--qat-lr must be above 0, not {learning_rate}")
    if not int8:
        raise InputError("--qat-epochs trains for int8 artifacts; add int8 to --quantize")
    if max_drop is not None:
        raise InputError("--qat-epochs and --max-drop are two ways to recover int8 accuracy; choose one")
    if explain:
        raise InputError("--explain measures post-training quantisation; it does not apply to --qat-epochs")


def train_data(splits):
    """The labelled training split QAT fine-tunes on; one-line errors when there is none."""
    train = getattr(splits, "train", None)
    if train is None or not len(train.images):
        raise InputError(
            "--qat-epochs fine-tunes on the training split, and the data have no training images"
        )
    if train.labels is None:
        raise InputError("--qat-epochs fine-tunes on labelled data, and the training images have no labels")
    return train


def quantization_aware(
    model,
    calibration_images: np.ndarray,
    splits,
    *,
    epochs: int,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    batch_size: int = DEFAULT_BATCH_SIZE,
    classifier: bool = True,
    seed: int = 0,
    progress: bool | None = None,
) -> QatResult:
    """A fake-quantised copy of ``model``, ranges set on ``calibration_images``, fine-tuned ``epochs``
    epochs on ``splits.train`` (``model`` itself is not changed). ``progress``: a bar on stderr (default:
    when it is a terminal)."""
    import keras

    if keras.config.backend() != "tensorflow":
        raise InputError(f"--qat-epochs needs the TensorFlow Keras backend, not {keras.config.backend()}")
    train = train_data(splits)
    started = time.perf_counter()
    keras.utils.set_random_seed(seed)
    qat_model, quantizers = fake_quantized(model, pixel_input=calibration_images.dtype == np.uint8)
    images = np.asarray(calibration_images, dtype=np.float32)
    qat_ranges.calibrate(qat_model, quantizers, images)
    narrowed = qat_ranges.narrow_ranges(
        qat_model, quantizers, images, qat_ranges.outputs(model, images), classifier=classifier
    )
    val = getattr(splits, "val", None)
    result = QatResult(qat_model, epochs, learning_rate, 0.0, len(quantizers), narrowed)
    if classifier and val is not None and val.labels is not None and len(val.labels):
        result.val_accuracy_keras = _accuracy(model, val)
        result.val_accuracy_before = _accuracy(qat_model, val)
    log.info("QAT: %d activation quantisers, %d ranges narrowed", len(quantizers), len(narrowed))
    if epochs:
        _fine_tune(qat_model, train, epochs, learning_rate, batch_size, classifier, val, progress)
    if result.val_accuracy_before is not None:
        result.val_accuracy_after = _accuracy(qat_model, val)
    result.seconds = time.perf_counter() - started
    log.info("%s", result.summary())
    return result


# -- the fake-quantised copy ------------------------------------------------------------------------
@functools.cache
@functools.cache
def _activation_quantizer():
    """The ActivationQuantizer layer class (defined on first use: importing this module does not import
    Keras)."""
    import keras
    import tensorflow as tf

    class ActivationQuantizer(keras.layers.Layer):
        """8-bit asymmetric fake quantisation with a trainable [minimum, maximum]."""

        def __init__(self, fixed_range: tuple[float, float] | None = None, **kwargs):
            super().__init__(**kwargs)
            self.enabled = True
            self.fixed_range = fixed_range  # set by the format, not calibrated, narrowed or trained

        def build(self, input_shape):
            low, high = self.fixed_range or (0.0, 1.0)
            trainable = self.fixed_range is None
            self.minimum = self.add_weight(shape=(), initializer=keras.initializers.Constant(low),
                                           trainable=trainable, name="minimum")  # fmt: skip
            self.maximum = self.add_weight(shape=(), initializer=keras.initializers.Constant(high),
                                           trainable=trainable, name="maximum")  # fmt: skip

        def call(self, x):
            if not self.enabled:
                return x
            return tf.quantization.fake_quant_with_min_max_vars(x, self.minimum, self.maximum, num_bits=8)

        def compute_output_shape(self, input_shape):
            return input_shape

    return ActivationQuantizer


def _quantize_kernel(kernel, per_channel: bool):
    """Symmetric [-127, 127]: per output channel (the last axis) for Conv2D, else per tensor."""
    import tensorflow as tf

    if not per_channel:
        bound = tf.maximum(tf.reduce_max(tf.abs(kernel)), 1e-8)
        return tf.quantization.fake_quant_with_min_max_vars(
            kernel, -bound, bound, num_bits=8, narrow_range=True
        )
    axes = list(range(len(kernel.shape) - 1))
    bound = tf.maximum(tf.reduce_max(tf.abs(kernel), axis=axes), 1e-8)
    return tf.quantization.fake_quant_with_min_max_vars_per_channel(
        kernel, -bound, bound, num_bits=8, narrow_range=True
    )


@functools.cache
def _quantized_class(cls):
    """A subclass of the Keras layer class ``cls`` whose call reads its kernel fake-quantised (the call
    is the parent's)."""
    per_channel = cls.__name__ in _PER_CHANNEL
    parent = next((vars(base)["kernel"] for base in cls.__mro__ if "kernel" in vars(base)), None)
    if isinstance(parent, property):  # Dense, Conv: ``kernel`` is a property over ``_kernel``
        kernel = property(lambda self: _quantize_kernel(parent.fget(self), per_channel))
        return type(f"Quantized{cls.__name__}", (cls,), {"kernel": kernel})

    def call(self, inputs):  # depthwise: ``kernel`` is a plain attribute, swapped for the call
        float_kernel = self.kernel
        object.__setattr__(self, "kernel", _quantize_kernel(float_kernel, per_channel))
        try:
            return cls.call(self, inputs)
        finally:
            object.__setattr__(self, "kernel", float_kernel)

    return type(f"Quantized{cls.__name__}", (cls,), {"call": call})


def fake_quantized(model, *, pixel_input: bool = True):
    """``(copy, quantizers)``: ``model`` cloned with fake-quantised kernels and activation quantisers
    (in graph order); the copy starts with ``model``'s weights, BatchNorm folded into the convolution
    before it (:mod:`edgewise.export.qat_fold`) or frozen. ``pixel_input``: the input is raw 0..255
    pixels (quantised exactly, not calibrated)."""
    import keras

    activation_quantizer = _activation_quantizer()
    readers = _readers(model)
    folds = qat_fold.foldable(model)  # BatchNorm name -> the convolution it folds into
    folded = {conv: batchnorm for batchnorm, conv in folds.items()}  # and back
    quantizers: list = []
    inputs_seen: dict[int, Any] = {}

    def quantizer(name: str, fixed_range=None):
        layer = activation_quantizer(fixed_range, name=f"{name}_quant")
        quantizers.append(layer)
        return layer

    def clone(layer):
        config = layer.get_config()
        kind = type(layer).__name__
        if kind in _WEIGHTED:
            if _activation_name(layer) not in _FUSABLE_ACTIVATIONS:
                config["activation"] = "linear"  # split off below: the logits get their own range
            if layer.name in folded:
                config["use_bias"] = True  # the BatchNorm's shift
            return _quantized_class(type(layer)).from_config(config)
        clone = type(layer).from_config(config)
        if kind == "BatchNormalization":
            clone.trainable = False  # inference-mode statistics while fine-tuning
        return clone

    def call(layer, *args, **kwargs):
        args = [_quantized_input(a, quantizer, inputs_seen, pixel_input) for a in args]
        outputs = args[0] if layer.name in folds else layer(*args, **kwargs)  # a folded BatchNorm: gone
        original = model.get_layer(layer.name)
        split = (
            type(original).__name__ in _WEIGHTED and _activation_name(original) not in _FUSABLE_ACTIVATIONS
        )
        if split:
            outputs = quantizer(f"{layer.name}_logits")(outputs)
            outputs = keras.layers.Activation(original.activation, name=f"{layer.name}_activation")(outputs)
        if _keeps_own_range(original, readers, folded):
            softmax = (
                split and _activation_name(original) == "softmax" or type(original).__name__ == "Softmax"
            )
            outputs = quantizer(layer.name, SOFTMAX_RANGE if softmax else None)(outputs)
        return outputs

    copy = keras.models.clone_model(model, clone_function=clone, call_function=call)
    for layer in copy.layers:
        if layer.name in {q.name for q in quantizers}:
            continue
        original = _maybe_layer(model, layer.name)
        if layer.name in folded:
            layer.set_weights(qat_fold.folded_weights(original, model.get_layer(folded[layer.name])))
        elif original is not None and original.weights:
            layer.set_weights(original.get_weights())
    return copy, quantizers


def _quantized_input(tensor, quantizer, seen: dict[int, Any], pixels: bool):
    """A model input gets one quantiser, however many layers read it."""
    history = getattr(tensor, "_keras_history", None)
    if history is None or type(history.operation).__name__ != "InputLayer":
        return tensor
    if id(tensor) not in seen:
        seen[id(tensor)] = quantizer(history.operation.name, PIXEL_RANGE if pixels else None)(tensor)
    return seen[id(tensor)]


def _readers(model) -> dict[str, list[str]]:
    """Layer name -> the class names of the layers that read its output."""
    readers: dict[str, list[str]] = {}
    for layer in model.layers:
        for node in getattr(layer, "_outbound_nodes", []):
            reader = node.operation
            kind = type(reader).__name__
            if kind == "Activation" and _activation_name(reader) in ("relu", "relu6"):
                kind = "ReLU"
            readers.setdefault(layer.name, []).append(kind)
    return readers


def _keeps_own_range(layer, readers: dict[str, list[str]], folded=frozenset()) -> bool:
    """Whether the converters keep ``layer``'s output as a quantised tensor of its own: not when it only
    moves values, nor when its readers fuse into it (a BatchNorm into a convolution or dense layer with
    no activation of its own, or folded into it in the copy (``folded``); a ReLU into anything without
    one). A folded BatchNorm's own range stands for the folded convolution's."""
    kind = type(layer).__name__
    if kind in _KEEPS_RANGE:
        return False
    own = readers.get(layer.name, [])
    if not own or _activation_name(layer) != "linear":
        return True
    fusable = {"ReLU", "BatchNormalization"} if kind in _FOLDS_BATCHNORM or layer.name in folded else {"ReLU"}
    return not all(r in fusable for r in own)


def _activation_name(layer) -> str:
    return getattr(getattr(layer, "activation", None), "__name__", "linear")


def _maybe_layer(model, name: str):
    try:
        return model.get_layer(name)
    except ValueError:
        return None


# -- fine-tuning ------------------------------------------------------------------------------------
def _fine_tune(
    model, train, epochs: int, learning_rate: float, batch_size: int, classifier: bool, val, progress
) -> None:
    import keras

    loss = "sparse_categorical_crossentropy" if classifier else "mean_squared_error"
    metrics = ["accuracy"] if classifier else []
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=metrics)
    validation = (
        (val.images, val.labels) if val is not None and val.labels is not None and len(val.labels) else None
    )

    steps = -(-len(train.images) // batch_size)
    bar = Progress(steps * epochs, "QAT fine-tuning", enabled=progress)

    def report(epoch, logs):
        bar.close()
        figures = ", ".join(f"{k} {v:.4f}" for k, v in sorted((logs or {}).items()))
        log.info("QAT epoch %d/%d: %s", epoch + 1, epochs, figures)

    on_batch = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: bar.update())
    model.fit(
        train.images,
        train.labels,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=True,
        validation_data=validation,
        verbose=0,
        callbacks=[on_batch, keras.callbacks.LambdaCallback(on_epoch_end=report)],
    )


def _accuracy(model, split) -> float:
    probabilities = qat_ranges.outputs(model, np.asarray(split.images, dtype=np.float32))
    return float(np.mean(probabilities.argmax(axis=-1) == np.asarray(split.labels)))
