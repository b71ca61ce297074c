"""The master with security on: the authorization decisions (`dcos.master.authz`, sans-IO)
and, over real HTTPS on loopback with an in-process master (`start_master(...,
security=ctx)`): authentication, framework principals and id ownership, the agent channel,
run_tasks, scoped reads, operator writes, and the limits (streams, call rate, bodies)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from dcos.master.authz import MasterAuthz, ScopedCore, task_user
from dcos.master.config import MasterConfig
from dcos.master.core import parse_call
from dcos.master.core.calls import Accept, Kill, Subscribe
from dcos.master.core.model import Framework, Task
from dcos.master.core.operator_calls import SetQuota, TeardownFramework, UpdateWeights
from dcos.protocol.resources import Resources
from dcos.security.acls import Acls
from dcos.security.context import SecurityContext, load_context
from dcos.security.layout import SecurityDir, init_security_dir
from dcos.security.principal import Identity, Principal, Via
from dcos.security.tls import client_context
from dcos.security.tokens import TokenIssuer
from dcos.testing.master import (
    agent_subscribe,
    call,
    command_task,
    launch,
    subscribe,
)

ACLS: dict[str, Any] = {
    "permissive": False,
    "register_frameworks": [
        {"principals": {"values": ["alice", "bob"]}, "roles": {"values": ["*", "web"]}},
        {"principals": {"values": ["admin"]}, "roles": {"type": "ANY"}},
    ],
    "run_tasks": [
        {"principals": {"values": ["alice", "bob"]}, "users": {"values": ["u", "nobody"]}},
    ],
    **{
        action: [{"principals": {"values": ["admin"]}, key: {"type": "ANY"}}]
        for action, key in [
            ("view_frameworks", "users"), ("view_tasks", "users"),
            ("teardown_frameworks", "framework_principals"),
            ("kill_tasks", "framework_principals"), ("set_quotas", "roles"),
            ("update_weights", "roles"), ("manage_iam", "uids"),
        ]
    },
}  # fmt: skip
CREDENTIALS = {
    "credentials": [
        {"principal": "alice", "secret": "alice-secret"},
        {"principal": "bob", "secret": "bob-secret"},
    ]
}


def _basic(principal: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{principal}:{secret}".encode()).decode()


def ident(name: str, kind: str = "framework") -> Identity:
    return Identity(Principal(name), kind, Via.BASIC)


class Policy:
    """A policy over a fixed ACL document (the SecurityContext's two members the master uses)."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.acls = Acls.from_json(doc)

    def allows(self, identity: Identity, action: Any, obj: str | None) -> bool:
        return self.acls.allows(action, identity.principal, obj)


# -- sans-IO decisions -----------------------------------------------------------------------


def Fw(fid: str, info: dict[str, Any], tasks: dict[str, Any] | None = None) -> Framework:
    fw = Framework(fid, info, ("*",), frozenset(), 0.0)  # type: ignore[arg-type]
    fw.tasks = tasks or {}  # type: ignore[assignment]
    return fw


class Core:
    def __init__(self, *fws: Any) -> None:
        self.frameworks = {f.id: f for f in fws}
        self.completed_frameworks: dict[str, Any] = {}


def _subscribe(info: dict[str, Any], fid: str | None = None) -> Subscribe:
    body: dict[str, Any] = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
    if fid:
        body["framework_id"] = {"value": fid}
    c = parse_call(body)
    assert isinstance(c, Subscribe)
    return c


def test_subscribe_sets_or_checks_the_principal_and_the_roles() -> None:
    authz = MasterAuthz(Policy(ACLS), "nobody")
    core = Core()
    got, denied = authz.subscribe(ident("alice"), _subscribe({"name": "a", "user": "u"}), core)
    assert denied is None and got.framework_info.json["principal"] == "alice"
    _, denied = authz.subscribe(
        ident("alice"), _subscribe({"name": "a", "principal": "bob"}), core
    )
    assert denied is not None and denied.status == 403 and "'bob'" in denied.message
    _, denied = authz.subscribe(ident("alice"), _subscribe({"name": "a", "role": "ops"}), core)
    assert denied is not None and "role 'ops'" in denied.message


def test_a_framework_id_belongs_to_its_principal() -> None:
    authz = MasterAuthz(Policy(ACLS), "nobody")
    core = Core(Fw("f1", {"name": "a", "principal": "alice", "user": "u"}))
    _, denied = authz.subscribe(ident("bob"), _subscribe({"name": "x"}, "f1"), core)
    assert denied is not None and denied.status == 403 and "f1" in denied.message
    _, denied = authz.subscribe(ident("alice"), _subscribe({"name": "a"}, "f1"), core)
    assert denied is None
    kill = Kill("f1", "t1", None, None)  # type: ignore[arg-type]
    assert authz.call(ident("bob"), kill, core) is not None
    assert authz.call(ident("alice"), kill, core) is None
    assert authz.call(ident("admin", "user"), kill, core) is None  # kill_tasks ANY


def _accept(tasks: list[dict[str, Any]], group: bool = False) -> Accept:
    op: dict[str, Any]
    if group:
        op = {"type": "LAUNCH_GROUP", "launch_group": {
            "executor": {"executor_id": {"value": "e"}, "command": {"value": "x"}},
            "task_group": {"tasks": tasks}}}  # fmt: skip
    else:
        op = {"type": "LAUNCH", "launch": {"task_infos": tasks}}
    c = parse_call({"type": "ACCEPT", "framework_id": {"value": "f1"},
                    "accept": {"offer_ids": [{"value": "o"}], "operations": [op]}})  # fmt: skip
    assert isinstance(c, Accept)
    return c


def test_run_tasks_marks_the_launches_it_refuses() -> None:
    authz = MasterAuthz(Policy(ACLS), "nobody")
    root = command_task("t1", "a1")
    root["command"]["user"] = "root"
    accept = _accept([command_task("t0", "a1"), root])
    authz.mark_launches(ident("alice"), accept, {"user": ""})
    t0, t1 = accept.operations[0].tasks  # type: ignore[union-attr]
    assert t0.unauthorized == ""  # default user nobody
    assert t1.unauthorized == "principal 'alice' may not run tasks as user 'root'"
    group = _accept([command_task("g0", "a1"), root], group=True)
    authz.mark_launches(ident("alice"), group, {"user": "u"})
    assert all(t.unauthorized for t in group.operations[0].tasks)  # type: ignore[union-attr]


def test_task_user_order() -> None:
    assert task_user({"command": {"user": "a"}}, {"user": "c"}, "d") == "a"
    assert task_user({"executor": {"command": {"user": "b"}}}, {"user": "c"}, "d") == "b"
    assert task_user({"command": {}}, {"user": "c"}, "d") == "c"
    assert task_user({}, {"user": ""}, "d") == "d"


def test_operator_writes_need_their_acls() -> None:
    authz = MasterAuthz(Policy(ACLS), "nobody")
    core = Core(Fw("f1", {"principal": "alice"}))
    quota = SetQuota("web", Resources.parse("cpus:1"))
    writes = (UpdateWeights({"web": 2.0}), quota, TeardownFramework("f1"))  # type: ignore[arg-type]
    for write in writes:
        assert authz.operator_write(ident("alice"), write, core) is not None
        assert authz.operator_write(ident("admin", "user"), write, core) is None


def T(tid: str, user: str | None = None) -> Task:
    info: dict[str, Any] = {"command": {"user": user} if user else {}}
    return Task(tid, "fa", "a1", "t", "*", Resources.empty(), info)  # type: ignore[arg-type]


def test_scoped_core_shows_own_and_viewable_frameworks() -> None:
    doc = {**ACLS, "view_tasks": [{"principals": {"values": ["bob"]},
                                   "users": {"values": ["u"]}}],
           "view_frameworks": [{"principals": {"values": ["bob"]},
                                "users": {"values": ["u"]}}]}  # fmt: skip
    authz = MasterAuthz(Policy(doc), "nobody")
    a = Fw("fa", {"principal": "alice", "user": "u"}, {"t1": T("t1"), "t2": T("t2", "root")})
    c = Fw("fc", {"principal": "carol", "user": "root"})
    core = Core(a, c)
    alice = ScopedCore(core, authz.visibility(ident("alice")))
    assert set(alice.frameworks) == {"fa"} and len(alice.frameworks["fa"].tasks) == 2
    bob = ScopedCore(core, authz.visibility(ident("bob")))
    assert set(bob.frameworks) == {"fa"}
    assert set(bob.frameworks["fa"].tasks) == {"t1"}  # root's task hidden
    assert a.tasks.keys() == {"t1", "t2"}  # the core's records unchanged


# -- over HTTPS ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secdir(tmp_path_factory: pytest.TempPathFactory) -> SecurityDir:
    root = tmp_path_factory.mktemp("sec")
    sd = init_security_dir(root, names={"master": "component", "agent": "agent",
                                        "webapp": "component"})  # fmt: skip
    sd.acls.write_text(json.dumps(ACLS))
    sd.credentials.write_text(json.dumps(CREDENTIALS))
    return sd


class Secure:
    def __init__(self, sd: SecurityDir, url: str, ctx: SecurityContext) -> None:
        self.sd, self.url, self.ctx = sd, url, ctx
        self.sessions: list[aiohttp.ClientSession] = []

    def session(self, basic: str | None = None, cert: str | None = None,
                token: str | None = None) -> aiohttp.ClientSession:  # fmt: skip
        headers = {"Authorization": f"token={token}"} if token else {}
        if basic:
            headers["Authorization"] = _basic(basic, f"{basic}-secret")
        s = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=client_context(self.sd, cert)), headers=headers
        )
        self.sessions.append(s)
        return s

    def admin(self) -> aiohttp.ClientSession:
        token = TokenIssuer.load(self.sd.token_key).issue("admin", now=time.time())
        return self.session(token=token)


async def _master(sd: SecurityDir, tmp: Path, **kw: Any) -> AsyncIterator[Secure]:
    from dcos.master.app import start_master

    ctx = load_context(sd.root, "master")
    cfg = MasterConfig(port=0, work_dir=str(tmp), allocation_interval=0.05,
                       in_memory_store=True, **kw)  # fmt: skip
    m = await start_master(cfg, security=ctx)
    sec = Secure(sd, m.url, ctx)
    try:
        yield sec
    finally:
        for s in sec.sessions:
            await s.close()
        await m.stop()


@pytest.fixture
async def secure(secdir: SecurityDir, tmp_path: Path) -> AsyncIterator[Secure]:
    async for sec in _master(secdir, tmp_path):
        yield sec


async def _get(s: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with s.get(url) as r:
        body = await r.read()
        ctype = r.headers.get("Content-Type", "")
        return r.status, json.loads(body) if "json" in ctype else body.decode()


async def test_authentication_and_open_paths(secure: Secure) -> None:
    anon = secure.session()
    assert (await _get(anon, secure.url + "/health"))[0] == 200
    status, body = await _get(anon, secure.url + "/master/state")
    assert status == 401 and "Authentication required" in body
    status, body = await _get(anon, secure.url + "/acs/api/v1/users")  # the IAM's own format
    assert status == 401 and {"title", "description", "code"} <= body.keys()
    async with anon.get(secure.url + "/master/state") as r:
        assert "Basic realm" in ",".join(r.headers.getall("WWW-Authenticate"))
    bad = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=client_context(secure.sd, None)),
        headers={"Authorization": _basic("alice", "wrong")},
    )
    secure.sessions.append(bad)
    assert (await _get(bad, secure.url + "/master/state"))[0] == 401
    assert (await _get(secure.session(cert="webapp"), secure.url + "/master/state"))[0] == 200
    # the agent channel takes agents only
    for who in (secure.session(basic="alice"), secure.session(cert="webapp")):
        async with who.post(secure.url + "/internal/agent", data=b"\x80") as r:
            assert r.status == 403 and "Only agents" in await r.text()


async def test_framework_ownership_run_tasks_and_views(secure: Secure) -> None:
    url = secure.url
    alice, bob, admin = secure.session(basic="alice"), secure.session(basic="bob"), secure.admin()
    _, aid = await agent_subscribe(secure.session(cert="agent"), url)
    stream, fid, sid = await subscribe(alice, url, "alice-fw")
    # bob can neither take alice's framework id nor call with it; her stream stays hers
    async with bob.post(url + "/api/v1/scheduler", json={
        "type": "SUBSCRIBE", "framework_id": {"value": fid},
        "subscribe": {"framework_info": {"name": "x", "user": "u", "id": {"value": fid}}},
    }) as r:  # fmt: skip
        assert r.status == 403 and "belongs to another principal" in await r.text()
    r2 = await call(bob, url, fid, sid, {"type": "TEARDOWN"})
    assert r2.status == 403
    # a framework naming another principal
    async with bob.post(url + "/api/v1/scheduler", json={
        "type": "SUBSCRIBE",
        "subscribe": {"framework_info": {"name": "x", "user": "u", "principal": "alice"}},
    }) as r:  # fmt: skip
        assert r.status == 403
    # run_tasks: "u" (FrameworkInfo.user) allowed, root refused
    offers = await stream.next("OFFERS")
    offer = offers["offers"]["offers"][0]
    root = command_task("t-root", aid)
    root["command"]["user"] = "root"
    r3 = await launch(alice, url, fid, sid, offer["id"], [command_task("t-ok", aid), root])
    assert r3.status == 202
    refused = (await stream.next("UPDATE"))["update"]["status"]  # t-ok waits for the agent
    assert refused["task_id"]["value"] == "t-root"
    assert refused["state"] == "TASK_ERROR"
    assert refused["reason"] == "REASON_TASK_UNAUTHORIZED"
    assert refused["message"] == "principal 'alice' may not run tasks as user 'root'"
    # views: alice sees her framework (principal set), bob nothing, admin everything
    _, state = await _get(alice, url + "/master/state")
    assert [f["principal"] for f in state["frameworks"]] == ["alice"]
    assert [t["id"] for t in state["frameworks"][0]["tasks"]] == ["t-ok"]
    _, state = await _get(bob, url + "/master/state")
    assert state["frameworks"] == [] and len(state["slaves"]) == 1
    _, tasks = await _get(bob, url + "/master/tasks")
    assert tasks["tasks"] == []
    for who, fids in ((bob, []), (alice, [fid])):
        _, summary = await _get(who, url + "/master/state-summary")
        assert [f["id"] for f in summary["frameworks"]] == fids
        assert summary["slaves"][0]["framework_ids"] == fids
    _, state = await _get(admin, url + "/master/state")
    assert [f["id"] for f in state["frameworks"]] == [fid]
    async with bob.post(url + "/api/v1", json={"type": "GET_FRAMEWORKS"}) as r:
        assert (await r.json())["get_frameworks"]["frameworks"] == []
    # operator teardown: bob refused (nothing changes), the admin allowed
    async with bob.post(url + "/master/teardown", data={"frameworkId": fid}) as r:
        assert r.status == 403
    _, state = await _get(admin, url + "/master/state")
    assert [f["id"] for f in state["frameworks"]] == [fid]
    async with bob.get(url + "/debug/stimuli") as r:
        assert r.status == 403
    # new ACLs through the IAM routes: bob may now view every framework (no stale snapshot)
    doc = {**ACLS, "view_frameworks": [{"principals": {"values": ["admin", "bob"]},
                                        "users": {"type": "ANY"}}]}  # fmt: skip
    async with admin.put(url + "/acs/api/v1/acls", json=doc) as r:
        assert r.status == 204, await r.text()
    _, state = await _get(bob, url + "/master/state")
    assert [f["id"] for f in state["frameworks"]] == [fid]
    assert state["frameworks"][0]["tasks"] == []  # no view_tasks
    async with admin.post(url + "/master/teardown", data={"frameworkId": fid}) as r:
        assert r.status == 200
    await stream.close()


async def test_operator_feed_shows_only_what_the_subscriber_may_see(secure: Secure) -> None:
    url = secure.url
    alice, bob = secure.session(basic="alice"), secure.session(basic="bob")
    await agent_subscribe(secure.session(cert="agent"), url)
    async with bob.post(url + "/api/v1", json={"type": "SUBSCRIBE"}) as feed:
        assert feed.status == 200
        stream, fid, _ = await subscribe(alice, url, "alice-fw")
        bob_fw, bob_fid, _ = await subscribe(bob, url, "bob-fw")
        seen = b""
        while bob_fid.encode() not in seen:
            seen += await asyncio.wait_for(feed.content.readany(), 10)
        assert fid.encode() not in seen
        await stream.close()
        await bob_fw.close()


@pytest.fixture
async def limited(secdir: SecurityDir, tmp_path: Path) -> AsyncIterator[Secure]:
    async for sec in _master(secdir, tmp_path, max_streams_per_principal=1,
                             scheduler_call_rate=1.0, scheduler_call_burst=3):  # fmt: skip
        yield sec


async def test_stream_and_call_rate_limits(limited: Secure) -> None:
    url = limited.url
    alice = limited.session(basic="alice")
    stream, fid, sid = await subscribe(alice, url, "one")
    async with alice.post(url + "/api/v1", json={"type": "SUBSCRIBE"}) as r:
        assert r.status == 429 and r.headers["Retry-After"] == "1"
    statuses = [(await call(alice, url, fid, sid, {"type": "REVIVE"})).status for _ in range(5)]
    assert statuses[0] == 202 and statuses[-1] == 429
    await stream.close()
    # the stream's slot comes back once it ended
    for _ in range(50):
        async with alice.post(url + "/api/v1", json={"type": "SUBSCRIBE"}) as r:
            if r.status == 200:
                break
        await asyncio.sleep(0.05)
    assert r.status == 200


async def test_body_limit_with_security_off(tmp_path: Path) -> None:
    from dcos.testing.master import master

    m = await master(tmp_path, max_body_bytes=1000)
    try:
        async with aiohttp.ClientSession() as s:
            async with s.post(m.url + "/api/v1", data=b"x" * 2000,
                              headers={"Content-Type": "application/json"}) as r:  # fmt: skip
                assert r.status == 413
            _, aid = await agent_subscribe(s, m.url)  # the agent channel keeps its own bound
            assert aid
    finally:
        await m.stop()


def test_security_flags_and_a_bad_security_dir(tmp_path: Path, capsys: Any) -> None:
    from dcos.master.__main__ import main, parse_args

    cfg = parse_args(["--security-dir", "/s", "--default-task-user", "svc",
                      "--scheduler-call-rate", "5", "--max-streams-per-principal", "3",
                      "--max-body-bytes", "2048"], environ={})  # fmt: skip
    assert (cfg.security_dir, cfg.tls_name, cfg.task_user) == ("/s", "master", "svc")
    assert (cfg.scheduler_call_rate, cfg.stream_limit, cfg.max_body_bytes) == (5.0, 3, 2048)
    off = parse_args([], environ={})
    assert not off.secure and off.stream_limit == 0 and off.task_user == "nobody"
    assert main(["--work-dir", str(tmp_path), "--security-dir", str(tmp_path / "none")]) == 1
    assert "cannot start" in capsys.readouterr().err
