"""Loading the run's Keras model safely, and the one traced function both converters start from."""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import numpy as np

from edgewise.export.errors import require
from edgewise.runtime.errors import ModelFileError

MODEL_FILE = "model.keras"
INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"


def load(path: str | os.PathLike):
    """Load a ``.keras`` file with Keras safe mode (no arbitrary code from ``Lambda`` layers)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(
            f"{path}: no Keras model here (expected {MODEL_FILE} written by `edgewise train`)"
        )
    if not zipfile.is_zipfile(path):  # Keras would say "File not found" for a file that is there
        raise ModelFileError(f"{path}: not a .keras file (a .keras model is a zip archive; this is not one)")
    require("tensorflow", "keras", purpose="export")
    import keras

    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # Keras raises ValueError, TypeError, OSError... for a model it cannot rebuild
        raise ModelFileError(f"{path}: cannot load the Keras model ({_load_failure(e)})") from None


def _load_failure(e: BaseException) -> str:
    """The innermost cause: Keras wraps "Could not locate class 'X'" in a generic deserialisation error."""
    while (e.__cause__ or e.__context__) is not None:
        e = e.__cause__ or e.__context__
    match = re.search(r"Could not locate class '([^']+)'", str(e))
    if match:
        return (
            f"custom layer {match.group(1)!r} is not registered; the code defining it, decorated with "
            "@keras.saving.register_keras_serializable, must be imported before the model can be exported"
        )
    return _first_line(e)


def input_shape(model) -> tuple[int, ...]:
    """The shape of one sample: ``(height, width, channels)`` for an image model, any fixed shape else."""
    shape = tuple(model.inputs[0].shape)
    if len(shape) < 2 or any(d is None for d in shape[1:]):
        raise ModelFileError(
            f"model input shape {shape} has dimensions of no fixed size besides the batch; export needs "
            "fixed sizes (rebuild the model with keras.Input(shape=...) of fixed sizes)"
        )
    return tuple(int(d) for d in shape[1:])


def serving_function(model):
    """``(tf.function, TensorSpec)``: float32 inputs (NHWC pixels) with a dynamic batch -> outputs."""
    import tensorflow as tf

    spec = tf.TensorSpec((None, *input_shape(model)), tf.float32, name=INPUT_NAME)
    fn = tf.function(lambda x: {OUTPUT_NAME: model(x, training=False)}, input_signature=[spec])
    return fn, spec


def predict(model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The reference: the Keras model's float32 probabilities for raw uint8/float pixels."""
    out = [
        np.asarray(model(images[i : i + batch_size].astype(np.float32), training=False), dtype=np.float32)
        for i in range(0, len(images), batch_size)
    ]
    if not out:
        return np.zeros((0, int(model.outputs[0].shape[-1])), dtype=np.float32)
    return np.concatenate(out)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0].rstrip(".") if text else type(e).__name__
