"""The gateway's own answers when an upstream is down, missing or unknown (JSON
``{"code", "message"}``, quickly), and that bad input (odd paths, huge headers, odd methods)
never gets a 500."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import aiohttp
from aiohttp import web

from dcos.testing import free_port
from tests.gateway.conftest import MakeGateway, Upstream, fake_master, raw

BOUND_S = 2.5  # every error below must come well within this


async def _get(url: str, method: str = "GET") -> tuple[int, dict, float]:
    began = time.monotonic()
    async with aiohttp.ClientSession() as s:
        async with s.request(method, url, allow_redirects=False) as r:
            body = await r.json(content_type=None)
            return r.status, body, time.monotonic() - began


async def test_upstream_refusing_is_502_json(upstream: Upstream, gateway: MakeGateway) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    gw = await gateway(masters=(await upstream(fake_master({"svc": dead})),), package=dead)
    status, body, took = await _get(gw.url + "/package/list", "POST")
    assert status == 502 and took < BOUND_S
    assert body["code"] == 502
    assert body["message"].startswith(f"package service at {dead} is not answering: ")
    status, body, took = await _get(gw.url + "/service/svc/x")
    assert (status, body["code"]) == (502, 502) and took < BOUND_S
    assert f"service 'svc' at {dead} is not answering" in body["message"]


async def test_master_down_is_502_or_503_json(gateway: MakeGateway) -> None:
    dead = f"127.0.0.1:{free_port()}"
    gw = await gateway(masters=(dead,))
    for path, code in (("/mesos/master/state", 502), ("/service/marathon/v2/apps", 503),
                       ("/agent/A/state", 503)):  # fmt: skip
        status, body, took = await _get(gw.url + path)
        assert (status, body["code"]) == (code, code) and took < BOUND_S, (path, body)
        assert f"http://{dead} is not answering" in body["message"]


async def test_no_leader_among_several_masters_is_503(gateway: MakeGateway) -> None:
    dead = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    gw = await gateway(masters=tuple(dead))
    status, body, took = await _get(gw.url + "/mesos/master/state")
    assert (status, body["code"]) == (503, 503) and took < BOUND_S
    assert "names a leader" in body["message"]


async def test_not_configured_upstreams_are_503(upstream: Upstream, gateway: MakeGateway) -> None:
    gw = await gateway(masters=(await upstream(fake_master({})),))
    for path, flag in (("/package/list", "--package"), ("/capabilities", "--package"),
                       ("/dns/v1/version", "--dns-http"), ("/mesos_dns/v1/hosts/x", "--dns-http")):  # fmt: skip
        status, body, _ = await _get(gw.url + path)
        assert (status, body["code"]) == (503, 503) and flag in body["message"]


async def test_unknown_service_and_agent_are_404_json(upstream: Upstream,
                                                      gateway: MakeGateway) -> None:  # fmt: skip
    gw = await gateway(masters=(await upstream(fake_master({"webapp": "http://127.0.0.1:1"},
                                                           {"A1": "http://127.0.0.1:2"})),))  # fmt: skip
    status, body, _ = await _get(gw.url + "/service/nope/v2/apps")
    assert status == 404 and body == {"code": 404, "message": body["message"]}
    assert body["message"].startswith("service 'nope' not found")
    status, body, _ = await _get(gw.url + "/agent/A9/state")
    assert status == 404 and body["message"].startswith("agent 'A9' not found")
    status, body, _ = await _get(gw.url + "/no/such/route")
    assert status == 404 and body["code"] == 404


async def test_bad_input_never_gets_500(upstream: Upstream, gateway: MakeGateway) -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(text=request.method)

    svc = web.Application()
    svc.router.add_route("*", "/{tail:.*}", echo)
    svc_url = await upstream(svc)
    gw = await gateway(masters=(await upstream(fake_master({"svc": svc_url}, {"A": svc_url})),))
    host = gw.url.split("//")[1]
    paths = ["/service/%00/x", "/agent/%ff%fe/state", "//", "/mesos/%zz", "/service//x",
             "/slave/", "/service/svc/%", "/assets/%c0%ae%c0%ae/x", "/" + "a/" * 2000,
             "/service/" + "x/" * 100, "/agent/A/%0d%0aX-Injected:%201", "/service/svc/?%%%"]
    for path in paths:
        status, _ = await raw(gw.url, f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        assert status < 500 or status in (502, 503), (path, status)
    huge = "X-Big: " + "y" * 100_000
    status, _ = await raw(gw.url, f"GET /service/svc/x HTTP/1.1\r\nHost: {host}\r\n{huge}\r\nConnection: close\r\n\r\n".encode())
    assert 400 <= status < 500
    for method in ("FOO", "PROPFIND", "DELETE", "OPTIONS"):
        status, body = await raw(gw.url, f"{method} /service/svc/x HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        if method == "FOO":  # not an HTTP method the server's parser knows: 400
            assert status == 400
        else:
            assert status == 200 and body.endswith(method.encode()), method
        status, _ = await raw(gw.url, f"{method} /index.html HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        assert status == (400 if method == "FOO" else 405), method
    status, _ = await raw(gw.url, b"GET /mesos/x HTTP/9.9\r\n\r\n")
    assert 400 <= status < 500
    status, _ = await raw(gw.url, b"\x16\x03\x01garbage\r\n\r\n")
    assert 400 <= status < 500


async def test_connect_timeout_is_504_json_in_bounded_time(gateway: MakeGateway) -> None:
    """An upstream whose accept queue is full drops the gateway's SYN: connecting times out
    (the gateway's connect timeout is 1 s here) and the answer is 504, never a hang."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(3):  # fill the accept queue: later SYNs are dropped
        s = socket.socket()
        s.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            s.connect(listener.getsockname())
        fillers.append(s)
    await asyncio.sleep(0.1)
    try:
        gw = await gateway(package=f"http://127.0.0.1:{listener.getsockname()[1]}")
        status, body, took = await _get(gw.url + "/package/list")
        assert (status, body["code"]) == (504, 504) and 0.9 < took < BOUND_S, (body, took)
        assert "no connection within 1 s" in body["message"]
    finally:
        for s in fillers:
            s.close()
        listener.close()


async def test_a_service_pointing_at_the_gateway_is_a_508_loop(upstream: Upstream,
                                                                gateway: MakeGateway) -> None:  # fmt: skip
    frameworks: dict[str, str] = {}
    gw = await gateway(masters=(await upstream(fake_master(frameworks)),))
    frameworks["loop"] = gw.url + "/service/loop"
    status, body, took = await _get(gw.url + "/service/loop/x")
    assert (status, body["code"]) == (508, 508) and took < BOUND_S
    assert "loop" in body["message"]
