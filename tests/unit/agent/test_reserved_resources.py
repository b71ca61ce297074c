"""Static reservation of a whole agent: ``--resources cpus(ROLE):2`` (one role per agent)."""

from __future__ import annotations

import pytest

from dcos.agent import resources as res
from dcos.agent.__main__ import config_from_args
from dcos.agent.core.model import AgentInfo
from dcos.protocol import internal
from dcos.protocol.resources import ResourceError, Resources


def test_parse_reserved_gives_the_resources_and_their_one_role() -> None:
    r, role = Resources.parse_reserved(
        "cpus(slave_public):2;mem(slave_public):1024;ports(slave_public):[31000-32000]"
    )
    assert role == "slave_public"
    assert r == Resources.parse("cpus:2;mem:1024;ports:[31000-32000]")
    assert Resources.parse_reserved("cpus:2;mem:1024") == (Resources.parse("cpus:2;mem:1024"), None)
    assert Resources.parse_reserved("cpus(*):2;mem:1024")[1] is None  # (*) is unreserved
    assert Resources.parse_reserved("") == (Resources.empty(), None)


@pytest.mark.parametrize(
    "text", ["cpus(a):2;mem(b):1024", "cpus(a):2;mem:1024", "cpus():1", "cpus(a:1"]
)
def test_parse_reserved_refuses_several_roles_and_bad_roles(text: str) -> None:
    with pytest.raises(ResourceError):
        Resources.parse_reserved(text)


def test_several_roles_say_a_whole_agent_is_reserved() -> None:
    with pytest.raises(ResourceError, match="dcos-py reserves a whole agent to one role"):
        Resources.parse_reserved("cpus(slave_public):2;mem:1024")


def test_mixed_roles_are_a_flag_error_at_startup(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        config_from_args(["--master", "m:5050", "--resources", "cpus(a):1;mem(b):64"])
    assert exc.value.code == 2
    assert "dcos-py reserves a whole agent to one role" in capsys.readouterr().err


def test_detected_resources_take_the_role_of_the_given_items(tmp_path) -> None:
    text = "ports(slave_public):[31000-32000]"
    r = res.agent_resources(str(tmp_path), text, gpu_command=("nope",))
    assert r.scalar("cpus") > 0 and r.ranges["ports"] == ((31000, 32000),)
    assert res.reserved_role(text) == "slave_public"
    assert res.reserved_role(None) is None and res.reserved_role("cpus:1") is None


def test_agent_info_carries_its_role_to_the_master() -> None:
    info = AgentInfo("h", "127.0.0.1", 5051, Resources.parse("cpus:1"), reserved_role="r1")
    wire = info.to_wire()
    assert wire["reserved_role"] == "r1"
    assert _parsed(wire).reserved_role == "r1"
    plain = AgentInfo("h", "127.0.0.1", 5051, Resources.parse("cpus:1")).to_wire()
    assert "reserved_role" not in plain  # as older agents: unreserved
    assert _parsed(plain).reserved_role is None
    assert _parsed({**plain, "reserved_role": "*"}).reserved_role is None
    with pytest.raises(internal.AgentError):
        _parsed({**plain, "reserved_role": 3})


def _parsed(agent: dict) -> internal.AgentInfo:
    msg = internal.parse_agent_call(
        {"type": internal.SUBSCRIBE, "agent": agent, "tasks": [], "frameworks": [], "unacked": []}
    )
    assert isinstance(msg, internal.AgentSubscribe)
    return msg.agent


def test_reserved_to_mesos_carries_role_and_static_reservation() -> None:
    (item,) = Resources.parse("cpus:1").to_mesos("r1", allocation_role="r1")
    assert item["role"] == "r1"
    assert item["reservations"] == [{"type": "STATIC", "role": "r1"}]
    assert item["allocation_info"] == {"role": "r1"}
    (plain,) = Resources.parse("cpus:1").to_mesos()
    assert plain["role"] == "*" and "reservations" not in plain
