"""Click commands of the testbed: `testbed list`, `testbed run NAME`, `simulate`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from ._faults import DESCRIPTIONS, EXPORTS
from ._live import DEFAULT_SCENARIO, SCENARIOS, list_scenarios, run_scenario
from ._simulate import simulate
from ._topology import FAULTS, TOPOLOGIES


@click.group("testbed")
def testbed() -> None:
    """Live microservices with injected faults and recorded ground truth."""


@testbed.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_cmd(fmt: str) -> None:
    """List live scenarios."""
    scenarios = list_scenarios()
    if fmt == "json":
        click.echo(json.dumps(scenarios, indent=2))
        return
    click.echo(f"  {'SCENARIO':<22} {'TOPOLOGY':<8} {'FAULT':<16} DESCRIPTION")
    for s in scenarios:
        mark = "*" if s["name"] == DEFAULT_SCENARIO else " "
        click.echo(f"{mark} {s['name']:<22} {s['topology']:<8} {s['fault']:<16} {s['description']}")
    click.echo("* the default: what `interplay demo` and `interplay testbed run` run without a name")


@testbed.command("run")
@click.argument("name", default=DEFAULT_SCENARIO)
@click.option("--url", required=True, help="Interplay base URL; OTLP goes to {url}/v1/traces, /v1/logs, /v1/metrics.")
@click.option("--baseline", type=float, default=35.0, show_default=True, help="Seconds of normal traffic.")
@click.option("--incident", type=float, default=25.0, show_default=True, help="Seconds after the fault.")
def run_cmd(name: str, url: str, baseline: float, incident: float) -> None:
    """Run live scenario NAME against Interplay at --url and print its ground truth."""
    if name not in SCENARIOS:
        raise click.BadParameter(f"unknown scenario {name!r}; valid: {', '.join(SCENARIOS)}", param_hint="NAME")
    if baseline + incident > 85:
        raise click.UsageError("--baseline plus --incident must be at most 85 s (a live scenario fits in 90 s)")
    truth = run_scenario(name, url, baseline_s=baseline, incident_s=incident,
                         on_progress=lambda msg: click.echo(msg, err=True))
    click.echo(json.dumps(truth, indent=2))


@click.command("simulate")
@click.option("--topology", required=True, help=f"One of: {', '.join(TOPOLOGIES)}.")
@click.option("--fault", default="none", show_default=True, help=f"One of: none, {', '.join(FAULTS)}.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="OTLP JSON lines file (gzip when it ends with .gz).")
@click.option("--duration", type=float, default=None, help="Simulated seconds [default: 1800; bare: 480].")
@click.option("--rate", type=float, default=None,
              help="User requests per simulated second [default: 20; bare: 0.7].")
@click.option("--fault-at", type=float, default=None, help="Onset in seconds from the start (default: by seed).")
@click.option("--max-spans", type=int, default=None, help="Stop after about this many spans.")
@click.option("--bare", is_flag=True, help="Export like much real telemetry: no span status, no http/rpc/db "
              "attributes, span kinds inferred, no metrics; onset 60-120 s in (default). Same as --export bare.")
@click.option("--export", "export", type=click.Choice(EXPORTS), default=None,
              help="normal; bare (as --bare); codes: no span status, HTTP and gRPC status codes kept "
              "(the shop's backends speak gRPC) [default: normal].")
@click.option("--late", is_flag=True, help="Start traces and logs 0-10 s (by seed) before the onset: no trace "
              "baseline; metrics still cover the whole duration (bare exports them too); onset 50-70% in.")
@click.option("--trace-lead", type=float, default=None,
              help="With --late: seconds of traces before the onset (instead of the seeded 0-10).")
def simulate_cmd(topology: str, fault: str, seed: int, out: Path, duration: float | None, rate: float | None,
                 fault_at: float | None, max_spans: int | None, bare: bool, export: str | None, late: bool,
                 trace_lead: float | None) -> None:
    """Simulate traffic with a fault into OTLP JSON lines, change events and ground truth."""
    if topology not in TOPOLOGIES:
        raise click.BadParameter(f"unknown topology {topology!r}; valid: {', '.join(TOPOLOGIES)}",
                                 param_hint="--topology")
    fault_name = None if fault == "none" else fault
    if fault_name is not None and fault_name not in TOPOLOGIES[topology].targets:
        valid = ", ".join(["none", *TOPOLOGIES[topology].targets])
        raise click.BadParameter(f"unknown fault {fault!r} for topology {topology}; valid: {valid}",
                                 param_hint="--fault")
    if bare and export not in (None, "bare"):
        raise click.UsageError(f"--bare contradicts --export {export}")
    if trace_lead is not None and not late:
        raise click.UsageError("--trace-lead needs --late")
    bare = bare or export == "bare"
    duration = duration if duration is not None else (480.0 if bare else 1800.0)
    rate = rate if rate is not None else (0.7 if bare else 20.0)
    began = time.perf_counter()
    truth = simulate(topology, fault_name, seed, out, duration_s=duration, fault_at_s=fault_at, rate_per_s=rate,
                     max_spans=max_spans, export=export or ("bare" if bare else "normal"), late=late,
                     trace_lead_s=trace_lead)
    secs = time.perf_counter() - began
    click.echo(f"wrote {truth['spans']} spans and {truth['logs']} logs to {out} "
               f"({secs:.1f} s, {truth['spans'] / max(secs, 1e-9):,.0f} spans/s)")
    click.echo(f"wrote {out}.changes.jsonl and {out}.truth.json")
    if late:
        click.echo(f"traces start {truth['traces_start']}; metrics from {truth['metrics_start']}")
    if fault_name:
        click.echo(f"fault {fault_name} ({DESCRIPTIONS[fault_name]}) at {truth['injected_at']} "
                   f"in {truth['service']}")


__all__ = ["simulate_cmd", "testbed"]
