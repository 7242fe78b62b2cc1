"""Build a tiny, complete export bundle for tests: ``python scripts/ci/make_fixtures.py DIR``.

The bundle follows the bundle interface (docs/architecture.md) but is made with TensorFlow, tf2onnx and
ONNX Runtime directly, not through ``edgewise.export``,
so the runtime and benchmark tests do not depend on the exporter.
It holds a 16x16x3, 3-class CNN trained for a few steps on synthetic images whose class is the dominant
colour channel (so accuracy is meaningful), exported four ways:

    model_fp32.tflite   float I/O
    model_int8.tflite   full integer, int8 input and output tensors
    model_fp32.onnx     float, card embedded in metadata_props["edgewise.card"]
    model_int8.onnx     QDQ int8 (float I/O)
    edgewise.json       the model card with an artifacts entry per file
    parity.npz          images (uint8 N,H,W,C), labels (int64 N), reference (float32 N,K: Keras probabilities)
    gray/               8x8x1 dark/bright model_fp32.tflite + edgewise.json, for the colour-mode tests

It runs in the main (TensorFlow) venv; the runtime-only venv consumes the result via $EDGEWISE_FIXTURES.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from edgewise.runtime.card import CARD_FILE
from edgewise.runtime.parity import PARITY_FILE, ParitySet, write_parity
from edgewise.runtime.quiet import quiet_frameworks

HEIGHT, WIDTH, CHANNELS = 16, 16, 3
LABELS = ["red", "green", "blue"]
SEED = 7
PARITY_SAMPLES = 48
GRAY_DIR, GRAY_LABELS = "gray", ["dark", "bright"]


def synthetic_images(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Noisy images whose class is the channel that is brightest on average."""
    labels = rng.integers(0, len(LABELS), size=n)
    images = rng.integers(0, 120, size=(n, HEIGHT, WIDTH, CHANNELS))
    boost = rng.integers(80, 136, size=(n, HEIGHT, WIDTH))
    images[np.arange(n), :, :, labels] += boost
    return images.clip(0, 255).astype(np.uint8), labels.astype(np.int64)


def build_model(keras, shape=(HEIGHT, WIDTH, CHANNELS), classes=3):
    """Raw 0..255 float pixels in (normalisation inside), softmax probabilities out."""
    inputs = keras.Input(shape, name="pixels")
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu", padding="same")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(8, 3, activation="relu", padding="same")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="tiny_cnn")


def serving_function(tf, model):
    spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name="pixels")
    return tf.function(lambda x: model(x, training=False), input_signature=[spec]), spec


def to_tflite(tf, model, calibration: np.ndarray | None) -> bytes:
    fn, _ = serving_function(tf, model)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()])
    if calibration is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([img[None].astype(np.float32)] for img in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def to_onnx(tf, model, card_json: str, path: Path) -> None:
    import tf2onnx

    fn, spec = serving_function(tf, model)
    proto, _ = tf2onnx.convert.from_function(fn, input_signature=[spec], opset=13)
    entry = proto.metadata_props.add()
    entry.key, entry.value = "edgewise.card", card_json
    path.write_bytes(proto.SerializeToString())


def quantize_onnx_qdq(fp32_path: Path, out_path: Path, calibration: np.ndarray) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self, input_name: str):
            self._batches = iter([{input_name: img[None].astype(np.float32)} for img in calibration])

        def get_next(self):
            return next(self._batches, None)

    import onnx

    input_name = onnx.load(str(fp32_path)).graph.input[0].name
    quantize_static(
        str(fp32_path),
        str(out_path),
        Reader(input_name),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
    )


def make_card(parity_accuracy: float, labels=LABELS, shape=(HEIGHT, WIDTH, CHANNELS)):
    from edgewise.runtime.card import InputSpec, ModelCard

    return ModelCard(
        labels=list(labels),
        input=InputSpec(shape=shape),
        model="tiny_cnn",
        data={"source": "synthetic", "seed": SEED},
        metrics={"test_accuracy": parity_accuracy},
        provenance={"made_by": "scripts/ci/make_fixtures.py"},
    )


def artifact(path: Path, fmt: str, quantize: str, io: str, tools: dict[str, str]):
    from edgewise.runtime.card import Artifact

    data = path.read_bytes()
    return Artifact(
        file=path.name,
        format=fmt,
        quantize=quantize,
        io=io,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        calibration_samples=None if quantize == "fp32" else 32,
        tools=tools,
    )


def build(out_dir: Path) -> Path:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import onnxruntime
    import tensorflow as tf
    import tf2onnx
    from tensorflow import keras

    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    train_x, train_y = synthetic_images(512, rng)
    test_x, test_y = synthetic_images(PARITY_SAMPLES, rng)

    model = build_model(keras)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(train_x.astype(np.float32), train_y, batch_size=32, epochs=3, verbose=0)
    reference = model.predict(test_x.astype(np.float32), verbose=0).astype(np.float32)
    accuracy = float((reference.argmax(1) == test_y).mean())

    out_dir.mkdir(parents=True, exist_ok=True)
    card = make_card(accuracy)
    calibration = train_x[:32]
    tools = {
        "tensorflow": tf.__version__,
        "tf2onnx": tf2onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }

    (out_dir / "model_fp32.tflite").write_bytes(to_tflite(tf, model, None))
    (out_dir / "model_int8.tflite").write_bytes(to_tflite(tf, model, calibration))
    to_onnx(tf, model, card.to_json(), out_dir / "model_fp32.onnx")
    quantize_onnx_qdq(out_dir / "model_fp32.onnx", out_dir / "model_int8.onnx", calibration)

    for name, fmt, quantize, io in (
        ("model_fp32.tflite", "tflite", "fp32", "float"),
        ("model_int8.tflite", "tflite", "int8", "int8"),
        ("model_fp32.onnx", "onnx", "fp32", "float"),
        ("model_int8.onnx", "onnx", "int8", "float"),
    ):
        card.artifacts[name] = artifact(out_dir / name, fmt, quantize, io, tools)
    card.save(out_dir / CARD_FILE)
    write_parity(out_dir / PARITY_FILE, ParitySet(test_x, test_y, reference))
    build_grayscale(out_dir / GRAY_DIR, tf, keras, tools)
    return out_dir


def build_grayscale(out_dir: Path, tf, keras, tools: dict[str, str]) -> None:
    """A second, 8x8x1 two-class model (dark vs bright) for the colour-mode tests; fp32 TFLite only."""
    rng = np.random.default_rng(SEED + 1)
    labels = rng.integers(0, 2, size=256)
    images = (rng.integers(0, 100, size=(256, 8, 8, 1)) + 150 * labels[:, None, None, None]).astype(
        np.float32
    )
    model = build_model(keras, shape=(8, 8, 1), classes=2)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
    model.fit(images, labels, batch_size=32, epochs=4, verbose=0)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "model_fp32.tflite").write_bytes(to_tflite(tf, model, None))
    card = make_card(float("nan"), labels=GRAY_LABELS, shape=(8, 8, 1))
    card.metrics = {}
    card.artifacts["model_fp32.tflite"] = artifact(
        out_dir / "model_fp32.tflite", "tflite", "fp32", "float", tools
    )
    card.save(out_dir / CARD_FILE)


def build_atomically(out_dir: Path) -> Path:
    """Build in a sibling temp dir, then rename into place: concurrent builders never see half a bundle."""
    out_dir = Path(out_dir)
    if (out_dir / PARITY_FILE).is_file():
        return out_dir
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    build(tmp)
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp made it private; the bundle is an ordinary directory
    try:
        os.rename(tmp, out_dir)
    except OSError:  # another process won the race, or out_dir exists but is incomplete
        shutil.rmtree(tmp, ignore_errors=True)
        if not (out_dir / PARITY_FILE).is_file():
            raise
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="directory to write the bundle into (created)")
    parser.add_argument("--force", action="store_true", help="rebuild even when DIR already holds a bundle")
    parser.add_argument("-v", "--verbose", action="store_true", help="show TensorFlow's start-up log lines")
    args = parser.parse_args(argv)
    quiet_frameworks(verbose=args.verbose)
    if args.force and args.out_dir.exists():
        shutil.rmtree(args.out_dir)
    build_atomically(args.out_dir)
    for f in sorted(args.out_dir.iterdir()):
        print(f"{f.stat().st_size:>8}  {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
