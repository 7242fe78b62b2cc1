"""The benchmark driver: measure each artifact (:mod:`.targets` finds them) in its own child process,
assemble a run.

Each (artifact, thread count) pair runs ``python -m edgewise.benchmarks.worker`` in a fresh interpreter
(see :mod:`.worker` for why). Parity is computed once per artifact, in its first child. A child that
crashes, hangs past ``timeout_s`` or cannot load its engine becomes a row that says why; the other
artifacts are still measured.

The timed calls are split over ``rounds`` interleaved passes (round 1: every artifact and thread count,
then round 2: all of them again, ...), so a burst of other load or a frequency change hits every artifact
alike instead of whichever happened to run at that moment. The rounds are pooled into one measurement
with a bootstrap confidence interval for p50 and a noise warning when rounds or the interval disagree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import edgewise
from edgewise.benchmarks import report_repair, stats, sysinfo
from edgewise.benchmarks.schema import (
    STATUS_ERROR,
    STATUS_OK,
    ArtifactResult,
    BenchRun,
    Measurement,
)
from edgewise.benchmarks.targets import Target
from edgewise.runtime import limits
from edgewise.runtime.card import CARD_FILE, ModelCard
from edgewise.runtime.errors import EdgewiseError, InputError
from edgewise.runtime.parity import load_parity
from edgewise.runtime.progress import Progress

log = logging.getLogger(__name__)


@dataclass
class Settings:
    runs: int = 100
    warmup: int = 10
    threads: list[int] | str = field(default_factory=lambda: [1])  # or "auto": see auto_threads
    batches: list[int] = field(default_factory=lambda: [1])
    device: str = "cpu"
    engine: str | None = None
    timeout_s: float = 600.0
    rounds: int = 3

    @property
    def runs_per_round(self) -> int:
        return -(-self.runs // self.rounds)

    def __post_init__(self) -> None:
        """The same bounds as the command line's, for callers of the Python API."""
        limits.check_int(self.runs, "runs", maximum=limits.MAX_RUNS)
        limits.check_int(self.warmup, "warmup", minimum=0, maximum=limits.MAX_RUNS)
        for t in self.threads:
            limits.check_threads(t)
        for b in self.batches:
            limits.check_int(b, "batch", maximum=limits.MAX_BATCH)
        if not 0 < self.timeout_s <= limits.MAX_TIMEOUT_S:  # also false for NaN
            raise InputError(
                f"timeout {self.timeout_s}: must be more than 0 and at most {limits.MAX_TIMEOUT_S:g} s"
            )

    def bench_argv(self, *, timeout: bool = True) -> list[str]:
        """These settings as ``edgewise bench`` options (the default device and engine left out)."""
        argv = ["--runs", str(self.runs), "--rounds", str(self.rounds), "--warmup", str(self.warmup)]
        argv += ["--threads", _joined(self.threads), "--batch", _joined(self.batches)]
        argv += ["--device", self.device] if self.device != "cpu" else []
        argv += ["--timeout", f"{self.timeout_s:g}"] if timeout else []
        return argv + (["--engine", self.engine] if self.engine else [])

    def worker_argv(self, threads: int) -> list[str]:
        """These settings as options of :mod:`edgewise.benchmarks.worker`, for one thread count and one
        round (a round times ``runs_per_round`` calls)."""
        argv = ["--threads", str(threads), "--batches", _joined(self.batches)]
        argv += ["--runs", str(self.runs_per_round), "--warmup", str(self.warmup), "--device", self.device]
        return argv + (["--engine", self.engine] if self.engine else [])


def _joined(numbers: list[int] | str) -> str:
    return numbers if isinstance(numbers, str) else ",".join(map(str, numbers))


def run_benchmark(
    targets: list[Target],
    settings: Settings,
    *,
    label: str | None = None,
    command: list[str] | None = None,
    progress: bool | None = None,
) -> BenchRun:
    """Measure every target at every thread count; the result is ready for :func:`schema.save`."""
    system = sysinfo.collect()
    system["state_before"] = sysinfo.device_state()
    if isinstance(settings.threads, str):
        settings = dataclasses.replace(settings, threads=auto_threads(system.get("cpu_affinity")))
    rounds = max(1, settings.rounds)
    children = _measure_rounds(targets, settings, rounds, progress)
    results = [_target_result(target, settings.threads, children[t]) for t, target in enumerate(targets)]
    system["state_after"] = sysinfo.device_state()
    return BenchRun(
        label=label or system["hostname"],
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        settings=_settings_record(settings, rounds, command),
        system=system,
        bundle=_bundle_info(targets),
        artifacts=results,
        edgewise_version=edgewise.__version__,
    )


def _measure_rounds(
    targets: list[Target], settings: Settings, rounds: int, progress: bool | None
) -> list[list[list[dict[str, Any]]]]:
    """One child per round x target x thread count, rounds outermost so that they interleave; the
    results indexed [target][threads index][round]. Parity is measured once, in the first child."""
    children: list[list[list[dict[str, Any]]]] = [[[] for _ in settings.threads] for _ in targets]
    steps = len(targets) * len(settings.threads) * rounds
    with Progress(steps, "bench", enabled=progress) as bar:
        for round_index in range(rounds):
            for t, target in enumerate(targets):
                for i, threads in enumerate(settings.threads):
                    note = f"{target.path.name} threads={threads}" + (
                        f" round {round_index + 1}/{rounds}" if rounds > 1 else ""
                    )
                    if bar.enabled:
                        bar.update(0, note=f"measuring {note}")
                    else:
                        log.info("bench: %s", note)
                    first = round_index == 0 and i == 0
                    child = measure_in_child(
                        target.path, threads, settings, parity=target.parity if first else None
                    )
                    children[t][i].append(child)
                    bar.update(note=note)
    return children


def _target_result(target: Target, thread_counts, per_threads: list[list[dict[str, Any]]]) -> ArtifactResult:
    """One artifact's result: its rounds pooled per thread count."""
    result = _artifact_result(target)
    for threads, rounds in zip(thread_counts, per_threads, strict=True):
        _absorb(result, pool_rounds(rounds), threads)
    if not result.measurements and result.status == STATUS_OK:
        result.status, result.error = STATUS_ERROR, "no measurement was taken"
    return result


def _settings_record(settings: Settings, rounds: int, command: list[str] | None) -> dict[str, Any]:
    """The settings as the report records them."""
    return {
        "runs": settings.runs,
        "rounds": rounds,
        "runs_per_round": settings.runs_per_round,
        "warmup": settings.warmup,
        "threads": list(settings.threads),
        "batches": list(settings.batches),
        "device": settings.device,
        "engine": settings.engine,
        "command": command or [],
    }


def auto_threads(cores: int | None) -> list[int]:
    """1, 2, 4, ... and the core count itself: the thread counts ``--threads auto`` measures."""
    cores = max(1, cores or os.cpu_count() or 1)
    counts = [1]
    while counts[-1] * 2 < cores:
        counts.append(counts[-1] * 2)
    return counts + ([cores] if cores > 1 else [])


def measure_in_child(model: Path, threads: int, settings: Settings, *, parity: Path | None) -> dict[str, Any]:
    """Run the worker for one artifact and thread count; its JSON result, or an error result."""
    with tempfile.TemporaryDirectory(prefix="edgewise-bench-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [
            sys.executable,
            "-m",
            "edgewise.benchmarks.worker",
            str(model),
            "--out",
            str(out),
            *settings.worker_argv(threads),
        ]
        if parity is not None:
            cmd += ["--parity", str(parity)]
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=settings.timeout_s, env=_child_env()
            )
        except subprocess.TimeoutExpired:
            return {"status": STATUS_ERROR, "error": f"timed out after {settings.timeout_s:g} s"}
        if proc.returncode == 0 and out.is_file():
            return json.loads(out.read_text(encoding="utf-8"))
        return {"status": STATUS_ERROR, "error": _crash_reason(proc)}


def pool_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One child result from the results of several rounds: samples pooled per batch size, p50 of each
    round, the bootstrap interval of the pooled p50 and a noise warning. A failed round becomes a note
    when another round worked."""
    worked = [r for r in rounds if r.get("status") == STATUS_OK]
    if not worked:
        return rounds[0]
    pooled = dict(worked[0])
    pooled["notes"] = list(dict.fromkeys(n for r in rounds for n in r.get("notes", [])))
    for n, r in enumerate(rounds, 1):
        if r.get("status") != STATUS_OK:
            pooled["notes"].append(f"round {n} of {len(rounds)} failed: {r.get('error')}")
    pooled["parity"] = next((r["parity"] for r in rounds if r.get("parity") is not None), None)
    measurements = []
    for first in worked[0].get("measurements", []):
        same = [m for r in worked for m in r.get("measurements", []) if m["batch"] == first["batch"]]
        samples = [s for m in same for s in m["samples_ms"]]
        latency = stats.summarize(samples)
        round_p50 = [m["latency_ms"]["p50"] for m in same]
        interval = stats.p50_interval(samples)
        measurements.append(
            {
                **first,
                "runs": len(samples),
                "latency_ms": latency,
                "throughput_ips": stats.throughput(first["batch"], latency["mean"]),
                "load_ms": float(statistics.median(m["load_ms"] for m in same)),
                "first_inference_ms": float(statistics.median(m["first_inference_ms"] for m in same)),
                "peak_rss_mb": max(
                    (m["peak_rss_mb"] for m in same if m["peak_rss_mb"] is not None), default=None
                ),
                "samples_ms": samples,
                "rounds": len(same),
                "round_p50_ms": [round(x, 5) for x in round_p50],
                "p50_ci_ms": [interval[0], interval[1]],
                "noise": stats.noise_warning(latency["p50"], interval, round_p50),
            }
        )
    pooled["measurements"] = measurements
    return pooled


def _crash_reason(proc: subprocess.CompletedProcess) -> str:
    code = proc.returncode
    how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
    lines = [line for line in (proc.stderr or "").strip().splitlines() if line.strip()]
    return f"worker crashed ({how})" + (f": {lines[-1].strip()}" if lines else "")


def _child_env() -> dict[str, str]:
    """The parent's environment, with this edgewise importable even when it is not installed."""
    env = dict(os.environ)
    package_root = str(Path(edgewise.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def _artifact_result(target: Target) -> ArtifactResult:
    return ArtifactResult(
        file=target.path.name,
        format=target.format,
        quantize=target.quantize,
        size_bytes=target.path.stat().st_size,
    )


def _absorb(result: ArtifactResult, child: dict[str, Any], threads: int) -> None:
    """Fold one child's outcome into the artifact's result."""
    status, error = child.get("status", STATUS_ERROR), child.get("error")
    if status != STATUS_OK:
        if result.measurements:  # an earlier thread count worked: keep it, note this one
            result.notes.append(f"threads={threads}: {error}")
        else:
            result.status, result.error = status, error
        return
    for key in ("engine", "engine_version", "provider", "engine_info"):
        if child.get(key) and not getattr(result, key):
            setattr(result, key, child[key])
    if child.get("parity") is not None:
        result.parity = child["parity"]
    result.notes.extend(n for n in child.get("notes", []) if n not in result.notes)
    result.measurements.extend(Measurement(**m) for m in child.get("measurements", []))
    if result.status != STATUS_OK and result.measurements:
        result.status, result.error = STATUS_OK, None


def _bundle_info(targets: list[Target]) -> dict[str, Any]:
    if not targets:
        return {}
    first = targets[0].path
    info: dict[str, Any] = {"path": str(first.parent.resolve())}
    card_path = first.parent / CARD_FILE
    if card_path.is_file():
        try:
            card = ModelCard.load(card_path)
            info.update(model=card.model, classes=card.num_classes, input_shape=list(card.input.shape))
            info["export"] = export_figures(card)
        except EdgewiseError as e:
            info["card_error"] = str(e)
    if targets[0].parity is not None:
        try:
            info["parity_samples"] = len(load_parity(targets[0].parity))
        except EdgewiseError as e:
            info["parity_error"] = str(e)
    return info


EXPORT_PARITY_KEYS = ("samples", "accuracy", "reference_accuracy", "agreement", "max_abs_diff")


def export_figures(card: ModelCard) -> dict[str, Any]:
    """Per artifact, what the export measured on the full held-out set (often the whole test set) and
    the gate it passed: reports show it beside this device's parity-set figures, --pick reuses the gate."""
    out = {}
    for name, a in card.artifacts.items():
        parity = a.parity or {}
        out[name] = {
            "validated": a.validated,
            "thresholds": a.extra.get("thresholds") or {},
            "parity": {k: parity[k] for k in EXPORT_PARITY_KEYS if k in parity},
        }
        repair = report_repair.card_figures(a.extra.get("repair"))
        if repair:
            out[name]["repair"] = repair
    return out
