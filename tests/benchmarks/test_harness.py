"""The harness on the tiny bundle: every artifact measured in its own process, failures become rows."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from edgewise.benchmarks import harness, schema
from edgewise.benchmarks.harness import Settings
from edgewise.benchmarks.targets import discover
from edgewise.runtime.errors import InputError

FILES = ["model_fp32.tflite", "model_int8.tflite", "model_fp32.onnx", "model_int8.onnx"]


def test_discover_orders_bundle_artifacts(tiny_bundle):
    targets = discover([tiny_bundle])
    assert [t.path.name for t in targets] == FILES
    assert [(t.format, t.quantize) for t in targets] == [
        ("tflite", "fp32"),
        ("tflite", "int8"),
        ("onnx", "fp32"),
        ("onnx", "int8"),
    ]
    assert all(t.parity == tiny_bundle / "parity.npz" for t in targets)
    one = discover([tiny_bundle / "model_int8.onnx", tiny_bundle / "model_int8.onnx"])
    assert [t.path.name for t in one] == ["model_int8.onnx"]  # duplicates dropped


def test_discover_refuses_bad_paths(tmp_path, tiny_bundle):
    with pytest.raises(InputError, match="no such file"):
        discover([tmp_path / "nope"])
    with pytest.raises(InputError, match="no .tflite or .onnx model"):
        discover([tmp_path])
    with pytest.raises(InputError, match="not a model file"):
        discover([tiny_bundle / "parity.npz"])


def test_measured_run_has_every_figure(measured_dir):
    run = schema.load_run(measured_dir / "bench.json")
    assert run.label == "testbox"
    assert run.settings["threads"] == [1, 2] and run.settings["batches"] == [1, 4]
    assert [a.file for a in run.artifacts] == FILES
    assert run.bundle["parity_samples"] == 48 and run.bundle["model"] == "tiny_cnn"
    assert "state_before" in run.system and "state_after" in run.system
    assert run.settings["rounds"] == 2 and run.settings["runs_per_round"] == 10
    assert set(run.bundle["export"]) == set(FILES)  # the card's export figures ride along for reports
    assert run.bundle["export"]["model_int8.tflite"]["validated"] is False  # the fixture was not validated
    assert run.system["device_key"].endswith(f"· {run.system['cpu_count']} cores")
    for a in run.artifacts:
        assert a.status == "ok", a.error
        assert a.engine == ("litert" if a.format == "tflite" else "onnxruntime") and a.engine_version
        assert a.provider in ("cpu", "CPUExecutionProvider")
        assert {(m.threads, m.batch) for m in a.measurements} == {(1, 1), (1, 4), (2, 1), (2, 4)}
        for m in a.measurements:
            lat = m.latency_ms
            assert len(m.samples_ms) == m.runs == 20 and m.rounds == 2  # 10 calls in each of 2 rounds
            assert len(m.round_p50_ms) == 2
            low, high = m.p50_ci_ms
            assert low <= lat["p50"] <= high
            assert m.noise is None or m.noise.startswith("noisy: ")
            assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
            assert m.throughput_ips == pytest.approx(m.batch * 1000 / lat["mean"])
            assert m.load_ms > 0 and m.first_inference_ms > 0
            assert 10 < m.peak_rss_mb < 2000
        p = a.parity
        assert p["samples"] == 48 and p["reference_accuracy"] > 0.8
        if a.quantize == "fp32":
            assert (
                p["max_abs_diff"] < 1e-4
                and p["agreement"] == 1.0
                and p["accuracy"] == p["reference_accuracy"]
            )
        else:
            assert p["max_abs_diff"] < 0.2 and p["agreement"] >= 0.9


def test_sizes_match_the_files(measured_dir, tiny_bundle):
    run = schema.load_run(measured_dir / "bench.json")
    assert {a.file: a.size_bytes for a in run.artifacts} == {
        f: (tiny_bundle / f).stat().st_size for f in FILES
    }


def test_broken_artifact_is_a_row_and_the_rest_is_measured(tiny_bundle, tmp_path):
    for f in ("model_fp32.tflite", "edgewise.json", "parity.npz"):
        shutil.copy(tiny_bundle / f, tmp_path / f)
    (tmp_path / "model_int8.tflite").write_bytes(b"\x00" * 64)  # listed in the card, but garbage
    run = harness.run_benchmark(discover([tmp_path]), Settings(runs=3, warmup=1, rounds=1), progress=False)
    by_file = {a.file: a for a in run.artifacts}
    assert by_file["model_fp32.tflite"].status == "ok"
    broken = by_file["model_int8.tflite"]
    assert broken.status == "error" and "model_int8.tflite" in broken.error and not broken.measurements


def test_gpu_request_without_gpu_says_why_per_row(tiny_bundle):
    targets = [t for t in discover([tiny_bundle]) if t.quantize == "fp32"]
    run = harness.run_benchmark(targets, Settings(runs=2, warmup=0, device="gpu", rounds=1), progress=False)
    rows = {a.file: a for a in run.artifacts}
    assert rows["model_fp32.tflite"].status == "unavailable"
    assert "CPU" in rows["model_fp32.tflite"].error
    onnx = rows["model_fp32.onnx"]
    if onnx.status == "ok":  # a machine with onnxruntime-gpu and a GPU
        assert "CUDA" in onnx.provider or "Tensorrt" in onnx.provider
    else:
        assert onnx.status == "unavailable" and "gpu" in onnx.error.lower()


def test_child_that_hangs_is_timed_out(tiny_bundle):
    target = discover([tiny_bundle / "model_fp32.tflite"])
    run = harness.run_benchmark(target, Settings(runs=2, warmup=0, timeout_s=0.05, rounds=1), progress=False)
    assert run.artifacts[0].status == "error"
    assert run.artifacts[0].error == "timed out after 0.05 s"


def test_crash_reason_names_the_signal():
    proc = subprocess.CompletedProcess([], -11, "", "Fatal Python error: Segmentation fault\n\n")
    assert (
        harness._crash_reason(proc)
        == "worker crashed (killed by signal 11): Fatal Python error: Segmentation fault"
    )


def test_worker_writes_json_even_when_the_engine_fails(tmp_path):
    from edgewise.benchmarks import worker

    bad = tmp_path / "model_fp32.onnx"
    bad.write_bytes(b"garbage")
    out = tmp_path / "r.json"
    assert worker.main([str(bad), "--out", str(out), "--runs", "2"]) == 0
    result = json.loads(out.read_text())
    assert result["status"] == "error" and "model_fp32.onnx" in result["error"]


def _child(p50s: list[float], *, status="ok", parity=None) -> dict:
    samples = [p * f for p in p50s for f in (0.9, 1.0, 1.1)]
    return {
        "status": status,
        "error": None if status == "ok" else "worker crashed (exit code 1)",
        "notes": [],
        "parity": parity,
        "measurements": [
            {
                "threads": 1,
                "batch": 1,
                "runs": 3,
                "warmup": 1,
                "latency_ms": {"p50": p50s[0]},
                "throughput_ips": 1.0,
                "load_ms": 5.0,
                "first_inference_ms": 2.0,
                "peak_rss_mb": 50.0,
                "samples_ms": samples,
            }
        ]
        if status == "ok"
        else [],
    }


def test_rounds_are_pooled_with_an_interval_and_a_failed_round_is_a_note():
    pooled = harness.pool_rounds(
        [_child([1.0], parity={"samples": 3}), _child([1.5]), _child([], status="error")]
    )
    (m,) = pooled["measurements"]
    assert m["rounds"] == 2 and m["runs"] == 6 and m["round_p50_ms"] == [1.0, 1.5]
    assert m["p50_ci_ms"][0] <= m["latency_ms"]["p50"] <= m["p50_ci_ms"][1]
    assert "p50 varied 40% between 2 rounds" in m["noise"]
    assert pooled["parity"] == {"samples": 3}
    assert pooled["notes"] == ["round 3 of 3 failed: worker crashed (exit code 1)"]
    failed = _child([], status="error")
    assert harness.pool_rounds([failed, failed]) is failed


def test_auto_threads_doubles_up_to_the_core_count():
    assert harness.auto_threads(1) == [1]
    assert harness.auto_threads(2) == [1, 2]
    assert harness.auto_threads(4) == [1, 2, 4]
    assert harness.auto_threads(6) == [1, 2, 4, 6]
