"""The operator's TEARDOWN (v1 ``/api/v1`` call and Mesos' ``/master/teardown`` form
endpoint, which the DC/OS CLI's ``service shutdown`` uses): the framework is removed and its
stream closed, whether it is connected or not; unknown or missing ids are 400 and change
nothing."""

from __future__ import annotations

import asyncio

import pytest

from dcos.testing.master import subscribe


async def _framework_ids(s, url: str) -> tuple[list[str], list[str]]:
    async with s.get(f"{url}/master/frameworks") as r:
        body = await r.json()
    return ([f["id"] for f in body["frameworks"]],
            [f["id"] for f in body["completed_frameworks"]])  # fmt: skip


@pytest.mark.parametrize("path", ["/api/v1", "/master/teardown"])
async def test_teardown_removes_a_connected_framework_and_ends_its_stream(env, path):
    """The v1 call (JSON) and Mesos' form endpoint (``frameworkId=``)."""
    m, s = env
    stream, fid, _ = await subscribe(s, m.url)
    body = ({"json": {"type": "TEARDOWN", "teardown": {"framework_id": {"value": fid}}}}
            if path == "/api/v1" else {"data": {"frameworkId": fid}})  # fmt: skip
    async with s.post(f"{m.url}{path}", **body) as r:
        assert r.status == 200, await r.text()
    await asyncio.wait_for(stream.ended.wait(), 10)  # the master closed the stream
    active, completed = await _framework_ids(s, m.url)
    assert fid not in active and fid in completed
    await stream.close()


async def test_teardown_of_unknown_or_missing_ids_is_400_and_changes_nothing(env):
    m, s = env
    stream, fid, _ = await subscribe(s, m.url)
    bad = [
        ("/api/v1", {"json": {"type": "TEARDOWN", "teardown": {"framework_id": {"value": "nope"}}}}),
        ("/api/v1", {"json": {"type": "TEARDOWN", "teardown": {"framework_id": "x"}}}),
        ("/api/v1", {"json": {"type": "TEARDOWN", "teardown": 7}}),
        ("/master/teardown", {"data": {"frameworkId": "nope"}}),
        ("/master/teardown", {"data": {"other": "x"}}),
        ("/teardown", {"data": b"\xff\xfe", "headers": {"Content-Type": "text/plain"}}),
    ]
    for path, kw in bad:
        async with s.post(f"{m.url}{path}", **kw) as r:
            assert r.status == 400, (path, kw, await r.text())
            assert await r.text()
    active, completed = await _framework_ids(s, m.url)
    assert fid in active and not completed
    await stream.close()


def test_teardown_of_a_recovered_framework_that_never_came_back():
    """After a failover, a framework from the registry that does not re-subscribe can be
    torn down at once instead of waiting for its failover timeout."""
    from dcos.master.core import Persist
    from dcos.master.core.operator_calls import TeardownFramework
    from dcos.protocol.ids import FrameworkID
    from dcos.state.registry import Registry, RemoveFramework
    from dcos.testing.master import T0, CoreHarness

    h = CoreHarness()
    reg = Registry(frameworks={"f1": {"name": "old", "id": {"value": "f1"}, "user": "u"}})
    h.run(h.core.recover(reg, T0))
    outcome, actions = h.core.operator_call(TeardownFramework(FrameworkID("f1")), T0 + 1)
    assert outcome.status == 200
    assert Persist(RemoveFramework("f1")) in actions
    again, _ = h.core.operator_call(TeardownFramework(FrameworkID("f1")), T0 + 2)
    assert again.status == 400


async def test_cli_framework_teardown(env):
    """`dcos-py framework teardown ID` against a real master; an unknown id is one line and
    exit code 4 (rejected)."""
    from typer.testing import CliRunner

    from dcos.cli.main import app

    m, s = env
    stream, fid, _ = await subscribe(s, m.url)
    runner = CliRunner()
    result = await asyncio.to_thread(
        runner.invoke, app, ["framework", "teardown", fid, "--master", m.url]
    )
    assert result.exit_code == 0, result.output
    assert f"framework {fid} torn down" in result.output
    active, completed = await _framework_ids(s, m.url)
    assert fid in completed and fid not in active
    result = await asyncio.to_thread(
        runner.invoke, app, ["framework", "teardown", "nope", "--master", m.url]
    )
    assert result.exit_code == 4, result.output
    assert "No framework found with specified ID" in result.output
    await stream.close()
