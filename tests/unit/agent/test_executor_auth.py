"""Executor authentication pieces: the agent's secret, the Bearer header, the token found in
the environment of the local process at the other end of a connection (pymesos executors),
and executors recovered from an older agent's checkpoint (started without a token)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dcos.agent import executor_auth, recovery
from dcos.agent.checkpoint_store import CheckpointStore
from dcos.agent.core import AgentCore, AgentInfo
from dcos.agent.core.custom_executor import TOKEN_ENV, executor_token, token_valid
from dcos.agent.executor_auth import bearer_token, load_secret, peer_token
from dcos.protocol.ids import ExecutorID, FrameworkID
from dcos.protocol.resources import Resources
from dcos.testing.agent import executor_subscribe, reattach

pytestmark = pytest.mark.timeout(30)


def test_the_secret_is_made_once_private_and_read_back(tmp_path):
    meta = tmp_path / "meta"
    first = load_secret(str(meta))
    assert len(first) == 32
    assert (meta / "executor.secret").stat().st_mode & 0o777 == 0o600
    assert load_secret(str(meta)) == first  # after a restart: the same tokens


def test_tokens_name_one_run_of_one_executor():
    secret = b"s" * 32
    token = executor_token(secret, "fw", "ex", "c1")
    assert token_valid(secret, "fw", "ex", "c1", token)
    for other in (("fw", "ex", "c2"), ("fw", "ex2", "c1"), ("fw2", "ex", "c1")):
        assert not token_valid(secret, *other, token)
    assert not token_valid(b"t" * 32, "fw", "ex", "c1", token)
    assert not token_valid(secret, "fw", "ex", "c1", "\udcff" + token[1:])


@pytest.mark.parametrize("header,token", [
    ("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer", None),
    ("", None), (None, None), ("Bearer " + "x" * 600, None),
])  # fmt: skip
def test_bearer_header(header, token):
    assert bearer_token(header) == token


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="Linux /proc only")
@pytest.mark.parametrize("netlink", [True, False])
def test_the_token_of_the_local_process_at_the_other_end_is_found(tmp_path, netlink, monkeypatch):
    if not netlink:  # the /proc/net/tcp fallback
        monkeypatch.setattr(executor_auth, "_diag_inode", lambda local, remote: None)
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    code = ("import socket, sys\n"
            f"s = socket.create_connection(('127.0.0.1', {port}))\n"
            "sys.stdin.read()\n")  # fmt: skip
    env = {**os.environ, TOKEN_ENV: "the-token"}
    child = subprocess.Popen([sys.executable, "-c", code], env=env, stdin=subprocess.PIPE)
    try:
        conn, _ = server.accept()
        with conn:
            assert peer_token(conn.getsockname(), conn.getpeername()) == "the-token"
        # this process has no token: a connection of its own presents none
        own = socket.create_connection(("127.0.0.1", port))
        conn, _ = server.accept()
        with own, conn:
            assert peer_token(conn.getsockname(), conn.getpeername()) is None
        assert peer_token(("127.0.0.1", port), ("10.1.2.3", 5)) is None  # no such socket
        assert peer_token(None, "x") is None
    finally:
        child.stdin.close()  # type: ignore[union-attr]
        child.wait(5)
        server.close()


def test_an_executor_started_by_an_agent_without_tokens_is_still_accepted(tmp_path):
    """Upgrade: the checkpoint of the previous version has ex-1, started with no token."""
    data = Path(__file__).parent / "data" / "checkpoint_v1" / "meta"
    shutil.copytree(data, tmp_path / "meta")
    info = AgentInfo("h1", "127.0.0.1", 5051, Resources.parse("cpus:4;mem:4096"))
    core = AgentCore(info, str(tmp_path), base_env={})
    cp = CheckpointStore(str(tmp_path)).load()
    assert cp is not None
    expected = recovery.restore(core, cp, 10)
    reattach(core, expected, dict.fromkeys(expected), 10)
    fw, eid = FrameworkID("fw-1"), ExecutorID("ex-1")
    assert not core.executors[(fw, eid)].token_auth
    error, actions = executor_subscribe(core, fw, eid, {}, 11, token=None)
    assert not error and actions[0].event["type"] == "SUBSCRIBED"


def test_a_new_executor_needs_its_token_after_a_restart_too(tmp_path):
    from dcos.agent.checkpoint import executor_to_dict
    from dcos.agent.core.model import ExecutorRecord
    from dcos.protocol.ids import ContainerID

    ex = ExecutorRecord(FrameworkID("fw"), ExecutorID("ex"), {}, ContainerID("c1"), "/s")
    assert executor_to_dict(ex)["auth"] == "token"
    ex.token_auth = False
    assert "auth" not in executor_to_dict(ex)  # written as the older agent wrote it


def test_phantom_executors_adopted_by_an_older_agent_do_not_survive_a_restart(tmp_path):
    from dcos.agent.core.model import ExecutorRecord
    from dcos.protocol.ids import ContainerID
    from dcos.testing.agent import checkpointer

    info = AgentInfo("h1", "127.0.0.1", 5051, Resources.parse("cpus:4;mem:4096"))
    old = AgentCore(info, str(tmp_path), base_env={})
    fw = old.ledger.framework({"id": {"value": "fw-1"}}, FrameworkID("fw-1"))
    for i in range(14):
        ex = ExecutorRecord(fw.id, ExecutorID(f"phantom-{i}"), {}, ContainerID(f"c{i}"), "",
                            state="REGISTERING", adopted=True, token_auth=False)  # fmt: skip
        old.supervisor.executors[ex.key] = ex
        old.ledger.mark_executor(ex.key)
    old.ledger.mark_framework(fw.id)
    old.ledger.mark_agent()
    cpr = checkpointer(old, CheckpointStore(str(tmp_path)))
    cpr.note(old.ledger.take_checkpoint())  # type: ignore[arg-type]
    cpr.flush()
    edir = Path(CheckpointStore(str(tmp_path)).framework_dir("fw-1")) / "executors"
    assert len(os.listdir(edir)) == 14
    core = AgentCore(info, str(tmp_path), base_env={})
    cp = CheckpointStore(str(tmp_path)).load()
    assert cp is not None and len(cp.executors) == 14
    recovery.restore(core, cp, 10)
    assert core.executors == {}
    error, _ = executor_subscribe(core, fw.id, ExecutorID("phantom-1"), {}, 11, token=None)
    assert "not known" in error or "not running" in error
    checkpointer(core, CheckpointStore(str(tmp_path))).flush()  # what the core marked
    assert not edir.exists() or os.listdir(edir) == []


def test_an_executor_that_subscribes_before_its_launch_is_reported_stays_subscribed(tmp_path):
    from dcos.agent.containerizer import LaunchResult
    from dcos.agent.core import Launch, Wake
    from dcos.testing.agent import feed, launched, tick

    from .conftest import FRAMEWORK, make_task

    core = AgentCore(AgentInfo("h1", "127.0.0.1", 5051, Resources.parse("cpus:4;mem:4096")),
                     str(tmp_path), base_env={}, executor_registration_timeout=30)  # fmt: skip
    feed(core, {"type": "REGISTERED", "agent_id": "a1", "master_id": "m1"}, 0)
    task = make_task("t1", None)
    task["executor"] = {"executor_id": {"value": "ex-1"}, "command": {"value": "run"}}
    [launch] = feed(core, {"type": "RUN_TASKS", "framework": FRAMEWORK, "tasks": [task]}, 0)
    assert isinstance(launch, Launch)
    assert launch.config.env[TOKEN_ENV] == executor_token(
        core.site.executor_secret, "fw-1", "ex-1", launch.container_id)
    fw, eid = FrameworkID("fw-1"), ExecutorID("ex-1")
    error, actions = executor_subscribe(core, fw, eid, {}, 1)  # a fast executor
    assert not error and [a.event["type"] for a in actions] == ["SUBSCRIBED", "LAUNCH"]
    after = launched(core, launch.container_id, LaunchResult(True), 2)
    assert not any(isinstance(a, Wake) for a in after)
    assert core.executors[(fw, eid)].state == "RUNNING"
    assert tick(core, 100) == []  # no registration timeout kills it
