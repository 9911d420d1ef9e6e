"""Investigations across the agent boundary name the agent runs involved."""
from __future__ import annotations

import pytest

from interplay.api import Interplay
from interplay.testbed import simulate


@pytest.fixture(scope="module")
def tool_loop_case(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("loop")
    truth = simulate("agentic", "agent_tool_loop", seed=1, out=tmp / "case.jsonl", duration_s=480, rate_per_s=0.5)
    ip = Interplay.open(":memory:")
    ip.ingest_file(tmp / "case.jsonl")
    ip.ingest_file(tmp / "case.jsonl.changes.jsonl")
    yield ip, truth
    ip.close()


def test_agent_loop_is_the_root_cause_and_its_runs_are_named(tool_loop_case):
    ip, truth = tool_loop_case
    result = ip.investigate()
    top = result.root_causes[0]
    assert top.service == truth["service"]
    runs = top.agent_runs
    assert runs
    looping = [ip.agent_run(run_id) for run_id in runs]
    assert all(run.run_id in runs for run in looping)
    assert any("tool_loop" in {m.mode for m in run.failure_modes} for run in looping)
    from interplay.report import render
    assert runs[0] in render(result, "text")
