"""Fuzz of the DNS service's HTTP API (Mesos-DNS' ``/v1/hosts/{host}``,
``/v1/services/{service}``, ``/v1/version``, ``/v1/config``, ``/health``) with hostile names,
and of the batch dispatcher's ``/v1/submissions`` API (submissions with one field mutated,
garbage bodies, hostile ids on ``/v1/submissions/{id}[/kill|/driver]``).

Both run in-process on loopback (the DNS app over a table built from sample apps; the
dispatcher with an in-memory store and no master). No request may get a 5xx or hang; a refused
submission adds none; both still answer a normal request afterwards.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from dcos.dns import http_api
from dcos.dns.records import ClusterInfo, build_table
from dcos.state import MemoryStateStore
from frameworks.batch.cluster.dispatcher import Dispatcher
from tests.fuzz.harness import Guard, ServerLoop, fuzz, send
from tests.fuzz.strategies import (
    SPECIAL_STRINGS,
    body_of,
    garbage_bodies,
    mutations,
    query_values,
    quoted,
)


async def _serve(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


# -- DNS ------------------------------------------------------------------------------------

APPS = [{"id": "/shop/web", "portDefinitions": [{"port": 10000, "name": "http", "protocol": "tcp"}],
         "tasks": [{"id": "shop_web.1", "host": "127.0.0.1", "ports": [31000],
                    "state": "TASK_RUNNING", "slaveId": "a1",
                    "ipAddresses": [{"ipAddress": "127.0.0.1", "protocol": "IPv4"}]}]}]  # fmt: skip


@pytest.fixture(scope="module")
def dns_port(srv: ServerLoop) -> Iterator[int]:
    table = build_table(APPS, ClusterInfo(master_ip="127.0.0.1", master_port=5050,
                                          agent_ips={"a1": "127.0.0.1"}))  # fmt: skip
    app = http_api.make_app(lambda: table, lambda: {"Domain": "dcos"}, lambda: True)
    runner, port = srv.run(_serve(app))
    yield port
    srv.run(runner.cleanup())


def test_dns_http_api(dns_port: int) -> None:
    guard = Guard("dns HTTP API")
    names = st.one_of(
        st.sampled_from(["web-shop.webapp.dcos", "_http._web-shop._tcp.webapp.dcos", "leader.dcos",
                         "master.mesos", "WEB-SHOP.WEBAPP.MESOS.", ".", "..", "a..b", "-a-.dcos",
                         "a" * 64 + ".dcos", ("a" * 63 + ".") * 5 + "dcos", "*.dcos", "_._._"]),
        st.sampled_from(SPECIAL_STRINGS), st.text(max_size=30),
    ).map(lambda s: quote(s.encode("utf-8", "surrogatepass"), safe=""))  # fmt: skip
    paths = st.one_of(
        st.tuples(st.sampled_from(["/v1/hosts/", "/v1/services/"]), names).map("".join),
        st.sampled_from(["/v1/version", "/v1/config", "/health", "/v1/hosts/", "/v1/nope",
                         "/v1/hosts/%ff%fe", "/v1/services/%00", "/v1/hosts/a/b"]),
    )  # fmt: skip

    @fuzz(250)
    @given(path=paths, query=st.sampled_from(["", "?x=%ff", "?x=" + "y" * 3000]),
           method=st.sampled_from(["GET"] * 5 + ["POST", "HEAD", "DELETE"]))  # fmt: skip
    def run(path: str, query: str, method: str) -> None:
        guard.request(dns_port, method, path + query)

    run()
    r = send(dns_port, "GET", "/v1/hosts/web-shop.webapp.dcos")
    assert r.status == 200 and orjson.loads(r.body)[0]["ip"] == "127.0.0.1", r.text()


# -- the batch dispatcher -------------------------------------------------------------------


@pytest.fixture(scope="module")
def dispatcher(srv: ServerLoop, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("fuzz-dispatcher")
    script = tmp / "job.py"
    script.write_text("print(1)\n")
    kw: dict[str, Any] = {}
    if "scripts_dir" in inspect.signature(Dispatcher).parameters:
        kw["scripts_dir"] = tmp / "scripts"
    d = Dispatcher(MemoryStateStore(), "127.0.0.1:1", **kw)
    runner, port = srv.run(_serve(d.app()))
    d.port, d.script = port, str(script)
    yield d
    srv.run(runner.cleanup())


def test_dispatcher_submissions(srv: ServerLoop, dispatcher: Any) -> None:
    def snapshot() -> Any:
        return srv.call(lambda: sorted((k, s["state"]) for k, s in dispatcher.subs.items()))

    guard = Guard("batch dispatcher /v1/submissions", snapshot)
    valid = [
        {"script": dispatcher.script, "args": ["a", "b"], "conf": {"spark.executor.cores": "1"},
         "driver_cpus": 0.5, "driver_mem": 256, "name": "job"},
        {"script": "job.py", "script_content": "print(1)\n", "args": [], "conf": {},
         "driver_cpus": 0.1, "driver_mem": 32},
    ]  # fmt: skip
    ids = st.one_of(st.sampled_from(["nope", "..", "%2e%2e", "%00", "%ff", "x" * 300, "a/b"]),
                    st.sampled_from(SPECIAL_STRINGS).map(quoted))  # fmt: skip
    requests = st.one_of(
        st.tuples(st.just("POST"), st.just("/v1/submissions"),
                  st.one_of(st.sampled_from(valid).flatmap(mutations).map(body_of), garbage_bodies)),
        st.tuples(st.sampled_from(["GET", "POST", "DELETE"]),
                  st.tuples(ids, st.sampled_from(["", "/kill", "/driver", "/x"]))
                  .map(lambda t: f"/v1/submissions/{t[0]}{t[1]}"),
                  st.one_of(mutations({"ui_url": "http://x", "framework_id": "f"}).map(body_of),
                            garbage_bodies)),
        st.tuples(st.sampled_from(["GET", "PUT"]),
                  query_values().map(lambda q: f"/v1/submissions?limit={q}"), st.just(b"")),
    )  # fmt: skip

    @fuzz(300)
    @given(req=requests)
    def run(req: tuple[str, str, bytes]) -> None:
        method, path, body = req
        guard.request(dispatcher.port, method, path, body, {"Content-Type": "application/json"})

    run()
    r = send(dispatcher.port, "GET", "/v1/submissions")
    assert r.status == 200, r.text()
    assert send(dispatcher.port, "GET", "/health").status == 200
    assert Path(dispatcher.script).exists()
