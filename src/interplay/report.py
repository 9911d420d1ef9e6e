"""Render an investigation (or a graph) as text, markdown, json or self-contained HTML.

Telemetry is untrusted: HTML escapes every string that came from it.
"""
from __future__ import annotations

import html
import json

from .model_results import EdgeStats, Evidence, Graph, Investigation, to_json


def render(result: Investigation, fmt: str = "text", charts: str = "") -> str:
    """charts: trusted HTML (report_charts.charts_html) placed under the title of an html report."""
    if fmt == "json":
        return json.dumps(to_json(result), indent=2, default=str)
    if fmt == "html":
        return _html(result, charts)
    if fmt == "markdown":  # telemetry text is untrusted: raw HTML in it must not render as HTML
        return _markdown(result, markdown=True).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _markdown(result, markdown=False)


def _markdown(r: Investigation, markdown: bool) -> str:
    h1, h2, bullet = ("# ", "## ", "- ") if markdown else ("", "", "  ")
    lines = [f"{h1}Investigation: {_symptom_label(r)}", ""]
    causes = r.root_causes
    w = r.windows
    lines.append(f"Onset {r.onset} ({r.onset_source}); baseline {w.baseline.since} – {w.baseline.until}, "
                 f"incident {w.incident.since} – {w.incident.until}.")
    lines.append("")
    strength = r.evidence_strength
    if strength and strength.note:
        lines += [f"Note: {strength.note}.", ""]
    elif r.symptom.significant is False and not (strength and strength.other_symptoms):
        lines += ["Note: the symptom barely changed at the onset; treat this ranking with care.", ""]
    if not causes:
        lines.append("No root cause found: nothing in the data explains a change.")
    else:
        top = causes[0]
        lines += [f"{h2}Most likely root cause: {top.service}" + (f" ({top.operation})" if top.operation else ""),
                  "", f"{top.summary}", ""]
        lines += [f"{h2}Causal chain", ""]
        for i, hop in enumerate(top.chain):
            arrow = "" if i == 0 else "→ "
            name = hop.service + (f" {hop.operation}" if hop.operation else "")
            # the origin's effect is the summary just printed: name it, don't repeat it
            effect = "where it starts (above)" if hop.effect == top.summary else hop.effect
            if hop.traces:  # the requests' real path, and how many
                effect += f" ({_n(hop.traces, 'request')} on this path)"
            lines.append(f"{bullet}{arrow}{effect}" if effect.startswith(name) else f"{bullet}{arrow}{name}: {effect}")
        others = [e for e in top.evidence if e.summary != top.summary]
        besides = " (besides the summary above)" if len(others) < len(top.evidence) else ""
        lines += ["", f"{h2}Evidence{besides}", ""]
        for e in others:
            context = "" if e.weight else " (context, not scored)"
            unit = _in_unit(e) if e.unit and e.type == "metric_shift" else ""
            lines.append(f"{bullet}[{e.type.replace('_', ' ')}] {e.summary}{unit}{context}")
        if not others:
            lines.append(f"{bullet}nothing more")
        if top.agent_runs:
            shown = top.agent_runs[:5]
            more = f" and {len(top.agent_runs) - 5} more" if len(top.agent_runs) > 5 else ""
            lines += ["", f"Agent runs involved ({len(top.agent_runs)}): {', '.join(shown)}{more} "
                          "(interplay agents show RUN)."]
        ex = r.exemplars
        if ex.failing or ex.healthy:
            lines += ["", f"Compare a failing trace {ex.failing or '-'} with a healthy one "
                          f"{ex.healthy or '-'} (interplay trace ID)."]
        lines += ["", f"{h2}Ranking", "",
                  "score: the summed weight of a candidate's evidence. It orders the candidates; it is not a "
                  "probability and can exceed 1.", ""]
        for c in causes:
            summary = "(above)" if c is top else c.summary
            lines.append(f"{bullet}{c.rank}. {c.service} ({c.kind}) score {c.score:.3f}: {summary}")
    dc = r.data_completeness
    lines += ["", f"{h2}Data completeness", "",
              f"{bullet}{_n(dc.traces, 'trace')} ({dc.complete_share:.0%} complete), "
              f"{_n(dc.spans, 'span')}, {_n(dc.logs, 'log record')}, "
              f"{_n(dc.metric_points, 'metric point')}, {_n(dc.changes, 'change event')}",
              f"{bullet}method: {r.method}"]
    return "\n".join(lines) + "\n"


_UNITS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds", "By": "bytes",
          "KiBy": "KiB", "MiBy": "MiB", "1": "ratio, 1 = 100%", "%": "percent", "{request}": "requests"}


def unit_name(unit: str) -> str:
    """A UCUM unit as a reader says it: s → seconds, 1 → a ratio, By → bytes; others as given."""
    return _UNITS.get(unit, unit.strip("{}") or unit)


def _in_unit(e: Evidence) -> str:
    """A metric shift's before → after in its unit as a reader says it (seconds as ms, ratios as %)."""
    unit, before, after = e.unit or "", e.before, e.after
    if not isinstance(before, (int, float)) or not isinstance(after, (int, float)):
        return f" (unit: {unit_name(unit)})"
    scale = {"s": 1000.0, "ms": 1.0, "us": 1e-3, "ns": 1e-6}
    if unit in scale:
        return f" ({_duration(before * scale[unit])} → {_duration(after * scale[unit])})"
    if unit == "1":
        return f" ({before * 100:.3g}% → {after * 100:.3g}%)"
    if unit == "By":
        return f" ({_bytes(before)} → {_bytes(after)})"
    return f" (unit: {unit_name(unit)})"


def _duration(ms: float) -> str:
    return f"{ms / 1000:.3g} s" if ms >= 1000 else f"{ms:.3g} ms"


def _bytes(n: float) -> str:
    for size, name in ((1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB")):
        if abs(n) >= size:
            return f"{n / size:.3g} {name}"
    return f"{n:.0f} B"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _symptom_label(r: Investigation) -> str:
    if r.symptom.given:
        return r.symptom.given
    eps = r.symptom.entry_points
    if not eps:
        return "whatever changed"
    return ", ".join(f"{e.service} {e.operation}" for e in eps[:3]) + (" …" if len(eps) > 3 else "")


def _html(r: Investigation, charts: str = "") -> str:
    e = html.escape
    body = _markdown(r, markdown=True)
    parts = []
    for line in body.splitlines():
        if line.startswith("# "):
            parts.append(f"<h1>{e(line[2:])}</h1>")
            parts.append(charts)
        elif line.startswith("## "):
            parts.append(f"<h2>{e(line[3:])}</h2>")
        elif line.startswith("- "):
            parts.append(f"<li>{e(line[2:])}</li>")
        elif line:
            parts.append(f"<p>{e(line)}</p>")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Interplay investigation</title>"
            "<style>body{font:14px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
            "li{list-style:none;margin:.2em 0}h2{margin-top:1.5em}</style></head><body>"
            + "\n".join(parts) + "</body></html>\n")


# -- graphs --------------------------------------------------------------------------------------
def render_graph(g: Graph, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(to_json(g), indent=2, default=str)
    w = next(iter(g.windows), "window")
    if fmt == "dot":
        lines = ["digraph interplay {", "  rankdir=LR;"]
        for n in g.nodes:
            shape = "box" if n.kind == "service" else "cylinder"
            lines.append(f"  {_q(n.id)} [shape={shape}, label={_q(n.id + ' (' + n.kind + ')')}];")
        for ed in g.edges:
            st = ed.stats.get(w) or EdgeStats()
            label = f"{st.rate:.2f}/s err {st.error_rate:.1%} p95 {st.p95_ms:.0f}ms"
            style = ", style=dashed" if ed.mode == "async" else ""
            lines.append(f"  {_q(ed.caller)} -> {_q(ed.callee)} [label={_q(label)}{style}];")
        return "\n".join(lines + ["}"]) + "\n"
    if fmt == "mermaid":
        ids = {n.id: f"n{i}" for i, n in enumerate(g.nodes)}
        lines = ["graph LR"]
        for n in g.nodes:
            label = n.id.replace('"', "'")
            lines.append(f'  {ids[n.id]}["{label}"]' if n.kind == "service" else f'  {ids[n.id]}[("{label}")]')
        for ed in g.edges:
            st = ed.stats.get(w) or EdgeStats()
            arrow = "-.->" if ed.mode == "async" else "-->"
            label = f"{st.rate:.2f}/s · err {st.error_rate:.1%} · p95 {st.p95_ms:.0f} ms"
            lines.append(f'  {ids.get(ed.caller, "x")} {arrow}|"{label}"| {ids.get(ed.callee, "x")}')
        return "\n".join(lines) + "\n"
    lines = []
    for ed in g.edges:
        st = ed.stats.get(w) or EdgeStats()
        lines.append(f"{ed.caller} → {ed.callee} [{ed.callee_kind}, {ed.mode}]  "
                     f"{st.rate:.2f}/s  errors {st.error_rate:.1%}  "
                     f"p50 {st.p50_ms:.1f} ms  p95 {st.p95_ms:.1f} ms")
    if lines and g.sampled_share < 1.0:
        lines.append(f"(estimated from {g.sampled_share:.1%} of the window's traces; "
                     "a shorter --since reads them all)")
    return "\n".join(lines) + "\n" if lines else "no interactions in that window\n"


def _q(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'
