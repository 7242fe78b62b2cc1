"""The table ``edgewise export`` prints: one row per artifact with its size and parity figures."""

from __future__ import annotations

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
    return markdown(HEADER, rows)


def row(artifact: Artifact, status: str, fp32_size: int | None) -> list[str]:
    parity = artifact.parity or {}
    diff = parity.get("max_abs_diff")
    drop = parity.get("accuracy_drop_pp")
    return [
        artifact.file,
        f"{artifact.size_bytes / 1024:.1f} KiB",
        f"{artifact.size_bytes / fp32_size:.2f}x" if fp32_size else "-",
        _pct(parity.get("reference_accuracy")),
        _pct(parity.get("accuracy")),
        "-" if drop is None else f"{drop:+.2f}",
        _pct(parity.get("agreement")),
        "-" if diff is None else f"{diff:.2e}",
        status,
    ]


def markdown(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    return "\n".join(lines)


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"
