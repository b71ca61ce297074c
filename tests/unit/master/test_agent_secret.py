"""Issue 9: the internal agent channel takes nobody's word. Each agent's calls are bound to
the session it registered with (the secret in REGISTERED, sent back in the
``Dcos-Agent-Secret`` header): forged UPDATEs do not kill running tasks, forged
re-registrations do not take an agent's id or evict it, and an agent's updates only count
for tasks it holds."""

from __future__ import annotations

import pytest

from dcos.protocol import internal
from dcos.protocol.codec import dumps_msgpack
from dcos.protocol.ids import wrap
from dcos.testing.master import (
    AGENT_SECRETS,
    NO_SECRET,
    T0,
    CoreHarness,
    agent_call,
    agent_info,
    agent_subscribe,
    command_task,
    executor_status,
    launch,
    send_status,
    subscribe,
)


def _running(h: CoreHarness, port: int = 5051) -> tuple[str, str]:
    aid = h.agent(port=port)
    fid = h.subscribe()
    (offer,) = h.allocate()
    h.launch(fid, offer, ["t1"])
    h.update(aid, fid, "t1", "TASK_RUNNING")
    h.events(fid)
    return aid, fid


def _update(aid: str, fid: str, tid: str, state: str) -> dict:
    return {
        "type": internal.UPDATE, "agent_id": aid,
        "updates": [{"framework_id": fid, "status": executor_status(tid, aid, state)}],
    }  # fmt: skip


def test_registered_carries_a_secret_and_the_master_keeps_only_its_hash() -> None:
    h = CoreHarness()
    aid = h.agent()
    (reg,) = h.agent_events(aid, internal.REGISTERED)
    assert len(reg["secret"]) >= 32
    assert h.core.agent_book.secret_hashes[aid] == internal.secret_hash(reg["secret"])
    admit = [a.op for a in h.actions if type(a).__name__ == "Persist"]
    assert any(getattr(op, "secret_hash", None) == internal.secret_hash(reg["secret"]) for op in admit)


@pytest.mark.parametrize("secret", [NO_SECRET, "wrong"])
def test_forged_update_does_not_kill_a_running_task(secret: str) -> None:
    h = CoreHarness()
    aid, fid = _running(h)
    h.agent_call(_update(aid, fid, "t1", "TASK_KILLED"), T0 + 1, secret=secret)
    assert h.last_outcome is not None and h.last_outcome.status == 403
    assert h.core.frameworks[fid].tasks["t1"].state == "TASK_RUNNING"
    assert not h.statuses(fid)
    assert not h.allocate(T0 + 2), "the task's resources were not released twice"


def test_forged_pong_does_not_keep_an_agent_alive() -> None:
    h = CoreHarness()
    aid = h.agent()
    seen = h.core.agents[aid].last_seen
    h.agent_call({"type": internal.PONG, "agent_id": aid}, T0 + 10, secret="wrong")
    assert h.core.agents[aid].last_seen == seen


def test_update_for_a_task_of_another_agent_is_dropped() -> None:
    h = CoreHarness()
    aid, fid = _running(h)
    other = h.agent(port=5052)
    h.agent_call(_update(other, fid, "t1", "TASK_FAILED"), T0 + 1)
    assert h.last_outcome is not None and h.last_outcome.status == 202
    assert h.core.frameworks[fid].tasks["t1"].state == "TASK_RUNNING"
    assert not h.statuses(fid)
    h.agent_call(_update(other, fid, "nope", "TASK_RUNNING"), T0 + 1)
    assert not h.statuses(fid), "no update for a task the master never launched"
    assert h.core.counters["invalid_status_updates"] == 2


def test_update_of_a_task_that_ended_on_the_agent_is_still_forwarded() -> None:
    h = CoreHarness()
    aid, fid = _running(h)
    h.update(aid, fid, "t1", "TASK_FINISHED", T0 + 1)
    h.events(fid)
    h.update(aid, fid, "t1", "TASK_FINISHED", T0 + 2)  # a retry: the framework acknowledges it
    (status,) = h.statuses(fid)
    assert status["state"] == "TASK_FINISHED"


def test_update_cannot_claim_another_agent_id_in_its_status() -> None:
    h = CoreHarness()
    aid, fid = _running(h)
    msg = _update(aid, fid, "t1", "TASK_RUNNING")
    msg["updates"][0]["status"]["agent_id"] = wrap("someone-else")
    h.agent_call(msg, T0 + 1)
    (status,) = h.statuses(fid)
    assert status["agent_id"] == wrap(aid)


def test_executor_message_from_an_agent_that_does_not_run_the_executor_is_dropped() -> None:
    h = CoreHarness()
    aid, fid = _running(h)
    other = h.agent(port=5052)
    msg = {"type": internal.MESSAGE, "agent_id": other, "framework_id": fid,
           "executor_id": "t1", "data": "aGk="}  # fmt: skip
    h.agent_call(msg, T0 + 1)
    assert not h.events(fid, "MESSAGE")
    h.agent_call({**msg, "agent_id": aid}, T0 + 1)
    assert h.events(fid, "MESSAGE")


def test_reregistration_of_a_known_id_needs_its_secret_and_evicts_nobody() -> None:
    h = CoreHarness()
    aid, fid = _running(h)
    h.agent_events(aid)
    fake = {**agent_info(port=6000, res="cpus:64;mem:65536"), "id": aid}
    out = h.agent_subscribe(fake, now=T0 + 1, secret=NO_SECRET, peer="10.0.0.66")
    assert out.agent_id is None and "secret" in (out.error or "")
    out = h.agent_subscribe(fake, now=T0 + 1, secret="guess", peer="10.0.0.66")
    assert out.agent_id is None
    agent = h.core.agents[aid]
    assert agent.connected and agent.port == 5051 and agent.total.scalar("cpus") == 4
    assert h.core.frameworks[fid].tasks["t1"].state == "TASK_RUNNING"
    assert not h.agent_events(aid, internal.REGISTERED)


def test_reregistration_with_the_secret_keeps_it_and_writes_no_registry() -> None:
    h = CoreHarness()
    aid = h.agent()
    old = h.secrets[aid]
    before = len(h.actions)
    assert h.agent(agent_id=aid, now=T0 + 1) == aid
    assert h.secrets[aid] == old
    assert not [a for a in h.actions[before:] if getattr(a, "op", None) is not None]
    other = h.agent(port=5052)
    assert h.secrets[other] != old
    h.agent_call({"type": internal.PONG, "agent_id": aid}, T0 + 2, secret=h.secrets[other])
    assert h.last_outcome is not None and h.last_outcome.status == 403


def test_reregistration_with_other_info_is_written_to_the_registry() -> None:
    h = CoreHarness()
    aid = h.agent()
    before = len(h.actions)
    info = {**agent_info(5051, "cpus:8;mem:2048"), "id": aid}
    assert h.agent_subscribe(info, now=T0 + 1, secret=h.secrets[aid]).agent_id == aid
    ops = [a.op for a in h.actions[before:] if getattr(a, "op", None) is not None]
    assert [type(op).__name__ for op in ops] == ["AdmitAgent"]


def test_new_registration_cannot_evict_a_connected_agent_from_another_host() -> None:
    h = CoreHarness()
    first = h.agent_subscribe(agent_info(5051), peer="10.0.0.1")
    assert first.agent_id is not None
    forged = h.agent_subscribe(agent_info(5051), now=T0 + 1, peer="10.0.0.66")
    assert forged.agent_id is None and "address" in (forged.error or "")
    assert h.core.agents[first.agent_id].connected
    again = h.agent_subscribe(agent_info(5051), now=T0 + 2, peer="10.0.0.1")
    assert again.agent_id not in (None, first.agent_id), "a restart without state replaces it"


def test_secret_hashes_survive_a_master_restart_through_the_registry() -> None:
    h = CoreHarness()
    aid = h.agent()
    from dcos.state.registry import Registry

    reg = Registry()
    for a in h.actions:
        op = getattr(a, "op", None)
        if op is not None:
            op.apply(reg)
    h2 = CoreHarness()
    h2.core.recover(reg, T0 + 5)
    info = {**agent_info(5051), "id": aid}
    assert h2.agent_subscribe(info, now=T0 + 6, secret="wrong").agent_id is None
    assert h2.agent_subscribe(info, now=T0 + 7, secret=h.secrets[aid]).agent_id == aid


# -- over HTTP ---------------------------------------------------------------------------


async def test_forged_calls_over_http_are_403(env) -> None:
    m, s = env
    astream, aid = await agent_subscribe(s, m.url)
    fstream, fid, sid = await subscribe(s, m.url)
    offers = (await fstream.next("OFFERS"))["offers"]["offers"]
    await launch(s, m.url, fid, sid, offers[0]["id"], [command_task("t1", aid, cpus=0.5)])
    await astream.next(internal.RUN_TASKS)
    assert await send_status(s, m.url, aid, fid, executor_status("t1", aid)) == 202
    assert (await fstream.next("UPDATE"))["update"]["status"]["state"] == "TASK_RUNNING"
    forged = executor_status("t1", aid, "TASK_KILLED")
    for secret in (NO_SECRET, "x" * 43):
        msg = {"type": internal.UPDATE, "agent_id": aid,
               "updates": [{"framework_id": fid, "status": forged}]}  # fmt: skip
        assert await agent_call(s, m.url, msg, secret=secret) == 403
    assert m.shell.core.frameworks[fid].tasks["t1"].state == "TASK_RUNNING"
    # a forged re-registration of the id: refused, the agent keeps its stream
    real = AGENT_SECRETS[aid]
    async with s.post(
        f"{m.url}{internal.PATH}",
        data=dumps_msgpack({
            "type": internal.SUBSCRIBE, "agent": {**agent_info(7000, "cpus:64;mem:65536"),
                                                   "id": aid},
            "tasks": [], "frameworks": [], "unacked": [],
        }),
        headers={"Content-Type": "application/x-msgpack"},
    ) as r:  # fmt: skip
        assert r.status == 403
    assert AGENT_SECRETS[aid] == real
    assert m.shell.core.agents[aid].connected and m.shell.core.agents[aid].port == 5051
    assert await agent_call(s, m.url, {"type": internal.PONG, "agent_id": aid}) == 202
    await fstream.close()
    await astream.close()
