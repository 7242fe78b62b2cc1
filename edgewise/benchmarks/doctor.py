"""``edgewise doctor``: what on this device decides how fast (and whether) a bundle runs, and what to fix.

It reports the CPU architecture and the features that make int8/fp16 fast (:mod:`.cpufeatures`), cores,
CPU governor and frequency, temperature and throttling, Python, NumPy and its ABI, each inference engine:
installed or not, importable or not *and why* (tflite-runtime built for NumPy 1.x under NumPy 2), ONNX
Runtime's execution providers, and — given a ``.tflite`` model or a bundle — whether LiteRT's XNNPACK
delegate is active and which ops it leaves to the built-in kernels. Last, what to install or change.

Engines are imported in child processes, one each, so an engine that crashes on import (or a wrong NumPy
ABI) is reported instead of taking the doctor down. Like the rest of :mod:`edgewise.benchmarks` it never
imports TensorFlow, so it runs in the runtime-only venv and on a Raspberry Pi.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from edgewise.benchmarks import cpufeatures, sysinfo
from edgewise.benchmarks.doctor_report import advice, render
from edgewise.runtime.argtypes import add_command
from edgewise.runtime.backends.base import PACKAGES

ENGINES = tuple(PACKAGES[name] for name in ("litert", "tflite_runtime", "onnxruntime"))  # those doctor probes
PROBE_TIMEOUT_S = 120  # importing onnxruntime under qemu takes a while


def diagnose(root: str | os.PathLike = "/", model: str | os.PathLike | None = None) -> dict[str, Any]:
    """A JSON-ready report on this machine (``root`` lets tests point the /proc and /sys readers at a
    fake tree); ``model`` (a .tflite file or a bundle directory) enables the XNNPACK check."""
    root = Path(root)
    tflite = _tflite_model(Path(model)) if model is not None else None
    machine = platform.machine()
    cpu = cpufeatures.parse(sysinfo._read(root / "proc/cpuinfo") or "", machine)
    numpy_info = _numpy()
    engines = [probe_engine(e.module, e.distribution) for e in ENGINES]
    for engine in engines:
        _numpy_abi_mismatch(engine, numpy_info)
    report: dict[str, Any] = {
        "machine": machine,
        "cpu": {
            "model": sysinfo.cpu_model(root),
            "core": cpu.core,
            "family": cpu.family,
            "cores": os.cpu_count(),
            "usable_cores": sysinfo._affinity(),
            "features": cpu.features(),
            "int8": cpu.int8_path(),
            "fp16": cpu.fp16_path(),
        },
        "frequency": cpu_frequency(root),
        "thermal": sysinfo.device_state(root),
        "board": sysinfo.board_model(root),
        "os": platform.platform(),
        "python": f"{platform.python_version()} ({platform.python_implementation()}) {sys.executable}",
        "numpy": numpy_info,
        "engines": engines,
        "gpus": sysinfo.nvidia_gpus(),
        "xnnpack": xnnpack_check(tflite, engines) if tflite is not None else None,
        "xnnpack_model": str(tflite) if tflite is not None else None,
    }
    report["advice"] = advice(report)
    return report


def cpu_frequency(root: Path = Path("/")) -> dict[str, Any]:
    """Governor and current/maximum MHz of cpu0 from cpufreq; None where the kernel exposes no cpufreq
    (most VMs), with the ``cpu MHz`` cpuinfo line as the current frequency there."""
    base = root / "sys/devices/system/cpu/cpu0/cpufreq"

    def mhz(name: str) -> float | None:
        text = sysinfo._read(base / name)
        try:
            return round(int(text.strip()) / 1000.0) if text else None
        except ValueError:
            return None

    governor = sysinfo._read(base / "scaling_governor")
    current = mhz("scaling_cur_freq")
    if current is None:
        for line in (sysinfo._read(root / "proc/cpuinfo") or "").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "cpu MHz":
                try:
                    current = round(float(value))
                except ValueError:
                    pass
                break
    return {
        "governor": governor.strip() if governor else None,
        "current_mhz": current,
        "max_mhz": mhz("cpuinfo_max_freq"),
        "min_mhz": mhz("cpuinfo_min_freq"),
    }


def _numpy() -> dict[str, Any]:
    try:
        import numpy
    except ImportError as e:
        return {"version": None, "error": str(e)}
    major = int(numpy.__version__.split(".")[0])
    return {"version": numpy.__version__, "abi": f"NumPy {major}.x C API"}


# -- engines, each probed in a child process -----------------------------------------------------------
def probe_engine(module: str, distribution: str, model: str | None = None) -> dict[str, Any]:
    """Installed version, whether ``module`` imports (and the error when not), ONNX Runtime's providers;
    with ``model`` (tflite engines) the delegate report of :func:`_load_tflite`."""
    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        version = None
    entry: dict[str, Any] = {"module": module, "distribution": distribution, "installed": version}
    if version is None:
        entry.update(importable=False, error="not installed")
        return entry
    code = f"from edgewise.benchmarks.doctor import _probe_in_child; _probe_in_child({module!r}, {model!r})"
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        entry.update(importable=False, error=f"import did not finish in {PROBE_TIMEOUT_S} s")
        return entry
    lines = out.stdout.strip().splitlines()
    if out.returncode == 0 and lines:
        entry.update(importable=True, **json.loads(lines[-1]))
    else:
        entry.update(importable=False, error=_last_error(out.stderr, out.returncode))
    return entry


def _probe_in_child(module: str, model: str | None) -> None:
    """Runs in the child: import the engine, print one JSON line of what it says about itself."""
    import importlib

    mod = importlib.import_module(module if module == "onnxruntime" else f"{module}.interpreter")
    info: dict[str, Any] = {}
    if module == "onnxruntime":
        info["providers"] = mod.get_available_providers()
        info["device"] = mod.get_device()
    elif model is not None:
        info["model"] = _load_tflite(module, model)
    print(json.dumps(info))


def _load_tflite(module: str, model: str) -> dict[str, Any]:
    """Load ``model`` with one thread and say whether XNNPACK took it: the engine's log line and the
    DELEGATE nodes of the graph, and the ops left outside the delegate."""
    import importlib
    import tempfile

    interpreter_cls = importlib.import_module(f"{module}.interpreter").Interpreter
    with tempfile.TemporaryFile() as sink:  # the engine logs "Created ... XNNPACK delegate" on fd 2
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            interpreter = interpreter_cls(model_path=model, num_threads=1)
            interpreter.allocate_tensors()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        log = sink.read().decode(errors="replace")
    details = interpreter._get_ops_details()
    ops = [op.get("op_name", "?") for op in details]
    outside: dict[str, int] = {}
    for op in undelegated(details):
        outside[op] = outside.get(op, 0) + 1
    return {
        "xnnpack_created": "XNNPACK delegate" in log,
        "delegate_nodes": ops.count("DELEGATE"),
        "ops_outside_delegate": outside,
        "log": [line for line in log.splitlines() if line.strip()][:5],
    }


def undelegated(details: list[dict]) -> list[str]:
    """Names of the ops a delegate did not take. ``_get_ops_details`` lists every original node plus one
    ``DELEGATE`` node per partition (the replaced nodes stay listed), so walk back from each partition's
    outputs to its inputs: the nodes met on the way are the delegated ones."""
    producer = {
        t: i for i, op in enumerate(details) if op.get("op_name") != "DELEGATE" for t in op["outputs"]
    }
    taken: set[int] = set()
    for op in details:
        if op.get("op_name") != "DELEGATE":
            continue
        boundary = {int(t) for t in op["inputs"]}
        stack = [int(t) for t in op["outputs"]]
        while stack:
            node = producer.get(stack.pop())
            if node is None or node in taken:
                continue
            taken.add(node)
            stack += [int(t) for t in details[node]["inputs"] if int(t) not in boundary and t >= 0]
    return [
        op.get("op_name", "?")
        for i, op in enumerate(details)
        if op.get("op_name") != "DELEGATE" and i not in taken
    ]


def xnnpack_check(model: Path, engines: list[dict[str, Any]]) -> dict[str, Any]:
    """XNNPACK's verdict on ``model`` from the first TFLite engine that loads it; an engine that imports
    but cannot load it (tflite-runtime under NumPy 2 fails only here) gets ``loads_models`` False."""
    failures = []
    for package in ENGINES:
        module, dist = package.module, package.distribution
        if module == "onnxruntime":
            continue
        engine = next(e for e in engines if e["module"] == module)
        if not engine.get("importable"):
            continue
        probed = probe_engine(module, dist, str(model))
        if not probed.get("importable"):
            engine.update(loads_models=False, error=f"cannot load {model.name}: {probed.get('error')}")
            failures.append(f"{module}: {probed.get('error')}")
            continue
        engine["loads_models"] = True
        verdict = probed["model"]
        verdict["engine"] = module
        verdict["active"] = bool(verdict["xnnpack_created"] and verdict["delegate_nodes"])
        return verdict
    return {"engine": None, "error": "; ".join(failures) or "no TFLite engine imports"}


def _numpy_abi_mismatch(engine: dict[str, Any], numpy_info: dict[str, Any]) -> None:
    """tflite-runtime (last release 2.14) is built for NumPy 1.x: it imports under NumPy 2 but fails
    when it creates an interpreter. Mark it so without needing a model to load."""
    numpy_major = int((numpy_info.get("version") or "0").split(".")[0])
    if engine["module"] == "tflite_runtime" and engine.get("importable") and numpy_major >= 2:
        engine.update(
            loads_models=False,
            error=f"built for NumPy 1.x, it cannot create an interpreter under NumPy {numpy_info['version']}",
        )


def _tflite_model(path: Path) -> Path:
    """``path`` itself, or a bundle's int8 (else any) .tflite model."""
    from edgewise.runtime.errors import InputError

    if path.is_file():
        if path.suffix != ".tflite":
            raise InputError(f"{path}: the XNNPACK check needs a .tflite model or a bundle directory")
        return path
    if path.is_dir():
        models = sorted(path.glob("model_*.tflite")) or sorted(path.glob("*.tflite"))
        int8 = [m for m in models if "int8" in m.name]
        if int8 or models:
            return (int8 or models)[0]
        raise InputError(f"{path}: no .tflite model in this directory")
    raise InputError(f"{path}: no such file or directory")


def _last_error(stderr: str, returncode: int) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line.split(":")[0] or line.startswith("ImportError")]
    if errors:
        return errors[-1]
    if lines:
        return lines[-1]
    return f"the import crashed (exit status {returncode})"


# -- command line --------------------------------------------------------------------------------------
SUMMARY = "what on this device decides int8/fp16 speed, which engines work, and what to install"
DESCRIPTION = """\
Report the CPU architecture and the features that make int8/fp16 fast (NEON, dotprod, i8mm, fp16 on ARM;
AVX2, AVX-512, VNNI, AMX on x86), cores, governor and frequency, temperature and throttling, Python,
NumPy and its ABI, each engine (installed, importable, and why not), ONNX Runtime's providers, GPUs, and
— given a .tflite model or a bundle — whether LiteRT's XNNPACK delegate is active. Ends with what to
install or change. Needs no TensorFlow.
"""


def register(sub) -> None:
    p = add_command(sub, "doctor", SUMMARY, DESCRIPTION)
    p.add_argument(
        "model", nargs="?", type=Path, metavar="BUNDLE|MODEL.tflite", help="check XNNPACK on this model"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_run)


def _run(args) -> int:
    report = diagnose(model=args.model)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0
