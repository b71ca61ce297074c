"""The dcos-py task variables (DCOS_PYTHON, DCOS_MASTER, DCOS_DNS_RESOLVER): the agent's
``--dns-resolver`` flag, and every kind of task getting them unless its own environment
sets them (command tasks, task-group tasks, custom executors, restarted health checks)."""

from __future__ import annotations

import os
import sys

import pytest

from dcos.agent.__main__ import config_from_args
from dcos.agent.agent import Agent
from dcos.agent.config import AgentConfig
from dcos.agent.containerizer.fake import FakeContainerizer
from dcos.agent.core import AgentCore, AgentInfo, Launch
from dcos.agent.recovery import task_env
from dcos.agent.task_env import parse_dns_resolver, task_base_env
from dcos.protocol.resources import Resources
from dcos.testing.agent import feed

from .conftest import FRAMEWORK, make_task

MASTER = "127.0.0.1:5050"
RESOLVER = "127.0.0.1:8053"


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:8053", "127.0.0.1:8053"),
    (" 10.0.0.2:53 ", "10.0.0.2:53"),
    ("dns.local:53", "dns.local:53"),
    ("[::1]:8053", "[::1]:8053"),
    ("[0:0::1]:053", "[::1]:53"),
])  # fmt: skip
def test_dns_resolver_addresses_are_normalised(text, expected):
    assert parse_dns_resolver(text) == expected


@pytest.mark.parametrize(("text", "why"), [
    ("127.0.0.1", "HOST:PORT"),
    (":8053", "HOST:PORT"),
    ("127.0.0.1:0", "between 1 and 65535"),
    ("127.0.0.1:65536", "between 1 and 65535"),
    ("127.0.0.1:dns", "between 1 and 65535"),
    ("::1:53", "brackets"),
    ("[::1]53", "[IPv6]:PORT"),
    ("[nope]:53", "not an IPv6 address"),
    ("bad_host!:53", "neither an IP address nor a host name"),
])  # fmt: skip
def test_bad_dns_resolver_addresses_say_what_is_wrong(text, why):
    with pytest.raises(ValueError, match=why.replace("[", r"\[").replace("]", r"\]")):
        parse_dns_resolver(text)


def test_the_flag_sets_the_resolver_and_a_bad_one_is_a_usage_error(capsys):
    config, _ = config_from_args(["--master", "http://10.0.0.1:5050",
                                  "--dns-resolver", "127.0.0.1:8053"], environ={})  # fmt: skip
    assert config.dns_resolver == RESOLVER
    assert config.master == "10.0.0.1:5050"
    config, _ = config_from_args(["--master", MASTER], environ={"DCOS_DNS_RESOLVER": "[::1]:53"})
    assert config.dns_resolver == "[::1]:53"
    config, _ = config_from_args(["--master", MASTER], environ={})
    assert config.dns_resolver is None
    with pytest.raises(SystemExit) as exc:
        config_from_args(["--master", MASTER, "--dns-resolver", "127.0.0.1"], environ={})
    assert exc.value.code == 2
    assert "--dns-resolver" in capsys.readouterr().err


def test_the_base_environment_carries_the_agents_values_over_its_own():
    env = task_base_env({"PATH": "/bin", "DCOS_MASTER": "stale:1", "DCOS_DNS_RESOLVER": "x:1"},
                        master="zk://z1:2181/mesos", dns_resolver=None)  # fmt: skip
    assert env == {"PATH": "/bin", "DCOS_MASTER": "zk://z1:2181/mesos",
                   "DCOS_PYTHON": os.path.abspath(sys.executable)}  # fmt: skip
    env = task_base_env({}, master=MASTER, dns_resolver=RESOLVER, python="/opt/py/bin/python3")
    assert env == {"DCOS_MASTER": MASTER, "DCOS_DNS_RESOLVER": RESOLVER,
                   "DCOS_PYTHON": "/opt/py/bin/python3"}  # fmt: skip


def _core(tmp_path) -> AgentCore:
    info = AgentInfo("h1", "127.0.0.1", 5051, Resources.parse("cpus:4;mem:4096"))
    base = task_base_env({"PATH": "/usr/bin:/bin"}, master=MASTER, dns_resolver=RESOLVER)
    core = AgentCore(info, str(tmp_path), base_env=base)
    feed(core, {"type": "REGISTERED", "agent_id": "a1", "master_id": "m1"}, 0)
    return core


def _dcos_vars(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k in ("DCOS_PYTHON", "DCOS_MASTER",
                                                  "DCOS_DNS_RESOLVER")}  # fmt: skip


EXPECTED = {"DCOS_PYTHON": os.path.abspath(sys.executable), "DCOS_MASTER": MASTER,
            "DCOS_DNS_RESOLVER": RESOLVER}  # fmt: skip


def test_command_tasks_get_the_variables_and_their_own_environment_wins(tmp_path):
    core = _core(tmp_path)
    plain, own = feed(core, {"type": "RUN_TASKS", "framework": FRAMEWORK, "tasks": [
        make_task("plain", "sleep 9"),
        make_task("own", "sleep 9", env={"DCOS_MASTER": "zk://z:2181/mesos",
                                         "DCOS_DNS_RESOLVER": "10.0.0.9:53"}),
    ]}, 1)  # fmt: skip
    assert isinstance(plain, Launch) and isinstance(own, Launch)
    assert _dcos_vars(plain.config.env) == EXPECTED
    assert _dcos_vars(own.config.env) == {**EXPECTED, "DCOS_MASTER": "zk://z:2181/mesos",
                                          "DCOS_DNS_RESOLVER": "10.0.0.9:53"}  # fmt: skip
    rec = core.frameworks["fw-1"].tasks["plain"]  # type: ignore[index]
    assert _dcos_vars(task_env(core, rec)) == EXPECTED  # a restarted health check's


def test_task_group_tasks_get_the_variables(tmp_path):
    core = _core(tmp_path)
    executor = {"type": "DEFAULT", "executor_id": {"value": "pod"}}
    launches = feed(core, {"type": "RUN_TASK_GROUP", "framework": FRAMEWORK, "executor": executor,
                           "tasks": [make_task("a", "sleep 9"), make_task("b", "sleep 9")]}, 1)
    assert len(launches) == 2
    for launch in launches:
        assert _dcos_vars(launch.config.env) == EXPECTED


def test_custom_executors_get_the_variables(tmp_path):
    core = _core(tmp_path)
    task = make_task("t1", None)
    task["executor"] = {"executor_id": {"value": "ex1"}, "type": "CUSTOM",
                        "command": {"value": "sleep 9"}}  # fmt: skip
    (launch,) = feed(core, {"type": "RUN_TASKS", "framework": FRAMEWORK, "tasks": [task]}, 1)
    assert isinstance(launch, Launch)
    assert launch.config.env["MESOS_EXECUTOR_ID"] == "ex1"
    assert _dcos_vars(launch.config.env) == EXPECTED


async def test_an_agent_gives_its_tasks_its_master_and_resolver(tmp_path, monkeypatch):
    monkeypatch.setenv("DCOS_DNS_RESOLVER", "10.9.9.9:53")  # the agent's own: replaced
    config = AgentConfig(master="zk://127.0.0.1:2181/mesos", work_dir=str(tmp_path),
                         resources="cpus:1;mem:256", detect=False, dns_resolver=RESOLVER)
    agent = Agent(config, FakeContainerizer())
    assert _dcos_vars(agent.core.site.base_env or {}) == {
        **EXPECTED, "DCOS_MASTER": "zk://127.0.0.1:2181/mesos"}
    config.dns_resolver = None
    agent = Agent(config, FakeContainerizer())
    assert "DCOS_DNS_RESOLVER" not in (agent.core.site.base_env or {})
