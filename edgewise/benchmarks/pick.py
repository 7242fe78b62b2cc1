"""``edgewise bench BUNDLE --pick``: choose the artifact and thread count to run on this device.

The choice is made from a finished benchmark run (so a run fetched from another device over ``--remote``
is chosen from in the same way) and recorded in the bundle's ``picks.json`` under that device's key,
where ``Classifier(bundle_dir)`` finds it (:mod:`edgewise.runtime.picks`).

Rules, in order:

1. Candidates are the artifacts that passed the export gate (``validated`` in the card) and were measured
   here, at every thread count, at the smallest batch size.
2. Each must also pass its own export thresholds (agreement, max abs diff, accuracy drop; kept in the
   card) on this device's run of ``parity.npz``: an engine can compute differently on another CPU.
3. The fastest p50 wins, except that a non-fp32 artifact wins only when it is faster than the fastest
   fp32 beyond the noise (its p50's 95 % interval lies wholly below fp32's). Otherwise fp32 stays: never
   slower than fp32, and exact.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgewise.benchmarks.schema import STATUS_OK, ArtifactResult, BenchRun, Measurement
from edgewise.benchmarks.tables import threads_phrase
from edgewise.runtime import picks
from edgewise.runtime.card import CARD_FILE, ModelCard
from edgewise.runtime.device import device_key
from edgewise.runtime.errors import EdgewiseError, InputError
from edgewise.runtime.parity import PARITY_FILE


class NothingToPick(EdgewiseError):
    """No artifact passed both the export gate and the accuracy check on this device."""


@dataclass
class Candidate:
    file: str
    quantize: str
    threads: int | None
    p50_ms: float | None
    p50_ci_ms: list[float] | None
    excluded: str | None = None  # why it cannot be chosen

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "threads": self.threads,
            "p50_ms": self.p50_ms,
            "p50_ci_ms": self.p50_ci_ms,
            "excluded": self.excluded,
        }


@dataclass
class Pick:
    key: str  # the device key the choice is stored under
    chosen: Candidate
    fp32: Candidate | None  # the fastest fp32 that passed, the floor the choice never falls below
    reason: str
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def vs_fp32(self) -> float | None:
        if self.fp32 is None or not self.fp32.p50_ms or self.chosen.p50_ms is None:
            return None
        return self.chosen.p50_ms / self.fp32.p50_ms

    def summary(self) -> str:
        chosen = self.chosen
        text = f"picked {chosen.file} at {threads_phrase(chosen.threads)} (p50 {chosen.p50_ms:.4g} ms"
        if self.fp32 is not None and self.fp32 is not self.chosen:
            text += f", {self.vs_fp32:.2f}x of {self.fp32.file} at {threads_phrase(self.fp32.threads)}"
        return text + f") for {self.key}: {self.reason}"


def choose(run: BenchRun) -> Pick:
    """The artifact and thread count to use on the device ``run`` was measured on. The export gate comes
    from the card's figures the run carries (``bundle.export``); a run without them (model files given
    one by one) treats every artifact as having passed at export."""
    key = run.system.get("device_key") or device_key(
        run.system.get("machine"), run.system.get("cpu_model"), run.system.get("cpu_count")
    )
    batch = min(run.settings.get("batches") or [1])
    export = run.bundle.get("export")
    candidates = [c for a in run.artifacts for c in _candidates(a, export, batch)]
    passing = [c for c in candidates if c.excluded is None]
    if not passing:
        reasons = "; ".join(f"{c.file}: {c.excluded}" for c in candidates) or "nothing was measured"
        raise NothingToPick(f"no artifact can be picked on {key} ({reasons})")
    passing.sort(key=lambda c: c.p50_ms)
    fastest = passing[0]
    fp32 = next((c for c in passing if c.quantize == "fp32"), None)
    if fp32 is None:
        reason = "the fastest that passed; no fp32 artifact passed to compare with"
        chosen = fastest
    elif fastest.quantize == "fp32":
        chosen, reason = fastest, "the fastest that passed"
    elif _clearly_faster(fastest, fp32):
        chosen, reason = fastest, "the fastest that passed, faster than fp32 beyond the noise"
    else:
        chosen = fp32
        reason = (
            f"{fastest.file} measured {fastest.p50_ms / fp32.p50_ms:.2f}x of fp32 but within the noise "
            "(95% intervals of p50 overlap), so fp32 stays"
        )
    return Pick(key=key, chosen=chosen, fp32=fp32, reason=reason, candidates=candidates)


def record(pick: Pick, run: BenchRun, bundle: str | os.PathLike) -> Path:
    """Write ``pick`` into ``bundle/picks.json`` under its device key; the path written."""
    card_path = Path(bundle) / CARD_FILE
    card = ModelCard.load(card_path) if card_path.is_file() else None
    artifact = card.artifacts.get(pick.chosen.file) if card else None
    chosen = next(a for a in run.artifacts if a.file == pick.chosen.file)
    entry = {
        "artifact": pick.chosen.file,
        "threads": pick.chosen.threads,
        "p50_ms": pick.chosen.p50_ms,
        "p50_ci_ms": pick.chosen.p50_ci_ms,
        "vs_fp32": pick.vs_fp32,
        "fp32": pick.fp32.to_dict() if pick.fp32 else None,
        "reason": pick.reason,
        "engine": " ".join(x for x in (chosen.engine, chosen.engine_version) if x),
        "parity": chosen.parity,
        "sha256": artifact.sha256 if artifact else "",
        "label": run.label,
        "measured": run.created,
        "recorded": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": run.settings.get("command", []),
        "candidates": [c.to_dict() for c in pick.candidates],
    }
    return picks.record(bundle, pick.key, entry)


def bundle_dir(targets: list[Path]) -> Path:
    """The one bundle directory ``--pick`` records into; a clear error for anything else."""
    if len(targets) != 1 or not targets[0].is_dir():
        raise InputError("--pick needs exactly one bundle directory (the choice is recorded in it)")
    bundle = targets[0]
    if not (bundle / PARITY_FILE).is_file():
        raise InputError(
            f"{bundle}: --pick needs {PARITY_FILE} in the bundle to check accuracy on this device"
        )
    return bundle


def _candidates(a: ArtifactResult, export: dict[str, Any] | None, batch: int) -> list[Candidate]:
    listed = export.get(a.file) if export is not None else {}
    excluded = None
    if a.status != STATUS_OK or not a.measurements:
        excluded = f"{a.status}: {a.error or 'not measured'}"
    elif listed is None or (export is not None and not listed.get("validated")):
        excluded = "did not pass the export gate (not validated in the card)"
    elif not a.parity:
        excluded = "no accuracy figures from this device"
    else:
        excluded = "; ".join(gate_failures(a.parity, listed.get("thresholds") or {})) or None
    measured = [m for m in a.measurements if m.batch == batch]
    if excluded or not measured:
        return [Candidate(a.file, a.quantize, None, None, None, excluded or f"not measured at batch {batch}")]
    return [_candidate(a, m) for m in measured]


def _candidate(a: ArtifactResult, m: Measurement) -> Candidate:
    return Candidate(a.file, a.quantize, m.threads, m.latency_ms.get("p50"), m.p50_ci_ms)


def gate_failures(parity: dict[str, Any], thresholds: dict[str, Any]) -> list[str]:
    """The export thresholds (``min_agreement`` %, ``max_abs_diff``, ``max_drop`` pp) this device's
    parity figures miss, one phrase each."""
    out = []
    figure = {k: (parity.get(k) if parity.get(k) is not None else 0.0) for k in PARITY_FIGURES}
    agreement = 100 * figure["agreement"]
    if thresholds.get("min_agreement") is not None and agreement < thresholds["min_agreement"]:
        out.append(f"agreement here {agreement:.2f}% < {thresholds['min_agreement']:g}%")
    diff = figure["max_abs_diff"]
    if thresholds.get("max_abs_diff") is not None and diff > thresholds["max_abs_diff"]:
        out.append(f"max abs diff here {diff:.3g} > {thresholds['max_abs_diff']:g}")
    drop = round(100 * (figure["reference_accuracy"] - figure["accuracy"]), 6)
    if thresholds.get("max_drop") is not None and drop > thresholds["max_drop"]:
        out.append(f"accuracy drop here {drop:.2f} pp > {thresholds['max_drop']:g} pp")
    cosine = parity.get("cosine")  # regressors (figures that do not apply are None)
    if thresholds.get("min_cosine") is not None and cosine is not None and cosine < thresholds["min_cosine"]:
        out.append(f"cosine similarity here {cosine:.6f} < {thresholds['min_cosine']:g}")
    return out


PARITY_FIGURES = ("agreement", "max_abs_diff", "reference_accuracy", "accuracy")


def _clearly_faster(a: Candidate, b: Candidate) -> bool:
    if a.p50_ci_ms and b.p50_ci_ms:
        return a.p50_ci_ms[1] < b.p50_ci_ms[0]
    return a.p50_ms < b.p50_ms
