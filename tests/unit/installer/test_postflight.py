"""dcos.installer.postflight: the conditions judged from made-up answers (`judge`), the
polling step with a fake cluster (`postflight`), the Cosmos calls against a tiny local
package service (`_cosmos`), waiting for an installed app (`wait_app`), the login lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from dcos.installer import postflight as pf
from dcos.installer.cluster_api import AgentEntry, ApiError
from dcos.installer.config import PackageRequest, parse
from dcos.installer.postflight import Seen, install_body, judge, login_lines
from dcos.installer.progress import QuietProgress
from dcos.packaging import mediatypes as mt
from dcos.protocol.ids import AgentID

MASTERS = ["10.0.0.11", "10.0.0.12", "10.0.0.13"]


@pytest.fixture
def cfg(tmp_path: Path):
    key = tmp_path / "id_ed25519"
    key.write_bytes(ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption()))  # fmt: skip
    key.chmod(0o600)
    raw = {"cluster_name": "prod", "master_list": MASTERS, "agent_list": ["10.0.0.21"],
           "public_agent_list": ["10.0.0.31"], "ssh_key_path": str(key)}  # fmt: skip
    return parse(raw, tmp_path / "cluster.yaml")


def _agent(address: str, aid: str, active: bool = True) -> AgentEntry:
    return AgentEntry(AgentID(aid), address, address, active, 1.0, None)


def healthy(**changes: Any) -> Seen:
    base: dict[str, Any] = {
        "elected": {m: m == MASTERS[1] for m in MASTERS},
        "agents": [_agent("10.0.0.21", "S1"), _agent("10.0.0.31", "S2")],
        "services": {(m, c): None for m in MASTERS for c in ("master", "webapp", "package",
                                                             "gateway")},  # fmt: skip
        "dns": {m: [MASTERS[1]] for m in MASTERS},
    }
    base.update(changes)
    return Seen(**base)


def _failed(results) -> dict[tuple[str, str], str]:
    return {(c.host, c.check): c.detail for r in results for c in r.checks if not c.ok}


def test_a_healthy_cluster_passes_every_condition(cfg):
    results = judge(cfg, healthy())
    assert [r.address for r in results] == [*MASTERS, "10.0.0.21", "10.0.0.31"]
    assert all(r.ok for r in results)
    assert [c.check for c in results[0].checks] == ["leader", "master", "webapp", "package",
                                                    "gateway", "dns"]  # fmt: skip
    assert [c.check for c in results[1].checks] == ["master", "webapp", "package", "gateway",
                                                    "dns"]  # fmt: skip
    assert results[0].checks[0].detail == f"{MASTERS[1]} leads"
    assert results[3].checks[0].detail == "registered as S1"


def test_no_leader_names_every_condition_it_blocks(cfg):
    seen = healthy(elected={m: False for m in MASTERS}, agents="no master leads yet: no agent "
                   "can register", dns={m: [] for m in MASTERS})  # fmt: skip
    failed = _failed(judge(cfg, seen))
    assert failed[(MASTERS[0], "leader")].startswith("no master leads")
    assert all(failed[(m, "dns")].startswith("no master leads") for m in MASTERS)
    assert failed[("10.0.0.21", "agent")] == "no master leads yet: no agent can register"
    assert ("10.0.0.31", "agent") in failed


def test_each_failed_condition_is_named_with_its_reason(cfg):
    services = healthy().services | {
        (MASTERS[2], "webapp"): "GET https://10.0.0.13:8080/ping: ClientConnectorError",
        (MASTERS[0], "gateway"): "GET https://10.0.0.11:443/gateway/health: not healthy yet",
    }
    seen = healthy(
        services=services,
        dns={MASTERS[0]: ["10.9.9.9"], MASTERS[1]: "DNS on 10.0.0.12:53 did not answer",
             MASTERS[2]: [MASTERS[1]]},
        agents=[_agent("127.0.0.1", "S1"), _agent("10.0.0.31", "S2", active=False)],
    )  # fmt: skip
    results = judge(cfg, seen)
    failed = _failed(results)
    assert failed == {
        (MASTERS[2], "webapp"): "GET https://10.0.0.13:8080/ping: ClientConnectorError",
        (MASTERS[0], "gateway"): "GET https://10.0.0.11:443/gateway/health: not healthy yet",
        (MASTERS[0], "dns"): f"leader.dcos -> 10.9.9.9, not the leader {MASTERS[1]}",
        (MASTERS[1], "dns"): "DNS on 10.0.0.12:53 did not answer",
        ("10.0.0.21", "agent"): "no agent registered from 10.0.0.21 (registered: 10.0.0.31, "
                                "127.0.0.1)",
        ("10.0.0.31", "agent"): "agent S2 of 10.0.0.31 is registered but not connected",
    }
    assert not results[0].ok and "gateway: " in results[0].detail and "dns: " in results[0].detail
    assert results[2].detail.startswith("webapp: ")


class FakeApi:
    """Stands in for ClusterApi: the async context and `ssl`/`scheme`."""

    ssl = None
    scheme = "http"

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return None


async def test_postflight_polls_until_healthy_then_prints_how_to_log_in(cfg, monkeypatch):
    answers = [healthy(elected={m: False for m in MASTERS}, agents="no leader"), healthy()]

    async def observe(c, cfg, dns_port):
        return answers.pop(0) if len(answers) > 1 else answers[0]

    monkeypatch.setattr(pf, "observe", observe)
    lines: list[str] = []
    results = await pf.postflight(cfg, None, QuietProgress(lines.append), say=lines.append,
                                  poll_s=0.01, api=FakeApi())  # fmt: skip
    assert all(r.ok for r in results)
    assert "Web UI and API: https://10.0.0.11  (the cluster CA for browsers: " \
        f"{cfg.genconf_dir / 'security' / 'ca.crt'})" in lines
    log = (cfg.genconf_dir / "logs" / "10.0.0.21.log").read_text()
    assert "postflight no master" not in log and "postflight ok: healthy" in log
    assert "postflight agent: no leader" in log


async def test_postflight_gives_up_after_its_timeout_with_the_failed_conditions(cfg, monkeypatch):
    async def observe(c, cfg, dns_port):
        return healthy(agents=[_agent("10.0.0.31", "S2")])

    monkeypatch.setattr(pf, "observe", observe)
    lines: list[str] = []
    results = await pf.postflight(cfg, None, QuietProgress(lines.append), say=lines.append,
                                  timeout=0.05, poll_s=0.01, api=FakeApi())  # fmt: skip
    (bad,) = [r for r in results if not r.ok]
    assert bad.address == "10.0.0.21" and bad.checks[0].check == "agent"
    assert not [line for line in lines if line.startswith("Web UI")]


def test_login_lines(cfg, tmp_path):
    (cfg.genconf_dir).mkdir(parents=True, exist_ok=True)
    (cfg.genconf_dir / "admin.password").write_text("pw\n")
    ca = cfg.genconf_dir / "security" / "ca.crt"
    assert login_lines(cfg)[1:] == [
        f"CLI: dcos-py cluster setup zk://{','.join(cfg.zk_hosts())}/dcos --name prod "
        f"--ssl-verify {ca}",
        f"     dcos-py auth login --username admin --password-file "
        f"{cfg.genconf_dir / 'admin.password'}",
    ]
    import dataclasses

    plain = dataclasses.replace(cfg, security=dataclasses.replace(cfg.security, enabled=False))
    assert login_lines(plain) == ["Web UI and API: http://10.0.0.11",
                                  f"CLI: dcos-py cluster setup zk://{','.join(cfg.zk_hosts())}/dcos"
                                  " --name prod"]


def test_install_body():
    assert install_body(PackageRequest("hello", None, None)) == {"packageName": "hello"}
    assert install_body(PackageRequest("hello", "0.1.0", {"a": 1})) == {
        "packageName": "hello", "packageVersion": "0.1.0", "options": {"a": 1}}


async def test_cosmos_calls_and_their_errors():
    """A tiny package service: the media types are sent, error bodies become
    `CosmosFailed` with their type and data."""
    seen: list[tuple[str, str]] = []

    async def install(request: web.Request) -> web.Response:
        seen.append((request.headers["Content-Type"], request.headers["Accept"]))
        body = await request.json()
        if body["packageName"] == "dup":
            return web.json_response({"type": "PackageAlreadyInstalled", "message": "Package is "
                                      "already installed", "data": {"appId": "/dup"}}, status=409,
                                     content_type=mt.ERROR.split(";")[0])  # fmt: skip
        return web.json_response({"appId": "/x", "packageName": body["packageName"]})

    app = web.Application()
    app.router.add_post("/package/install", install)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession() as s:
            got = await pf._cosmos(s, base, "/package/install", {"packageName": "x"},
                                   mt.INSTALL_REQUEST, mt.INSTALL_RESPONSE_V2)  # fmt: skip
            assert got["appId"] == "/x"
            with pytest.raises(pf.CosmosFailed) as info:
                await pf._cosmos(s, base, "/package/install", {"packageName": "dup"},
                                 mt.INSTALL_REQUEST, mt.INSTALL_RESPONSE_V2)  # fmt: skip
            assert info.value.kind == "PackageAlreadyInstalled"
            assert info.value.data == {"appId": "/dup"}
            with pytest.raises(ApiError):
                await pf._cosmos(s, "http://127.0.0.1:1", "/package/install", {},
                                 mt.INSTALL_REQUEST, mt.INSTALL_RESPONSE_V2)  # fmt: skip
    finally:
        await runner.cleanup()
    assert seen[0] == (mt.INSTALL_REQUEST, f"{mt.INSTALL_RESPONSE_V2},{mt.ERROR};q=0.9")


async def test_wait_app_until_its_tasks_run():
    class Webapp(FakeApi):
        def __init__(self) -> None:
            self.docs = [{"app": {"id": "/x", "instances": 2, "tasksRunning": 1}},
                         {"app": {"id": "/x", "instances": 2, "tasksRunning": 2}}]

        async def webapp(self, method: str, path: str) -> Any:
            assert (method, path) == ("GET", "/v2/apps/x")
            return self.docs.pop(0) if len(self.docs) > 1 else self.docs[0]

    assert await pf.wait_app(Webapp(), "/x", timeout=5, poll_s=0.01) is None

    class Missing(FakeApi):
        async def webapp(self, method: str, path: str) -> Any:
            raise ApiError(f"GET {path}: 404", 404)

    why = await pf.wait_app(Missing(), "/x", timeout=0.05, poll_s=0.01)
    assert why is not None and why.startswith("/x not running after 0.05 s")


async def test_dns_query_of_leader_dcos_against_a_real_dns_server():
    import asyncio

    from dcos.dns.records import RecordTable
    from dcos.dns.server import DnsServer

    class Table(RecordTable):
        def lookup_a(self, name):
            return ["10.0.0.12"] if name.rstrip(".") == "leader.dcos" else []

        def exists(self, name):
            return name.rstrip(".") == "leader.dcos"

    server = DnsServer(lambda: Table(domain="dcos"), "127.0.0.1", 0)
    await server.start()
    try:
        got = await asyncio.to_thread(pf._dns_query, "127.0.0.1", server.port, 2.0)
        assert got == ["10.0.0.12"]
    finally:
        await server.stop()
    why = await asyncio.to_thread(pf._dns_query, "127.0.0.1", server.port, 0.2)
    assert isinstance(why, str) and "did not answer leader.dcos" in why
