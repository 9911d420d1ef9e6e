"""`interplay trace` as text: the span tree with events, links, resources and scopes, folded when big.

Runs of repeated sibling calls (same service and operation, none failing) print as one `×N` line, and a
big trace prints down to the depth that fits `LINE_BUDGET` lines, each folded subtree as one line saying
how many spans (and errors) it holds: the same folds the web UI starts with.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.text import Text
from rich.tree import Tree

from ..model_telemetry import Trace, TraceSpan
from ..output import safe

LINE_BUDGET = 300     # spans printed at most before deeper subtrees fold (about a few screens)
RUN_MIN = 5           # this many same-named siblings in a row, none failing, print as one ×N line
EVENT_ATTRS = 3       # attributes shown per non-exception event


def print_trace(console: Console, trace: Trace, *, depth: int | None = None, show_all: bool = False,
                attributes: bool = False, stored: Callable[[str], bool] = lambda _tid: False) -> None:
    """Print one trace; `depth` folds below it (None: what fits LINE_BUDGET; show_all: nothing folded)."""
    roots = trace.roots
    failing = _failing(roots)
    if show_all:
        depth = None
    elif depth is None and trace.spans > LINE_BUDGET:
        depth = _fitting_depth(roots, failing)
    services = {n.service for n in _walk(roots)}
    head = Text(f"trace {trace.trace_id}  ({trace.spans} spans, {len(services)} services)", style="bold")
    tree = Tree(head)
    ctx = _Ctx(trace.trace_id, failing, depth=depth, fold_runs=not show_all, attributes=attributes, stored=stored)
    for root in roots:
        _add(tree, root, 0, ctx)
    console.print(tree)
    if ctx.folded:
        console.print(Text(f"{_count(ctx.folded, 'subtree')} folded below depth {depth}: --depth N or --all shows more",
                           style="dim"))
    _print_resources(console, roots)


class _Ctx:
    def __init__(self, trace_id: str, failing: set[str], *, depth: int | None, fold_runs: bool, attributes: bool,
                 stored: Callable[[str], bool]) -> None:
        self.trace_id, self.failing, self.depth, self.fold_runs, self.attributes, self.stored = (
            trace_id, failing, depth, fold_runs, attributes, stored)
        self.folded = 0
        self._stored: dict[str, bool] = {}

    def is_stored(self, trace_id: str) -> bool:
        if trace_id not in self._stored:
            self._stored[trace_id] = len(self._stored) < 20 and self.stored(trace_id)  # a few lookups at most
        return self._stored[trace_id]


def _add(parent: Tree, node: TraceSpan, level: int, ctx: _Ctx) -> None:
    children = sorted(node.children, key=lambda c: c.start_ns)
    label = _label(node)
    folded = bool(children) and ctx.depth is not None and level >= ctx.depth
    if folded:
        below = list(_walk(children))
        errors = sum(n.status_code == "ERROR" for n in below)
        label.append(f"  [+{_count(len(below), 'span')} below" + (f", {errors} with errors]" if errors else "]"),
                     style="yellow" if errors else "dim")
        ctx.folded += 1
    branch = parent.add(label)
    for line in _details(node, ctx):
        branch.add(line)
    if folded:
        return
    for run in _runs(children, ctx.failing) if ctx.fold_runs else [[c] for c in children]:
        if len(run) >= RUN_MIN:
            branch.add(_run_label(run))
        else:
            for child in run:
                _add(branch, child, level + 1, ctx)


def _lines(nodes: list[TraceSpan], level: int, depth: int, failing: set[str]) -> int:
    """Span lines printed for these siblings when folding below `depth` (events and links not counted)."""
    total = 0
    for run in _runs(sorted(nodes, key=lambda c: c.start_ns), failing):
        if len(run) >= RUN_MIN:
            total += 1
            continue
        for node in run:
            total += 1 + (_lines(node.children, level + 1, depth, failing) if level < depth else 0)
    return total


def _label(node: TraceSpan) -> Text:
    label = Text()
    if node.status_code == "ERROR":
        label.append("✗ ", style="bold red")
    label.append_text(safe(node.service))
    label.append(" ")
    label.append_text(safe(node.operation))
    label.append(f"  {node.duration_ns / 1e6:.2f} ms", style="cyan")
    label.append(f" (self {node.self_ns / 1e6:.2f} ms)", style="dim")
    label.append(f"  {node.kind.lower()}", style="dim")
    if node.orphan:
        label.append("  [parent missing]", style="yellow")
    if node.status_message:
        label.append("  ")
        label.append_text(safe(node.status_message))
        label.stylize("red", len(label) - len(str(node.status_message)))
    return label


def _details(node: TraceSpan, ctx: _Ctx) -> list[Text]:
    """The span's events (exceptions by type and message), links, and with --attributes its attributes."""
    out = []
    if ctx.attributes:
        for key, value in _obj(node.attributes).items():
            out.append(_line("", f"{key} = {_value(value)}", "dim"))
    for ev in _list(node.events):
        attrs = ev.get("attributes") or {}
        at = (ev.get("time_ns", node.start_ns) - node.start_ns) / 1e6
        if ev.get("name") == "exception":
            what = ": ".join(str(attrs[k]) for k in ("exception.type", "exception.message") if attrs.get(k))
        else:
            what = "  ".join(f"{k}={_value(v)}" for k, v in list(attrs.items())[:EVENT_ATTRS])
        style = "red" if ev.get("name") == "exception" else "magenta"
        out.append(_line("• ", f"{ev.get('name') or 'event'} +{at:.2f} ms" + (f"  {what}" if what else ""), style))
    for link in _list(node.links):
        tid, sid = str(link.get("trace_id") or ""), str(link.get("span_id") or "")
        where = "this trace" if tid == ctx.trace_id else (
            f"stored: interplay trace {tid}" if tid and ctx.is_stored(tid) else "not stored here")
        out.append(_line("↪ ", f"link to trace {tid} span {sid} ({where})", "blue"))
    return out


def _run_label(run: list[TraceSpan]) -> Text:
    durations = [c.duration_ns / 1e6 for c in run]
    label = Text()
    label.append_text(safe(run[0].service))
    label.append(" ")
    label.append_text(safe(run[0].operation))
    label.append(f" ×{len(run)}", style="bold")
    label.append(f"  {sum(durations):.2f} ms in all, each {min(durations):.2f}–{max(durations):.2f} ms", style="cyan")
    below = sum(len(list(_walk(c.children))) for c in run)
    under = f"; {_count(below, 'span')} below them" if below else ""
    label.append(f"  (--all for each{under})", style="dim")
    return label


def _print_resources(console: Console, roots: list[TraceSpan]) -> None:
    """Each service's resource attributes and instrumentation scopes, once (not repeated per span)."""
    seen: dict[str, tuple[str, set[str]]] = {}
    for n in _walk(roots):
        resource, scopes = seen.setdefault(n.service, (n.resource_attributes or "", set()))
        if n.scope_name:
            scopes.add(f"{n.scope_name} {n.scope_version or ''}".strip())
    if not seen:
        return
    console.print(Text("Resources", style="bold"))
    for service, (resource, scopes) in sorted(seen.items()):
        attrs = "  ".join(f"{k}={_value(v)}" for k, v in _obj(resource).items() if k != "service.name")
        line = Text("  ")
        line.append_text(safe(service))
        line.append(": ")
        line.append_text(safe(attrs or "no resource attributes"))
        if scopes:
            line.append(f"  scope {', '.join(sorted(scopes))}", style="dim")
        console.print(line, soft_wrap=True)


# -- helpers -------------------------------------------------------------------------------------
def _fitting_depth(roots: list[TraceSpan], failing: set[str]) -> int:
    """The deepest level down to which the trace prints in LINE_BUDGET lines (at least 1)."""
    deepest = max((_depth_of(r) for r in roots), default=0)
    depth = 1
    for d in range(1, deepest + 1):
        if _lines(roots, 0, d, failing) > LINE_BUDGET:
            break
        depth = d
    return depth


def _depth_of(node: TraceSpan) -> int:
    stack, deepest = [(node, 0)], 0
    while stack:
        n, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((c, level + 1) for c in n.children)
    return deepest


def _runs(children: list[TraceSpan], failing: set[str]) -> list[list[TraceSpan]]:
    """Consecutive siblings of one service and operation; a failing one (or one failing beneath) stands
    alone, so the runs on either side of it still fold."""
    runs: list[list[TraceSpan]] = []
    for c in children:
        if c.span_id in failing:
            runs += [[c], []]
        elif runs and runs[-1] and (runs[-1][0].service, runs[-1][0].operation) == (c.service, c.operation):
            runs[-1].append(c)
        else:
            runs.append([c])
    return [r for r in runs if r]


def _failing(roots: list[TraceSpan]) -> set[str]:
    """The ids of the spans that failed or have a failure beneath them (once per trace, children first)."""
    failing: set[str] = set()
    for node in reversed(list(_walk(roots))):
        if node.status_code == "ERROR" or any(c.span_id in failing for c in node.children):
            failing.add(node.span_id)
    return failing


def _walk(nodes: list[TraceSpan]) -> Iterator[TraceSpan]:
    stack = list(nodes)
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.children)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _line(mark: str, text: str, style: str) -> Text:
    line = Text(mark, style=style)
    line.append_text(safe(text))
    line.stylize(style)
    return line


def _obj(raw: Any) -> dict[str, Any]:
    value = _parse(raw)
    return value if isinstance(value, dict) else {}


def _list(raw: Any) -> list[dict[str, Any]]:
    value = _parse(raw)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _parse(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None
    return raw


def _value(v: Any) -> str:
    text = v if isinstance(v, str) else json.dumps(v)
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:200] + "…"
