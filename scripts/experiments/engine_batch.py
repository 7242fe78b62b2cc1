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

With ``--requests`` it also times what ``edgewise serve`` does for one ``/predict`` apart from the socket
(decode the upload, run the engine, answer JSON; in-process, batching off) for the bundle's first held-out
image as PNG, JPEG and JSON pixels, and prints the engine's share of it: batching can save at most that
share, so ``bound`` = the requests/s ratio micro-batching could reach with this engine gain if HTTP
handling cost nothing more.

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
from edgewise.runtime.parity import PARITY_FILE, load_parity

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


def request_costs(model: Path, threads: int, repeats: int, calls: int) -> dict:
    """Median ms of ``ServeApp.predict`` (no socket) per upload kind, and of the engine alone at batch 1."""
    import io
    import json as json_module
    import statistics

    from PIL import Image

    from edgewise.runtime import Classifier
    from edgewise.serve import ServeApp, ServeConfig

    clf = Classifier(model, threads=threads)
    app = ServeApp(clf, ServeConfig(max_batch=1))
    image = load_parity(model.parent / PARITY_FILE).images[0]
    bodies = {"application/json": json_module.dumps({"pixels": image.tolist()}).encode()}
    for fmt in ("PNG", "JPEG"):
        buf = io.BytesIO()
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buf, fmt)
        bodies[f"image/{fmt.lower()}"] = buf.getvalue()
    pixels = clf.preprocess(image)[None]
    timings: dict[str, list[float]] = {kind: [] for kind in (*bodies, "engine")}
    for _ in range(repeats):
        for _ in range(calls):
            for ctype, body in bodies.items():
                t0 = time.perf_counter()
                app.predict(ctype, body, 5)
                timings[ctype].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            clf.backend.run(pixels)
            timings["engine"].append(time.perf_counter() - t0)
    app.close()
    ms = {kind: round(1000 * statistics.median(t), 4) for kind, t in timings.items()}
    request = statistics.mean(ms[c] for c in bodies)  # the clean set's mix: one of each in turn
    return {"ms": ms, "mean_request_ms": round(request, 4), "engine_share": round(ms["engine"] / request, 4)}


def batching_bound(engine_share: float, gain: float) -> float:
    """Requests/s ratio if batching cut the engine's share of a request by ``gain`` and nothing else."""
    return 1 / (1 - engine_share * (1 - 1 / gain))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+", type=Path, help=".tflite / .onnx files")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--calls", type=int, default=10)
    p.add_argument("--requests", action="store_true", help="also time a /predict request without the socket")
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
            if args.requests:
                row["request"] = costs = request_costs(model, n, args.repeats, args.calls)
                row["bound"] = round(batching_bound(costs["engine_share"], row["gain_batch"]), 3)
                print(
                    f"{'':<22} /predict without the socket {costs['ms']} ms; engine share "
                    f"{costs['engine_share']:.0%}: batching could reach {row['bound']:.2f}x",
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
