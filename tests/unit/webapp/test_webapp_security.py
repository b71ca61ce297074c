"""The webapp API with security on (a real SecurityContext from a security directory, HTTP
Basic principals): 401 Marathon bodies, the webapp_groups ACL on every kind of change (apps,
groups, task kills, deployment cancels), use_secrets, callback policy, stream and body limits.
The server is plain HTTP here (TLS is the integration test's); the decisions are the same."""

import asyncio
import base64
import json

import pytest
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from dcos.security.acls import Acls
from dcos.security.context import load_context
from dcos.security.credentials import Credentials
from dcos.security.http import set_identity
from dcos.security.layout import init_security_dir
from dcos.security.limits import StreamLimiter
from dcos.security.principal import Identity, Principal, Via
from dcos.state import MemoryStateStore
from frameworks.webapp.api.security import FORWARDED_HEADER, MAX_BODY, ApiSecurity
from frameworks.webapp.api.server import API_KEY, build_app
from frameworks.webapp.callback_policy import CallbackPolicy, parse_patterns
from frameworks.webapp.scheduler import WebappService
from frameworks.webapp.store import WebappStore
from tests.unit.webapp.test_versions_and_wipe import place_all

ACLS = {
    "permissive": False,
    "webapp_groups": [
        {"principals": {"values": ["admin"]}, "groups": {"type": "ANY"}},
        {"principals": {"values": ["team"]}, "groups": {"values": ["/team"]}},
    ],
    "run_tasks": [
        {"principals": {"values": ["admin"]}, "users": {"type": "ANY"}},
        {"principals": {"values": ["team", "webapp"]}, "users": {"values": ["nobody"]}},
    ],
    "use_secrets": [
        {"principals": {"values": ["admin"]}, "secrets": {"type": "ANY"}},
        {"principals": {"values": ["team"]}, "secrets": {"values": ["team"]}},
    ],
}


def basic(principal: str) -> dict[str, str]:
    raw = f"{principal}:{principal}-pw".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


ADMIN, TEAM = basic("admin"), basic("team")


@pytest.fixture(scope="module")
def security_dir(tmp_path_factory):
    return init_security_dir(tmp_path_factory.mktemp("sec"), names={"webapp": "component"}).root


@pytest.fixture
async def secure(security_dir):
    ctx = load_context(security_dir, "webapp")
    ctx.credentials = Credentials.from_json(
        {"credentials": [{"principal": p, "secret": f"{p}-pw"} for p in ("admin", "team")]})
    ctx.acls = Acls.from_json(ACLS)
    sec = ApiSecurity(ctx, CallbackPolicy(parse_patterns(["hooks.example.com:443"]), secure=True),
                      StreamLimiter(2))
    svc = WebappService(WebappStore(MemoryStateStore()), master="127.0.0.1:1")
    async with TestClient(TestServer(build_app(svc, security=sec))) as c:
        c.svc = svc
        yield c


def app(aid: str, **kw) -> dict:
    return {"id": aid, "cmd": "sleep 100", "cpus": 0.1, "mem": 16, **kw}


async def test_anonymous_gets_401_in_marathons_format_and_ping_stays_open(secure):
    r = await secure.get("/v2/apps")
    assert r.status == 401 and "message" in await r.json()
    assert "Basic" in r.headers.getall("WWW-Authenticate", [""])[-1] or r.headers.get("WWW-Authenticate")
    r = await secure.get("/v2/apps", headers={"Authorization": "Basic " + base64.b64encode(b"team:wrong").decode()})
    assert r.status == 401 and (await r.json())["message"]
    assert (await secure.get("/ping")).status == 200
    assert (await secure.post("/v2/apps", json=app("/team/x"))).status == 401
    assert secure.svc.view.apps == {}


async def test_a_team_may_change_only_its_own_group(secure):
    r = await secure.post("/v2/apps", json=app("/team/web"), headers=TEAM)
    assert r.status == 201, await r.text()
    r = await secure.post("/v2/apps", json=app("/other/web"), headers=TEAM)
    body = await r.json()
    assert r.status == 403 and "team" in body["message"] and "/other/web" in body["message"]
    assert r.status == 403 and "/other/web" not in secure.svc.view.apps
    assert (await secure.post("/v2/apps", json=app("/other/web"), headers=ADMIN)).status == 201
    assert (await secure.post("/v2/apps", json=app("/teamster"), headers=TEAM)).status == 403  # a prefix by segment
    # update, scale, restart, delete of another group's app: refused, nothing changes
    before = secure.svc.view.apps["/other/web"]
    for method, path, body in [("PUT", "/v2/apps/other/web", {"instances": 3}),
                               ("POST", "/v2/apps/other/web/restart", None),
                               ("DELETE", "/v2/apps/other/web", None),
                               ("PUT", "/v2/apps", [{"id": "/other/web", "instances": 5}]),
                               ("DELETE", "/v2/queue/other/web/delay", None)]:
        r = await secure.request(method, path, json=body, headers=TEAM)
        assert r.status == 403, (method, path, await r.text())
    assert secure.svc.view.apps["/other/web"] is before
    assert (await secure.put("/v2/apps/team/web?force=true", json={"instances": 2}, headers=TEAM)).status == 200
    assert (await secure.get("/v2/apps", headers=TEAM)).status == 200  # reading is not changing


async def test_groups_are_checked_on_every_app_they_touch(secure):
    group = {"id": "/other", "apps": [app("web")]}
    assert (await secure.post("/v2/groups", json=group, headers=TEAM)).status == 403
    assert (await secure.post("/v2/groups", json={"id": "/team", "apps": [app("a")]}, headers=TEAM)).status == 201
    assert (await secure.post("/v2/groups", json=group, headers=ADMIN)).status == 201
    assert (await secure.put("/v2/groups/other", json={"scaleBy": 2}, headers=TEAM)).status == 403
    assert (await secure.delete("/v2/groups/other", headers=TEAM)).status == 403
    assert (await secure.put("/v2/groups", json={"apps": []}, headers=TEAM)).status == 403  # the root
    assert set(secure.svc.view.apps) == {"/team/a", "/other/web"}


async def test_killing_tasks_and_cancelling_deployments_of_others_is_refused(secure):
    assert (await secure.post("/v2/apps", json=app("/other/web", instances=2), headers=ADMIN)).status == 201
    assert (await secure.post("/v2/apps", json=app("/team/web"), headers=ADMIN)).status == 201
    place_all(secure.svc)
    core = secure.svc.core
    theirs = sorted(t for t, i in core.tasks.items() if i.app_id == "/other/web")
    mine = [t for t, i in core.tasks.items() if i.app_id == "/team/web"]
    r = await secure.post("/v2/tasks/delete", json={"ids": theirs}, headers=TEAM)
    assert r.status == 403 and (await r.json())["message"]
    r = await secure.post("/v2/tasks/delete", json={"ids": [*mine, theirs[0]]}, headers=TEAM)
    assert r.status == 403  # one task not its own: nothing is killed
    assert (await secure.delete(f"/v2/apps/other/web/tasks/{theirs[0]}", headers=TEAM)).status == 403
    assert (await secure.delete("/v2/apps/other/web/tasks", headers=TEAM)).status == 403
    assert not any(i.killing for i in core.tasks.values())
    assert (await secure.post("/v2/tasks/delete", json={"ids": mine}, headers=TEAM)).status == 200
    # a deployment of another group's app cannot be cancelled by the team
    r = await secure.put("/v2/apps/other/web", json={"cmd": "sleep 200"}, headers=ADMIN)
    did = (await r.json())["deploymentId"]
    assert (await secure.delete(f"/v2/deployments/{did}", headers=TEAM)).status == 403
    assert did in secure.svc.view.deployments


async def test_use_secrets_is_checked_for_new_references(secure):
    ref = {"secrets": {"pw": {"source": "other/db"}}, "env": {"PW": {"secret": "pw"}}}
    r = await secure.post("/v2/apps", json=app("/team/db", **ref), headers=TEAM)
    assert r.status == 403 and "other/db" in (await r.json())["message"]
    own = {"secrets": {"pw": {"source": "team/db"}}, "env": {"PW": {"secret": "pw"}}}
    assert (await secure.post("/v2/apps", json=app("/team/db", **own), headers=TEAM)).status == 201
    # an undefined secret is a 422 in Marathon's format
    r = await secure.post("/v2/apps", json=app("/team/x", env={"PW": {"secret": "nope"}}), headers=TEAM)
    body = await r.json()
    assert r.status == 422 and body["details"] == [
        {"path": "/env/PW", "errors": ["references an undefined secret named 'nope'"]}]


async def test_an_apps_explicit_user_needs_the_callers_run_tasks(secure):
    r = await secure.post("/v2/apps", json=app("/team/root", user="root"), headers=TEAM)
    assert r.status == 403 and "run_tasks" in (await r.json())["message"]
    assert (await secure.post("/v2/apps", json=app("/team/nobody", user="nobody"), headers=TEAM)).status == 201
    assert (await secure.post("/v2/apps", json=app("/team/default"), headers=TEAM)).status == 201  # --mesos-user
    group = {"id": "/team/g", "apps": [app("x", user="root")]}
    assert (await secure.post("/v2/groups", json=group, headers=TEAM)).status == 403
    r = await secure.post("/v2/apps", json=app("/team/admins", user="root"), headers=ADMIN)
    assert r.status == 403 and "this webapp" in (await r.json())["message"]  # the master would refuse it
    secure.server.app[API_KEY].sec.ctx.acls = Acls.from_json(
        {**ACLS, "run_tasks": [{"principals": {"values": ["admin", "webapp"]}, "users": {"type": "ANY"}},
                               *ACLS["run_tasks"][1:]]})
    assert (await secure.post("/v2/apps", json=app("/team/admins", user="root"), headers=ADMIN)).status == 201
    # scaling an app whose user the team may not pick is no new choice of user
    assert (await secure.put("/v2/apps/team/admins?force=true", json={"instances": 2}, headers=TEAM)).status == 200
    assert set(secure.svc.view.apps) == {"/team/nobody", "/team/default", "/team/admins"}


async def test_forwarded_identity_is_trusted_from_the_webapp_certificate_only(secure):
    sec = secure.server.app[API_KEY].sec

    async def handler(request):
        return sec.who(request)

    for peer, expected in [(Identity(Principal("webapp"), "component", Via.CERT), "admin"),
                           (Identity(Principal("team"), "framework", Via.BASIC), "team"),
                           (Identity(Principal("lb"), "component", Via.CERT), "lb")]:
        req = make_mocked_request("GET", "/v2/apps", headers={FORWARDED_HEADER: "admin user"})
        set_identity(req, peer)
        assert (await sec.forwarded_identity(req, handler)).principal == expected
    # a follower always replaces what the client sent with the caller it authenticated
    req = make_mocked_request("GET", "/v2/apps", headers={FORWARDED_HEADER: "admin user"})
    set_identity(req, Identity(Principal("team"), "framework", Via.BASIC))
    assert sec.forward_headers(req) == [(FORWARDED_HEADER, "team framework")]


async def test_callbacks_need_the_root_group_and_an_allowed_url(secure):
    url = "https://hooks.example.com/events"
    r = await secure.post("/v2/eventSubscriptions", params={"callbackUrl": url}, headers=TEAM)
    assert r.status == 403
    r = await secure.post("/v2/eventSubscriptions", params={"callbackUrl": "http://127.0.0.1:5050/x"},
                          headers=ADMIN)  # fmt: skip
    assert r.status == 403 and "--event-callback-allow" in (await r.json())["message"]
    r = await secure.post("/v2/eventSubscriptions", params={"callbackUrl": url}, headers=ADMIN)
    assert r.status == 200
    assert (await (await secure.get("/v2/eventSubscriptions", headers=ADMIN)).json())["callbackUrls"] == [url]


async def test_event_streams_are_limited_per_principal_and_bodies_to_1_mib(secure):
    first = await secure.get("/v2/events", headers=TEAM)
    second = await secure.get("/v2/events", headers=TEAM)
    assert first.status == second.status == 200
    third = await secure.get("/v2/events", headers=TEAM)
    assert third.status == 429 and (await third.json())["message"]
    other = await secure.get("/v2/events", headers=ADMIN)
    assert other.status == 200
    for r in (first, second, other):
        r.close()
    huge = json.dumps(app("/team/big", labels={"x": "y" * MAX_BODY}))
    r = await secure.post("/v2/apps", data=huge, headers={**TEAM, "Content-Type": "application/json"})
    assert r.status == 413 and (await r.json())["message"]
    await asyncio.sleep(0)
