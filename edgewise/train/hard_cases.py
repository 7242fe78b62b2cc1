"""Zoo models that plain full-int8 post-training quantisation handles badly, kept reproducible.

They exist to exercise ``edgewise export --max-drop`` (keep the few layers that break in float) and
``--explain`` on models where int8 really loses accuracy, not on the well-behaved demo CNN:

- ``outlier_cnn``: one channel of an intermediate activation is always on at a large, fixed value (as
  the "massive activations" of large transformers are) and a fixed projection drops it again, so the
  float model does not see it; but int8 activations are quantised per tensor, so that one channel sets
  the range and the other channels keep only a few quantisation levels.
- ``outlier_conv1d``: the same always-on channel in a 1-D convolution network of realistic depth (each
  image row is one step of a 28-step sequence; 22 weighted layers, most in residual blocks), so that keeping
  the two layers around the outlier in float is under a tenth of the weighted layers, as the repair's
  target asks. 1-D convolutions are also what tensorflow/tensorflow#60903 lost accuracy on.
- ``tiny_mobilenet``: a small MobileNetV2-style network (inverted residuals, depthwise 3x3 + ReLU6,
  linear bottlenecks) trained from scratch on 28x28 grayscale images. Not a hard case in the end: plain
  int8 loses nothing measurable on it (docs/export.md).

Registered from :mod:`edgewise.train.zoo`; importing this module alone registers nothing new.
"""

from __future__ import annotations

from edgewise.train.zoo import _classifier, _conv_bn_relu, _inputs, _layers, register_model

OUTLIER_OFFSET = 1024.0  # the always-on channel's value; the others are BatchNorm + ReLU outputs, ~0..5


@register_model(
    input_size=(28, 28), channels=1, epochs=4, batch_size=128, lr=3e-3, min_size=8, size_multiple=4
)
def outlier_cnn(input_shape, num_classes, offset=OUTLIER_OFFSET):
    """CNN with one always-on activation channel (value 1024): plain int8 PTQ loses accuracy."""
    import numpy as np

    keras, layers = _layers()
    inputs, x = _inputs(input_shape)
    x = _conv_bn_relu(x, 32)
    x = layers.MaxPooling2D()(x)
    x = _conv_bn_relu(x, 48)
    # Channel 0 gets +offset (fixed weights); ReLU (not ReLU6) keeps it. The fixed 1x1 projection after
    # the pooling drops that channel again, so the float model trains exactly like a plain CNN; only a
    # per-tensor int8 range of the tensors in between sees it.
    shift = layers.DepthwiseConv2D(1, trainable=False, name="channel_offset")
    x = layers.MaxPooling2D()(layers.ReLU()(shift(x)))
    drop = layers.Conv2D(47, 1, use_bias=False, trainable=False, name="drop_outlier")
    x = _conv_bn_relu(drop(x), 64)
    x = layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, _classifier(x, num_classes), name="outlier_cnn")
    bias = np.zeros(48, dtype="float32")
    bias[0] = float(offset)
    shift.set_weights([np.ones((1, 1, 48, 1), dtype="float32"), bias])
    drop.set_weights([np.eye(48, 47, k=-1, dtype="float32")[None, None]])
    return model


@register_model(input_size=(28, 28), channels=1, epochs=3, batch_size=128, lr=3e-3, min_size=8)
def outlier_conv1d(input_shape, num_classes, width=32, blocks=9, offset=OUTLIER_OFFSET):
    """1-D residual conv net over image rows with one always-on channel (value 1024) after its stem:
    22 weighted layers, of which the fixed ``channel_offset`` and ``drop_outlier`` are two."""
    import numpy as np

    keras, layers = _layers()

    def residual(x):
        y = layers.Conv1D(width, 3, padding="same", use_bias=False)(x)
        y = layers.ReLU()(layers.BatchNormalization()(y))
        y = layers.BatchNormalization()(layers.Conv1D(width, 3, padding="same", use_bias=False)(y))
        return layers.ReLU()(layers.Add()([x, y]))

    inputs, x = _inputs(input_shape)
    x = layers.Reshape((input_shape[0], input_shape[1] * input_shape[2]), name="rows")(x)
    x = layers.BatchNormalization()(layers.Conv1D(width, 3, padding="same", use_bias=False)(x))
    # As in outlier_cnn: channel 0 gets +offset (fixed weights), ReLU keeps it, the fixed 1x1 projection
    # after the pooling zeroes it again; the ordinary channels are BatchNorm + ReLU outputs of ~0..5.
    shift = layers.Conv1D(width, 1, trainable=False, name="channel_offset")
    x = layers.MaxPooling1D()(layers.ReLU()(shift(x)))
    drop = layers.Conv1D(width, 1, use_bias=False, trainable=False, name="drop_outlier")
    x = drop(x)
    for _ in range(blocks):
        x = residual(x)
    x = layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, _classifier(x, num_classes), name="outlier_conv1d")
    bias = np.zeros(width, dtype="float32")
    bias[0] = float(offset)
    shift.set_weights([np.eye(width, dtype="float32")[None], bias])
    keep = np.eye(width, dtype="float32")
    keep[0, 0] = 0.0  # channel 0 (the outlier) leaves as zeros
    drop.set_weights([keep[None]])
    return model


@register_model(
    input_size=(28, 28), channels=1, epochs=4, batch_size=128, lr=3e-3, min_size=8, size_multiple=4
)
def tiny_mobilenet(input_shape, num_classes, width=16):
    """MobileNetV2-style net from scratch: inverted residuals with depthwise 3x3 + ReLU6, ~71k parameters."""
    keras, layers = _layers()

    def inverted_residual(x, filters, strides, expansion=4):
        channels = int(x.shape[-1])
        y = layers.Conv2D(channels * expansion, 1, use_bias=False)(x)
        y = layers.ReLU(6.0)(layers.BatchNormalization()(y))
        y = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(y)
        y = layers.ReLU(6.0)(layers.BatchNormalization()(y))
        y = layers.BatchNormalization()(layers.Conv2D(filters, 1, use_bias=False)(y))
        return layers.Add()([x, y]) if strides == 1 and channels == filters else y

    inputs, x = _inputs(input_shape)
    x = _conv_bn_relu(x, width, strides=2)
    for filters, strides in ((width, 1), (2 * width, 2), (2 * width, 1), (4 * width, 2), (4 * width, 1)):
        x = inverted_residual(x, filters, strides)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, _classifier(x, num_classes), name="tiny_mobilenet")
