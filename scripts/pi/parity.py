"""Compare the emulated Pi's raw outputs with the host's and print the parity table.

``python parity.py HOST_DIR RESULTS_DIR``: HOST_DIR holds the host's ``outputs.json`` and ``<artifact>.npy``
(written by outputs.py); RESULTS_DIR holds one such directory per ``<cpu>/<venv>`` plus the exit codes of
``edgewise bench --json`` and ``edgewise predict`` run there. Exit status 1 on any mismatch or failure.

The rules (issue 6): top-1 agreement with the host must be 100% on the parity set; float artifacts may
differ by at most 1e-5; int8 artifacts must give identical outputs.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FLOAT_TOLERANCE = 1e-5
DEVICES = {"cortex-a72": "Pi 4 (cortex-a72)", "cortex-a76": "Pi 5 (cortex-a76)"}
ENGINES = {"litert": "litert", "tflite_runtime": "tflite-runtime", "onnxruntime": "onnxruntime"}
MODES = ("fp32", "int8")


@dataclass
class Parity:
    agreement: float
    max_abs_diff: float
    identical: bool
    ok: bool
    why: str = ""


def compare(host: np.ndarray, pi: np.ndarray, quantize: str) -> Parity:
    """Judge one artifact's Pi outputs against the host's for the same inputs."""
    if host.shape != pi.shape:
        return Parity(0.0, float("inf"), False, False, f"shape {pi.shape} != host {host.shape}")
    agreement = float((host.argmax(1) == pi.argmax(1)).mean())
    max_abs_diff = float(np.abs(host.astype(np.float64) - pi.astype(np.float64)).max())
    identical = bool(np.array_equal(host, pi))
    if agreement < 1.0:
        return Parity(agreement, max_abs_diff, identical, False, "top-1 differs from the host")
    if quantize == "int8" and not identical:
        return Parity(agreement, max_abs_diff, identical, False, "int8 outputs not identical")
    if quantize != "int8" and max_abs_diff > FLOAT_TOLERANCE:
        return Parity(agreement, max_abs_diff, identical, False, f"max |diff| > {FLOAT_TOLERANCE:g}")
    return Parity(agreement, max_abs_diff, identical, True)


def read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def exit_code(path: Path) -> int | None:
    return int(path.read_text().strip()) if path.is_file() else None


def command_status(run_dir: Path, command: str) -> tuple[str, bool]:
    """``ok`` / ``failed (rc N)`` for a command whose exit code pi-check saved as ``<command>.rc``."""
    rc = exit_code(run_dir / f"{command}.rc")
    if rc is None:
        return "not run", False
    if rc != 0:
        return f"failed (rc {rc})", False
    if command == "bench":
        try:
            json.loads((run_dir / "bench.json").read_text())
        except (OSError, ValueError):
            return "no valid JSON", False
    return "ok", True


def parity_rows(host_dir: Path, results: Path) -> tuple[list[list[str]], bool]:
    host_meta = read_json(host_dir / "outputs.json")
    rows, all_ok = [], True
    for cpu, device in DEVICES.items():
        runs = sorted(p for p in (results / cpu).glob("*") if p.is_dir())
        found = {}
        for run_dir in runs:
            for name, meta in read_json(run_dir / "outputs.json").items():
                found[(meta["backend"], meta["quantize"])] = (run_dir, name)
        for engine, engine_label in ENGINES.items():
            for mode in MODES:
                if (engine, mode) not in found:
                    rows.append([device, engine_label, mode, "-", "-", "-", "-", "not run"])
                    all_ok = False
                    continue
                run_dir, name = found[(engine, mode)]
                if name not in host_meta:
                    rows.append([device, engine_label, mode, name, "-", "-", "-", "FAIL: no host outputs"])
                    all_ok = False
                    continue
                p = compare(np.load(host_dir / f"{name}.npy"), np.load(run_dir / f"{name}.npy"), mode)
                all_ok &= p.ok
                verdict = "ok" if p.ok else f"FAIL: {p.why}"
                rows.append(
                    [
                        device,
                        engine_label,
                        mode,
                        name,
                        f"{p.agreement:.0%}",
                        f"{p.max_abs_diff:.1e}",
                        "yes" if p.identical else "no",
                        verdict,
                    ]
                )
    return rows, all_ok


def command_rows(results: Path) -> tuple[list[list[str]], bool]:
    rows, all_ok = [], True
    for cpu, device in DEVICES.items():
        for run_dir in sorted(p for p in (results / cpu).glob("*") if p.is_dir()):
            bench, bench_ok = command_status(run_dir, "bench")
            predict, predict_ok = command_status(run_dir, "predict")
            all_ok &= bench_ok and predict_ok
            rows.append([device, run_dir.name, bench, predict])
    return rows, all_ok and bool(rows)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host_dir", type=Path)
    parser.add_argument("results", type=Path)
    args = parser.parse_args(argv)

    rows, parity_ok = parity_rows(args.host_dir, args.results)
    header = ["device", "engine", "mode", "artifact", "top-1 = host", "max |diff|", "identical", "verdict"]
    print(markdown_table(header, rows))
    print()
    commands, commands_ok = command_rows(args.results)
    print(markdown_table(["device", "venv", "edgewise bench --json", "edgewise predict"], commands))
    return 0 if parity_ok and commands_ok else 1


if __name__ == "__main__":
    sys.exit(main())
