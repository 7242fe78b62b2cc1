"""Compare edgewise's int8 ONNX export with plain ``quantize_static`` defaults on one trained run.

    python scripts/bench_onnx_int8.py runs/fm [--calib-samples 300] [--latency-samples 500] [--threads 1]

Every variant is quantised from the same float ONNX graph with the same calibration images (the seeded,
class-stratified sample ``edgewise export`` uses) and measured in the same process on the same held-out
images: top-1 accuracy, agreement with the Keras model, and batch-1 latency, timed round-robin (one image
through every model in turn) so that load from other processes falls on all of them alike.

- ``plain quantize_static``: ``quantize_static(fp32.onnx, out.onnx, reader)``, every argument default
  (QDQ, per-tensor weights, MinMax, no pre-processing).
- ``edgewise --calibration M``: ``edgewise.export.export(..., format="onnx", quantize="int8")``:
  ``quant_pre_process``, per-channel weights, calibration method M.

"top-1 %", "drop pp" (against the Keras model), "agree %" (same top-1 as Keras) and "max abs diff" are on
the test split; "val top-1 %" is on the validation split, the one to choose a default by.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="run directory (model.keras + edgewise.json)")
    parser.add_argument("--calib-samples", type=int, default=300)
    parser.add_argument("--latency-samples", type=int, default=500, help="batch-1 timings per model")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1337)
    args = parser.parse_args(argv)

    from edgewise.export import export, keras_model
    from edgewise.export import onnx as onnx_export
    from edgewise.export.calibration import CalibrationSet
    from edgewise.export.converted import quiet
    from edgewise.runtime.backends import load_backend
    from edgewise.runtime.card import ModelCard
    from edgewise.train.data import load_splits

    card = ModelCard.load(args.run)
    model = keras_model.load(args.run / keras_model.MODEL_FILE)
    splits = load_splits(**card.data)
    test = splits.test
    calibration = CalibrationSet.sample(
        splits.train.images, splits.train.labels, args.calib_samples, args.seed
    )
    reference = keras_model.predict(model, test.images)
    keras_acc = float(np.mean(reference.argmax(1) == test.labels))
    val = splits.val

    with tempfile.TemporaryDirectory(prefix="bench-onnx-int8-") as tmp:
        tmp = Path(tmp)
        import onnx
        from onnxruntime.quantization import quantize_static

        onnx.save(onnx_export.to_onnx(model), tmp / "fp32.onnx")
        models = {"fp32 (reference)": tmp / "fp32.onnx"}
        with quiet():
            quantize_static(str(tmp / "fp32.onnx"), str(tmp / "plain.onnx"), calibration.reader("input"))
        models["plain quantize_static"] = tmp / "plain.onnx"
        for method in ("minmax", "entropy", "percentile"):
            out = tmp / method
            export(
                args.run,
                format="onnx",
                quantize="int8",
                out=out,
                calibration=method,
                calib_samples=args.calib_samples,
                seed=args.seed,
                validate=False,
                splits=splits,
            )
            default = " (default)" if method == onnx_export.DEFAULT_CALIBRATION else ""
            models[f"edgewise --calibration {method}{default}"] = out / "model_int8.onnx"

        backends = {name: load_backend(path, threads=args.threads) for name, path in models.items()}
        rows = []
        latencies = _latencies(backends, test.images[: args.latency_samples])
        for name, backend in backends.items():
            outputs = _run(backend, test.images)
            top1 = outputs.argmax(1)
            val_acc = (
                np.mean(_run(backend, val.images).argmax(1) == val.labels) if len(val.labels) else np.nan
            )
            lat = latencies[name]
            rows.append(
                [
                    name,
                    f"{models[name].stat().st_size / 1024:.1f}",
                    f"{100 * val_acc:.2f}",
                    f"{100 * np.mean(top1 == test.labels):.2f}",
                    f"{100 * (keras_acc - np.mean(top1 == test.labels)):+.2f}",
                    f"{100 * np.mean(top1 == reference.argmax(1)):.2f}",
                    f"{np.abs(outputs - reference).max():.4f}",
                    f"{1e3 * np.mean(lat):.3f}",
                    f"{1e3 * np.percentile(lat, 50):.3f}",
                    f"{1e3 * np.percentile(lat, 90):.3f}",
                ]
            )

    print(
        f"run: {args.run}  model: {card.model or '?'}  test images: {len(test.labels)}  "
        f"Keras top-1: {100 * keras_acc:.2f}%  "
        f"calibration: {len(calibration)} train images (seed {args.seed})"
    )
    print(
        f"latency: batch 1, {args.threads} thread(s), {args.latency_samples} images per model, round-robin; "
        f"onnxruntime {_ort_version()}, {os.cpu_count()} CPUs"
    )
    print()
    header = [
        "variant",
        "KiB",
        "val top-1 %",
        "top-1 %",
        "drop pp",
        "agree %",
        "max abs diff",
        "mean ms",
        "p50 ms",
        "p90 ms",
    ]
    from edgewise.export.report import markdown

    print(markdown(header, rows))
    return 0


def _run(backend, images: np.ndarray) -> np.ndarray:
    return np.concatenate([backend.run(images[i : i + 500]) for i in range(0, len(images), 500)])


def _latencies(backends: dict, images: np.ndarray) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in backends}
    for backend in backends.values():  # warm-up
        for image in images[:20]:
            backend.run(image[None])
    for image in images:
        for name, backend in backends.items():
            start = time.perf_counter()
            backend.run(image[None])
            times[name].append(time.perf_counter() - start)
    return times


def _ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


if __name__ == "__main__":
    sys.exit(main())
