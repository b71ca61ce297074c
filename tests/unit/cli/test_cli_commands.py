"""`node list`, `framework list`, `task list` against a fake master, and their error path."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson
from cli_fakes import AGENTS, FRAMEWORKS, FakeMaster, free_port
from typer.testing import CliRunner

from dcos.cli.main import app
from dcos.cli.tables import framework_rows, node_rows, select_tasks, task_rows

runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env=env or {"DCOS_MASTER": ""})


def test_node_rows_show_used_and_total_and_attributes() -> None:
    rows = node_rows(AGENTS)
    assert rows[0] == ("a1b2-S0", "node-a", "5051", "0.5 / 2", "128 / 2048", "0 / 10000",
                       "true", "rack:r1,zone:z1")
    assert rows[1][3] == "0 / 1.5" and rows[1][6] == "false" and rows[1][7] == "-"


def test_framework_rows_count_tasks_and_join_roles() -> None:
    rows = framework_rows(FRAMEWORKS + [{"id": "fw-0", "roles": ["batch", "etl"]}])
    assert rows[0] == ("fw-1", "webapp", "*", "true", "1", "0.5", "128")
    assert rows[1] == ("fw-0", "-", "batch,etl", "false", "0", "0", "0")


def test_task_rows_name_framework_and_agent_host(fake_master: FakeMaster) -> None:
    state = fake_master.routes["/master/state"][1]
    rows = task_rows(state, select_tasks(state, active=True, completed=True))
    assert rows == [
        ("web.1", "web", "webapp", "node-a", "TASK_RUNNING"),
        ("job.7", "job", "webapp", "node-b", "TASK_FINISHED"),
        ("old.3", "old", "old-batch", "gone-S9", "TASK_KILLED"),
    ]


def test_node_list_table(fake_master: FakeMaster) -> None:
    result = invoke("node", "list", "--master", fake_master.url)
    assert result.exit_code == 0, result.output
    assert "a1b2-S0" in result.stdout and "node-b" in result.stdout
    assert "128 / 2048" in result.stdout and "rack:r1,zone:z1" in result.stdout
    assert fake_master.requests == ["/master/slaves"]


def test_node_list_json_is_the_agents_list(fake_master: FakeMaster) -> None:
    result = invoke("node", "list", "--json", "--master", fake_master.url)
    assert result.exit_code == 0
    assert orjson.loads(result.stdout) == AGENTS


def test_master_found_from_env(fake_master: FakeMaster) -> None:
    result = invoke("node", "list", "--json", env={"DCOS_MASTER": fake_master.url})
    assert result.exit_code == 0
    assert len(orjson.loads(result.stdout)) == 2


def test_root_master_option_applies_to_subcommands(fake_master: FakeMaster) -> None:
    result = invoke("--master", fake_master.url, "framework", "list", "--json")
    assert result.exit_code == 0
    assert [f["id"] for f in orjson.loads(result.stdout)] == ["fw-1"]


def test_framework_list_table_and_completed(fake_master: FakeMaster) -> None:
    result = invoke("framework", "list", "--master", fake_master.url)
    assert result.exit_code == 0
    assert "webapp" in result.stdout and "old-batch" not in result.stdout
    result = invoke("framework", "list", "--completed", "--master", fake_master.url)
    assert "old-batch" in result.stdout and "batch,etl" in result.stdout


def test_task_list_active_by_default(fake_master: FakeMaster) -> None:
    result = invoke("task", "list", "--json", "--master", fake_master.url)
    assert [t["id"] for t in orjson.loads(result.stdout)] == ["web.1"]
    assert fake_master.requests == ["/master/state"]


def test_task_list_completed_and_all(fake_master: FakeMaster) -> None:
    completed = invoke("task", "list", "--completed", "--json", "--master", fake_master.url)
    assert [t["id"] for t in orjson.loads(completed.stdout)] == ["job.7", "old.3"]
    everything = invoke("task", "list", "--all", "--json", "--master", fake_master.url)
    assert [t["id"] for t in orjson.loads(everything.stdout)] == ["web.1", "job.7", "old.3"]


def test_task_list_table_and_filter(fake_master: FakeMaster) -> None:
    result = invoke("task", "list", "--all", "job", "--master", fake_master.url)
    assert result.exit_code == 0
    assert "job.7" in result.stdout and "TASK_FINISHED" in result.stdout
    assert "web.1" not in result.stdout


def test_non_200_is_one_line_and_exit_1(fake_master: FakeMaster) -> None:
    fake_master.routes["/master/slaves"] = (503, "no leading master")
    result = invoke("node", "list", "--master", fake_master.url)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0
    assert "503" in result.stderr and "no leading master" in result.stderr


def test_unexpected_shape_is_one_line(fake_master: FakeMaster) -> None:
    fake_master.routes["/master/slaves"] = (200, {"agents": []})
    result = invoke("node", "list", "--master", fake_master.url)
    assert result.exit_code == 1
    assert "'slaves'" in result.stderr and result.stderr.strip().count("\n") == 0


def test_unreachable_master_is_one_line_and_exit_3() -> None:
    port = free_port()  # nothing listens there once the probe socket is closed
    result = invoke("task", "list", "--master", f"127.0.0.1:{port}")
    assert result.exit_code == 3
    assert result.stderr == f"dcos-py: cannot reach the master at http://127.0.0.1:{port}: " \
                            "connection refused\n"


def test_bad_master_address_is_one_line() -> None:
    result = invoke("node", "list", "--master", "ftp://x")
    assert result.exit_code == 1
    assert result.stderr.startswith("dcos-py: invalid master address")


def test_real_process_prints_no_traceback() -> None:
    """The console script itself, as an operator runs it: one line on stderr, exit 3."""
    port = free_port()
    proc = subprocess.run(
        [sys.executable, "-m", "dcos.cli", "node", "list"],
        env={**os.environ, "DCOS_MASTER": f"127.0.0.1:{port}"},
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 3  # unreachable
    assert proc.stderr.splitlines() == [
        f"dcos-py: cannot reach the master at http://127.0.0.1:{port}: connection refused"]
    assert "Traceback" not in proc.stdout + proc.stderr


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("dcos-py ") and result.stdout.strip() != "dcos-py unknown"


def test_dash_h_exit_codes_and_plain_flags_in_help() -> None:
    top = invoke("-h")
    assert top.exit_code == 0 and "Exit codes:" in top.stdout and "3 unreachable" in top.stdout
    assert "--install-completion" in top.stdout
    up = invoke("up", "-h")
    assert up.exit_code == 0
    assert "--no-webapp <bool>" not in up.stdout and "--no-webapp " in up.stdout
    assert "DCOS_MASTER" in invoke("node", "list", "--help").stdout


def test_rejected_is_exit_4(fake_master: FakeMaster) -> None:
    fake_master.routes["/master/slaves"] = (404, {"message": "no such thing"})
    result = invoke("node", "list", "--master", fake_master.url)
    assert result.exit_code == 4
    assert result.stderr.strip().endswith("answered 404: no such thing")
