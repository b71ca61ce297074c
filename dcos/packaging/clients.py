"""The package service's clients of the webapp framework (Marathon v2 API) and of the leading
master (operator endpoints), over aiohttp.

Called by: the service core (dcos/packaging/service.py, dcos/packaging/uninstall.py) through
the `Webapp` and `Master` protocols, which the unit tests implement with fakes. Failures to
reach them become Cosmos errors (ServiceUnavailable, MarathonBadGateway); a webapp 4xx on a
change is MarathonBadResponse with the webapp's error details.

Security on: the HTTP shell runs each user's RPC inside `acting_as(<its Authorization
header>)`; every call made meanwhile carries that header (`acting_for`), so the webapp and the
master authorize the user (`dcos.packaging.security`), the session's client certificate only
opening the mutual-TLS connection.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
import orjson

from dcos.common.sse import WebappEndpoints
from dcos.packaging import errors
from dcos.state.detector import MasterDetector

Json = dict[str, Any]
TIMEOUT_S = 15.0
_ACTING_FOR: ContextVar[str | None] = ContextVar("dcos_packaging_acting_for", default=None)


@contextlib.contextmanager
def acting_as(authorization: str | None) -> Iterator[None]:
    """While inside: the webapp and master calls send `authorization` (the user's header)."""
    token = _ACTING_FOR.set(authorization or None)
    try:
        yield
    finally:
        _ACTING_FOR.reset(token)


def acting_for() -> dict[str, str]:
    """The headers that make an upstream call the user's (``{}`` when acting for no one)."""
    value = _ACTING_FOR.get()
    return {"Authorization": value} if value else {}


class Webapp(Protocol):
    async def apps(self) -> list[Json]:
        """Every app with its tasks (`GET /v2/apps?embed=apps.tasks`)."""
        ...

    async def group_exists(self, group_id: str) -> bool: ...

    async def create(self, kind: str, definition: Json) -> None:
        """POST the app or group; PackageAlreadyInstalled on 409, MarathonBadResponse on 4xx."""
        ...

    async def update(self, kind: str, definition: Json) -> str | None:
        """PUT the app or group (a rolling deployment); its deployment id."""
        ...

    async def delete(self, kind: str, app_id: str) -> bool:
        """DELETE with force; False when it was already gone (404)."""
        ...


class Master(Protocol):
    async def frameworks(self) -> list[Json]:
        """The registered frameworks, active or not (`/master/frameworks` `frameworks`)."""
        ...

    async def teardown(self, framework_id: str) -> None: ...


class HttpWebapp:
    """`Webapp` over HTTP, trying each instance of `endpoints` in turn when one fails."""

    def __init__(self, session: aiohttp.ClientSession, endpoints: WebappEndpoints) -> None:
        self.session = session
        self.endpoints = endpoints

    async def _call(self, method: str, path: str, body: Json | None = None) -> tuple[int, Any]:
        problems = []
        data = None if body is None else orjson.dumps(body)
        headers = {"Accept": "application/json", "Content-Type": "application/json",
                   **acting_for()}
        for url in self.endpoints.order():
            try:
                async with self.session.request(
                        method, url + path, data=data, headers=headers,
                        timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as resp:
                    raw = await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                self.endpoints.failed(url)
                problems.append(f"{url}: {str(exc) or type(exc).__name__}")
                continue
            if status in (502, 503, 504):
                self.endpoints.failed(url)
                problems.append(f"{url}: {status}")
                continue
            self.endpoints.succeeded(url)
            try:
                parsed = orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                parsed = {"message": raw[:200].decode(errors="replace")}
            return status, parsed
        raise errors.webapp_unavailable("; ".join(problems))

    async def apps(self) -> list[Json]:
        status, body = await self._call("GET", "/v2/apps?embed=apps.tasks")
        if status != 200 or not isinstance(body, dict) or not isinstance(body.get("apps"), list):
            raise errors.webapp_bad_gateway(status)
        return list(body["apps"])

    async def group_exists(self, group_id: str) -> bool:
        status, _ = await self._call("GET", "/v2/groups" + _path(group_id))
        if status not in (200, 404):
            raise errors.webapp_bad_gateway(status)
        return status == 200

    async def create(self, kind: str, definition: Json) -> None:
        status, body = await self._call("POST", f"/v2/{kind}s", definition)
        if status in (200, 201):
            return
        if status == 409:
            raise errors.package_already_installed(str(definition.get("id")))
        if 400 <= status < 500:
            raise errors.webapp_refused(status, body)
        raise errors.webapp_bad_gateway(status)

    async def update(self, kind: str, definition: Json) -> str | None:
        # an app is replaced whole (Marathon's partialUpdate=false): a field the new release's
        # template leaves out must not survive from the old one
        query = "?force=true&partialUpdate=false" if kind == "app" else "?force=true"
        path = f"/v2/{kind}s" + _path(str(definition["id"])) + query
        body_out = {k: v for k, v in definition.items() if k != "id"} if kind == "app" \
            else definition
        status, body = await self._call("PUT", path, body_out)
        if status in (200, 201):
            return body.get("deploymentId") if isinstance(body, dict) else None
        if 400 <= status < 500:
            raise errors.webapp_refused(status, body)
        raise errors.webapp_bad_gateway(status)

    async def delete(self, kind: str, app_id: str) -> bool:
        status, body = await self._call("DELETE", f"/v2/{kind}s" + _path(app_id) + "?force=true")
        if status in (200, 202):
            return True
        if status == 404:
            return False
        if 400 <= status < 500:
            raise errors.webapp_refused(status, body)
        raise errors.webapp_bad_gateway(status)


def _path(app_id: str) -> str:
    return "/" + quote(app_id.strip("/"), safe="/")


class HttpMaster:
    """`Master` over HTTP to the leader that `detector` names."""

    def __init__(self, session: aiohttp.ClientSession, detector: MasterDetector) -> None:
        self.session = session
        self.detector = detector

    async def _leader(self) -> str:
        try:
            return (await self.detector.wait_leader(5.0)).url
        except TimeoutError as exc:
            raise errors.master_unavailable(str(exc)) from None

    async def frameworks(self) -> list[Json]:
        url = await self._leader() + "/master/frameworks"
        try:
            async with self.session.get(url, headers=acting_for(),
                                        timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as r:
                if r.status != 200:
                    raise errors.master_unavailable(f"GET {url} answered {r.status}")
                body = orjson.loads(await r.read())
        except (aiohttp.ClientError, TimeoutError, OSError, orjson.JSONDecodeError) as exc:
            raise errors.master_unavailable(f"GET {url}: {exc}") from None
        return list(body.get("frameworks") or []) if isinstance(body, dict) else []

    async def teardown(self, framework_id: str) -> None:
        url = await self._leader() + "/api/v1"
        call = {"type": "TEARDOWN", "teardown": {"framework_id": {"value": framework_id}}}
        try:
            async with self.session.post(url, data=orjson.dumps(call),
                                         headers={"Content-Type": "application/json",
                                                  **acting_for()},
                                         timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as r:
                text = (await r.read()).decode(errors="replace")
                if r.status != 200 and "No framework" not in text and "nknown" not in text:
                    raise errors.master_unavailable(f"TEARDOWN {framework_id}: {r.status} {text}")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise errors.master_unavailable(f"POST {url}: {exc}") from None
