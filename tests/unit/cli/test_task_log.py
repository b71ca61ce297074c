"""`task log` and `task ls` against a fake master + agent that serves the real files API over
a temporary work dir (one aiohttp server in a background thread)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from cli_fakes import free_port
from typer.testing import CliRunner

from dcos.agent.http.files import add_routes
from dcos.cli.commands import task as task_cmd
from dcos.cli.main import app

runner = CliRunner()
RUN = "slaves/A1/frameworks/fw-1/executors/{tid}/runs/c1"


@dataclass
class Fake:
    url: str
    work: Path
    agent_states: dict[str, list[str]] = field(default_factory=dict)  # tid -> states to answer
    on_state: list[Any] = field(default_factory=list)

    def sandbox(self, tid: str) -> Path:
        return self.work / RUN.format(tid=tid)


def _master_state(fake: Fake) -> dict[str, Any]:
    task = {"framework_id": "fw-1", "slave_id": "A1", "resources": {}}
    return {
        "slaves": [{"id": "A1", "pid": f"slave(1)@{fake.url.split('//')[1]}", "hostname": "h"}],
        "frameworks": [{"id": "fw-1", "tasks": [task | {"id": "web.1", "state": "TASK_RUNNING"},
                                                task | {"id": "web.2", "state": "TASK_RUNNING"}],
                        "completed_tasks": [task | {"id": "job.9", "state": "TASK_FINISHED"}]}],
    }  # fmt: skip


def _agent_state(fake: Fake) -> dict[str, Any]:
    for hook in fake.on_state:
        hook()
    executors = []
    for tid, states in fake.agent_states.items():
        state = states.pop(0) if len(states) > 1 else states[0]
        executors.append({"id": tid, "directory": str(fake.sandbox(tid)), "tasks": [
            {"id": tid, "state": state}]})  # fmt: skip
    return {"frameworks": [{"id": "fw-1", "executors": executors, "completed_executors": []}]}


@pytest.fixture
def fake(tmp_path) -> Iterator[Fake]:
    port = free_port()
    f = Fake(f"http://127.0.0.1:{port}", tmp_path)
    for tid in ("web.1", "web.2", "job.9"):
        f.sandbox(tid).mkdir(parents=True)
        f.agent_states[tid] = ["TASK_FINISHED" if tid == "job.9" else "TASK_RUNNING"]
    out = "".join(f"line {i}\n" for i in range(1, 16))
    f.sandbox("web.1").joinpath("stdout").write_text(out)
    f.sandbox("web.1").joinpath("stderr").write_text("e1\ne2\ne3\n")
    f.sandbox("job.9").joinpath("stdout").write_text("done\n")

    def js(body: Any) -> web.Response:
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def master_state(request: web.Request) -> web.Response:
        return js(_master_state(f))

    async def agent_state(request: web.Request) -> web.Response:
        return js(_agent_state(f))

    web_app = web.Application()
    web_app.router.add_get("/master/state", master_state)
    web_app.router.add_get("/state", agent_state)
    add_routes(web_app, str(tmp_path))
    loop = asyncio.new_event_loop()
    app_runner = web.AppRunner(web_app, access_log=None)

    async def start() -> None:
        await app_runner.setup()
        await web.TCPSite(app_runner, "127.0.0.1", port).start()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    try:
        yield f
    finally:
        asyncio.run_coroutine_threadsafe(app_runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def invoke(fake: Fake, *args: str):
    return runner.invoke(app, ["task", *args, "--master", fake.url], env={"DCOS_MASTER": ""})


def test_log_prints_last_ten_lines_of_stdout(fake):
    result = invoke(fake, "log", "web.1")
    assert result.exit_code == 0, result.output
    assert result.stdout == "".join(f"line {i}\n" for i in range(6, 16))


def test_log_lines_and_stderr(fake):
    result = invoke(fake, "log", "web.1", "--stderr", "--lines", "2")
    assert result.stdout == "e2\ne3\n"


def test_log_of_completed_task_by_prefix(fake):
    result = invoke(fake, "log", "job")
    assert result.exit_code == 0 and result.stdout == "done\n"


def test_ambiguous_prefix_is_one_line_error(fake):
    result = invoke(fake, "log", "web")
    assert result.exit_code == 1
    assert "ambiguous" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_unknown_task_and_missing_file_are_one_line_errors(fake):
    result = invoke(fake, "log", "nope")
    assert result.exit_code == 1 and "no task with id 'nope'" in result.stderr
    result = invoke(fake, "log", "web.1", "missing.txt")
    assert result.exit_code == 4 and "404" in result.stderr  # rejected by the agent
    result = invoke(fake, "log", "web.1", "../../../../../../../../etc/passwd")
    assert result.exit_code == 4 and "403" in result.stderr


def test_follow_prints_new_output_and_exits_when_task_ended(fake, monkeypatch):
    monkeypatch.setattr(task_cmd, "FOLLOW_POLL", 0.01)
    monkeypatch.setattr(task_cmd, "STATE_POLL", 0.0)
    stdout = fake.sandbox("web.2") / "stdout"
    stdout.write_text("first\n")
    # locate asks /state once (RUNNING); the follow loop's first check sees RUNNING and the
    # task writes one more line; the next check sees it FINISHED
    fake.agent_states["web.2"] = ["TASK_RUNNING", "TASK_RUNNING", "TASK_FINISHED"]
    calls = []

    def hook() -> None:
        calls.append(1)
        if len(calls) == 2:
            with open(stdout, "a") as f:
                f.write("late line\n")

    fake.on_state.append(hook)
    result = invoke(fake, "log", "web.2", "--follow")
    assert result.exit_code == 0, result.output
    assert result.stdout == "first\nlate line\n"


def test_ls_table_and_json(fake):
    result = invoke(fake, "ls", "web.1")
    assert result.exit_code == 0, result.output
    assert "stderr" in result.stdout and "stdout" in result.stdout and "-rw" in result.stdout
    result = invoke(fake, "ls", "web.1", "--json")
    entries = orjson.loads(result.stdout)
    assert sorted(e["path"].rsplit("/", 1)[1] for e in entries) == ["stderr", "stdout"]
    assert {e["size"] for e in entries} == {9, 111}
