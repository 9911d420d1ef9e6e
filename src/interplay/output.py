"""Terminal rendering with rich: tables and trees of untrusted telemetry strings, made safe."""
from __future__ import annotations

import json
import re
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe(value: Any, *, multiline: bool = False) -> Text:
    """Telemetry text as literal terminal text: no rich markup, no escape sequences.

    multiline keeps line breaks (for reports); otherwise they are shown as \\n.
    """
    text = "" if value is None else str(value)
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return Text(text if multiline else text.replace("\n", "\\n"))


def print_json(console: Console, data: Any) -> None:
    console.file.write(json.dumps(data, indent=2, default=str) + "\n")


def table(console: Console, rows: list[dict[str, Any]], columns: list[tuple[str, str]],
          title: str | None = None, empty: str = "nothing found") -> None:
    """Print rows as a table; columns are (key, header) pairs, numbers right-aligned."""
    if not rows:
        console.print(empty)
        return
    t = Table(title=title, show_lines=False, header_style="bold")
    for key, header in columns:
        numeric = isinstance(rows[0].get(key), (int, float)) and not isinstance(rows[0].get(key), bool)
        t.add_column(header, justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        t.add_row(*[safe(_fmt(row.get(key))) for key, _ in columns])
    console.print(t)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}".rstrip("0").rstrip(".") if abs(v) < 1 else f"{v:,.1f}"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return "" if v is None else str(v)


def trace_tree(console: Console, trace: dict[str, Any]) -> None:
    tree = Tree(Text(f"trace {trace['trace_id']}  ({trace['spans']} spans)", style="bold"))
    for root in trace["roots"]:
        _add(tree, root)
    console.print(tree)


def _add(parent: Tree, node: dict[str, Any]) -> None:
    label = Text()
    if node.get("status_code") == "ERROR":
        label.append("✗ ", style="bold red")
    label.append_text(safe(node["service"]))
    label.append(" ")
    label.append_text(safe(node["operation"]))
    label.append(f"  {node['duration_ns'] / 1e6:.2f} ms", style="cyan")
    label.append(f" (self {node['self_ns'] / 1e6:.2f} ms)", style="dim")
    label.append(f"  {node['kind'].lower()}", style="dim")
    if node.get("orphan"):
        label.append("  [parent missing]", style="yellow")
    if node.get("status_message"):
        label.append("  ")
        label.append_text(safe(node["status_message"]))
        label.stylize("red", len(label) - len(str(node["status_message"])))
    branch = parent.add(label)
    for child in node["children"]:
        _add(branch, child)
