"""Integration: a real master process (``python -m dcos.master --security-dir``) and a real
agent process (``--security-dir``, its agent certificate) over HTTPS on loopback, with a
security directory made by `dcos.security.layout.init_security_dir`.

Two framework principals authenticate with HTTP Basic (credentials.json): what one
registers the other cannot take over (SUBSCRIBE with its id: 403, the owner's stream goes
on), nor see (/master/state); run_tasks lets a task run as ``nobody`` (the default task
user) and refuses ``root`` (TASK_ERROR, REASON_TASK_UNAUTHORIZED); anonymous callers get
401 everywhere but /health; the admin's bearer token sees everything and tears down.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from dcos.common.lifeline import die_with_parent
from dcos.protocol.codec import loads_json
from dcos.protocol.ids import wrap
from dcos.security.layout import SecurityDir, init_security_dir
from dcos.security.tls import client_context
from dcos.security.tokens import TokenIssuer
from dcos.testing.master import Stream, call, command_task, launch
from dcos.testing.processes import free_port, kill_sandbox_processes

pytestmark = pytest.mark.integration

USERS = {"values": ["nobody"]}
ACLS: dict[str, Any] = {
    "permissive": False,
    "register_frameworks": [{"principals": {"values": ["alice", "bob"]}, "roles": {"type": "ANY"}}],
    "run_tasks": [{"principals": {"values": ["alice", "bob"]}, "users": USERS}],
    **{
        action: [{"principals": {"values": ["admin"]}, key: {"type": "ANY"}}]
        for action, key in [
            ("view_frameworks", "users"), ("view_tasks", "users"),
            ("teardown_frameworks", "framework_principals"), ("manage_iam", "uids"),
        ]
    },
}  # fmt: skip


def _basic(principal: str) -> dict[str, str]:
    token = base64.b64encode(f"{principal}:{principal}-secret".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[SecurityDir, str]]:
    sd = init_security_dir(tmp_path / "sec", names={"master": "component", "agent": "agent"})
    sd.acls.write_text(json.dumps(ACLS))
    sd.credentials.write_text(json.dumps({"credentials": [
        {"principal": p, "secret": f"{p}-secret"} for p in ("alice", "bob")]}))  # fmt: skip
    port, agent_port = free_port(), free_port()
    flags = ["--security-dir", str(sd.root), "--ip", "127.0.0.1"]
    argvs = {
        "master": ["-m", "dcos.master", "--port", str(port), "--allocation-interval", "0.1",
                   "--work-dir", str(tmp_path / "master")],
        "agent": ["-m", "dcos.agent", "--master", f"https://127.0.0.1:{port}",
                  "--port", str(agent_port),
                  "--work-dir", str(tmp_path / "agent"),
                  "--resources", "cpus:2;mem:512;disk:512;ports:[32000-32010]"],
    }  # fmt: skip
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name, argv in argvs.items():
            with open(tmp_path / f"{name}.log", "ab") as log:
                procs.append(subprocess.Popen(
                    [sys.executable, *argv, *flags, "--log-file", str(tmp_path / f"{name}.log")],
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                    preexec_fn=die_with_parent(),
                ))  # fmt: skip
        yield sd, f"https://127.0.0.1:{port}"
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        kill_sandbox_processes(tmp_path / "agent")


async def _until(fn: Any, what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = await fn()
        except aiohttp.ClientError:
            got = None
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _subscribe(s: aiohttp.ClientSession, url: str, fid: str | None = None) -> Any:
    body: dict[str, Any] = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {
        "name": "fw", "user": "", "failover_timeout": 60}}}  # fmt: skip
    if fid:
        body["framework_id"] = wrap(fid)
    return await s.post(url + "/api/v1/scheduler", json=body)


async def test_secure_master_and_agent_processes(cluster: tuple[SecurityDir, str]) -> None:
    sd, url = cluster
    admin_token = TokenIssuer.load(sd.token_key).issue("admin", now=time.time())
    connector = aiohttp.TCPConnector(ssl=client_context(sd, None))
    async with aiohttp.ClientSession(connector=connector) as s:

        async def health() -> bool:
            async with s.get(url + "/health") as r:
                return r.status == 200

        await _until(health, "the master's /health over HTTPS")
        async with s.get(url + "/master/state") as r:
            assert r.status == 401 and r.headers["Content-Type"].startswith("text/plain")
        admin = {"Authorization": f"token={admin_token}"}

        async def agent_active() -> bool:
            async with s.get(url + "/master/slaves", headers=admin) as r:
                return r.status == 200 and any(a["active"] for a in (await r.json())["slaves"])

        await _until(agent_active, "the agent registered with its certificate")

        alice = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=client_context(sd, None)), headers=_basic("alice")
        )
        bob = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=client_context(sd, None)), headers=_basic("bob")
        )
        resp = await _subscribe(alice, url)
        assert resp.status == 200, await resp.text()
        stream = Stream(resp, loads_json)
        fid = (await stream.next("SUBSCRIBED"))["subscribed"]["framework_id"]["value"]
        sid = resp.headers["Mesos-Stream-Id"]
        try:
            taken = await _subscribe(bob, url, fid)
            assert taken.status == 403 and "another principal" in await taken.text()
            async with bob.get(url + "/master/state") as r:
                assert (await r.json())["frameworks"] == []
            offer = (await stream.next("OFFERS"))["offers"]["offers"][0]
            aid = offer["agent_id"]["value"]
            root = command_task("as-root", aid, cpus=0.1)
            root["command"]["user"] = "root"
            ok = command_task("as-nobody", aid, "id -un", cpus=0.1)
            r2 = await launch(alice, url, fid, sid, offer["id"], [ok, root])
            assert r2.status == 202
            seen: dict[str, dict[str, Any]] = {}
            while seen.get("as-nobody", {}).get("state") not in ("TASK_FINISHED", "TASK_FAILED"):
                status = (await stream.next("UPDATE"))["update"]["status"]
                seen[status["task_id"]["value"]] = status
                if status.get("uuid"):  # the agent sends the next update once acknowledged
                    await call(alice, url, fid, sid, {"type": "ACKNOWLEDGE", "acknowledge": {
                        "agent_id": status["agent_id"], "task_id": status["task_id"],
                        "uuid": status["uuid"]}})  # fmt: skip
            assert seen["as-root"]["state"] == "TASK_ERROR"
            assert seen["as-root"]["reason"] == "REASON_TASK_UNAUTHORIZED"
            assert seen["as-nobody"]["state"] == "TASK_FINISHED", seen["as-nobody"]
            async with s.get(url + "/master/state", headers=admin) as r:
                (fw,) = (await r.json())["frameworks"]
            assert fw["principal"] == "alice"
            async with bob.post(url + "/master/teardown", data={"frameworkId": fid}) as r:
                assert r.status == 403
            async with s.post(url + "/master/teardown", data={"frameworkId": fid},
                              headers=admin) as r:  # fmt: skip
                assert r.status == 200
        finally:
            await stream.close()
            await alice.close()
            await bob.close()
            await resp.release()
