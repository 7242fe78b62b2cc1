"""Can the harness be trusted? Compare `edgewise bench` with a raw engine loop on the same artifact.

    python -m scripts.experiments.harness_vs_raw_loop runs/fm --threads 1,2 --runs 300 --rounds 3

For each artifact and thread count, alternately (``--rounds`` times each):

- *harness*: ``edgewise.benchmarks.harness.measure_in_child``, exactly what ``edgewise bench`` runs (a
  child process, the edgewise backend, its int8 quantise/dequantise at the boundary);
- *raw*: a child process that uses only the engine, no edgewise: ``Interpreter.set_tensor(); invoke();
  get_tensor()`` for .tflite, ``InferenceSession.run()`` for .onnx, with the same thread settings
  (TFLite ``num_threads``; ORT ``intra_op_num_threads``, ``inter_op_num_threads=1``), the same image
  already converted to the graph's input dtype, and the same warm-up and run counts.

Rounds alternate so that load from other processes hits both sides alike; the median of the rounds'
p50s is compared. A second raw loop ("raw + I/O") also does, in plain numpy inside the timed call, the
work the edgewise backend does at its boundary: uint8 pixels to the graph's input dtype (int8 quantisation
for an int8-I/O model) and the output back to float32. The harness is expected to agree with that loop
(same work); the engine-only loop shows what the boundary conversion costs. Prints a Markdown table; the
exit code is 1 when harness and "raw + I/O" differ by more than ``--tolerance`` (default 5%).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


# -- the raw side: no edgewise imports ------------------------------------------------------------------
def _raw_tflite(model: str, threads: int, image: np.ndarray, with_io: bool):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from tflite_runtime.interpreter import Interpreter
    interpreter = Interpreter(model_path=model, num_threads=threads)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    out_detail = interpreter.get_output_details()[0]
    out_index = out_detail["index"]
    in_dtype, (in_scale, in_zero) = np.dtype(detail["dtype"]), detail["quantization"]
    out_scale, out_zero = out_detail["quantization"]
    x = _to_dtype(image, in_dtype, in_scale, in_zero)
    if list(detail["shape"]) != list(x.shape):
        interpreter.resize_tensor_input(detail["index"], list(x.shape), strict=True)
        interpreter.allocate_tensors()
    index = detail["index"]

    def call():
        interpreter.set_tensor(index, x)
        interpreter.invoke()
        return interpreter.get_tensor(out_index)

    # The boundary work done as well as plain numpy does it: 8-bit codes through 256-entry tables.
    quantize = _to_dtype(np.arange(256, dtype=np.uint8), in_dtype, in_scale, in_zero)
    codes = np.arange(256, dtype=np.uint8).view(out_detail["dtype"]).astype(np.float32)
    dequantize = (codes - np.float32(out_zero)) * np.float32(out_scale)

    def call_with_io():
        interpreter.set_tensor(index, quantize.take(image))
        interpreter.invoke()
        out = interpreter.get_tensor(out_index)
        return dequantize.take(out.view(np.uint8)) if out_scale else out.astype(np.float32)

    return call_with_io if with_io else call


def _raw_onnx(model: str, threads: int, image: np.ndarray, with_io: bool):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    dtype = np.dtype({"tensor(float)": "float32", "tensor(int8)": "int8", "tensor(uint8)": "uint8"}[inp.type])
    nchw = len(inp.shape) == 4 and inp.shape[1] in (1, 3) and inp.shape[3] not in (1, 3)

    def convert(pixels: np.ndarray) -> np.ndarray:
        x = _to_dtype(pixels, dtype, 0.0, 0)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if nchw else x

    feeds = {inp.name: convert(image)}
    out_names = [session.get_outputs()[0].name]
    if with_io:
        return lambda: session.run(out_names, {inp.name: convert(image)})[0].astype(np.float32)
    return lambda: session.run(out_names, feeds)


def _to_dtype(image: np.ndarray, dtype: np.dtype, scale: float, zero_point: int) -> np.ndarray:
    if dtype.kind in "iu" and scale:
        q = np.rint(image.astype(np.float32) / np.float32(scale)) + zero_point
        return np.clip(q, np.iinfo(dtype).min, np.iinfo(dtype).max).astype(dtype)
    return image.astype(dtype)


def raw_child(
    model: str, threads: int, runs: int, warmup: int, parity: str | None, out: str, with_io: bool
) -> None:
    if parity:
        with np.load(parity, allow_pickle=False) as npz:
            image = np.ascontiguousarray(npz["images"][:1], dtype=np.uint8)
    else:
        raise SystemExit("raw child needs --parity (the harness uses the parity images too)")
    call = (_raw_tflite if model.endswith(".tflite") else _raw_onnx)(model, threads, image, with_io)
    for _ in range(warmup):
        call()
    samples = []
    gc.disable()
    for _ in range(runs):
        start = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    gc.enable()
    Path(out).write_text(json.dumps({"p50": float(np.percentile(samples, 50)), "samples": samples}))


# -- the driver -----------------------------------------------------------------------------------------
def _raw_p50(model: Path, threads: int, runs: int, warmup: int, parity: Path | None, with_io: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "raw.json"
        cmd = [sys.executable, __file__, "--raw-child", str(model), "--threads", str(threads)]
        cmd += ["--runs", str(runs), "--warmup", str(warmup), "--out", str(out)]
        if parity:
            cmd += ["--parity", str(parity)]
        if with_io:
            cmd.append("--with-io")
        subprocess.run(cmd, check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        return json.loads(out.read_text())["p50"]


def _harness_p50(target, threads: int, settings) -> float:
    from edgewise.benchmarks.harness import measure_in_child

    result = measure_in_child(target.path, threads, settings, parity=target.parity)
    if result.get("status") != "ok":
        raise SystemExit(f"{target.path}: harness failed: {result.get('error')}")
    return result["measurements"][0]["latency_ms"]["p50"]


def compare(paths: list[Path], threads_list: list[int], runs: int, warmup: int, rounds: int) -> list[dict]:
    from edgewise.benchmarks.harness import Settings
    from edgewise.benchmarks.targets import discover

    rows = []
    for target in discover(paths):
        for threads in threads_list:
            settings = Settings(runs=runs, warmup=warmup, threads=[threads], batches=[1])
            harness, raw, raw_io = [], [], []
            for _ in range(rounds):
                harness.append(_harness_p50(target, threads, settings))
                raw.append(_raw_p50(target.path, threads, runs, warmup, target.parity, False))
                raw_io.append(_raw_p50(target.path, threads, runs, warmup, target.parity, True))
            h, r, rio = statistics.median(harness), statistics.median(raw), statistics.median(raw_io)
            rows.append(
                {"artifact": target.path.name, "threads": threads, "harness": h, "raw": r, "raw_io": rio}
            )
            print(
                f"  {target.path.name} threads={threads}: harness {h:.4f} ms, raw {r:.4f} ms, "
                f"raw+I/O {rio:.4f} ms",
                file=sys.stderr,
            )
    return rows


def markdown(rows: list[dict], tolerance: float) -> str:
    lines = [
        "| artifact | threads | harness p50 ms | raw engine p50 ms | harness / raw | raw + I/O p50 ms "
        f"| harness / (raw + I/O) | within ±{tolerance:.0%} |",
        "|---|--:|--:|--:|--:|--:|--:|:-:|",
    ]
    for r in rows:
        ok = "yes" if _agrees(r, tolerance) else "**no**"
        lines.append(
            f"| {r['artifact']} | {r['threads']} | {r['harness']:.4f} | {r['raw']:.4f} | "
            f"{r['harness'] / r['raw']:.3f} | {r['raw_io']:.4f} | {r['harness'] / r['raw_io']:.3f} | {ok} |"
        )
    return "\n".join(lines)


def _agrees(row: dict, tolerance: float) -> bool:
    """The harness against the raw loop doing the same work (the engine call plus the I/O conversion)."""
    return abs(row["harness"] / row["raw_io"] - 1) <= tolerance


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="bundle directories or model files")
    parser.add_argument("--threads", default="1", help="comma-separated thread counts (default 1)")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per side (default 3)")
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--raw-child", metavar="MODEL", help=argparse.SUPPRESS)
    parser.add_argument("--parity", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--with-io", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",")]
    if args.raw_child:
        raw_child(args.raw_child, threads[0], args.runs, args.warmup, args.parity, args.out, args.with_io)
        return 0
    if not args.paths:
        parser.error("give a bundle directory or model files")
    rows = compare(args.paths, threads, args.runs, args.warmup, args.rounds)
    print(markdown(rows, args.tolerance))
    return 0 if all(_agrees(r, args.tolerance) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
