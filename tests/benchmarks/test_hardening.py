"""Regression tests for the benchmark defects of the hardening probe (issue 10)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from edgewise.benchmarks import harness
from edgewise.benchmarks.remote import Remote, local_arg
from edgewise.benchmarks.targets import discover
from edgewise.cli import main
from edgewise.runtime.errors import InputError

pytestmark = pytest.mark.runtime_only


@pytest.fixture
def bundle(tiny_bundle, tmp_path):
    out = tmp_path / "bundle"
    out.mkdir()
    for name in ("model_fp32.tflite", "edgewise.json", "parity.npz"):
        shutil.copy(tiny_bundle / name, out / name)
    card = json.loads((out / "edgewise.json").read_text())
    card["artifacts"] = {"model_fp32.tflite": card["artifacts"]["model_fp32.tflite"]}
    (out / "edgewise.json").write_text(json.dumps(card))
    return out


def bench_error(capsys, *argv) -> tuple[int, str]:
    try:
        rc = main(["bench", *map(str, argv)])
    except SystemExit as stop:
        rc = stop.code
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return rc, err


@pytest.mark.parametrize(
    "option", [["--timeout", "-1"], ["--timeout", "nan"], ["--threads", "50000"], ["--batch", "0"]]
)
def test_out_of_range_options(bundle, capsys, option):
    rc, err = bench_error(capsys, bundle, *option)
    assert rc == 2 and "must be" in err or "expected" in err


def test_unusable_outputs_are_refused_before_measuring(bundle, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    start = time.perf_counter()
    rc, err = bench_error(capsys, bundle, "--out", afile)
    assert rc == 2 and "exists and is not a directory" in err
    rc, err = bench_error(capsys, bundle, "--json", tmp_path)
    assert rc == 2 and "is a directory" in err
    rc, err = bench_error(capsys, bundle, "--json", afile / "bench.json")
    assert rc == 2 and "not a directory" in err
    if Path("/proc/self").is_dir():  # a pseudo file system: even root cannot create files there
        rc, err = bench_error(capsys, bundle, "--json", "/proc/bench.json")
        assert rc == 2 and "cannot write there" in err
    assert time.perf_counter() - start < 20  # refused up front, not after a benchmark run
    assert not (bundle / "bench.json").exists()


def test_artifact_outside_the_bundle_is_refused(bundle, tmp_path, capsys):
    secret = tmp_path / "secret"
    secret.mkdir()
    shutil.copy(bundle / "model_fp32.tflite", secret / "key.tflite")
    card = json.loads((bundle / "edgewise.json").read_text())
    card["artifacts"]["../secret/key.tflite"] = dict(card["artifacts"]["model_fp32.tflite"])
    (bundle / "edgewise.json").write_text(json.dumps(card))
    rc, err = bench_error(capsys, bundle)
    assert rc == 2 and "plain file name inside the bundle" in err

    del card["artifacts"]["../secret/key.tflite"]
    card["artifacts"]["model_int8.tflite"] = dict(
        card["artifacts"]["model_fp32.tflite"], file="model_int8.tflite"
    )
    (bundle / "edgewise.json").write_text(json.dumps(card))
    (bundle / "model_int8.tflite").symlink_to(secret / "key.tflite")
    with pytest.raises(InputError, match="outside the bundle"):
        discover([bundle])


def test_temporaries_of_a_killed_export_are_never_benchmarked(bundle):
    (bundle / "edgewise.json").unlink()  # no card: the directory is scanned
    shutil.copy(bundle / "model_fp32.tflite", bundle / ".model_fp32.12345.tmp.tflite")
    assert [t.path.name for t in discover([bundle])] == ["model_fp32.tflite"]


def test_stale_artifact_is_refused(bundle, capsys):
    card = json.loads((bundle / "edgewise.json").read_text())
    card["provenance"]["model_sha256"] = "a" * 64
    card["artifacts"]["model_fp32.tflite"]["model_sha256"] = "b" * 64
    (bundle / "edgewise.json").write_text(json.dumps(card))
    rc, err = bench_error(capsys, bundle)
    assert rc == 2 and "exported from another model.keras" in err


def test_scp_never_sees_a_local_path_as_host_path(tmp_path, monkeypatch):
    remote = Remote("pi@example")
    seen = []

    class Done:
        returncode, stdout, stderr = 0, "", ""

    monkeypatch.setattr(remote, "_run", lambda cmd, what, timeout=None: seen.append(cmd) or Done())
    evil = tmp_path / "evilhost:x" / "model_fp32.tflite"
    remote.upload([evil], "/tmp/edgewise-bench.abc")
    local = seen[0][seen[0].index("--") + 1]
    assert local == str(evil) and local.startswith("/")
    assert local_arg(type(evil)("evilhost:x/model.tflite")).startswith("/")


@pytest.mark.parametrize(
    "options", [{"timeout_s": -1}, {"timeout_s": float("nan")}, {"threads": [50000]}, {"runs": 0}]
)
def test_api_settings_have_the_same_bounds(options):
    with pytest.raises(InputError):
        harness.Settings(**options)
