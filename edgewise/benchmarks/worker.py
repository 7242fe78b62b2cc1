"""The child process that measures one artifact at one thread count.

``python -m edgewise.benchmarks.worker MODEL --threads N --batches 1,8 --runs R --warmup W --out FILE``

Running each artifact in a fresh process keeps one engine's memory, thread pools and warmed caches from
leaking into the next measurement, and makes the peak RSS (``getrusage``) belong to that artifact alone.
The result is written as JSON to ``--out``; the exit code is 0 whenever that file was written, so the
parent can tell a reported failure (``status: error``) from a crash.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from edgewise.benchmarks import stats
from edgewise.benchmarks.schema import STATUS_ERROR, STATUS_OK, STATUS_UNAVAILABLE
from edgewise.runtime import parity as parity_mod
from edgewise.runtime.argtypes import api_keywords, int_list
from edgewise.runtime.errors import BackendUnavailable, EdgewiseError

ENGINE_INFO_KEYS = ("providers", "threads", "max_batch", "delegate", "arena_bytes")  # + engine, version


def measure(
    model: Path,
    *,
    threads: int | None,
    batches: list[int],
    runs: int,
    warmup: int,
    device: str = "cpu",
    engine: str | None = None,
    parity_path: Path | None = None,
) -> dict[str, Any]:
    """Load ``model``, time its first inference and ``runs`` calls per batch size, check parity."""
    from edgewise.runtime.backends import load_backend

    result: dict[str, Any] = {"status": STATUS_OK, "error": None, "notes": [], "measurements": []}
    rss_before = _peak_rss_mb()
    start = time.perf_counter()
    try:
        backend = load_backend(model, threads=threads, device=device, engine=engine)
    except BackendUnavailable as e:
        return {**result, "status": STATUS_UNAVAILABLE, "error": str(e)}
    load_ms = (time.perf_counter() - start) * 1e3
    result.update(_engine_facts(backend, threads, device), rss_before_load_mb=rss_before)
    if device == "gpu" and result["provider"].lower() in ("", "cpu", "cpuexecutionprovider"):
        result["notes"].append(
            f"asked for gpu but {result['engine']} ran it on {result['provider'] or 'cpu'}"
        )

    parity_set = parity_mod.load_parity(parity_path) if parity_path else None
    sample = _input_pixels(backend, model, parity_set)
    start = time.perf_counter()
    backend.run(sample[:1])
    first_ms = (time.perf_counter() - start) * 1e3

    timed = []
    for batch in batches:
        if backend.max_batch is not None and batch > backend.max_batch:
            note = f"batch {batch} runs as calls of {backend.max_batch} (the graph has a fixed batch size)"
            result["notes"].append(note)
        timed.append((batch, _time_calls(backend, _tile(sample, batch), runs=runs, warmup=warmup)))

    if parity_set is not None:
        result["parity"] = parity_mod.evaluate(backend, parity_set).figures()
        if result["engine"] == "tflm":
            _compare_with_litert(model, backend, parity_set, result)
    common = dict(threads=threads, runs=runs, warmup=warmup, load_ms=load_ms, first_inference_ms=first_ms)
    common["peak_rss_mb"] = _peak_rss_mb()
    result["measurements"] = [_measurement(batch, samples_ms, common) for batch, samples_ms in timed]
    return result


def _engine_facts(backend, threads: int | None, device: str) -> dict[str, Any]:
    """Which engine, version and provider really ran the model, and with how many threads."""
    describe = _describe(backend)
    return {
        "engine": str(describe.get("engine", getattr(backend, "name", ""))),
        "engine_version": str(describe.get("engine_version", "")),
        "provider": str(getattr(backend, "device", describe.get("device", ""))),
        "engine_info": {k: describe[k] for k in ENGINE_INFO_KEYS if k in describe},
        "threads_used": getattr(backend, "threads", threads),
    }


def _measurement(batch: int, samples_ms: list[float], common: dict[str, Any]) -> dict[str, Any]:
    """One measurement record: latency statistics and throughput of one batch size."""
    latency = stats.summarize(samples_ms)
    return {
        "threads": common["threads"],
        "batch": batch,
        "runs": common["runs"],
        "warmup": common["warmup"],
        "latency_ms": latency,
        "throughput_ips": stats.throughput(batch, latency["mean"]),
        "load_ms": common["load_ms"],
        "first_inference_ms": common["first_inference_ms"],
        "peak_rss_mb": common["peak_rss_mb"],
        "samples_ms": [round(s, 4) for s in samples_ms],
    }


def _compare_with_litert(model: Path, backend, parity_set, result: dict[str, Any]) -> None:
    """TFLM runs: the same parity images through LiteRT, compared in the graph's quantised steps."""
    from edgewise.runtime.micro_parity import compare

    if not backend.outputs[0].quantized:
        return
    try:
        figures = compare(model, parity_set.images)
    except BackendUnavailable as e:
        result["notes"].append(f"no LiteRT to compare TFLM with ({e})")
        return
    result["parity"]["vs_litert"] = figures
    reference = figures["reference_kernels"]
    result["notes"].append(
        f"TFLM vs {figures['reference_engine']} int8: top-1 identical on {figures['top1_identical']}/"
        f"{figures['samples']} parity images, max difference {figures['max_step_diff']} quantised step(s) "
        f"(vs its reference kernels: {reference['top1_identical']}/{figures['samples']}, max "
        f"{reference['max_step_diff']}); tensor arena {result['engine_info'].get('arena_bytes', '?')} bytes"
    )


def _time_calls(backend, batch: np.ndarray, *, runs: int, warmup: int) -> list[float]:
    """Wall-clock milliseconds of ``runs`` calls after ``warmup`` untimed ones, with the GC paused."""
    for _ in range(warmup):
        backend.run(batch)
    samples = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(runs):
            start = time.perf_counter_ns()
            backend.run(batch)
            samples.append((time.perf_counter_ns() - start) / 1e6)
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples


def _input_pixels(backend, model: Path, parity_set) -> np.ndarray:
    """uint8 NHWC raw pixels, as ``load_image`` gives them to a Classifier (float32 tensors for a
    non-image model): the parity inputs when there are any, else fixed random ones."""
    if parity_set is not None and len(parity_set):
        images = parity_set.images[:64]
        return np.ascontiguousarray(images, dtype=np.uint8 if images.dtype == np.uint8 else np.float32)
    tensor_shape = _tensor_shape(model)
    if tensor_shape is not None:
        return np.random.default_rng(0).standard_normal((8, *tensor_shape)).astype(np.float32)
    height, width, channels = _input_hwc(backend, model)
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(8, height, width, channels), dtype=np.uint8)


def _tensor_shape(model: Path) -> tuple[int, ...] | None:
    """The sample shape of a non-image model, from its card; None for an image model or without a card."""
    from edgewise.runtime.card import find_card

    card = find_card(model)
    return tuple(card.input.shape) if card is not None and not card.input.is_image else None


def _input_hwc(backend, model: Path) -> tuple[int, int, int]:
    from edgewise.runtime.card import find_card

    card = find_card(model)
    if card is not None:
        return tuple(card.input.shape)  # type: ignore[return-value]
    shape = [d for d in backend.inputs[0].shape[1:]]
    if len(shape) == 3 and shape[0] in (1, 3) and shape[2] not in (1, 3):  # NCHW graph
        shape = [shape[1], shape[2], shape[0]]
    if len(shape) != 3 or any(not isinstance(d, int) for d in shape):
        raise EdgewiseError(f"{model}: cannot tell the input size (shape {backend.inputs[0].shape}, no card)")
    return shape[0], shape[1], shape[2]


def _tile(images: np.ndarray, batch: int) -> np.ndarray:
    reps = -(-batch // len(images))
    return np.ascontiguousarray(np.concatenate([images] * reps, axis=0)[:batch])


def _describe(backend) -> dict[str, Any]:
    try:
        d = backend.describe()
    except Exception as e:  # a description is nice to have; its failure must not lose the measurement
        return {"describe_error": str(e)}
    return d if isinstance(d, dict) else {}


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgewise.benchmarks.worker", description=__doc__)
    parser.add_argument("model", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--batches", type=int_list, default=[1])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--engine", default=None)
    parser.add_argument("--parity", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        result = measure(**api_keywords(args, measure, parity_path=args.parity))
    except EdgewiseError as e:
        result = {"status": STATUS_ERROR, "error": str(e)}
    except Exception as e:  # an engine failing on this artifact is a result to report, not a crash
        traceback.print_exc(file=sys.stderr)
        last = str(e).strip().splitlines()[-1] if str(e).strip() else ""
        result = {"status": STATUS_ERROR, "error": f"{type(e).__name__}: {last}".rstrip(": ")}
    args.out.write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
