"""`interplay agents`: list agent runs with their failure modes; `agents show RUN`; `agents sessions`,
`agents session ID`; `agents spend`."""
from __future__ import annotations

import json

import click
from rich.text import Text

from .. import output
from ..agents.content import preview
from ..model import TimeRange
from ..model_agents import AgentRun, Step
from ..model_results import to_json
from . import _backend, _window, backend_options, err, format_option, main, out, since_option, until_option


@main.group(invoke_without_command=True)
@click.option("--agent", default=None, help="Only runs of this agent.")
@click.option("--failed", is_flag=True, help="Only runs that ended in error.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@backend_options
@since_option
@until_option
@format_option
@click.pass_context
def agents(ctx: click.Context, agent, failed, limit, db, url, token, since, until, fmt) -> None:
    """Agent runs (GenAI / OpenInference spans), newest first, with tokens and failure modes."""
    if ctx.invoked_subcommand is not None:
        return
    backend = _backend(db, url, token)
    try:
        runs = _list(backend, agent, failed, _window(since, until), limit)
    finally:
        backend.close()
    if fmt == "json":
        output.print_json(out, {"runs": runs})
        return
    _print_runs(runs)


def _print_runs(runs: list[AgentRun]) -> None:
    rows = [{"run_id": r.run_id, "agent": r.agent, "status": r.status, "steps": r.steps,
             "tokens_total": r.tokens.total, "usd": _usd(r.cost.usd if r.cost else None),
             "calls": f"{r.model_calls}/{r.tool_calls}",
             "modes": " ".join(m.mode for m in r.failure_modes) or "-",
             "started_s": (r.started or "").replace("T", " ")[:19],  # to the second: the table stays narrow
             "duration_s": f"{r.duration_ms / 1000:,.1f}" if r.duration_ms is not None else "-"} for r in runs]
    output.table(out, rows, [("run_id", "run"), ("started_s", "started (UTC)"), ("agent", "agent"),
                             ("status", "status"), ("duration_s", "s"), ("steps", "steps"),
                             ("calls", "model/tool"), ("tokens_total", "tokens"), ("usd", "cost"),
                             ("modes", "failure modes")], nowrap=("run_id", "started_s"),
                 empty="no agent runs found (no spans with gen_ai.* / OpenInference agent attributes)")


def _usd(v: float | None) -> str:
    if v is None:
        return "-"
    return f"${v:.2f}" if v >= 1 else f"${v:.6f}".rstrip("0").rstrip(".") if v else "$0"


def _lines(text: str, indent: str = "", style: str = "dim") -> None:
    """Multi-line text (a traceback, pretty JSON), each line made safe on its own."""
    for line in text.splitlines():
        if line.strip():
            out.print(output.safe(indent + line), style=style)


@agents.command("show")
@click.argument("run_id")
@backend_options
@click.option("--all-steps", is_flag=True, help="Print every step; by default a repeated step (or pair of "
                                                "steps) prints once as `name ×N`.")
@click.option("--full", is_flag=True, help="Whole inputs and outputs of every step, and tracebacks of errors "
                                           "(else a one-line preview of each).")
@format_option
def show(run_id, db, url, token, all_steps, full, fmt) -> None:
    """One run step by step: model calls, tool calls and what they reached, errors, failure modes."""
    backend = _backend(db, url, token)
    try:
        run = _get(backend, run_id, full)
    finally:
        backend.close()
    if fmt == "json":
        output.print_json(out, run)
        return
    _print_run(run, fold=not all_steps and not full, full=full)


@agents.command("sessions")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@backend_options
@since_option
@until_option
@format_option
def sessions(limit, db, url, token, since, until, fmt) -> None:
    """Runs grouped by conversation / session id (gen_ai.conversation.id, session.id), most recent first."""
    backend = _backend(db, url, token)
    try:
        found = backend.agent_sessions(window=_window(since, until), limit=limit)
    finally:
        backend.close()
    if fmt == "json":
        output.print_json(out, {"sessions": found})
        return
    rows = [{"session_id": s.session_id, "started": s.started, "runs_count": s.runs_count,
             "failed_runs": s.failed_runs, "agents_text": ", ".join(s.agents), "tokens": s.tokens,
             "usd": _usd(s.cost_usd), "modes": ", ".join(s.failure_modes) or "-"} for s in found]
    output.table(out, rows, [("session_id", "session"), ("started", "started"), ("runs_count", "runs"),
                              ("failed_runs", "failed"), ("agents_text", "agents"), ("tokens", "tokens"),
                              ("usd", "cost"), ("modes", "failure modes")], nowrap=("session_id", "started"),
                 empty="no sessions found (no agent run carries gen_ai.conversation.id or session.id)")


@agents.command("session")
@click.argument("session_id")
@backend_options
@format_option
def session(session_id, db, url, token, fmt) -> None:
    """One session's runs in order; a failed run says where it left the session's successful runs."""
    backend = _backend(db, url, token)
    try:
        found = backend.agent_session(session_id)
    finally:
        backend.close()
    if fmt == "json":
        output.print_json(out, found)
        return
    out.print(output.safe(f"session {found.session_id}: {found.runs_count} runs, "
                          f"{found.failed_runs} failed, cost {_usd(found.cost_usd)}"), style="bold")
    _print_runs(found.runs or [])
    for r in found.runs or []:
        d = r.session_divergence
        if d:
            out.print(output.safe(f"  {r.run_id}: left this session's successful runs at step {d.step}: "
                                  f"{d.happened} where they did "
                                  + " or ".join(e.signature for e in d.expected)), style="yellow")


@agents.command("spend")
@backend_options
@since_option
@until_option
@format_option
def spend(db, url, token, since, until, fmt) -> None:
    """Model calls, tokens and cost per agent and model (llm.cost.* where sent, else tokens × prices)."""
    backend = _backend(db, url, token)
    try:
        rows = backend.agent_spend(window=_window(since, until))
    finally:
        backend.close()
    if fmt == "json":
        output.print_json(out, {"spend": rows})
        return
    table = [{**to_json(r), "usd_text": _usd(r.usd)} for r in rows]
    output.table(out, table, [("agent", "agent"), ("model", "model"), ("runs", "runs"), ("calls", "calls"),
                             ("input_tokens", "tokens in"), ("output_tokens", "tokens out"),
                             ("usd_text", "cost"), ("source", "from")],
                 empty="no model calls found")


def _list(backend, agent: str | None, failed: bool, window: TimeRange, limit: int) -> list[AgentRun]:
    return backend.agent_runs(agent=agent, failed=failed, window=window, limit=limit)


def _get(backend, run_id: str, full: bool = False) -> AgentRun:
    return backend.agent_run(run_id.strip(), full=full)


def _print_run(run: AgentRun, fold: bool = True, full: bool = False) -> None:
    head = Text()
    head.append_text(output.safe(run.agent))
    head.append(f"  {run.run_id}  ", style="dim")
    head.append(run.status, style="red bold" if run.status == "error" else "green")
    head.append(f"  {run.duration_ms:.0f} ms  {run.steps} steps ({run.model_calls} model, "
                f"{run.tool_calls} tool)  {run.tokens.total or 0} tokens  "
                f"{_usd(run.cost.usd if run.cost else None)}", style="cyan")
    out.print(head)
    tags, metadata = (run.labels.tags, run.labels.metadata) if run.labels else ([], None)
    labels = [f"session {run.conversation_id}" if run.conversation_id else None,
              f"user {run.user_id}" if run.user_id else None,
              f"tags {', '.join(tags)}" if tags else None,
              f"metadata {json.dumps(metadata, sort_keys=True)}" if metadata else None]
    if any(labels):
        out.print(output.safe("  " + "  ".join(x for x in labels if x)), style="dim")
    if run.error:
        out.print(output.safe(f"  error: {run.error}"), style="red")
    if full and run.failure and run.failure.traceback:
        _lines(run.failure.traceback, "    ")
    if not run.complete:
        out.print("  [some spans arrived without their parent: attached by time]", style="yellow")
    steps_detail = run.steps_detail or []
    for steps, times in (fold_steps(steps_detail) if fold else [([s], 1) for s in steps_detail]):
        out.print(_step_line(steps[0]) if times == 1 else _group_line(steps, times))
        if times == 1:
            _print_content(steps[0], full)
        if times > 1:  # the failures inside a folded loop still show
            for step in [s for s in steps if s.status == "error"][:3]:
                out.print(_step_line(step))
    if run.failure_modes:
        out.print(Text("failure modes:", style="bold"))
        for m in run.failure_modes:
            line = Text("  ")
            line.append(m.mode, style="bold red")
            line.append(" ")
            line.append_text(output.safe(m.summary))
            out.print(line)


def fold_steps(steps: list[Step], least: int = 3) -> list[tuple[list[Step], int]]:
    """(steps, times): a step, or a pair (a model call and its tool call), repeated at least `least` times
    in a row is one entry; every other step is an entry of its own with times 1."""
    key = [f"{s.kind}:{s.name}" for s in steps]
    out: list[tuple[list[Step], int]] = []
    i = 0
    while i < len(steps):
        width, times = 1, 1
        for w in (1, 2):
            n = 1
            while i + (n + 1) * w <= len(steps) and key[i + n * w:i + (n + 1) * w] == key[i:i + w]:
                n += 1
            if n >= least and n * w > width * times:
                width, times = w, n
        out.append((steps[i:i + width * times], times))
        i += width * times
    return out


def _group_line(steps: list[Step], times: int) -> Text:
    width = len(steps) // times
    failed = sum(1 for s in steps if s.status == "error")
    line = Text(f"{steps[0].index:>4}–{steps[-1].index} ")
    line.append("✗ " if failed else "  ", style="bold red")
    line.append_text(output.safe(" → ".join(s.signature for s in steps[:width])))
    line.append(f" ×{times}", style="bold")
    line.append(f"  {sum(s.duration_ms or 0 for s in steps):.1f} ms in all", style="cyan")
    if failed:
        line.append(f"  {failed} of {len(steps)} steps failed", style="red")
    line.append("  (--all-steps for each)", style="dim")
    return line


def _print_content(step: Step, full: bool) -> None:
    """A step's input and output: one preview line each, or all of it with --full."""
    said = step.content
    for value, side, arrow in ((said.input if said else None, "input", "in "),
                               (said.output if said else None, "output", "out")):
        if value is None or (step.kind == "tool" and side == "input" and not full):
            continue  # a tool's arguments are on its own line already
        if not full:
            out.print(output.safe(f"        {arrow} {preview(value, 110)}"), style="dim")
            continue
        out.print(f"        {arrow}", style="dim")
        _lines(value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False), "          ")
    if full and step.error and step.error.traceback:
        _lines(step.error.traceback, "          ")


def _step_line(step: Step) -> Text:
    line = Text(f"{step.index:>4} ")
    line.append("✗ " if step.status == "error" else "  ", style="bold red")
    line.append_text(output.safe(step.signature))
    line.append(f"  {step.duration_ms:.1f} ms", style="cyan")
    call = step.call
    if call and (call.tokens.input is not None or call.tokens.output is not None):
        line.append(f"  {call.tokens.input or 0}→{call.tokens.output or 0} tok", style="dim")
    if call and call.cost:
        line.append(f"  {_usd(call.cost.usd)}", style="dim")
    if call and call.finish_reasons:
        line.append("  ")
        line.append_text(output.safe(",".join(map(str, call.finish_reasons))))
    args = step.tool_call.arguments if step.tool_call else None
    if args:
        line.append("  ")
        line.append_text(output.safe(args if len(args) <= 80 else args[:80] + "…"))
    if step.downstream:
        line.append("  → ", style="dim")
        line.append_text(output.safe(", ".join(step.downstream)))
    error = step.error
    if error and step.status == "error":
        cause = error.caused_by
        text = error.message or error.type or "error"
        if cause and cause.service:
            where = " ".join(x for x in (cause.service, cause.operation) if x)
            text += f" (in {where})"
        line.append("  ")
        line.append_text(output.safe(text))
        line.stylize("red", len(line) - len(text))
    return line


__all__ = ["agents", "err"]
