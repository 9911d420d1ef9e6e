"""Terminal rendering with rich: tables and trees of untrusted telemetry strings, made safe."""
from __future__ import annotations

import json
import re
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .model_results import to_json

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe(value: Any, *, multiline: bool = False) -> Text:
    """Telemetry text as literal terminal text: no rich markup, no escape sequences.

    multiline keeps line breaks (for reports); otherwise they are shown as \\n.
    """
    text = "" if value is None else str(value)
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return Text(text if multiline else text.replace("\n", "\\n"))


def print_json(console: Console, data: Any) -> None:
    """Data as indented JSON; result records (interplay.model_results) as the API emits them."""
    console.file.write(json.dumps(to_json(data), indent=2, default=str) + "\n")


def table(console: Console, rows: list[dict[str, Any]], columns: list[tuple[str, str]],
          title: str | None = None, empty: str = "nothing found", nowrap: tuple[str, ...] = (),
          caption: str | None = None, min_width: dict[str, int] | None = None) -> None:
    """Print rows as a table; columns are (key, header) pairs, numbers right-aligned.

    Keys in nowrap (ids a reader copies) never wrap; min_width keeps a column from being squeezed into
    broken words; caption is a legend printed under the table.
    """
    if not rows:
        console.print(empty)
        return
    t = Table(title=title, show_lines=False, header_style="bold")
    for key, header in columns:
        numeric = isinstance(rows[0].get(key), (int, float)) and not isinstance(rows[0].get(key), bool)
        numeric = numeric or key.endswith(("_pct", "_s"))
        t.add_column(header, justify="right" if numeric else "left", min_width=(min_width or {}).get(key),
                     overflow="ignore" if key in nowrap else "fold", no_wrap=key in nowrap)
    for row in rows:
        t.add_row(*[safe(_fmt(row.get(key))) for key, _ in columns])
    console.print(t)
    if caption:
        console.print(caption, style="dim", soft_wrap=True, markup=False)


def pct(share: float | None) -> str:
    """A share (0..1) as a percentage, the one way rates read everywhere: 0%, <0.1%, 2.5%, 12%."""
    if share is None:
        return "–"
    p = share * 100
    if p == 0:
        return "0%"
    if p < 0.1:
        return "<0.1%"
    return f"{p:.1f}%" if p < 10 else f"{p:.0f}%"


def plural(n: int, noun: str, many: str | None = None) -> str:
    """'1 change', '3 changes'."""
    return f"{n} {noun if n == 1 else (many or noun + 's')}"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}".rstrip("0").rstrip(".") if abs(v) < 1 else f"{v:,.1f}"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return "" if v is None else str(v)
