"""The one Markdown table writer of the project's reports (skd-eval, skd-reproduce, skd-bench, the
real-footage evaluation): numbers formatted alike everywhere, a dash for what was not measured."""

from __future__ import annotations

import math
from collections.abc import Sequence


def fmt(value, digits: int = 3) -> str:
    """A cell: floats with ``digits`` decimals and thousands separators, None and NaN as a dash."""
    if value is None:
        return "—"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        return f"{value:,.{digits}f}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A GitHub Markdown table; string cells are kept as they are, other cells go through ``fmt``."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(v if isinstance(v, str) else fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
