"""The batch dispatcher with security on: its API needs authentication (plain-text 401), a
submission's `user` needs the submitter's run_tasks, kills are the submitter's (or kill_tasks),
and driver tasks get the batch-driver principal's secret only as a secret-store reference
(a file in the sandbox), never as a value in the TaskInfo; the driver reads it back."""

from __future__ import annotations

import base64
import json

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient, TestServer

from dcos.sdk import Offer
from dcos.security.context import load_context
from dcos.security.layout import init_security_dir
from dcos.state import MemoryStateStore
from dcos.testing import make_offer
from frameworks.batch.cluster.conf import ClusterConf
from frameworks.batch.cluster.dispatcher import Dispatcher, dispatcher_framework_info
from frameworks.batch.cluster.security import (
    DRIVER_PRINCIPAL,
    SECRET_FILE,
    driver_credentials,
    driver_tls,
    publish_driver_secret,
    secret_path,
)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    root = tmp_path_factory.mktemp("sec")
    init_security_dir(root, names={"batch": "component"}, task_users=["nobody"])
    return load_context(root, "batch")


def basic(ctx, principal: str) -> dict[str, str]:
    secret = next(c["secret"] for c in ctx.credentials.to_json()["credentials"] if c["principal"] == principal)
    return {"Authorization": "Basic " + base64.b64encode(f"{principal}:{secret}".encode()).decode()}


JOB = {"script": "job.py", "script_content": "print(1)\n"}


async def test_api_needs_authentication_and_checks_the_submission_user(ctx, tmp_path):
    d = Dispatcher(MemoryStateStore(), "127.0.0.1:5050", scripts_dir=tmp_path, security=ctx)
    async with TestClient(TestServer(d.app())) as client:
        r = await client.post("/v1/submissions", json=JOB)
        assert r.status == 401 and (await r.text()) and "WWW-Authenticate" in r.headers
        assert (await client.get("/health")).status == 200
        who = basic(ctx, DRIVER_PRINCIPAL)  # a framework principal: task users only
        r = await client.post("/v1/submissions", json={**JOB, "user": "root"}, headers=who)
        assert r.status == 403 and "root" in await r.text()
        assert d.subs == {}
        r = await client.post("/v1/submissions", json={**JOB, "user": "root; x"}, headers=who)
        assert r.status == 400
        r = await client.post("/v1/submissions", json={**JOB, "user": "nobody"}, headers=who)
        assert r.status == 200, await r.text()
        sub = await r.json()
        assert sub["user"] == "nobody" and sub["principal"] == DRIVER_PRINCIPAL


async def test_driver_tasks_carry_a_secret_reference_and_never_the_secret(ctx, tmp_path):
    d = Dispatcher(MemoryStateStore(), "127.0.0.1:5050", scripts_dir=tmp_path, security=ctx)
    assert d.driver_secret
    sub = await d.submit({**JOB, "user": "nobody"}, DRIVER_PRINCIPAL)
    task = d._driver_task(sub, Offer(make_offer("o1", agent_id="a1", resources="cpus:1;mem:1024")), [])
    assert d.driver_secret not in json.dumps(task)
    assert task["command"]["user"] == "nobody"
    [volume] = task["container"]["volumes"]
    assert volume["container_path"] == SECRET_FILE and volume["mode"] == "RO"
    assert volume["source"]["secret"]["reference"]["name"] == secret_path(d.name) == "batch/batch-dispatcher/driver-secret"
    env = {v["name"]: v["value"] for v in task["command"]["environment"]["variables"]}
    conf = json.loads(env["DCOS_BATCH_CONF"])
    assert conf["spark.mesos.principal"] == DRIVER_PRINCIPAL and conf["spark.mesos.secret.file"] == SECRET_FILE
    info = dispatcher_framework_info(d, None)
    assert info["principal"] == "batch" and info["user"] == "nobody"
    # the driver, in its sandbox, reads the secret from the file the agent wrote
    (tmp_path / ".dcos").mkdir()
    (tmp_path / SECRET_FILE).write_text(d.driver_secret + "\n")
    parsed = ClusterConf.parse(None, {"DCOS_BATCH_CONF": env["DCOS_BATCH_CONF"]})
    creds = driver_credentials(parsed.mesos_auth, {"MESOS_SANDBOX": str(tmp_path)})
    assert creds is not None and creds.principal == DRIVER_PRINCIPAL and creds.secret == d.driver_secret
    assert driver_credentials({}, {}) is None
    assert driver_tls({"DCOS_CA_FILE": str(ctx.dir.ca_cert)}) is not None and driver_tls({}) is None


async def test_only_the_submitter_kills_its_driver(ctx, tmp_path):
    d = Dispatcher(MemoryStateStore(), "127.0.0.1:5050", scripts_dir=tmp_path, security=ctx)
    sub = await d.submit(JOB, "someone-else")
    async with TestClient(TestServer(d.app())) as client:
        r = await client.post(f"/v1/submissions/{sub['id']}/kill", headers=basic(ctx, DRIVER_PRINCIPAL))
        assert r.status == 403 and d.subs[sub["id"]]["state"] == "QUEUED"
        mine = await d.submit(JOB, DRIVER_PRINCIPAL)
        r = await client.post(f"/v1/submissions/{mine['id']}/kill", headers=basic(ctx, DRIVER_PRINCIPAL))
        assert r.status == 200 and d.subs[mine["id"]]["state"] == "KILLED"


async def test_the_drivers_secret_is_created_then_updated_in_the_secret_store():
    store: dict[str, str] = {}
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        path = request.match_info["path"]
        seen.append(request.method)
        value = (await request.json())["value"]
        if request.method == "PUT":
            if path in store:
                return web.json_response({"code": "ERR_ALREADY_EXISTS"}, status=409)
            store[path] = value
            return web.Response(status=201)
        store[path] = value
        return web.Response(status=204)

    app = web.Application()
    app.router.add_route("*", "/secrets/v1/secret/default/{path:.+}", handle)
    async with TestServer(app) as server, ClientSession() as session:
        url = str(server.make_url(""))
        assert await publish_driver_secret(session, url, "batch/d/driver-secret", "one") is None
        assert await publish_driver_secret(session, url, "batch/d/driver-secret", "two") is None
        assert store == {"batch/d/driver-secret": "two"} and seen == ["PUT", "PUT", "PATCH"]
        problem = await publish_driver_secret(session, "http://127.0.0.1:1", "batch/d/x", "s")
        assert problem is not None and problem.startswith("batch/d/x:")  # never the value
