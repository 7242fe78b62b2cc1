"""How figures look to people, in one place: percentages, ratios, milliseconds, file sizes, tables.

Sizes are binary everywhere (1 KiB = 1024 bytes) and say so. Each helper turns ``None`` into ``missing``
("" by default) so that a table cell for a figure that was not measured stays empty.
"""

from __future__ import annotations

from typing import Any


def pct(fraction: float | None, digits: int = 2, missing: str = "") -> str:
    """A fraction as a percentage: ``pct(0.9294) == "92.94%"``."""
    return missing if fraction is None else f"{100 * fraction:.{digits}f}%"


def ratio(value: float | None, missing: str = "") -> str:
    return missing if value is None else f"{value:.2f}x"


def ms(value: float | None, missing: str = "") -> str:
    """Milliseconds to four significant digits: 0.008123 and 123.4 both stay readable."""
    return missing if value is None else f"{value:.4g}"


def sig(value: float | None, digits: int = 3, missing: str = "") -> str:
    """``digits`` significant digits."""
    return missing if value is None else f"{value:.{digits}g}"


def fixed(value: float | None, digits: int, missing: str = "") -> str:
    return missing if value is None else f"{value:.{digits}f}"


def threads(count: int | None) -> str:
    """'1 thread', '2 threads'; None (the engine decides) is 'default threads'."""
    if count is None:
        return "default threads"
    return f"{count} thread" + ("" if count == 1 else "s")


def kib(size_bytes: int | None, missing: str = "") -> str:
    """A size as a bare number of KiB (for a column whose header says the unit)."""
    return missing if size_bytes is None else f"{size_bytes / 1024:.1f}"


def size(size_bytes: int | None, missing: str = "") -> str:
    """A size with its binary unit: ``512 B``, ``12.3 KiB``, ``4.0 MiB`` (a negative one, a shortfall,
    keeps its sign)."""
    if size_bytes is None:
        return missing
    n = float(abs(size_bytes))
    sign = "-" if size_bytes < 0 else ""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{sign}{int(n)} B" if unit == "B" else f"{sign}{n:.1f} {unit}"
        n /= 1024
    return f"{size_bytes} B"  # not reached


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table with columns padded to their widest cell, so it also reads well as plain text."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]

    def line(cells: list[Any]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])
