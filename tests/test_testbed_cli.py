"""Click commands of the testbed."""

import json

from click.testing import CliRunner

from interplay.testbed import cli as tb_cli

simulate_cmd = tb_cli.simulate_cmd


def test_list_json_and_text():
    runner = CliRunner()
    out = runner.invoke(tb_cli.testbed, ["list", "--format", "json"])
    assert out.exit_code == 0
    names = {s["name"] for s in json.loads(out.output)}
    assert {"shop-db-latency", "shop-bad-deploy", "agent-tool-loop", "agent-llm-rate-limit"} <= names
    assert "shop-db-latency" in runner.invoke(tb_cli.testbed, ["list"]).output


def test_unknown_names_are_clear_errors(tmp_path):
    runner = CliRunner()
    out = runner.invoke(tb_cli.testbed, ["run", "nope", "--url", "http://127.0.0.1:1"])
    assert out.exit_code == 2 and "shop-db-latency" in out.output
    out = runner.invoke(simulate_cmd, ["--topology", "mall", "--out", str(tmp_path / "x")])
    assert out.exit_code == 2 and "shop, agentic" in out.output
    out = runner.invoke(simulate_cmd, ["--topology", "shop", "--fault", "llm_slow", "--out", str(tmp_path / "x")])
    assert out.exit_code == 2 and "queue_lag" in out.output


def test_simulate_command(tmp_path):
    out = tmp_path / "s.jsonl"
    res = CliRunner().invoke(simulate_cmd, ["--topology", "agentic", "--fault", "llm_slow", "--seed", "1",
                                            "--out", str(out), "--duration", "120", "--max-spans", "2000"])
    assert res.exit_code == 0, res.output
    assert "spans" in res.output and out.exists()
    assert json.loads((tmp_path / "s.jsonl.truth.json").read_text())["service"] == "llm-provider"


def test_simulate_bare(tmp_path):
    out = tmp_path / "b.jsonl"
    res = CliRunner().invoke(simulate_cmd, ["--topology", "shop", "--fault", "network_delay", "--seed", "2",
                                            "--out", str(out), "--duration", "150", "--rate", "1", "--bare"])
    assert res.exit_code == 0, res.output
    truth = json.loads((tmp_path / "b.jsonl.truth.json").read_text())
    assert truth["bare"] is True and 60 <= truth["fault_at_s"] <= 120 and "network_delay" in res.output
    assert '"code":2' not in out.read_text() and "http.route" not in out.read_text()
