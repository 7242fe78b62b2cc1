"""A self-contained HTML report: one file with inline CSS and plots embedded as base64 PNG.

It opens from disk, from an e-mail attachment or a CI artefact with no server and no network. When
matplotlib is not installed the page still renders every table and says that plots need
``edgewise[plots]``.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable

from edgewise.benchmarks import plots, report_repair, tables
from edgewise.benchmarks.headline import headline
from edgewise.benchmarks.merge import comparison, device_summary, noise_notes
from edgewise.benchmarks.report_md import machine_facts, notes_for
from edgewise.benchmarks.schema import STATUS_OK, BenchMerge, BenchRun
from edgewise.runtime import formatting as fmt

PLOTS_MISSING = (
    "Plots need matplotlib, which is not installed here: <code>pip install 'edgewise[plots]'</code>, "
    "then <code>edgewise report render bench.json --html bench.html</code>."
)

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto;
       max-width: 1360px; padding: 0 16px; color: #222; background: #fff; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; }
.meta { color: #666; } code, pre { background: #f4f4f4; border-radius: 3px; padding: 1px 4px; }
pre { padding: 8px; overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border-bottom: 1px solid #e2e2e2; padding: 3px 8px; text-align: right; white-space: nowrap; }
th { background: #f6f6f6; } td.l, th.l { text-align: left; }
tr.fail td { color: #a33; }
figure { margin: 12px 0; } figure img { max-width: 100%; border: 1px solid #eee; }
.scroll { overflow-x: auto; }
#results { font-size: 12px; font-variant-numeric: tabular-nums; }
#results th, #results td { padding: 3px 5px; }
#results th { white-space: normal; vertical-align: bottom; }
#results td.engine { white-space: normal; min-width: 7em; }
.headline { font-size: 16px; font-weight: 600; background: #eef6ee; border-left: 4px solid #2ca02c;
            padding: 6px 10px; }
ul.headline { padding-left: 28px; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 6px 10px; }
"""


def render(doc: BenchRun | BenchMerge, baseline: str | None = None) -> str:
    return render_merge(doc) if isinstance(doc, BenchMerge) else render_run(doc, baseline)


def render_run(run: BenchRun, baseline: str | None = None) -> str:
    baseline = baseline or tables.default_baseline(run)
    model = run.bundle.get("model") or "model"
    body = [
        f"<h1>Benchmark: {_e(model)} on {_e(run.label)}</h1>",
        f'<p class="meta">{_e(run.created)} · edgewise {_e(run.edgewise_version)} · '
        f"runs {_e(run.settings.get('runs'))} in {_e(run.settings.get('rounds') or 1)} rounds, "
        f"warm-up {_e(run.settings.get('warmup'))}, "
        f"device {_e(run.settings.get('device'))}</p>",
        f'<p class="headline" id="headline">{_e(headline(run))}</p>',
    ]
    if run.settings.get("command"):
        body.append(f"<pre>{_e(' '.join(run.settings['command']))}</pre>")
    body += ["<h2>Machine</h2>", _kv_table(machine_facts(run))]
    body += [
        "<h2>Latency and accuracy</h2>",
        f"<p>Milliseconds per call; <b>x base</b> is p50 relative to <code>{_e(baseline)}</code> at the "
        "same threads and batch. Accuracy is top-1 on <code>parity.npz</code> "
        f"({_e(run.bundle.get('parity_samples', '?'))} images); <b>agree</b> is top-1 agreement with "
        "the Keras reference outputs.</p>",
        _results_table(run, baseline),
        "<h2>Plots</h2>",
        _plots(
            [
                ("Latency per artifact (p50, p99)", lambda: plots.latency_per_artifact(run)),
                ("Accuracy vs size", lambda: plots.accuracy_vs_size(run)),
                ("Latency distribution", lambda: plots.latency_distribution(run)),
            ]
        ),
    ]
    if any(a.parity for a in run.artifacts):
        body += ["<h2>Accuracy parity</h2>", _parity_table(run)]
    body += report_repair.html_section(run)
    notes = notes_for(run)
    if notes:
        body += ["<h2>Notes</h2>", "<ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>"]
    return _page(f"edgewise bench: {model} on {run.label}", body)


def render_merge(merged: BenchMerge) -> str:
    labels = [r.label for r in merged.runs]
    body = [
        f"<h1>Benchmark comparison: {_e(', '.join(labels))}</h1>",
        f'<p class="meta">{_e(merged.created)} · p50 in milliseconds per call; <b>x base</b> is p50 '
        f"relative to <code>{_e(merged.baseline)}</code> on the same device; <b>vs {_e(labels[0])}</b> "
        "compares each device with the first; <b>!</b> marks a noisy figure (see the notes).</p>",
        '<ul class="headline" id="headline">'
        + "".join(f"<li>{_e(headline(r))}</li>" for r in merged.runs)
        + "</ul>",
        "<h2>Devices</h2>",
        _devices_table(merged),
        "<h2>Latency</h2>",
        _comparison_table(merged),
        "<h2>Plots</h2>",
        _plots([("Latency by device", lambda: plots.devices_latency(merged))]),
        "<h2>Accuracy (top-1 on parity.npz)</h2>",
        _accuracy_table(merged),
    ]
    notes = [f"{r.label}: {n}" for r in merged.runs for n in notes_for(r)] + noise_notes(merged)
    if notes:
        body += ["<h2>Notes</h2>", "<ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>"]
    return _page(f"edgewise bench comparison: {', '.join(labels)}", body)


def _plots(makers: list[tuple[str, Callable[[], bytes | None]]]) -> str:
    if not plots.available():
        return f'<p class="note" id="plots-missing">{PLOTS_MISSING}</p>'
    out = []
    for title, make in makers:
        png = make()
        if png is None:
            continue
        data = base64.b64encode(png).decode("ascii")
        out.append(
            f'<figure class="plot"><img alt="{_e(title)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(title)}</figcaption></figure>"
        )
    return "\n".join(out) or "<p>No measurements to plot.</p>"


def _results_table(run: BenchRun, baseline: str | None) -> str:
    names = tables.REPORT_COLUMNS
    cols = [tables.COLUMNS[n] for n in names]
    head = "".join(f'<th class="{_align(c.align)}">{_e(c.header)}</th>' for c in cols)
    rows = []
    body = tables.rows(run, baseline)
    formats = tables.column_formats(body, names)
    for row in body:
        cells = tables.cells(row, names, formats)
        if row["status"] != STATUS_OK:
            rows.append(
                f'<tr class="fail"><td class="l">{_e(cells[0])}</td>'
                f'<td class="l" colspan="{len(cols) - 1}">{_e(cells[1])}</td></tr>'
            )
        else:
            rows.append(
                "<tr>"
                + "".join(
                    f'<td class="{_align(c.align)}{" engine" if n == "engine" else ""}">{_e(v)}</td>'
                    for n, c, v in zip(names, cols, cells, strict=True)
                )
                + "</tr>"
            )
    noisy = tables.noise_lines(body)
    warning = (
        '<ul class="note" id="noise">'
        + "".join(f"<li>{_e(n.removeprefix('! '))}</li>" for n in noisy)
        + "</ul>"
        if noisy
        else ""
    )
    return (
        f'<div class="scroll"><table id="results"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{warning}"
    )


def _parity_table(run: BenchRun) -> str:
    head = (
        '<tr><th class="l">artifact</th><th>samples</th><th>accuracy</th><th>reference accuracy</th>'
        "<th>agreement</th><th>max abs diff</th><th>mean abs diff</th></tr>"
    )
    rows = []
    for a in run.artifacts:
        if not a.parity:
            continue
        p = a.parity
        rows.append(
            f'<tr><td class="l">{_e(a.file)}</td><td>{_e(p.get("samples"))}</td>'
            f"<td>{fmt.pct(p.get('accuracy'))}</td><td>{fmt.pct(p.get('reference_accuracy'))}</td>"
            f"<td>{fmt.pct(p.get('agreement'))}</td><td>{fmt.sig(p.get('max_abs_diff'))}</td>"
            f"<td>{fmt.sig(p.get('mean_abs_diff'))}</td></tr>"
        )
    return f'<table id="parity"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def _devices_table(merged: BenchMerge) -> str:
    rows = []
    for run in merged.runs:
        packages = ", ".join(
            f"{k} {v}" for k, v in run.system.get("packages", {}).items() if k not in ("numpy", "Pillow")
        )
        rows.append(
            f'<tr><td class="l">{_e(run.label)}</td><td class="l">{_e(device_summary(run))}</td>'
            f'<td class="l">{_e(run.system.get("os", ""))}</td><td>{_e(run.system.get("python", ""))}</td>'
            f'<td class="l">{_e(packages)}</td><td>{_e(run.settings.get("runs", ""))}</td></tr>'
        )
    head = (
        '<tr><th class="l">device</th><th class="l">machine</th><th class="l">OS</th><th>Python</th>'
        '<th class="l">engines</th><th>runs</th></tr>'
    )
    return f'<table id="devices"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def _comparison_table(merged: BenchMerge) -> str:
    labels = [r.label for r in merged.runs]
    head = '<tr><th class="l">artifact</th><th>threads</th><th>batch</th>'
    for label in labels:
        head += f"<th>{_e(label)} p50</th><th>x base</th>"
        if label != labels[0]:
            head += f"<th>vs {_e(labels[0])}</th>"
    head += "</tr>"
    rows = []
    for row in comparison(merged):
        tr = f'<tr><td class="l">{_e(row["artifact"])}</td><td>{_e(row["threads"] or "")}</td>'
        tr += f"<td>{_e(row['batch'] or '')}</td>"
        for label in labels:
            cell = row["devices"][label]
            if cell["status"] == STATUS_OK:
                noisy = "!" if cell.get("noise") else ""
                tr += f"<td>{cell['p50']:.3f}{noisy}</td><td>{fmt.ratio(cell['ratio'])}</td>"
            else:
                tr += f'<td title="{_e(cell["error"])}">{_e(cell["status"])}</td><td></td>'
            if label != labels[0]:
                tr += f"<td>{fmt.ratio(cell.get('vs_first'))}</td>"
        rows.append(tr + "</tr>")
    return f'<table id="comparison"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def _accuracy_table(merged: BenchMerge) -> str:
    labels = [r.label for r in merged.runs]
    head = '<tr><th class="l">artifact</th>' + "".join(f"<th>{_e(x)}</th>" for x in labels) + "</tr>"
    rows = []
    for file in dict.fromkeys(a.file for r in merged.runs for a in r.artifacts):
        tr = f'<tr><td class="l">{_e(file)}</td>'
        for run in merged.runs:
            a = next((x for x in run.artifacts if x.file == file), None)
            acc = (a.parity or {}).get("accuracy") if a else None
            tr += f"<td>{'' if acc is None else f'{100 * acc:.2f}%'}</td>"
        rows.append(tr + "</tr>")
    return f'<table id="accuracy"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def _kv_table(pairs: list[tuple[str, str]]) -> str:
    rows = "".join(f'<tr><th class="l">{_e(k)}</th><td class="l">{_e(v)}</td></tr>' for k, v in pairs)
    return f'<table id="machine">{rows}</table>'


def _page(title: str, body: list[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _align(align: str) -> str:
    return "l" if align == "left" else "r"


def _e(v) -> str:
    return html.escape("" if v is None else str(v))
