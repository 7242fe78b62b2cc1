"""The int8 repair (``edgewise export --max-drop``) in the benchmark reports, from the model card.

The bench JSON carries, per artifact the export repaired, what its card recorded under
``extra["repair"]`` (without the full ranking): the budget, the layers kept in float and their share,
and every step of the search with what it cost. Markdown and HTML show it in their own section.
"""

from __future__ import annotations

import html
from typing import Any

from edgewise.benchmarks.schema import BenchRun

STEP_KEYS = ("action", "drop_pp", "seconds")
KEYS = (
    "budget_pp", "split", "samples", "met", "float_layers", "float_share", "quantised_layers",
    "weighted_layers", "float_weighted_layers", "float_weighted_share", "rank_seconds", "recipe",
    "recipe_seconds", "chosen_step",
)  # fmt: skip


def card_figures(repair: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the bench JSON keeps of a card's ``extra["repair"]``: every figure but the ranking."""
    if not repair:
        return None
    steps = [
        {**{k: s[k] for k in STEP_KEYS if k in s}, "float_layers": len(s.get("float_layers", []))}
        for s in repair.get("steps", [])
    ]
    return {**{k: repair[k] for k in KEYS if k in repair}, "steps": steps}


def repaired(run: BenchRun) -> list[tuple[str, dict[str, Any]]]:
    """(artifact file, repair figures) for each measured artifact whose card records a repair."""
    export = run.bundle.get("export") or {}
    files = [a.file for a in run.artifacts]
    return [(f, export[f]["repair"]) for f in files if (export.get(f) or {}).get("repair")]


def summary_row(repair: dict[str, Any]) -> list[str]:
    steps = repair.get("steps", [])
    chosen = steps[repair.get("chosen_step", 0)] if steps else {}
    weighted = repair.get("float_weighted_layers")
    cost = sum(s.get("seconds", 0) for s in steps[1:]) + repair.get("rank_seconds", 0)
    return [
        f"{repair.get('budget_pp', 0):g}",
        _pp(steps[0].get("drop_pp")) if steps else "-",
        _pp(chosen.get("drop_pp")),
        "yes" if repair.get("met") else "NO",
        f"{len(repair.get('float_layers', []))} ({100 * repair.get('float_share', 0):.0f}%)",
        "-"
        if weighted is None
        else f"{len(weighted)}/{repair.get('weighted_layers')} "
        f"({100 * repair.get('float_weighted_share', 0):.0f}%)",
        str(repair.get("recipe") or "-"),
        f"{len(steps) - 1} in {cost:.1f} s",
    ]


SUMMARY_HEADER = ["artifact", "budget pp", "plain int8 drop pp", "repaired drop pp", "met",
                  "layers in float", "weighted in float", "recipe", "re-quantisations"]  # fmt: skip
STEPS_HEADER = ["step", "tried", "layers in float", "validation drop pp", "seconds"]


def step_rows(repair: dict[str, Any]) -> list[list[str]]:
    chosen = repair.get("chosen_step", 0)
    return [
        [
            f"{i}{' (kept)' if i == chosen else ''}",
            str(s.get("action", "")),
            str(s.get("float_layers", "")),
            _pp(s.get("drop_pp")),
            f"{s.get('seconds', 0):.1f}",
        ]  # fmt: skip
        for i, s in enumerate(repair.get("steps", []))
    ]


def markdown(run: BenchRun) -> list[str]:
    """The section's lines, or none when no measured artifact was repaired."""
    found = repaired(run)
    if not found:
        return []
    lines = ["## int8 repair (`--max-drop`)", "", _INTRO, "", _md_row(SUMMARY_HEADER),
             "|---|" + "--:|" * (len(SUMMARY_HEADER) - 3) + "---|--:|"]  # fmt: skip
    lines += [_md_row([file, *summary_row(r)]) for file, r in found]
    for file, r in found:
        lines += ["", f"{file}: the search, step by step (float layers: "
                  f"{', '.join(f'`{x}`' for x in r.get('float_layers', [])) or 'none'})", "",
                  _md_row(STEPS_HEADER), "|--:|---|--:|--:|--:|"]  # fmt: skip
        lines += [_md_row(row) for row in step_rows(r)]
    return [*lines, ""]


def html_section(run: BenchRun) -> list[str]:
    found = repaired(run)
    if not found:
        return []
    rows = [[file, *summary_row(r)] for file, r in found]
    body = ["<h2>int8 repair (--max-drop)</h2>", f"<p>{html.escape(_INTRO)}</p>",
            _html_table("repair", SUMMARY_HEADER, rows)]  # fmt: skip
    for file, r in found:
        layers = ", ".join(r.get("float_layers", [])) or "none"
        body += [f"<p><code>{html.escape(file)}</code>: float layers {html.escape(layers)}</p>",
                 _html_table(None, STEPS_HEADER, step_rows(r))]  # fmt: skip
    return body


_INTRO = (
    "From the model card: the export judged each int8 artifact on the validation split against the Keras "
    "model and kept the fewest layers in float that meet the budget; weighted layers are convolutions "
    "and dense layers."
)


def _pp(value) -> str:
    return "-" if value is None else f"{value:+.2f}"


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def _html_table(table_id: str | None, header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f'<th class="l">{html.escape(h)}</th>' if i == 0 else f"<th>{html.escape(h)}</th>"
                   for i, h in enumerate(header))  # fmt: skip
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=l' if i == 0 else ''}>{html.escape(str(c))}</td>" for i, c in enumerate(row))
        + "</tr>"  # fmt: skip
        for row in rows
    )
    ident = f' id="{table_id}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
