"""What a micro-batcher can gain from the engine alone, no HTTP (issue 14): ms per image at batch 1 and at
batch N, per engine and thread count, measured interleaved so that the machine's load hits every case alike.

For each model file (``.tflite`` through LiteRT, ``.onnx`` through ONNX Runtime) and each ``--threads``:

- ``batch 1``: one image per call;
- ``batch N``: one call on an N-image input (the batcher's best case);
- ``mixed``: calls of the sizes a batcher produces under load (N, 3, N, 5, 2, N, ...): LiteRT resizes its
  input tensor and allocates again whenever the size changes, ONNX Runtime takes any batch as it comes.

``gain`` = ms per image at batch 1 / ms per image at batch N (or mixed): above 1, batching saves engine
time. Figures are the best of ``--repeats`` rounds of ``--calls`` calls (a floor, as the load on a shared
machine only adds).

    python -m scripts.experiments.engine_batch runs/mnv2/model_int8.tflite runs/mnv2/model_fp32.onnx \\
        --batch 8 --threads 1,2 --json engine.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from edgewise.runtime.backends import load_backend

MIXED_SIZES = (8, 3, 8, 5, 2, 8, 6, 4)  # scaled to --batch


def mixed_sizes(batch: int) -> list[int]:
    return [max(1, min(batch, round(s * batch / 8))) for s in MIXED_SIZES]


def time_calls(backend, batches: list[np.ndarray]) -> float:
    """Seconds per image over the calls (one call per array in ``batches``)."""
    t0 = time.perf_counter()
    for batch in batches:
        backend.run(batch)
    return (time.perf_counter() - t0) / sum(len(b) for b in batches)


def measure(model: Path, threads: int, batch: int, repeats: int, calls: int) -> dict:
    backend = load_backend(model, threads=threads)
    shape = tuple(d for d in backend.inputs[0].shape[1:])
    x = np.random.default_rng(0).integers(0, 256, (batch, *shape), np.uint8)
    cases = {
        "batch_1": [x[:1]] * calls,
        f"batch_{batch}": [x] * calls,
        "mixed": [x[:n] for n in mixed_sizes(batch)] * max(1, calls // 2),
    }
    best = {name: float("inf") for name in cases}
    for batches in cases.values():  # warm-up: allocate every size once
        time_calls(backend, batches[:8])
    for _ in range(repeats):
        for name, batches in cases.items():
            best[name] = min(best[name], time_calls(backend, batches))
    ms = {name: 1000 * s for name, s in best.items()}
    return {
        "model": model.name,
        "engine": backend.name,
        "threads": threads,
        "ms_per_image": {k: round(v, 4) for k, v in ms.items()},
        "gain_batch": round(ms["batch_1"] / ms[f"batch_{batch}"], 3),
        "gain_mixed": round(ms["batch_1"] / ms["mixed"], 3),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+", type=Path, help=".tflite / .onnx files")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--calls", type=int, default=10)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    missing = [str(m) for m in args.models if not m.is_file()]
    if missing:
        print(f"engine_batch: error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    threads = [int(t) for t in args.threads.split(",")]
    load_before = os.getloadavg()
    rows = []
    for model in args.models:
        for n in threads:
            row = measure(model, n, args.batch, args.repeats, args.calls)
            rows.append(row)
            ms = row["ms_per_image"]
            print(
                f"{row['model']:<22} {row['engine']:<12} {n} thr  batch 1 {ms['batch_1']:7.3f}  "
                f"batch {args.batch} {ms[f'batch_{args.batch}']:7.3f}  mixed {ms['mixed']:7.3f} ms/image  "
                f"gain {row['gain_batch']:.2f}x (mixed {row['gain_mixed']:.2f}x)",
                flush=True,
            )
    doc = {
        "batch": args.batch,
        "mixed_sizes": mixed_sizes(args.batch),
        "cpu_count": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "rows": rows,
    }
    print(f"load average before {load_before}, after {doc['load_average_after']}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
