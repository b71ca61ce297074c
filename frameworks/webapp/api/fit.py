"""``POST /v2/fit``: would this app or group fit the cluster now, and why not (a dry run).

The body is what ``POST /v2/apps`` (an app: it has no ``apps``/``groups``) or ``POST
/v2/groups`` (a group: it has ``apps`` or ``groups``) would take, validated the same way (a
422 with Marathon's ``{"message", "details"}`` body on bad input). The route reads the agents
from the master's ``/master/slaves`` and answers 200 with `frameworks.webapp.fit.fit`'s
verdict: ``{"fits", "agents", "apps": [{"id", "instances", "placeable", "fits", "reasons":
[{"reason", "code", "agents"}]}]}``; 503 ``{"message"}`` when the master cannot be asked.
Nothing is created or changed, and the ids may already exist (the fit is for the definition
as given, next to what runs now). Registered by `frameworks.webapp.api.server.build_app`;
called by ``dcos-py package install --dry-run``. On a follower the leader proxy forwards it.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
from aiohttp import web

from dcos.common.addresses import MasterAddressError, parse_master, zk_master
from dcos.protocol.resources import ResourceError
from frameworks.webapp.api.http import body_json, error, invalid, new_app_errors, parse_app, respond
from frameworks.webapp.fit import AgentFree, agents_from_slaves, fit
from frameworks.webapp.model.app import Errors
from frameworks.webapp.model.group import cycle_errors, flatten_group
from frameworks.webapp.model.paths import id_errors
from frameworks.webapp.model.spec import AppSpec
from frameworks.webapp.scheduler import WebappService

MASTER_TIMEOUT = 5.0


class MasterUnavailable(Exception):
    """The master's agents could not be read (the 503's message)."""


class FitApi:
    def __init__(self, service: WebappService) -> None:
        self.s = service

    def add_routes(self, r: web.UrlDispatcher) -> None:
        r.add_post("/v2/fit", self.fit)

    async def fit(self, request: web.Request) -> web.Response:
        raw, bad = await body_json(request)
        if bad:
            return bad
        specs, errs, message = self.validate(raw)
        if errs:
            return invalid(errs, message)
        try:
            agents = await self.agents()
        except MasterUnavailable as e:
            return error(503, str(e))
        return respond(fit(agents, specs, gpus_enabled=self.s.gpus,
                           default_roles=self.s.core.config.default_accepted_roles).to_json())

    def validate(self, raw: Any) -> tuple[list[AppSpec], Errors, str]:
        """The apps of the body as create would accept them, or the 422's details and
        message. An object with ``apps`` or ``groups`` is a group, any other an app."""
        if isinstance(raw, dict) and ("apps" in raw or "groups" in raw):
            return self._group(raw)
        app, errs = parse_app(raw)
        if app is None:
            return [], errs, "Object is not valid"
        return [app], new_app_errors(self.s.view, app), "Object is not valid"

    def _group(self, raw: dict[str, Any]) -> tuple[list[AppSpec], Errors, str]:
        """As ``POST /v2/groups`` validates: the id, every app and subgroup, no cycle."""
        gid = "/"
        if raw.get("id"):
            if not isinstance(raw["id"], str):
                return [], [("/id", ["id must be a string"])], "Object is not valid"
            gid, id_errs = id_errors(raw["id"], "/")
            if id_errs:
                return [], [("/id", id_errs)], "Object is not valid"
        apps, gdeps, errors = flatten_group({**raw, "id": gid}, "/")
        if errors:
            return [], errors, "Object is not valid"
        view = self.s.view
        live: dict[str, Any] = {a: s.json for a, s in view.apps.items()}
        live.update(apps)
        errs = cycle_errors(live, {**view.group_deps(), **gdeps})
        if errs:
            return [], errs, "Dependency graph has cyclic dependencies."
        return [AppSpec.parse(a) for a in apps.values()], [], ""

    def master_url(self) -> str:
        """The master the framework is subscribed to, else its ``--master`` when that names
        one master (a ``zk://`` one is only known once subscribed)."""
        driver = self.s.driver
        if driver is not None and driver.master is not None:
            return driver.master.url
        try:
            if zk_master(self.s.master) is None:
                scheme = "https" if self.s.security is not None else "http"
                return parse_master(self.s.master, default_scheme=scheme).url
        except MasterAddressError:
            pass
        raise MasterUnavailable(
            "the webapp is not connected to a master: its agents cannot be read"
        )

    async def agents(self) -> list[AgentFree]:
        """The active agents with their free resources, from ``/master/slaves``."""
        url = self.master_url() + "/master/slaves"
        timeout = aiohttp.ClientTimeout(total=MASTER_TIMEOUT)
        try:
            sec = self.s.security  # security on: mutual TLS with the webapp's certificate
            kwargs = sec.client_kwargs() if sec is not None else {}
            async with aiohttp.ClientSession(timeout=timeout, **kwargs) as session, session.get(url) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise MasterUnavailable(f"the master answered {resp.status} to GET {url}")
            return agents_from_slaves(orjson.loads(body))
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise MasterUnavailable(
                f"the master's agents could not be read ({url}): {e or type(e).__name__}"
            ) from e
        except (orjson.JSONDecodeError, ResourceError) as e:
            raise MasterUnavailable(
                f"the master's answer to GET {url} could not be read: {e}"
            ) from e
