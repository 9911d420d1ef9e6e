"""Inline SVG charts for the HTML incident report: the symptom's error rate and p90 latency over time,
with the onset and change events marked. No scripts, no external URLs: the file stands alone.

    >>> from interplay.model_telemetry import SymptomBucket
    >>> svg = render_svg({"buckets": [SymptomBucket(0, 10, 1, 5.0), SymptomBucket(10**9, 10, 5, 9.0)],
    ...                   "onset_ns": 10**9, "changes": [], "label": "frontend GET /"})
    >>> svg.count("<svg"), "http" in svg
    (2, False)
"""
from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from .model import TimeRange
from .model_results import Investigation

if TYPE_CHECKING:
    from .backend import Backend

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 640, 150, 56, 12, 22, 24


def charts_html(hub: Backend, result: Investigation, buckets: int = 60) -> str:
    """Both charts for an investigation result, as an HTML fragment ('' when there is nothing to draw).

    `hub` is local or a server: the series come from `hub.symptom_series`, so charts work through both.
    """
    series = symptom_series(hub, result, buckets)
    return render_svg(series) if series["buckets"] else ""


def symptom_series(hub: Backend, result: Investigation, buckets: int = 60) -> dict[str, Any]:
    """Per time bucket over baseline+incident: requests, errors, p90 of the symptom's entry points
    (`SymptomBucket`s), the changes in it (`ChangeMark`s), the onset and a label: what `render_svg` draws."""
    lo, hi = result.windows.baseline.since_ns, result.windows.incident.until_ns
    entry = [{"service": e.service, "operation": e.operation} for e in result.symptom.entry_points]
    onset = result.windows.incident.since_ns
    label = ", ".join(f"{e['service']} {e['operation'] or ''}".strip() for e in entry[:3]) or "all entry points"
    if lo is None or hi is None or hi <= lo:
        return {"buckets": [], "onset_ns": onset, "changes": [], "label": label}
    data = hub.symptom_series(entry, TimeRange(lo, hi), buckets)
    return {"buckets": data.buckets, "changes": data.changes, "onset_ns": onset, "label": label, "since_ns": lo,
            "until_ns": hi}


def render_svg(series: dict[str, Any]) -> str:
    """Two inline <svg> charts (error rate, p90 latency) with onset and change markers."""
    pts = series["buckets"]
    if not pts:
        return ""
    lo = series.get("since_ns", pts[0].t_ns)
    hi = series.get("until_ns", pts[-1].t_ns) or pts[-1].t_ns
    error = [(p.t_ns, p.errors / p.requests if p.requests else 0.0) for p in pts]
    latency = [(p.t_ns, p.p90_ms) for p in pts]
    label = series.get("label", "")
    return "\n".join([
        _chart(f"Error rate — {label}", error, lo, hi, series, lambda v: f"{v:.0%}"),
        _chart(f"p90 latency — {label}", latency, lo, hi, series, lambda v: f"{v:.0f} ms"),
    ])


def _chart(title: str, points: list[tuple[int, float]], lo: int, hi: int, series: dict[str, Any], fmt) -> str:
    e = html.escape
    top = max((v for _, v in points), default=0.0) or 1.0
    span = max(hi - lo, 1)
    x = lambda t: PAD_L + (t - lo) / span * (W - PAD_L - PAD_R)  # noqa: E731
    y = lambda v: PAD_T + (1 - v / top) * (H - PAD_T - PAD_B)  # noqa: E731
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(t):.1f},{y(v):.1f}" for i, (t, v) in enumerate(points))
    parts = [f'<svg width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" aria-label="{e(title)}" '
             'style="display:block;margin:.5em 0;font:11px system-ui,sans-serif">',
             f'<text x="{PAD_L}" y="14" font-weight="bold">{e(title)}</text>',
             f'<line x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_R}" y2="{H - PAD_B}" stroke="#999"/>',
             f'<text x="{PAD_L - 4}" y="{PAD_T + 4}" text-anchor="end">{e(fmt(top))}</text>',
             f'<text x="{PAD_L - 4}" y="{H - PAD_B}" text-anchor="end">{e(fmt(0.0))}</text>',
             f'<text x="{PAD_L}" y="{H - 6}">{e(_clock(lo))}</text>',
             f'<text x="{W - PAD_R}" y="{H - 6}" text-anchor="end">{e(_clock(hi))}</text>']
    for c in series.get("changes") or []:
        cx = x(c.time_ns)
        what = f"{c.kind} {c.service} {c.version or ''}: {c.description or ''}".strip()
        parts.append(f'<line x1="{cx:.1f}" y1="{PAD_T}" x2="{cx:.1f}" y2="{H - PAD_B}" stroke="#6a5acd" '
                     f'stroke-width="1.5"><title>{e(what)}</title></line>')
    if series.get("onset_ns") is not None:
        ox = x(series["onset_ns"])
        parts.append(f'<line x1="{ox:.1f}" y1="{PAD_T}" x2="{ox:.1f}" y2="{H - PAD_B}" stroke="#d33" '
                     'stroke-dasharray="4 3"><title>onset</title></line>')
        parts.append(f'<text x="{ox + 3:.1f}" y="{PAD_T + 10}" fill="#d33">onset</text>')
    parts.append(f'<path d="{path}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>')
    parts.append("</svg>")
    return "".join(parts)


def _clock(ns: int) -> str:
    from .timeutil import format_time
    return format_time(ns)[11:19]
