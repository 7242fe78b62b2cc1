"""``edgewise doctor`` on this machine (the real engines) and on fake /proc + /sys trees."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from edgewise.benchmarks import doctor, doctor_report
from edgewise.cli import main

REPO = Path(__file__).resolve().parents[2]


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_frequency_and_governor_from_sysfs(tmp_path):
    root = _tree(
        tmp_path,
        {
            "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor": "ondemand\n",
            "sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq": "1500000\n",
            "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq": "2400000\n",
            "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_min_freq": "600000\n",
        },
    )
    assert doctor.cpu_frequency(root) == {
        "governor": "ondemand", "current_mhz": 1500, "max_mhz": 2400, "min_mhz": 600
    }  # fmt: skip


def test_frequency_falls_back_to_cpuinfo_mhz_in_a_vm(tmp_path):
    root = _tree(tmp_path, {"proc/cpuinfo": "processor\t: 0\ncpu MHz\t\t: 2499.998\n"})
    assert doctor.cpu_frequency(root) == {
        "governor": None, "current_mhz": 2500, "max_mhz": None, "min_mhz": None
    }  # fmt: skip


def test_pi4_tree_reports_a72_without_dotprod_and_advises(tmp_path, monkeypatch):
    monkeypatch.setattr(doctor.platform, "machine", lambda: "aarch64")
    root = tmp_path / "root"
    (root / "proc").mkdir(parents=True)
    shutil.copy(REPO / "scripts/ci/pi/cpuinfo-cortex-a72", root / "proc/cpuinfo")
    _tree(root, {"sys/devices/system/cpu/cpu0/cpufreq/scaling_governor": "ondemand\n"})
    report = doctor.diagnose(root)
    assert report["cpu"]["core"] == "Cortex-A72"
    assert report["cpu"]["features"]["dotprod"] is False
    assert report["cpu"]["features"]["fp16"] is False
    assert any("no dot-product" in tip for tip in report["advice"])
    assert any("governor is 'ondemand'" in tip for tip in report["advice"])
    text = doctor_report.render(report)
    assert "dotprod no" in text and "[Cortex-A72]" in text


def test_advice_for_tflite_runtime_under_numpy2_and_missing_engines():
    report = {
        "numpy": {"version": "2.4.6"},
        "engines": [
            {"module": "ai_edge_litert", "installed": None, "importable": False},
            {"module": "tflite_runtime", "installed": "2.14.0", "importable": False},
            {"module": "onnxruntime", "installed": None, "importable": False},
        ],
        "gpus": [{"name": "NVIDIA H100", "driver": "1", "memory": "80 GiB"}],
        "xnnpack": {"active": False, "engine": "tflite_runtime"},
        "frequency": {"governor": "performance"},
        "thermal": {"throttled": {"under_voltage": True}},
        "cpu": {"family": "x86", "features": {"avx2": True, "avx512_vnni": False, "avx_vnni": False}},
    }
    tips = "\n".join(doctor_report.advice(report))
    assert "built for NumPy 1.x" in tips
    assert 'no TFLite engine imports: pip install "edgewise[litert]"' in tips
    assert 'pip install "edgewise[onnx]"' in tips
    assert "edgewise[gpu]" in tips
    assert "XNNPACK" in tips
    assert "under-voltage" in tips
    assert "no VNNI" in tips
    assert "governor" not in tips


def test_doctor_command_on_the_tiny_bundle(tiny_bundle, capsys):
    """The real engines of this venv: both import, and LiteRT's XNNPACK takes the int8 model."""
    assert main(["doctor", str(tiny_bundle), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    engines = {e["module"]: e for e in report["engines"]}
    assert engines["ai_edge_litert"]["importable"] is True
    assert engines["onnxruntime"]["importable"] is True
    assert "CPUExecutionProvider" in engines["onnxruntime"]["providers"]
    assert report["xnnpack_model"].endswith("model_int8.tflite")
    assert report["xnnpack"]["active"] is True and report["xnnpack"]["delegate_nodes"] >= 1
    assert main(["doctor"]) == 0
    text = capsys.readouterr().out
    assert "ai-edge-litert" in text and "xnnpack      not checked" in text


def test_doctor_bad_model_is_one_line(tmp_path, capsys):
    (tmp_path / "m.onnx").write_bytes(b"x")
    assert main(["doctor", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs a .tflite model" in err


def test_tflite_runtime_under_numpy2_is_marked_as_not_working():
    engine = {"module": "tflite_runtime", "installed": "2.14.0", "importable": True}
    doctor._numpy_abi_mismatch(engine, {"version": "2.4.6"})
    assert engine["loads_models"] is False and "NumPy 1.x" in engine["error"]
    older = {"module": "tflite_runtime", "installed": "2.14.0", "importable": True}
    doctor._numpy_abi_mismatch(older, {"version": "1.26.4"})
    assert "loads_models" not in older
    assert "does NOT work" in doctor_report.render(
        {**_minimal_report(), "engines": [{**engine, "distribution": "tflite-runtime"}]}
    )


def _minimal_report() -> dict:
    return {
        "machine": "aarch64", "os": "Linux", "board": None, "python": "3.11", "gpus": [], "xnnpack": None,
        "numpy": {"version": "2.4.6", "abi": "NumPy 2.x C API"}, "advice": [],
        "cpu": {"model": "x", "core": None, "cores": 4, "usable_cores": 4, "features": {}, "int8": "?",
                "fp16": "?", "family": "arm"},
        "frequency": {"governor": None, "current_mhz": None, "max_mhz": None},
        "thermal": {"temperature_c": None},
    }  # fmt: skip
