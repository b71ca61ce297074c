"""The built-in command executor with real short processes (ProcessContainerizer)."""

import asyncio
import os
import signal

import psutil
import pytest

from dcos.agent.command_executor import (
    LaunchRefused,
    build_config,
    grace_period,
    termination_outcome,
)
from dcos.agent.containerizer import Termination
from dcos.agent.containerizer.process import ProcessContainerizer
from dcos.protocol.ids import AgentID, ContainerID, FrameworkID, new_container_id
from dcos.protocol.states import TaskState

from .conftest import make_task


def _config(tmp_path, task, container_id=None):
    return build_config(
        task,
        framework_id=FrameworkID("fw-1"),
        agent_id=AgentID("a1"),
        container_id=container_id or new_container_id(),
        work_dir=str(tmp_path),
        agent_endpoint="127.0.0.1:5051",
        hostname="h1",
    )


async def _run(tmp_path, task):
    c = ProcessContainerizer()
    cid = new_container_id()
    config = _config(tmp_path, task, cid)
    result = await c.launch(cid, config)
    assert result.ok, result.error
    term = await c.wait(cid)
    return config, term


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group; killed ones wait for init to reap."""
    out = []
    for p in psutil.process_iter(["status"]):
        try:
            if os.getpgid(p.pid) == pgid and p.info["status"] != psutil.STATUS_ZOMBIE:
                out.append(p.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return out


def _read(config, name):
    with open(os.path.join(config.sandbox, name)) as f:
        return f.read()


async def test_sandbox_follows_mesos_layout_and_captures_stdout_stderr(tmp_path):
    config, term = await _run(tmp_path, make_task(command="echo out; echo err >&2"))
    assert config.sandbox == os.path.join(
        str(tmp_path), "slaves", "a1", "frameworks", "fw-1", "executors", "t1", "runs",
        os.path.basename(config.sandbox),
    )  # fmt: skip
    assert _read(config, "stdout") == "out\n"
    assert _read(config, "stderr") == "err\n"
    assert termination_outcome(term, False) == (
        TaskState.TASK_FINISHED, None, "Command exited with status 0",
    )  # fmt: skip


async def test_mesos_environment_ports_and_task_variables(tmp_path):
    task = make_task(
        command="env", ports=[(31005, 31005), (31001, 31002)], env={"GREETING": "hello"}
    )
    config, _ = await _run(tmp_path, task)
    env = dict(line.split("=", 1) for line in _read(config, "stdout").splitlines() if "=" in line)
    assert env["MESOS_SANDBOX"] == config.sandbox == env["MESOS_DIRECTORY"]
    assert env["MESOS_TASK_ID"] == "t1"
    assert env["MESOS_FRAMEWORK_ID"] == "fw-1"
    assert env["MESOS_EXECUTOR_ID"] == "t1"
    assert env["MESOS_AGENT_ENDPOINT"] == "127.0.0.1:5051"
    assert (env["PORT0"], env["PORT1"], env["PORT2"]) == ("31005", "31001", "31002")
    assert env["PORT"] == "31005"
    assert env["PORTS"] == "31005,31001,31002"
    assert env["GREETING"] == "hello"
    assert os.path.realpath(os.getcwd()) != os.path.realpath(config.sandbox)


async def test_exit_status_is_in_the_failure_message(tmp_path):
    _, term = await _run(tmp_path, make_task(command="exit 3"))
    assert term == Termination(exit_code=3)
    state, reason, message = termination_outcome(term, False)
    assert state == TaskState.TASK_FAILED
    assert message == "Command exited with status 3"


async def test_argv_form_runs_without_a_shell(tmp_path):
    task = make_task(command="/bin/echo", shell=False, arguments=["echo", "a  b", "$HOME"])
    config, _ = await _run(tmp_path, task)
    assert _read(config, "stdout") == "a  b $HOME\n"


async def test_spawn_failure_is_a_launch_result_not_an_exception(tmp_path):
    c = ProcessContainerizer()
    cid = new_container_id()
    task = make_task(command="/nonexistent/program", shell=False)
    result = await c.launch(cid, _config(tmp_path, task, cid))
    assert not result.ok
    assert "/nonexistent/program" in result.error
    assert c.containers() == set()


def test_task_without_command_is_refused(tmp_path):
    with pytest.raises(LaunchRefused, match="no command"):
        _config(tmp_path, make_task(command=None))
    with pytest.raises(LaunchRefused, match="missing"):
        _config(tmp_path, make_task(command="  "))


def test_grace_period_from_kill_then_task_then_default():
    task = make_task(grace=1.5)
    assert grace_period(task) == 1.5
    assert grace_period(task, {"grace_period": {"nanoseconds": 2_000_000_000}}) == 2.0
    assert grace_period(make_task()) == 3.0


async def test_kill_terminates_a_cooperative_task_with_sigterm(tmp_path):
    c = ProcessContainerizer()
    cid = ContainerID("c-term")
    await c.launch(cid, _config(tmp_path, make_task(command="exec sleep 60"), cid))
    await c.destroy(cid, grace=30)
    term = await c.wait(cid)
    assert term.signal == signal.SIGTERM
    state, _, message = termination_outcome(term, kill_requested=True)
    assert state == TaskState.TASK_KILLED
    assert message == "Command terminated by signal SIGTERM"


async def test_kill_after_grace_sigkills_a_group_that_ignores_sigterm(tmp_path):
    c = ProcessContainerizer()
    cid = ContainerID("c-stubborn")
    # the shell and its children ignore SIGTERM; a grandchild would be orphaned without killpg
    fifo = tmp_path / "ready"
    os.mkfifo(fifo)
    command = f"trap '' TERM; sleep 60 & sleep 60 & echo started > {fifo}; wait"
    result = await c.launch(cid, _config(tmp_path, make_task(command=command), cid))
    assert result.ok and result.pid is not None
    assert await asyncio.to_thread(fifo.read_text) == "started\n"  # the trap is in place
    await c.destroy(cid, grace=0.2)
    term = await c.wait(cid)
    assert term.signal == signal.SIGKILL
    assert _group_members(result.pid) == []  # nothing of the process group is left
    assert c.containers() == set()


async def test_processes_left_behind_by_a_finished_task_are_killed(tmp_path):
    c = ProcessContainerizer()
    cid = ContainerID("c-orphan")
    result = await c.launch(cid, _config(tmp_path, make_task(command="sleep 60 & exit 0"), cid))
    term = await c.wait(cid)
    assert term.exit_code == 0
    assert _group_members(result.pid) == []
