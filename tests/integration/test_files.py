"""Integration: sandbox files on real agents: `dcos-py task log` / `task ls` for running and
completed tasks, the files API refusing path traversal (403, nothing read), and the fetcher
putting a task's URIs in its sandbox (and failing a task whose URI cannot be fetched)."""

from __future__ import annotations

import asyncio
import io
import os
import tarfile
import urllib.error
import urllib.parse
import urllib.request

import orjson
import pytest
from typer.testing import CliRunner

from dcos.cli.main import app
from dcos.testing import get_json
from tests.integration.test_health import CustomTaskScheduler, start

pytestmark = pytest.mark.integration

runner = CliRunner()


async def cli(cluster, *args: str):
    result = await asyncio.to_thread(
        runner.invoke, app, ["task", *args, "--master", cluster.url], env={"DCOS_MASTER": ""}
    )
    return result


def _agent_of(cluster, tid: str) -> tuple[str, str]:
    """(agent base URL, sandbox directory) of a task, from the master's and agent's state."""
    state = get_json(cluster.url + "/master/state")
    task = next(t for fw in state["frameworks"] for t in fw["tasks"] + fw["completed_tasks"]
                if t["id"] == tid)  # fmt: skip
    agent = next(a for a in state["slaves"] if a["id"] == task["slave_id"])
    base = "http://" + agent["pid"].split("@", 1)[1]
    agent_state = get_json(base + "/state")
    for fw in agent_state["frameworks"] + agent_state["completed_frameworks"]:
        for ex in fw["executors"] + fw["completed_executors"]:
            if ex["id"] == tid:
                return base, ex["directory"]
    raise AssertionError(f"no sandbox for {tid}")


def _status(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


async def test_task_log_and_ls_for_running_and_completed_tasks(cluster, tmp_path):
    sched = CustomTaskScheduler()
    running = sched.add("chatty", "for i in 1 2 3 4 5; do echo out $i; done; echo oops >&2; "
                        "sleep 60")  # fmt: skip
    done = sched.add("done", "echo finished-output")
    driver = await start(cluster, sched)
    try:
        await sched.wait_states([running], "TASK_RUNNING")
        await sched.wait_states([done], "TASK_FINISHED")
        base, sandbox = _agent_of(cluster, running)
        await asyncio.to_thread(cluster.wait_for, lambda: _status(
            f"{base}/files/read?path={sandbox}/stderr&offset=-1")[1].find(b'"offset":5') > 0,
            "stderr written")  # fmt: skip

        result = await cli(cluster, "log", "chatty", "--lines", "2")
        assert result.exit_code == 0, result.output
        assert result.stdout == "out 4\nout 5\n"
        result = await cli(cluster, "log", "chatty", "--stderr")
        assert result.stdout == "oops\n"
        result = await cli(cluster, "log", "done")
        assert result.exit_code == 0, result.output
        assert result.stdout == "finished-output\n"
        result = await cli(cluster, "log", "done", "--follow")  # ended: prints and exits
        assert result.exit_code == 0 and result.stdout == "finished-output\n"

        result = await cli(cluster, "ls", "chatty")
        assert result.exit_code == 0, result.output
        assert "stdout" in result.stdout and "stderr" in result.stdout
        result = await cli(cluster, "ls", "chatty", "--json")
        names = {e["path"].rsplit("/", 1)[1] for e in orjson.loads(result.stdout)}
        assert {"stdout", "stderr"} <= names

        result = await cli(cluster, "log", "nosuchtask")
        assert result.exit_code == 1 and "no task with id" in result.stderr
    finally:
        await driver.stop()


async def test_files_api_refuses_paths_outside_sandboxes(cluster):
    sched = CustomTaskScheduler()
    tid = sched.add("victim", "ln -s /etc/passwd evil; sleep 60")
    driver = await start(cluster, sched)
    try:
        await sched.wait_states([tid], "TASK_RUNNING")
        base, sandbox = _agent_of(cluster, tid)
        await asyncio.to_thread(cluster.wait_for, lambda: _status(
            f"{base}/files/browse?path={sandbox}")[1].find(b"/evil") > 0, "symlink created")
        fid = get_json(cluster.url + "/master/state")["frameworks"][0]["id"]
        attempts = [
            f"{sandbox}/../../../../../../../../../../etc/passwd",
            f"{sandbox}/evil",
            "/etc/passwd",
            f"/frameworks/{fid}/executors/{tid}/runs/latest/../../../../../../../../etc/passwd",
        ]
        for path in attempts:
            for endpoint in ("read", "browse", "download"):
                q = urllib.parse.urlencode({"path": path, "offset": 0})
                status, body = await asyncio.to_thread(_status, f"{base}/files/{endpoint}?{q}")
                assert status == 403, (endpoint, path, status)
                assert b"root:" not in body
        q = urllib.parse.urlencode({"path": f"/frameworks/{fid}/executors/{tid}/runs/latest"})
        status, body = await asyncio.to_thread(_status, f"{base}/files/browse?{q}")
        assert status == 200 and b"stdout" in body
    finally:
        await driver.stop()


async def test_fetched_uris_are_in_the_sandbox_and_a_bad_uri_fails_the_task(cluster, tmp_path):
    archive = tmp_path / "bundle.tgz"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        data = b"from-the-archive\n"
        info = tarfile.TarInfo("bundle/data.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    archive.write_bytes(buf.getvalue())
    script = tmp_path / "hello.sh"
    script.write_text("#!/bin/sh\necho from-the-script\n")
    sched = CustomTaskScheduler()
    ok = sched.add("fetched", {
        "value": "cat bundle/data.txt && ./hello.sh",
        "uris": [{"value": f"file://{archive}"},
                 {"value": str(script), "executable": True, "cache": True}],
    })  # fmt: skip
    bad = sched.add("badfetch", {"value": "true", "uris": [{"value": str(tmp_path / "nope")}]})
    driver = await start(cluster, sched)
    try:
        await sched.wait_states([ok], "TASK_FINISHED")
        await sched.wait_states([bad], "TASK_FAILED")
        failed = sched.statuses[bad][-1]
        assert failed.reason == "REASON_CONTAINER_LAUNCH_FAILED"
        assert str(tmp_path / "nope") in failed.message and "no such file" in failed.message
        result = await cli(cluster, "log", "fetched")
        assert result.stdout == "from-the-archive\nfrom-the-script\n"
    finally:
        await driver.stop()


async def test_a_task_id_with_dotdot_sent_straight_to_an_agent_leaves_no_directory_outside(
    tmp_path,
):
    """Issue 9: the master refuses such ids (400); an agent must not trust that either. A real
    agent (real processes) gets RUN_TASKS with ``../`` ids on its internal channel."""
    from dcos.agent.agent import Agent
    from dcos.agent.config import AgentConfig
    from dcos.protocol import internal
    from dcos.testing.agent import FakeMaster

    master = FakeMaster()
    await master.start()
    work = tmp_path / "work"
    agent = Agent(AgentConfig(master=master.address, port=0, work_dir=str(work),
                              resources="cpus:2;mem:1024", detect=False))  # fmt: skip
    await agent.start()
    try:
        await agent.registered.wait()
        framework = {"id": {"value": "fw-1"}, "name": "fw", "user": "root"}

        def task(tid: str) -> dict:
            return {"name": "x", "task_id": {"value": tid}, "agent_id": {"value": "agent-1"},
                    "command": {"value": "echo pwned > escaped-file"},
                    "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}]}  # fmt: skip

        ids = ["../../../../../../x", "../../../../tmp/x", "..", "a/../../../../../../../x"]
        master.send({"type": internal.RUN_TASKS, "framework": framework,
                     "tasks": [task(t) for t in ids]})  # fmt: skip
        got = [(await asyncio.wait_for(master.updates.get(), 10))["status"] for _ in ids]
        assert sorted(u["task_id"]["value"] for u in got) == sorted(ids)
        assert all(u["state"] == "TASK_FAILED" and "invalid sandbox" in u["message"] for u in got)
        assert sorted(os.listdir(tmp_path)) == ["work"]  # nothing next to the work dir
        for dirpath, _, files in os.walk(work):
            assert "escaped-file" not in files, dirpath
        assert agent.containerizer.containers() == set()
    finally:
        await agent.stop()
        await master.stop()
