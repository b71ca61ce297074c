"""``GET /openapi.json`` needs no authentication when security is on: through the shared auth
middleware (the DNS HTTP API, in-process, with a real security directory: the description is
served to an anonymous client that gets 401 everywhere else), and in every component's own
list of open paths."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from dcos.agent.security import OPEN_PATHS as AGENT_OPEN
from dcos.dns.http_api import make_app
from dcos.dns.records import RecordTable
from dcos.gateway.edge import OPEN_PATHS as GATEWAY_OPEN
from dcos.master.http.secure import OPEN_PATHS as MASTER_OPEN
from dcos.packaging.security import OPEN_PATHS as PACKAGE_OPEN
from dcos.security.context import load_context
from dcos.security.http import DEFAULT_OPEN_PATHS
from dcos.security.layout import init_security_dir
from frameworks.webapp.api.security import OPEN_PATHS as WEBAPP_OPEN


def test_every_component_keeps_the_description_open() -> None:
    for paths in (DEFAULT_OPEN_PATHS, MASTER_OPEN, AGENT_OPEN, WEBAPP_OPEN, PACKAGE_OPEN,
                  GATEWAY_OPEN):  # fmt: skip
        assert "/openapi.json" in paths


async def test_description_served_to_an_anonymous_client(tmp_path: Path) -> None:
    init_security_dir(tmp_path / "sec", names={"dns": "component"})
    ctx = load_context(tmp_path / "sec", "dns")
    app = make_app(RecordTable, lambda: {}, lambda: True, security=ctx)
    async with TestClient(TestServer(app)) as client:
        described = await client.get("/openapi.json")
        assert described.status == 200
        assert (await described.json())["paths"]["/v1/version"]
        refused = await client.get("/v1/version")
        assert refused.status == 401
