"""What an ``edgewise doctor`` report (:func:`edgewise.benchmarks.doctor.diagnose`) means: the advice
(what to install or change) and the report as text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgewise.runtime.backends.onnxruntime import GPU_PROVIDERS, TENSORRT


# -- what to do ----------------------------------------------------------------------------------------
def advice(report: dict[str, Any]) -> list[str]:
    """What to install or change, one sentence each, derived from the report."""
    tips: list[str] = []
    engines = {e["module"]: e for e in report["engines"]}
    numpy_major = int((report["numpy"].get("version") or "0").split(".")[0])
    litert, tflite_rt, ort = engines["ai_edge_litert"], engines["tflite_runtime"], engines["onnxruntime"]
    if tflite_rt["installed"] and not _usable(tflite_rt) and numpy_major >= 2:
        tips.append(
            "tflite-runtime is built for NumPy 1.x and does not work under NumPy "
            f'{report["numpy"]["version"]}: use ai-edge-litert (pip install "edgewise[litert]"), or a venv '
            'with pip install "edgewise[tflite]" (which pins numpy<2)'
        )
    if not _usable(litert) and not _usable(tflite_rt):
        tips.append('no TFLite engine imports: pip install "edgewise[litert]" to run .tflite models')
    if not ort["importable"]:
        tips.append('onnxruntime does not import: pip install "edgewise[onnx]" to run .onnx models')
    providers = ort.get("providers") or []
    if report["gpus"] and not any(p in providers for p in (*GPU_PROVIDERS, TENSORRT)):
        tips.append(
            "an NVIDIA GPU is present but onnxruntime has no CUDA provider: "
            'pip install "edgewise[gpu]" (onnxruntime-gpu) instead of onnxruntime'
        )
    xnnpack = report.get("xnnpack")
    if xnnpack and xnnpack.get("engine") and not xnnpack.get("active") and not xnnpack.get("error"):
        tips.append(
            "LiteRT did not create its XNNPACK delegate: it runs on slower built-in kernels (seen when "
            "/sys/devices/system/cpu is missing, e.g. in a chroot)"
        )
    governor = report["frequency"].get("governor")
    if governor and governor != "performance":
        tips.append(
            f"the CPU governor is {governor!r}: latency then depends on the clock of the moment; for "
            "benchmarks set 'performance' (sudo cpupower frequency-set -g performance)"
        )
    throttled = report["thermal"].get("throttled") or {}
    if any(throttled.get(k) for k in ("under_voltage", "frequency_capped", "throttled")):
        tips.append(
            "the firmware reports under-voltage or throttling now: check the power supply and cooling"
        )
    features = report["cpu"]["features"]
    if report["cpu"]["family"] == "arm" and not features.get("dotprod"):
        tips.append(
            "this ARM core has no dot-product instructions: measure int8 against fp32 before choosing it "
            "(edgewise bench), the gain can be small"
        )
    if report["cpu"]["family"] == "x86" and not (features.get("avx512_vnni") or features.get("avx_vnni")):
        tips.append(
            "no VNNI: ONNX Runtime int8 on AVX2 can saturate; quantise with reduce_range, and measure int8 "
            "against fp32 before choosing it"
        )
    return tips


def _usable(engine: dict[str, Any]) -> bool:
    return bool(engine.get("importable")) and engine.get("loads_models") is not False


# -- text ----------------------------------------------------------------------------------------------
def render(report: dict[str, Any]) -> str:
    cpu, freq, thermal = report["cpu"], report["frequency"], report["thermal"]
    yes_no = {True: "yes", False: "no"}
    lines = [f"machine      {report['machine']}  ({report['os']})"]
    lines.append(f"cpu          {cpu['model']}" + (f"  [{cpu['core']}]" if cpu["core"] else ""))
    if report["board"]:
        lines.append(f"board        {report['board']}")
    lines.append(f"cores        {cpu['cores']} (usable by this process: {cpu['usable_cores']})")
    features = "  ".join(f"{name} {yes_no[present]}" for name, present in cpu["features"].items())
    lines.append(f"features     {features or 'unknown'}")
    lines.append(f"int8         {cpu['int8']}")
    lines.append(f"fp16         {cpu['fp16']}")
    clock = [f"governor {freq['governor'] or 'not readable'}"]
    if freq["current_mhz"]:
        clock.append(f"now {freq['current_mhz']} MHz")
    if freq["max_mhz"]:
        clock.append(f"max {freq['max_mhz']} MHz")
    lines.append(f"frequency    {', '.join(clock)}")
    temperature = thermal.get("temperature_c")
    heat = [f"{temperature} °C" if temperature is not None else "temperature not readable"]
    throttled = thermal.get("throttled")
    if throttled:
        flags = [k for k, v in throttled.items() if v is True]
        heat.append(f"throttled flags: {', '.join(flags) or 'none'} (raw {throttled.get('raw')})")
    lines.append(f"thermal      {'; '.join(heat)}")
    lines.append(f"python       {report['python']}")
    np_info = report["numpy"]
    lines.append(
        f"numpy        {np_info['version']} ({np_info['abi']})" if np_info.get("version") else
        f"numpy        not importable: {np_info.get('error')}"
    )  # fmt: skip
    for engine in report["engines"]:
        name = f"{engine['distribution']:<15}"
        if not engine["installed"]:
            lines.append(f"engine       {name} not installed")
        elif not engine["importable"]:
            lines.append(
                f"engine       {name} {engine['installed']} installed, does NOT import: {engine['error']}"
            )
        elif engine.get("loads_models") is False:
            lines.append(
                f"engine       {name} {engine['installed']} imports, but does NOT work: {engine['error']}"
            )
        else:
            extra = f"; providers: {', '.join(engine['providers'])}" if "providers" in engine else ""
            lines.append(f"engine       {name} {engine['installed']} imports{extra}")
    if report["gpus"]:
        for gpu in report["gpus"]:
            lines.append(f"gpu          {gpu['name']} (driver {gpu['driver']}, {gpu['memory']})")
    else:
        lines.append("gpu          none found (nvidia-smi)")
    lines.append(f"xnnpack      {_xnnpack_text(report)}")
    lines.append("")
    lines += [f"- {tip}" for tip in report["advice"]] or ["- nothing to fix"]
    return "\n".join(lines)


def _xnnpack_text(report: dict[str, Any]) -> str:
    verdict = report.get("xnnpack")
    if verdict is None:
        return "not checked (give a .tflite model or a bundle: edgewise doctor runs/fm)"
    if verdict.get("error"):
        return f"could not check: {verdict['error']}"
    outside = ", ".join(f"{op} x{n}" for op, n in sorted(verdict["ops_outside_delegate"].items()))
    state = "active" if verdict["active"] else "NOT active"
    return (
        f"{state} with {verdict['engine']} on {Path(report['xnnpack_model']).name}: "
        f"{verdict['delegate_nodes']} delegated partition(s); ops on built-in kernels: {outside or 'none'}"
    )
