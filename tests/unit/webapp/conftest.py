"""Shared fixture of the webapp unit tests: the /v2 API on a service with no master."""

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dcos.state import MemoryStateStore
from frameworks.webapp.api.server import build_app
from frameworks.webapp.scheduler import WebappService
from frameworks.webapp.store import WebappStore


@pytest.fixture
async def client():
    """aiohttp test client on `build_app(svc)`; the service is `client.svc`, its backing
    state store `client.state_store` (to restore a second service from it)."""
    store = MemoryStateStore()
    svc = WebappService(WebappStore(store), master="127.0.0.1:1")
    async with TestClient(TestServer(build_app(svc))) as c:
        c.svc, c.state_store = svc, store
        yield c
