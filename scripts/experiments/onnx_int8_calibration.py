"""Compare edgewise's int8 ONNX export with plain ``quantize_static`` defaults on one trained run.

    python -m scripts.experiments.onnx_int8_calibration runs/fm [--seeds 5] [--calib-samples 300]
        [--latency-samples 500]

Every variant is quantised from the same float ONNX graph with the same calibration images (the seeded,
class-stratified sample ``edgewise export`` uses) and measured in the same process on the same held-out
images: top-1 accuracy, agreement with the Keras model, and batch-1 latency, timed round-robin (one image
through every model in turn) so that load from other processes falls on all of them alike.

- ``plain quantize_static``: ``quantize_static(fp32.onnx, out.onnx, reader)``, every argument default
  (QDQ, per-tensor weights, MinMax, no pre-processing).
- ``edgewise --calibration M``: ``edgewise.export.export(..., format="onnx", quantize="int8")``:
  ``quant_pre_process``, per-channel weights, calibration method M.

"top-1 %", "drop pp" (against the Keras model), "agree %" (same top-1 as Keras) and "max abs diff" are on
the test split; "val top-1 %" is on the validation split, the one to choose a default by. With
``--seeds N`` the comparison is repeated with N calibration samples (seeds SEED..SEED+N-1), because
differences of a few images out of 10,000 are within what the choice of 300 calibration images moves.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from edgewise.runtime.sampling import DEFAULT_SEED

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
PLAIN = "plain quantize_static"
METHODS = ("minmax", "entropy", "percentile")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="run directory (model.keras + edgewise.json)")
    parser.add_argument("--calib-samples", type=int, default=300)
    parser.add_argument("--latency-samples", type=int, default=500, help="batch-1 timings per model")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="calibration sample seed")
    parser.add_argument("--seeds", type=int, default=1, help="repeat with this many calibration seeds")
    args = parser.parse_args(argv)

    import onnx

    from edgewise.export import keras_model
    from edgewise.export import onnx as onnx_export
    from edgewise.runtime.backends import load_backend
    from edgewise.runtime.card import ModelCard
    from edgewise.runtime.formatting import markdown_table as markdown
    from edgewise.train.data import load_splits

    card = ModelCard.load(args.run)
    model = keras_model.load(args.run / keras_model.MODEL_FILE)
    splits = load_splits(**card.data)
    test, val = splits.test, splits.val
    reference = keras_model.predict(model, test.images)
    keras_acc = float(np.mean(reference.argmax(1) == test.labels))

    per_seed: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-onnx-int8-") as tmp:
        tmp = Path(tmp)
        onnx.save(onnx_export.to_onnx(model), tmp / "fp32.onnx")
        for i, seed in enumerate(range(args.seed, args.seed + args.seeds)):
            models = variants(
                args.run, splits, tmp / "fp32.onnx", tmp / f"seed{seed}", seed, args.calib_samples
            )
            if i > 0:
                models.pop("fp32 (reference)")
            backends = {name: load_backend(path, threads=args.threads) for name, path in models.items()}
            for name, backend in backends.items():
                figures = measure(backend, test, val, reference)
                figures["kib"] = models[name].stat().st_size / 1024
                per_seed.setdefault(name, []).append(figures)
            if i == 0:
                latencies = _latencies(backends, test.images[: args.latency_samples])

    print(
        f"run: {args.run}  model: {card.model or '?'}  test images: {len(test.labels)}  "
        f"Keras top-1: {100 * keras_acc:.2f}%  "
        f"calibration: {args.calib_samples} train images (seed {args.seed})"
    )
    print(
        f"latency: batch 1, {args.threads} thread(s), {args.latency_samples} images per model, round-robin; "
        f"onnxruntime {_version('onnxruntime')}, {os.cpu_count()} CPUs"
    )
    print()
    header = ["variant", "KiB", "val top-1 %", "top-1 %", "drop pp", "agree %", "max abs diff"]
    header += ["mean ms", "p50 ms", "p90 ms"]
    rows = []
    for name, runs in per_seed.items():
        f, lat = runs[0], latencies[name]
        rows.append([name, f"{f['kib']:.1f}", f"{f['val']:.2f}", f"{f['test']:.2f}"])
        rows[-1] += [f"{100 * keras_acc - f['test']:+.2f}", f"{f['agree']:.2f}", f"{f['max_diff']:.4f}"]
        rows[-1] += [f"{1e3 * q:.3f}" for q in (np.mean(lat), np.percentile(lat, 50), np.percentile(lat, 90))]
    print(markdown(header, rows))

    if args.seeds > 1:
        print()
        print(
            f"over {args.seeds} calibration seeds ({args.seed}..{args.seed + args.seeds - 1}), "
            "mean [min, max]:"
        )
        print()
        plain_test = [f["test"] for f in per_seed[PLAIN]]
        rows = []
        for name, runs in per_seed.items():
            if len(runs) < 2:
                continue
            tests = [f["test"] for f in runs]
            wins = sum(t >= p for t, p in zip(tests, plain_test, strict=True))
            rows.append(
                [name, _spread([f["val"] for f in runs]), _spread(tests), _spread([f["agree"] for f in runs]),
                 "-" if name == PLAIN else f"{wins}/{len(runs)}"]
            )  # fmt: skip
        print(markdown(["variant", "val top-1 %", "top-1 %", "agree %", "top-1 >= plain"], rows))
    return 0


def variants(run: Path, splits, fp32: Path, out: Path, seed: int, calib_samples: int) -> dict[str, Path]:
    """The float model, plain ``quantize_static`` and edgewise's export per method, on one calibration set."""
    from onnxruntime.quantization import quantize_static

    from edgewise.export import export
    from edgewise.export import onnx as onnx_export
    from edgewise.export.calibration import CalibrationSet
    from edgewise.export.converted import quiet

    out.mkdir(parents=True)
    calibration = CalibrationSet.sample(splits.train.images, splits.train.labels, calib_samples, seed)
    models = {"fp32 (reference)": fp32}
    with quiet():
        quantize_static(str(fp32), str(out / "plain.onnx"), calibration.reader("input"))
    models[PLAIN] = out / "plain.onnx"
    for method in METHODS:
        export(run, format="onnx", quantize="int8", out=out / method, calibration=method,
               calib_samples=calib_samples, seed=seed, validate=False, splits=splits)  # fmt: skip
        default = " (default)" if method == onnx_export.DEFAULT_CALIBRATION else ""
        models[f"edgewise --calibration {method}{default}"] = out / method / "model_int8.onnx"
    return models


def measure(backend, test, val, reference: np.ndarray) -> dict[str, float]:
    outputs = _run(backend, test.images)
    top1 = outputs.argmax(1)
    return {
        "test": 100 * float(np.mean(top1 == test.labels)),
        "val": 100 * float(np.mean(_run(backend, val.images).argmax(1) == val.labels))
        if len(val.labels)
        else np.nan,
        "agree": 100 * float(np.mean(top1 == reference.argmax(1))),
        "max_diff": float(np.abs(outputs - reference).max()),
    }


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


def _spread(values: list[float]) -> str:
    return f"{np.mean(values):.2f} [{min(values):.2f}, {max(values):.2f}]"


def _version(module: str) -> str:
    import importlib

    return importlib.import_module(module).__version__


if __name__ == "__main__":
    sys.exit(main())
