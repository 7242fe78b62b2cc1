"""Markdown reports rendered from the benchmark JSON: one run, or several devices merged."""

from __future__ import annotations

from typing import Any

from edgewise.benchmarks import report_repair, tables
from edgewise.benchmarks.headline import headline
from edgewise.benchmarks.merge import comparison, device_summary, noise_notes
from edgewise.benchmarks.schema import STATUS_OK, BenchMerge, BenchRun
from edgewise.runtime import formatting as fmt


def render(doc: BenchRun | BenchMerge, baseline: str | None = None) -> str:
    return render_merge(doc) if isinstance(doc, BenchMerge) else render_run(doc, baseline)


def render_run(run: BenchRun, baseline: str | None = None) -> str:
    baseline = baseline or tables.default_baseline(run)
    model = run.bundle.get("model") or "model"
    lines = [
        f"# Benchmark: {model} on {run.label}",
        "",
        f"{run.created} · edgewise {run.edgewise_version} · {_settings_line(run.settings)}",
        "",
        f"**{_esc(headline(run))}**",
        "",
    ]
    command = run.settings.get("command")
    if command:
        lines += ["```", " ".join(command), "```", ""]
    lines += ["## Machine", "", *_kv_table(machine_facts(run)), ""]
    lines += [
        "## Latency and accuracy",
        "",
        f"Latency in milliseconds per call over {run.settings.get('runs')} timed runs "
        f"{_rounds_phrase(run.settings)}, each round after {run.settings.get('warmup')} warm-up runs, "
        "each artifact in its own process. `p50 CI` is half the width of p50's 95% bootstrap confidence "
        "interval, relative to p50; `!` marks a noisy figure. "
        f"`x base` is p50 relative to `{baseline}` at the same threads and batch. Accuracy is top-1 on "
        f"`parity.npz` ({run.bundle.get('parity_samples', '?')} images); `agree` is top-1 agreement "
        "with the Keras reference outputs and `max diff` the largest absolute difference in probability.",
        "",
        *_results_table(run, baseline),
        "",
    ]
    parity = [a for a in run.artifacts if a.parity]
    if parity:
        lines += [
            "## Accuracy parity",
            "",
            "| artifact | samples | accuracy | reference accuracy | agreement | max abs diff "
            "| mean abs diff |",
            "|---|--:|--:|--:|--:|--:|--:|",
        ]
        for a in parity:
            p = a.parity or {}
            lines.append(
                f"| {_esc(a.file)} | {p.get('samples', '')} | {fmt.pct(p.get('accuracy'))} | "
                f"{fmt.pct(p.get('reference_accuracy'))} | {fmt.pct(p.get('agreement'))} | "
                f"{fmt.sig(p.get('max_abs_diff'))} | {fmt.sig(p.get('mean_abs_diff'))} |"
            )
        lines.append("")
    lines += report_repair.markdown(run)
    notes = notes_for(run)
    if notes:
        lines += ["## Notes", "", *[f"- {_esc(n)}" for n in notes], ""]
    return "\n".join(lines)


def render_merge(merged: BenchMerge) -> str:
    labels = [r.label for r in merged.runs]
    lines = [
        f"# Benchmark comparison: {', '.join(labels)}",
        "",
        f"p50 latency in milliseconds per call; `x base` is p50 relative to `{merged.baseline}` on the "
        f"same device; `vs {labels[0]}` compares each device with the first; `!` marks a noisy figure "
        "(see the notes).",
        "",
        "## Headline per device",
        "",
        *[f"- {_esc(headline(r))}" for r in merged.runs],
        "",
        *_devices_table(merged),
        "",
        *_latency_table(merged, labels),
        "",
        *_accuracy_table(merged, labels),
    ]
    notes = [f"{r.label}: {n}" for r in merged.runs for n in notes_for(r)] + noise_notes(merged)
    if notes:
        lines += ["", "## Notes", "", *[f"- {_esc(n)}" for n in notes]]
    return "\n".join(lines) + "\n"


def _devices_table(merged: BenchMerge) -> list[str]:
    lines = [
        "## Devices",
        "",
        "| device | machine | OS | Python | engines | runs |",
        "|---|---|---|---|---|--:|",
    ]
    for run in merged.runs:
        packages = run.system.get("packages", {})
        engines = ", ".join(f"{k} {v}" for k, v in packages.items() if k not in ("numpy", "Pillow"))
        lines.append(
            f"| {_esc(run.label)} | {_esc(device_summary(run))} | {_esc(run.system.get('os', ''))} | "
            f"{run.system.get('python', '')} | {_esc(engines)} | {run.settings.get('runs', '')} |"
        )
    return lines


def _latency_table(merged: BenchMerge, labels: list[str]) -> list[str]:
    """p50 per device, its ratio to the baseline artifact, and (after the first) to the first device."""
    header = "| artifact | threads | batch |"
    rule = "|---|--:|--:|"
    for label in labels:
        header += f" {_esc(label)} p50 | x base |" + (
            f" vs {_esc(labels[0])} |" if label != labels[0] else ""
        )
        rule += "--:|--:|" + ("--:|" if label != labels[0] else "")
    lines = ["## Latency", "", header, rule]
    for row in comparison(merged):
        line = f"| {_esc(row['artifact'])} | {row['threads'] or ''} | {row['batch'] or ''} |"
        for label in labels:
            cell = row["devices"][label]
            if cell["status"] == STATUS_OK:
                noisy = "!" if cell.get("noise") else ""
                line += f" {fmt.fixed(cell['p50'], 3)}{noisy} | {fmt.ratio(cell['ratio'])} |"
            else:
                line += f" {cell['status']} | |"
            if label != labels[0]:
                line += f" {fmt.ratio(cell.get('vs_first'))} |"
        lines.append(line)
    return lines


def _accuracy_table(merged: BenchMerge, labels: list[str]) -> list[str]:
    lines = [
        "## Accuracy (top-1 on parity.npz)",
        "",
        "| artifact | " + " | ".join(map(_esc, labels)) + " |",
        "|---|" + "--:|" * len(labels),
    ]
    files = list(dict.fromkeys(a.file for r in merged.runs for a in r.artifacts))
    for file in files:
        accs = []
        for run in merged.runs:
            a = next((x for x in run.artifacts if x.file == file), None)
            accs.append(fmt.pct((a.parity or {}).get("accuracy")) if a else "")
        lines.append(f"| {_esc(file)} | " + " | ".join(accs) + " |")
    return lines


def machine_facts(run: BenchRun) -> list[tuple[str, str]]:
    """Label/value pairs describing the machine, shared by the Markdown and HTML reports."""
    s = run.system
    facts = [
        ("device", run.label),
        ("board", s.get("board")),
        ("CPU", s.get("cpu_model")),
        ("cores", _cores(s)),
        ("memory", f"{s['memory_mb']} MB" if s.get("memory_mb") else None),
        ("GPU", "; ".join(f"{g['name']} ({g['memory']}, driver {g['driver']})" for g in s.get("gpus") or [])),
        ("architecture", s.get("machine")),
        ("OS", s.get("os")),
        ("Python", f"{s.get('python', '')} ({s.get('python_implementation', '')})"),
        ("packages", ", ".join(f"{k} {v}" for k, v in s.get("packages", {}).items())),
        ("requested device", run.settings.get("device")),
        ("engines used", ", ".join(sorted(_engines_used(run))) or None),
    ]
    for when in ("before", "after"):
        state = s.get(f"state_{when}") or {}
        if state.get("temperature_c") is not None:
            facts.append((f"temperature {when}", f"{state['temperature_c']} °C"))
        facts.append((f"CPU governor {when}", state.get("cpu_governor") or "not readable here"))
        if state.get("cpu_mhz"):
            mhz = state["cpu_mhz"]
            top = f" (max {state['cpu_max_mhz']})" if state.get("cpu_max_mhz") else ""
            facts.append((f"CPU clock {when}", f"{min(mhz)}-{max(mhz)} MHz{top}"))
        if state.get("throttled") is not None:
            facts.append((f"throttling {when}", _throttled(state["throttled"])))
    return [(k, str(v)) for k, v in facts if v not in (None, "")]


def notes_for(run: BenchRun) -> list[str]:
    out = []
    for a in run.artifacts:
        if a.status != STATUS_OK:
            out.append(f"{a.file}: {a.status}: {a.error}")
        out.extend(f"{a.file}: {n}" for n in a.notes)
    return out


def _engines_used(run: BenchRun) -> set[str]:
    used = set()
    for a in run.artifacts:
        if a.status == STATUS_OK and a.engine:
            used.add(f"{a.engine} {a.engine_version} on {a.provider or 'cpu'}".replace("  ", " "))
    return used


def _cores(s: dict[str, Any]) -> str | None:
    if not s.get("cpu_count"):
        return None
    affinity = s.get("cpu_affinity")
    if affinity and affinity != s["cpu_count"]:
        return f"{s['cpu_count']} ({affinity} available to this process)"
    return str(s["cpu_count"])


def _throttled(t: dict[str, Any]) -> str:
    flags = [k.replace("_", " ") for k, v in t.items() if v is True]
    return f"{t.get('raw', '')} ({', '.join(flags) or 'none'})"


def _rounds_phrase(settings: dict[str, Any]) -> str:
    rounds = settings.get("rounds") or 1
    return "in one round" if rounds == 1 else f"in {rounds} interleaved rounds"


def _settings_line(settings: dict[str, Any]) -> str:
    return (
        f"runs {settings.get('runs')} in {settings.get('rounds') or 1} rounds, "
        f"warm-up {settings.get('warmup')}, "
        f"threads {','.join(map(str, settings.get('threads') or []))}, "
        f"batch {','.join(map(str, settings.get('batches') or []))}, device {settings.get('device')}"
    )


def _results_table(run: BenchRun, baseline: str | None) -> list[str]:
    names = tables.REPORT_COLUMNS
    cols = [tables.COLUMNS[n] for n in names]
    out = [
        "| " + " | ".join(c.header for c in cols) + " |",
        "|" + "|".join("---" if c.align == "left" else "--:" for c in cols) + "|",
    ]
    body = tables.rows(run, baseline)
    formats = tables.column_formats(body, names)
    for row in body:
        out.append("| " + " | ".join(_esc(c) for c in tables.cells(row, names, formats)) + " |")
    noisy = tables.noise_lines(body)
    return out + ([""] + [f"- {_esc(line)}" for line in noisy] if noisy else [])


def _kv_table(pairs: list[tuple[str, str]]) -> list[str]:
    return ["| | |", "|---|---|", *[f"| {_esc(k)} | {_esc(v)} |" for k, v in pairs]]


def _esc(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
