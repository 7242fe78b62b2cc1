"""Why int8 can be slower than fp32 on a depthwise-separable net, per engine, and which variant is fastest.

    python -m scripts.experiments.make_photos ...; edgewise train ...; then
    python -m scripts.experiments.int8_depthwise RUN_DIR --out DIR [--rounds 10] [--block 30] [--threads 1]

(the whole recipe, photo folder to table, is ``bash scripts/experiments/int8_depthwise.sh``).

From the Keras model of RUN_DIR it builds, into DIR (reused when present):

- TFLite: fp32; int8 with int8 I/O (edgewise's default); int8 with float I/O; int8 per-tensor weights;
- ONNX: fp32; static int8 in every combination of QDQ / QOperator, S8S8 / U8S8 (activations / weights),
  per-channel / per-tensor weights, and ``reduce_range``; all from the same ``quant_pre_process``-ed graph
  and the same calibration images (the seeded sample ``edgewise export`` uses, minmax ranges).

Then, in one process, batch 1, in interleaved rounds (each round runs every configuration for a block
of warm calls in turn, so load from other processes falls on all alike), with the engines used directly:

1. **latency** of every model, LiteRT with and without its default XNNPACK delegate, ONNX Runtime at
   graph optimisation levels basic / extended / all; min, p50, p90 and the p50 ratio to the same
   engine's fp32;
2. **agreement** (top-1 vs the Keras model) and max abs diff on the run's held-out images, so a fast but
   wrong variant is visible;
3. **per-op time**: ONNX Runtime's profiler (median kernel time per node, summed per op type and, for
   convolutions, per kind: depthwise / 1x1 / stem); LiteRT by *op-by-op submodels*: cumulative prefix
   models (operators 0..k, same tensors and quantisation) timed through the same engine and XNNPACK, op k
   costing p50(prefix k) - p50(prefix k-1), summed per kind (small ops can come out negative: noise).

Prints Markdown tables; nothing is written outside DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from edgewise.runtime.sampling import DEFAULT_SEED

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ORT_VARIANTS = {  # name: (format, activations, weights, per_channel, reduce_range)
    "QDQ S8S8 per-channel": ("QDQ", "s8", "s8", True, False),
    "QDQ U8S8 per-channel": ("QDQ", "u8", "s8", True, False),
    "QDQ U8S8 per-channel reduce_range": ("QDQ", "u8", "s8", True, True),
    "QDQ S8S8 per-tensor": ("QDQ", "s8", "s8", False, False),
    "QDQ U8S8 per-tensor": ("QDQ", "u8", "s8", False, False),
    "QOperator S8S8 per-channel": ("QOperator", "s8", "s8", True, False),
    "QOperator U8S8 per-channel": ("QOperator", "u8", "s8", True, False),
    "QOperator U8S8 per-tensor": ("QOperator", "u8", "s8", False, False),
    "QOperator U8U8 per-tensor": ("QOperator", "u8", "u8", False, False),
}
TFLITE_VARIANTS = {  # name: (io, per_channel)
    "int8 io int8 per-channel": ("int8", True),
    "int8 io float per-channel": ("float", True),
    "int8 io int8 per-tensor": ("int8", False),
}
ORT_LEVELS = ("basic", "extended", "all")


# -- building the variants ------------------------------------------------------------------------------
def build(run: Path, out: Path, calib_samples: int, seed: int) -> tuple[dict[str, Path], object]:
    from edgewise.export import keras_model
    from edgewise.export.calibration import CalibrationSet
    from edgewise.runtime.card import ModelCard
    from edgewise.train.data import load_splits

    card = ModelCard.load(run)
    splits = load_splits(**card.data)
    calibration = CalibrationSet.sample(splits.train.images, splits.train.labels, calib_samples, seed)
    model = keras_model.load(run / keras_model.MODEL_FILE)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    paths["tflite fp32"] = _once(out / "tflite_fp32.tflite", lambda p: _tflite(model, "fp32", None, p))
    for name, (io, per_channel) in TFLITE_VARIANTS.items():
        file = out / f"tflite_{name.replace(' ', '_')}.tflite"
        paths[f"tflite {name}"] = _once(
            file,
            lambda p, io=io, pc=per_channel: _tflite(model, "int8", calibration, p, io=io, per_channel=pc),
        )
    fp32_onnx = _once(out / "onnx_fp32.onnx", lambda p: _onnx_fp32(model, p))
    paths["onnx fp32"] = fp32_onnx
    prepared = _once(out / "onnx_fp32.pre.onnx", lambda p: _preprocess(fp32_onnx, p))
    for name, spec in ORT_VARIANTS.items():
        file = out / f"onnx_{name.replace(' ', '_')}.onnx"
        paths[f"onnx {name}"] = _once(file, lambda p, s=spec: _ort_int8(prepared, p, calibration, *s))
    return paths, (model, splits)


def _once(path: Path, make) -> Path:
    if not path.exists():
        t0 = time.perf_counter()
        make(path)
        print(f"built {path.name} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return path


def _tflite(model, mode, calibration, path: Path, io="int8", per_channel=True) -> None:
    from edgewise.export import tflite
    from edgewise.export.converted import quiet

    conv = tflite.converter(model, mode, calibration=calibration, io=io)
    if not per_channel:
        conv._experimental_disable_per_channel = True
    with quiet():
        path.write_bytes(conv.convert())


def _onnx_fp32(model, path: Path) -> None:
    import onnx

    from edgewise.export import onnx as onnx_export

    onnx.save(onnx_export.to_onnx(model), path)


def _preprocess(fp32: Path, path: Path) -> None:
    from edgewise.export import onnx as onnx_export

    onnx_export.preprocess(fp32, path)


def _ort_int8(prepared: Path, path: Path, calibration, fmt, act, weight, per_channel, reduce_range) -> None:
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    from edgewise.export.converted import quiet

    types = {"s8": QuantType.QInt8, "u8": QuantType.QUInt8}
    input_name = onnx.load(prepared, load_external_data=False).graph.input[0].name
    with quiet():
        quantize_static(
            str(prepared),
            str(path),
            calibration.reader(input_name),
            quant_format=QuantFormat.QDQ if fmt == "QDQ" else QuantFormat.QOperator,
            per_channel=per_channel,
            reduce_range=reduce_range,
            activation_type=types[act],
            weight_type=types[weight],
            calibrate_method=CalibrationMethod.MinMax,
        )


# -- running the engines directly ------------------------------------------------------------------------
class TFLiteRunner:
    def __init__(self, path: Path, threads: int, xnnpack: bool = True):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        self.interpreter = Interpreter(
            model_path=str(path), num_threads=threads, experimental_op_resolver_type=resolver
        )
        self.interpreter.allocate_tensors()
        self.inp = self.interpreter.get_input_details()[0]
        self.out = self.interpreter.get_output_details()[0]

    def prepare(self, pixels: np.ndarray) -> np.ndarray:
        if self.inp["dtype"] == np.int8:
            scale, zero = self.inp["quantization"]
            return np.clip(np.round(pixels / scale + zero), -128, 127).astype(np.int8)
        return pixels.astype(np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.interpreter.set_tensor(self.inp["index"], x)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.out["index"])

    def probabilities(self, y: np.ndarray) -> np.ndarray:
        if self.out["dtype"] == np.int8:
            scale, zero = self.out["quantization"]
            return (y.astype(np.float32) - zero) * scale
        return y


class OrtRunner:
    LEVELS = {"basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}

    def __init__(self, path: Path, threads: int, level: str = "all", profile: str | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, self.LEVELS[level])
        if profile:
            options.enable_profiling = True
            options.profile_file_prefix = profile
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.name = self.session.get_inputs()[0].name

    def prepare(self, pixels: np.ndarray) -> np.ndarray:
        return pixels.astype(np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.name: x})[0]

    def probabilities(self, y: np.ndarray) -> np.ndarray:
        return y


def configurations(paths: dict[str, Path], threads: int) -> dict[str, object]:
    runners: dict[str, object] = {}
    for name, path in paths.items():
        if name.startswith("tflite"):
            runners[name] = TFLiteRunner(path, threads)
            runners[f"{name} (no XNNPACK)"] = TFLiteRunner(path, threads, xnnpack=False)
        else:
            for level in ORT_LEVELS:
                suffix = "" if level == "all" else f" (opt {level})"
                runners[name + suffix] = OrtRunner(path, threads, level)
    return runners


def latencies(runners: dict[str, object], image: np.ndarray, rounds: int, block: int) -> dict[str, list]:
    """Interleaved rounds: in each round every configuration runs 5 untimed then ``block`` timed calls in a
    row (so its weights are in cache, as in a deployed process), configurations in turn; load from other
    processes falls on all of them alike."""
    inputs = {name: r.prepare(image[None]) for name, r in runners.items()}
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, runner in runners.items():
            x = inputs[name]
            for i in range(5 + block):
                start = time.perf_counter_ns()
                runner(x)
                if i >= 5:
                    times[name].append((time.perf_counter_ns() - start) / 1e6)
    return times


def agreement(runner, images: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    probs = np.concatenate([runner.probabilities(runner(runner.prepare(im[None]))) for im in images])
    return float(np.mean(probs.argmax(1) == reference.argmax(1))), float(np.abs(probs - reference).max())


# -- per-op time ------------------------------------------------------------------------------------------
def ort_profile(path: Path, image: np.ndarray, threads: int, runs: int, tmp: Path) -> dict[str, float]:
    """Microseconds per inference per op kind from ONNX Runtime's profiler (optimisation level all): the
    median kernel time of each node over ``runs`` calls, summed per kind."""
    runner = OrtRunner(path, threads, "all", profile=str(tmp / path.stem))
    x = runner.prepare(image[None])
    for _ in range(runs):
        runner(x)
    trace = Path(runner.session.end_profiling())
    per_node: dict[tuple[str, str], list[float]] = defaultdict(list)
    for event in json.loads(trace.read_text()):
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            per_node[(event["name"], _ort_kind(event["name"], event.get("args", {})))].append(event["dur"])
    trace.unlink()
    per_kind: dict[str, float] = defaultdict(float)
    for (_, kind), durations in per_node.items():
        per_kind[kind] += float(np.median(durations))
    return dict(per_kind)


def _ort_kind(name: str, args: dict) -> str:
    """The op type; convolutions split into depthwise (tf2onnx keeps the Keras layer name), the stem (3
    input channels) and the rest, all 1x1 in MobileNetV2 (ORT prepacks int8 weights: no weight shape)."""
    op = args.get("op_name", "?")
    if "Conv" not in op:
        return op
    if "depthwise" in name.lower():
        return f"{op} depthwise 3x3"
    try:
        shape = list(args["input_type_shape"][0].values())[0]
    except (KeyError, IndexError, AttributeError):
        return op
    if 3 in (shape[1], shape[-1]) and len(shape) == 4:
        return f"{op} stem 3x3"
    return f"{op} 1x1"


def tflite_op_by_op(path: Path, threads: int, runs: int) -> dict[str, float]:
    """Microseconds per inference per op kind by cumulative prefixes: model k runs operators 0..k (its
    output is op k's), all prefixes timed round-robin through the same engine and XNNPACK; op k costs
    p50(prefix k) - p50(prefix k-1). One invoke per measurement, so no per-op call overhead is counted."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    model = flatbuffer_utils.read_model(str(path))
    graph = model.subgraphs[0]
    operators, outputs, signatures = graph.operators, graph.outputs, model.signatureDefs
    kinds, runners = [], []
    with tempfile.TemporaryDirectory(prefix="op-by-op-") as tmp:
        for k, op in enumerate(operators):
            code = model.operatorCodes[op.opcodeIndex]
            kinds.append(
                _tflite_kind(names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "?"), graph, op)
            )
            graph.operators, graph.outputs, model.signatureDefs = operators[: k + 1], list(op.outputs), []
            prefix = Path(tmp) / f"prefix{k}.tflite"
            flatbuffer_utils.write_model(model, str(prefix))
            runners.append(TFLiteRunner(prefix, threads))
    graph.operators, graph.outputs, model.signatureDefs = operators, outputs, signatures
    for runner in runners:
        detail = runner.inp
        dtype = np.dtype(detail["dtype"])
        value = np.zeros(detail["shape"], dtype)
        runner.interpreter.set_tensor(detail["index"], value)
    samples = [[] for _ in runners]
    for j in range(runs + 20):
        for k, runner in enumerate(runners):
            start = time.perf_counter_ns()
            runner.interpreter.invoke()
            if j >= 20:
                samples[k].append((time.perf_counter_ns() - start) / 1e3)
    p50 = [float(np.median(s)) for s in samples]
    per_kind: dict[str, float] = defaultdict(float)
    per_kind["(first invoke overhead, in op 0)"] = 0.0
    for k, kind in enumerate(kinds):
        per_kind[kind] += p50[k] - (p50[k - 1] if k else 0.0)
    del per_kind["(first invoke overhead, in op 0)"]
    return dict(per_kind)


def _tflite_kind(name: str, graph, op) -> str:
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        shape = graph.tensors[op.inputs[1]].shape  # OHWI / 1HWO
        return f"{name} {shape[1]}x{shape[2]}"
    return name


# -- output -----------------------------------------------------------------------------------------------
def table(header: list[str], rows: list[list[str]]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "--:" for i in range(len(header))) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="run directory (model.keras + edgewise.json)")
    parser.add_argument("--out", type=Path, required=True, help="where the variants are written")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds")
    parser.add_argument(
        "--block", type=int, default=30, help="timed batch-1 calls per configuration per round"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--calib-samples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--profile-runs", type=int, default=200, help="calls per profiled model / one-op model"
    )
    parser.add_argument("--agreement-images", type=int, default=300)
    parser.add_argument("--skip-op-by-op", action="store_true", help="no LiteRT op-by-op (the slow part)")
    args = parser.parse_args(argv)

    from edgewise.export import keras_model

    paths, (model, splits) = build(args.run, args.out, args.calib_samples, args.seed)
    held_out = splits.test if len(splits.test.labels) else splits.val
    images = held_out.images[: args.agreement_images]
    reference = keras_model.predict(model, images)
    image = held_out.images[0].astype(np.float32)

    import onnxruntime

    print(
        f"run {args.run}, {args.threads} thread(s), batch 1, {args.rounds} interleaved rounds of 5 untimed + "
        f"{args.block} timed calls per configuration; ai-edge-litert {_version('ai-edge-litert')}, "
        f"onnxruntime {onnxruntime.__version__}; agreement on {len(images)} held-out images\n"
    )
    runners = configurations(paths, args.threads)
    times = latencies(runners, image, args.rounds, args.block)
    p50 = {name: float(np.median(t)) for name, t in times.items()}
    rows = []
    for name, runner in runners.items():
        engine_base = "tflite fp32" if name.startswith("tflite") else "onnx fp32"
        agree, diff = agreement(runner, images, reference)
        file = next(p for n, p in paths.items() if name.startswith(n) and (name == n or name[len(n)] == " "))
        rows.append([
            name, f"{file.stat().st_size / 1024:.0f}", f"{min(times[name]):.3f}", f"{p50[name]:.3f}",
            f"{np.percentile(times[name], 90):.3f}",
            f"{p50[name] / p50[engine_base]:.2f}x", f"{p50[name] / p50['tflite fp32']:.2f}x",
            f"{100 * agree:.1f}", f"{diff:.3f}",
        ])  # fmt: skip
    header = ["configuration", "KiB", "min ms", "p50 ms", "p90 ms", "vs same-engine fp32", "vs tflite fp32"]
    print(table([*header, "agree %", "max diff"], rows))

    with tempfile.TemporaryDirectory(prefix="ort-profile-") as tmp:
        profiled = ["onnx fp32", "onnx QDQ S8S8 per-channel", "onnx QDQ U8S8 per-channel",
                    "onnx QOperator U8S8 per-channel"]  # fmt: skip
        profiles = {
            name: ort_profile(paths[name], image, args.threads, args.profile_runs, Path(tmp))
            for name in profiled
        }
    print("\nONNX Runtime profiler: kernel µs per inference by op kind (optimisation level all)\n")
    print(_kind_table(profiles))
    if not args.skip_op_by_op:
        op_models = ["tflite fp32", "tflite int8 io int8 per-channel", "tflite int8 io int8 per-tensor"]
        ops = {name: tflite_op_by_op(paths[name], args.threads, args.profile_runs) for name in op_models}
        print("\nLiteRT op-by-op (XNNPACK, cumulative prefix models): µs per inference per op kind\n")
        print(_kind_table(ops))
    return 0


def _kind_table(profiles: dict[str, dict[str, float]]) -> str:
    kinds = sorted(
        {k for p in profiles.values() for k in p}, key=lambda k: -max(p.get(k, 0) for p in profiles.values())
    )
    rows = [[kind] + [f"{p[kind]:.1f}" if kind in p else "-" for p in profiles.values()] for kind in kinds]
    rows.append(["**total**"] + [f"**{sum(p.values()):.1f}**" for p in profiles.values()])
    return table(["op kind", *profiles], rows)


def _version(distribution: str) -> str:
    from importlib import metadata

    return metadata.version(distribution)


if __name__ == "__main__":
    sys.exit(main())
