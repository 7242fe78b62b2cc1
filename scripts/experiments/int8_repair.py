"""Plain int8 PTQ vs edgewise PTQ vs the ``--max-drop`` float fallback vs ``--qat-epochs``, TFLite and ONNX.

    python -m scripts.experiments.int8_repair runs/outlier [--max-drop 1] [--qat-epochs 1]

Every variant is calibrated on the same images (the seeded, class-stratified sample ``edgewise export``
uses) and measured in one process on the same test images: top-1, drop against the Keras model, the share
of quantised layers kept in float, file size, and batch-1 latency on one thread, timed round-robin (one
image through every model in turn) so load from other processes falls on all of them alike.

- ``plain PTQ``: TFLite: ``TFLiteConverter`` with ``Optimize.DEFAULT``, a representative dataset,
  ``TFLITE_BUILTINS_INT8`` and int8 I/O (the documented full-integer recipe; edgewise's own TFLite int8 is
  this recipe, so its "edgewise PTQ" row is the same converter). ONNX: ``quantize_static(fp32.onnx, out,
  reader)`` with every argument at its default.
- ``edgewise PTQ``: ``export(format=F, quantize="int8")``.
- ``edgewise --max-drop PP``: the same, with the budget judged on the validation split. "layers in
  float" counts the quantised activations the plain graph has; "weighted in float" the convolutions and
  dense layers (the issue's target: at most 10 %).
- ``edgewise --qat-epochs K``: quantisation-aware fine-tuning (:mod:`edgewise.export.qat`), both formats
  converted from the one fake-quantised model; its float columns read 0 % only when the artifact is
  integer-only (the card's ``integer_only``), "float ops" otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REJECTED_PREFIX = "rejected_"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="run directory (model.keras + edgewise.json)")
    parser.add_argument("--max-drop", type=float, default=1.0, help="budget, pp of validation top-1")
    parser.add_argument("--repair-steps", type=int, default=8)
    parser.add_argument("--qat-epochs", type=int, default=1, help="QAT fine-tuning epochs (0: ranges only)")
    parser.add_argument("--qat-lr", type=float, default=1e-4)
    parser.add_argument("--calib-samples", type=int, default=300)
    parser.add_argument("--latency-samples", type=int, default=300, help="batch-1 timings per model")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    from edgewise.export import export, keras_model
    from edgewise.runtime.backends import load_backend
    from edgewise.runtime.card import ModelCard
    from edgewise.runtime.formatting import markdown_table as markdown
    from edgewise.train.data import load_splits

    card = ModelCard.load(args.run)
    model = keras_model.load(args.run / keras_model.MODEL_FILE)
    splits = load_splits(**card.data)
    test = splits.test
    reference = keras_model.predict(model, test.images)
    keras_acc = 100 * float(np.mean(reference.argmax(1) == test.labels))

    rows, models, seconds = [], {}, {}
    with tempfile.TemporaryDirectory(prefix="bench-repair-") as tmp:
        tmp = Path(tmp)
        common = dict(splits=splits, calib_samples=args.calib_samples, validate=False, format="all")
        fp32 = export(args.run, quantize="fp32", out=tmp / "fp32", **common)
        started = time.perf_counter()
        ptq = export(args.run, quantize="int8", out=tmp / "ptq", **common)
        seconds["edgewise PTQ"] = time.perf_counter() - started
        started = time.perf_counter()
        fixed = export(args.run, quantize="int8", out=tmp / "fixed", max_drop=args.max_drop, check=False,
                       repair_steps=args.repair_steps, **{**common, "validate": True})  # fmt: skip
        seconds[f"edgewise --max-drop {args.max_drop:g}"] = time.perf_counter() - started
        started = time.perf_counter()
        qat_name = f"edgewise --qat-epochs {args.qat_epochs}"
        tuned = export(args.run, quantize="int8", out=tmp / "qat", qat_epochs=args.qat_epochs,
                       qat_lr=args.qat_lr, check=False, **{**common, "validate": True})  # fmt: skip
        integer_only = {a.format: a.integer_only for a in tuned.artifacts}
        seconds[qat_name] = time.perf_counter() - started
        for fmt in ("tflite", "onnx"):
            models[(fmt, "fp32")] = (fp32.directory / f"model_fp32.{fmt}", None)
            models[(fmt, "plain PTQ")] = (
                plain(fmt, model, splits, args.calib_samples, tmp / f"plain.{fmt}"),
                None,
            )
            models[(fmt, "edgewise PTQ")] = (ptq.directory / f"model_int8.{fmt}", None)
            repaired = next(a for a in fixed.artifacts if a.file == f"model_int8.{fmt}")
            models[(fmt, f"edgewise --max-drop {args.max_drop:g}")] = (
                _written(fixed, f"model_int8.{fmt}"),
                repaired.extra.get("repair"),
            )
            models[(fmt, qat_name)] = (_written(tuned, f"model_int8.{fmt}"), None)

        backends = {key: load_backend(path, threads=args.threads) for key, (path, _) in models.items()}
        latencies = _latencies(backends, test.images[: args.latency_samples])
        for (fmt, variant), (path, repair) in models.items():
            top1 = 100 * float(np.mean(_run(backends[(fmt, variant)], test.images).argmax(1) == test.labels))
            share = weighted = "0%" if variant != "fp32" else "100%"
            if variant == qat_name:
                share = weighted = "0% (integer-only)" if integer_only[fmt] else "float ops"
            if repair:
                kept, total = len(repair["float_layers"]), repair["quantised_layers"]
                share = f"{100 * repair['float_share']:.0f}% ({kept}/{total})"
                kept, total = len(repair.get("float_weighted_layers", [])), repair.get("weighted_layers")
                weighted = f"{100 * repair.get('float_weighted_share', 0):.0f}% ({kept}/{total})"
            p50 = 1e3 * np.percentile(latencies[(fmt, variant)], 50)
            size = path.stat().st_size / 1024
            drop = keras_acc - top1
            figures = [f"{top1:.2f}", f"{drop:+.2f}", share, weighted, f"{size:.1f}", f"{p50:.3f}"]
            gate = " (rejected by the test gate)" if path.name.startswith(REJECTED_PREFIX) else ""
            rows.append([fmt, variant + gate, *figures])

    print(
        f"run: {args.run}  model: {card.model or '?'}  test images: {len(test.labels)}  "
        f"Keras top-1: {keras_acc:.2f}%  calibration: {args.calib_samples} train images  "
        f"budget: {args.max_drop:g} pp on {len(splits.val.labels)} validation images (at most 2000 used)"
    )
    print(f"latency: batch 1, {args.threads} thread(s), {args.latency_samples} images per model, round-robin")
    print()
    header = ["format", "variant", "test top-1 %", "drop pp", "layers in float", "weighted in float", "KiB",
              "p50 ms"]  # fmt: skip
    print(markdown(header, rows))
    print()
    for artifact in fixed.artifacts:
        repair = artifact.extra.get("repair") or {}
        steps = repair.get("steps", [])
        print(
            f"{artifact.file}: plain validation drop {steps[0]['drop_pp']:+.2f} pp; "
            + "; ".join(
                f"{len(s['float_layers'])} float -> {s['drop_pp']:+.2f} pp ({s['seconds']:.1f} s)"
                for s in steps[1:]
            )  # fmt: skip
            + f"; ranking {repair.get('rank_seconds', 0):.1f} s; met: {repair.get('met')}"
            + (f"; recipe {repair['recipe']}" if repair.get("recipe") else "")
        )
    for artifact in tuned.artifacts:
        info = artifact.extra["qat"]
        print(
            f"{artifact.file} (QAT): integer-only {artifact.integer_only}, float ops "
            f"{artifact.extra.get('float_ops') or 'none'}; validation top-1 Keras "
            f"{100 * info['val_accuracy_keras']:.2f}%, fake-quantised "
            f"{100 * info['val_accuracy_before']:.2f}% before / "
            f"{100 * info['val_accuracy_after']:.2f}% after {info['epochs']} epoch(s); "
            f"ranges narrowed: {', '.join(info['narrowed']) or 'none'}"
        )
    print("export wall time: " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()))
    return 0


def _written(result, name: str) -> Path:
    """The artifact's file; one the test gate set aside is copied to ``rejected_<name>`` (the engines read
    the format from the suffix) so that it is measured and shown too, marked as rejected."""
    from edgewise.export.bundle import REJECTED_SUFFIX

    final = result.directory / name
    if final.exists():
        return final
    shown = result.directory / f"{REJECTED_PREFIX}{name}"
    shutil.copyfile(result.directory / f"{name}{REJECTED_SUFFIX}", shown)
    return shown


def plain(fmt: str, model, splits, calib_samples: int, out: Path) -> Path:
    """The textbook int8 recipe of each tool, every option at its default, on edgewise's calibration set."""
    from edgewise.export.calibration import CalibrationSet
    from edgewise.export.converted import quiet

    calibration = CalibrationSet.sample(splits.train.images, splits.train.labels, calib_samples)
    if fmt == "tflite":
        import tensorflow as tf

        from edgewise.export import keras_model

        fn, _ = keras_model.serving_function(model)
        with quiet():
            conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()])
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.representative_dataset = calibration.representative_dataset()
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            conv.inference_input_type = conv.inference_output_type = tf.int8
            out.write_bytes(conv.convert())
        return out
    import onnx
    from onnxruntime.quantization import quantize_static

    from edgewise.export import onnx as onnx_export

    fp32 = out.with_suffix(".fp32.onnx")
    onnx.save(onnx_export.to_onnx(model), fp32)
    with quiet():
        quantize_static(str(fp32), str(out), calibration.reader("input"))
    return out


def _run(backend, images: np.ndarray) -> np.ndarray:
    step = min(backend.max_batch or 500, 500)
    return np.concatenate([backend.run(images[i : i + step]) for i in range(0, len(images), step)])


def _latencies(backends: dict, images: np.ndarray) -> dict:
    times: dict = {key: [] for key in backends}
    for backend in backends.values():  # warm-up
        for image in images[:20]:
            backend.run(image[None])
    for image in images:
        for key, backend in backends.items():
            start = time.perf_counter()
            backend.run(image[None])
            times[key].append(time.perf_counter() - start)
    return times


if __name__ == "__main__":
    sys.exit(main())
