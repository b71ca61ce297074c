"""A small fake package service (Cosmos API with its vendor media types) and webapp for the
`dcos-py package` CLI tests, on one aiohttp server in a background thread.

It refuses a request whose `Content-Type` or `Accept` is not exactly the endpoint's request
type and preferred response type (so the tests check what the CLI sends), records every
request, and answers from `answers[path]` (a JSON body, a `(status, error body)` pair, or a
callable taking the request body). Webapp routes: `/v2/apps/<id>`, `/v2/groups/<id>` from
`apps` (each GET of an app runs its `on_get` hook, which lets a test make it healthy after a few
polls), and `/v2/fit` from `fit` (None: 404, as an older webapp).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web
from cli_fakes import serve_in_thread

from dcos.cli.commands._pkg_wait import group_apps
from dcos.packaging import mediatypes as mt

HELLO = {
    "packagingVersion": "4.0", "name": "hello-world", "version": "1.0.0", "releaseVersion": 0,
    "maintainer": "dcos-py", "description": "An HTTP hello world", "tags": ["demo"],
    "framework": False, "selected": True,
    "preInstallNotes": "This runs a small web server.",
    "postInstallNotes": "Try curl http://hello-world.webapp.dcos",
    "postUninstallNotes": "hello-world is gone.",
    "config": {"type": "object", "properties": {"service": {"type": "object", "properties": {
        "instances": {"type": "integer", "default": 1, "minimum": 1}}}}},
}
APP = {"id": "/hello-world", "cmd": "python -m hello", "instances": 2, "cpus": 0.1, "mem": 32,
       "healthChecks": [{"protocol": "HTTP"}]}


@dataclass
class FakePackageService:
    url: str = ""
    answers: dict[str, Any] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    apps: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    fit: Any = None
    answer_types: dict[str, str] = field(default_factory=dict)  # path -> Content-Type override
    on_get: Callable[[dict[str, Any]], None] | None = None

    def paths(self) -> list[str]:
        return [p for p, _, _ in self.requests]

    def body_of(self, path: str) -> Any:
        return next(b for p, _, b in self.requests if p == path)


def _error(status: int, body: Any) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type=None,
                        headers={"Content-Type": mt.ERROR})


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body),
                        headers={"Content-Type": "application/json"})


@pytest.fixture
def fake_cosmos() -> Iterator[FakePackageService]:
    fake = FakePackageService()

    async def cosmos(request: web.Request) -> web.Response:
        path = request.path
        endpoint = mt.ENDPOINTS.get(path)
        raw = await request.read()
        body = orjson.loads(raw) if raw else None
        fake.requests.append((path, dict(request.headers), body))
        if endpoint is None:
            return web.Response(status=404, text="no such endpoint")
        if request.headers.get("Content-Type") != endpoint.request:
            return _error(400, {"type": "not_valid", "message": "bad Content-Type"})
        if request.headers.get("Accept") != endpoint.responses[0]:
            return _error(400, {"type": "not_valid", "message": "bad Accept"})
        answer = fake.answers.get(path)
        if callable(answer):
            answer = answer(body)
        if answer is None:
            return _error(400, {"type": "PackageNotFound", "message": "no answer configured"})
        if isinstance(answer, tuple):
            return _error(*answer)
        ctype = fake.answer_types.get(path, endpoint.responses[0])
        return web.Response(body=orjson.dumps(answer), headers={"Content-Type": ctype})

    async def webapp(request: web.Request) -> web.Response:
        fake.requests.append((request.path, dict(request.headers), None))
        tail = "/" + request.match_info["tail"].strip("/")
        if request.path.startswith("/v2/apps"):
            app = fake.apps.get(tail)
            if app is None:
                return _json({"message": f"App '{tail}' does not exist"}, 404)
            if fake.on_get is not None:
                fake.on_get(app)
            return _json({"app": app})
        group = fake.groups.get(tail)
        if group is None:
            return _json({"message": f"Group '{tail}' does not exist"}, 404)
        if fake.on_get is not None:
            for a in group_apps(group):
                fake.on_get(a)
        return _json(group)

    async def fit(request: web.Request) -> web.Response:
        fake.requests.append(("/v2/fit", dict(request.headers), await request.json()))
        if fake.fit is None:
            return _json({"message": "Not Found"}, 404)
        return _json(fake.fit)

    app = web.Application()
    app.router.add_route("POST", "/v2/fit", fit)
    app.router.add_route("GET", "/v2/apps/{tail:.*}", webapp)
    app.router.add_route("GET", "/v2/groups/{tail:.*}", webapp)
    app.router.add_route("*", "/{tail:.*}", cosmos)
    with serve_in_thread(app) as url:
        fake.url = url
        yield fake
