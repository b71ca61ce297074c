"""DEACTIVATE_AGENT, REACTIVATE_AGENT and MARK_AGENT_GONE through a real master's
``POST /api/v1`` (Mesos 1.9 wire shape): ``/master/state`` and GET_AGENTS show
``deactivated``, bad bodies are 400 and unknown ids 400 / 404, and a gone agent's stream
ends and its id is refused when it comes back."""

from __future__ import annotations

import asyncio

from dcos.protocol import internal
from dcos.protocol.codec import dumps_msgpack
from dcos.testing.master import agent_subscribe


def _call(ctype: str, aid: str) -> dict:
    return {"type": ctype, ctype.lower(): {"agent_id": {"value": aid}}}


async def _post(s, url: str, body) -> tuple[int, str]:
    async with s.post(f"{url}/api/v1", json=body) as r:
        return r.status, await r.text()


async def _deactivated(s, url: str) -> dict[str, bool]:
    async with s.get(f"{url}/master/state") as r:
        state = await r.json()
    async with s.post(f"{url}/api/v1", json={"type": "GET_AGENTS"}) as r:
        v1 = await r.json()
    seen = {a["id"]: a["deactivated"] for a in state["slaves"]}
    assert seen == {a["agent_info"]["id"]["value"]: a["deactivated"]
                    for a in v1["get_agents"]["agents"]}  # fmt: skip
    return seen


async def test_deactivate_reactivate_and_mark_gone_over_http(env):
    m, s = env
    stream, aid = await agent_subscribe(s, m.url)
    assert await _deactivated(s, m.url) == {aid: False}
    assert await _post(s, m.url, _call("DEACTIVATE_AGENT", aid)) == (200, "")
    assert await _deactivated(s, m.url) == {aid: True}
    assert await _post(s, m.url, _call("REACTIVATE_AGENT", aid)) == (200, "")
    assert await _deactivated(s, m.url) == {aid: False}
    # bad bodies and unknown ids: clear answers, nothing changes
    for body, status in (
        ({"type": "DEACTIVATE_AGENT"}, 400),
        ({"type": "DEACTIVATE_AGENT", "deactivate_agent": {"agent_id": 7}}, 400),
        ({"type": "MARK_AGENT_GONE", "mark_agent_gone": []}, 400),
        (_call("DEACTIVATE_AGENT", "nope"), 400),
        (_call("REACTIVATE_AGENT", "nope"), 400),
        (_call("MARK_AGENT_GONE", "nope"), 404),
    ):
        got, text = await _post(s, m.url, body)
        assert got == status and text, (body, got, text)
    assert await _deactivated(s, m.url) == {aid: False}
    assert await _post(s, m.url, _call("MARK_AGENT_GONE", aid)) == (200, "")
    await asyncio.wait_for(stream.ended.wait(), 10)  # the master ended its stream
    assert await _deactivated(s, m.url) == {}
    assert await _post(s, m.url, _call("MARK_AGENT_GONE", aid)) == (200, "")  # idempotent
    msg = {"type": internal.SUBSCRIBE, "agent": {
        "id": aid, "hostname": "localhost", "ip": "127.0.0.1", "port": 5051,
        "resources": {}, "attributes": {}, "version": "0.1.0", "capabilities": []},
        "tasks": [], "frameworks": [], "unacked": []}  # fmt: skip
    async with s.post(f"{m.url}{internal.PATH}", data=dumps_msgpack(msg),
                      headers={"Content-Type": "application/x-msgpack"}) as r:  # fmt: skip
        assert r.status == 403
    await stream.close()
