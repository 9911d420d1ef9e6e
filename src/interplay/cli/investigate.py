"""Investigation commands: investigate, graph, impact, ingest-rcaeval."""
from __future__ import annotations

import click

from .. import output
from ..model_results import to_json
from ..timeutil import parse_time_ns
from . import _backend, _window, backend_options, err, main, out, since_option, until_option


@main.command()
@click.option("--symptom", default=None, help="SERVICE[:OPERATION] that went wrong (default: find it).")
@click.option("--at", "at", default=None, help="When it started (default: find the onset).")
@since_option
@until_option
@backend_options
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json", "html"]), default="text",
              show_default=True)
@click.option("--output", "-o", "output_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the report to this file (e.g. incident.html) instead of printing it.")
def investigate(symptom, at, since, until, db, url, token, fmt, output_path) -> None:
    """Find the root cause of a symptom, with the causal chain and the evidence."""
    from ..report import render
    backend = _backend(db, url, token)
    window = _window(since, until)
    at_ns = parse_time_ns(at, where="--at") if at else None
    result = backend.investigate(symptom=symptom, at_ns=at_ns, window=window)
    charts = ""
    if fmt == "html":
        from ..report_charts import charts_html
        charts = charts_html(backend, result)
    backend.close()
    text = render(result, fmt, charts=charts)
    if output_path:
        with open(output_path, "w", encoding="utf-8") as f:
            f.write(text)
        err.print(output.safe(f"wrote {fmt} report to {output_path}"))
        return
    _print(text, fmt)


@main.command()
@since_option
@until_option
@backend_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "dot", "mermaid"]), default="text",
              show_default=True)
def graph(since, until, db, url, token, fmt) -> None:
    """The interaction graph: services, resources, and who calls whom, with rates and latency."""
    from ..report import render_graph
    backend = _backend(db, url, token)
    window = _window(since, until)
    g = backend.graph(window)
    backend.close()
    _print(render_graph(g, fmt), fmt)


@main.command()
@click.argument("target")
@since_option
@until_option
@backend_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def impact(target, since, until, db, url, token, fmt) -> None:
    """Blast radius of SERVICE[:OPERATION]: who depends on it, and what share of their traffic."""
    backend = _backend(db, url, token)
    window = _window(since, until)
    result = backend.impact(target, window)
    backend.close()
    if fmt == "json":
        output.print_json(out, result)
        return
    callers = [{**to_json(c), "error_pct": output.pct(c.error_rate), "rate_s": f"{c.rate or 0:.2f}"}
               for c in result.direct_callers]
    entries = [{**to_json(e), "share_pct": output.pct(e.share)} for e in result.entry_points]
    output.table(out, callers, [("service", "direct caller"), ("mode", "mode"),
                                                  ("rate_s", "calls/s"), ("error_pct", "errors")],
                 empty=f"no callers of {target} seen")
    output.table(out, entries, [("service", "entry service"), ("operation", "operation"),
                                                ("requests", "requests"), ("through", f"via {target}"),
                                                ("share_pct", "share"), ("mode", "mode")],
                 empty="no entry point reaches it",
                 caption=f"share: of the entry point's requests, those whose trace reaches {target}; mode: "
                         "sync (it waits), async (only through a queue), self (the target is the entry)")




def _print(text: str, fmt: str) -> None:
    # rendered text is written raw (no rich markup interpretation of telemetry strings)
    out.file.write(text)


__all__ = ["err"]
