"""The table ``edgewise export`` prints: one row per artifact with its size and parity figures."""

from __future__ import annotations

from edgewise.runtime import formatting as fmt
from edgewise.runtime.card import Artifact

HEADER = ["artifact", "size", "vs fp32", "keras acc", "acc", "drop pp", "agreement", "max abs diff", "status"]


def table(result) -> str:
    """Markdown table of an :class:`~edgewise.export.api.ExportResult`, rejected artifacts included."""
    rejected = {r.artifact for r in result.rejected}
    sizes = {
        (a.format, a.quantize): a.size_bytes for a in [*result.card.artifacts.values(), *result.artifacts]
    }
    rows = []
    for artifact in result.artifacts:
        status = (
            "REJECTED" if artifact.file in rejected else ("ok" if artifact.validated else "not validated")
        )
        rows.append(row(artifact, status, sizes.get((artifact.format, "fp32"))))
    return fmt.markdown_table(HEADER, rows)


def repairs(result) -> list[str]:
    """One line per artifact that ``--max-drop`` searched: float layers, validation drop, cost."""
    lines = []
    for artifact in result.artifacts:
        info = artifact.extra.get("repair")
        if not info:
            continue
        steps = info["steps"]
        chosen = next(s for s in steps if s["float_layers"] == info["float_layers"])
        cost = sum(s["seconds"] for s in steps[1:]) + info["rank_seconds"]
        weighted = f"{len(info.get('float_weighted_layers', []))}/{info.get('weighted_layers', '?')}"
        recipe = f", re-quantised as {info['recipe']}" if info.get("recipe") else ""
        lines.append(
            f"{artifact.file}: --max-drop {info['budget_pp']:g}: {len(info['float_layers'])} layer(s) in "
            f"float ({100 * info['float_share']:.0f}%; weighted {weighted}), "
            f"validation drop {chosen['drop_pp']:+.2f} pp (plain int8 {steps[0]['drop_pp']:+.2f} pp), "
            f"{len(steps) - 1} re-quantisation(s) in {cost:.1f} s{recipe}"
            f"{'' if info['met'] else ', budget NOT met'}"
        )
        lines += [f"    float: {layer}" for layer in info["float_layers"]]
    return lines


def row(artifact: Artifact, status: str, fp32_size: int | None) -> list[str]:
    parity = artifact.parity or {}
    diff = parity.get("max_abs_diff")
    drop = parity.get("accuracy_drop_pp")
    return [
        artifact.file,
        fmt.size(artifact.size_bytes),
        fmt.ratio(artifact.size_bytes / fp32_size) if fp32_size else "-",
        fmt.pct(parity.get("reference_accuracy"), missing="-"),
        fmt.pct(parity.get("accuracy"), missing="-"),
        "-" if drop is None else f"{drop:+.2f}",
        fmt.pct(parity.get("agreement"), missing="-"),
        "-" if diff is None else f"{diff:.2e}",
        status,
    ]
