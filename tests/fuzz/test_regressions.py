"""Reproductions of the defects the fuzz suite found that were not in issue 9's list, each
failing before its fix:

- an agent SUBSCRIBE on ``/internal/agent`` whose port range ends at an infinite float
  (msgpack carries one) was a 500 (`OverflowError` in `Resources`); now 400;
- a body nested 255 to 1,024 levels deep (orjson reads up to 1,024 levels but writes at most
  254) was accepted: a framework SUBSCRIBE with such ``labels`` was kept, and from then on
  every ``/master/state``, ``GET_FRAMEWORKS`` and registry write failed (500s until a master
  restart). Bodies nested deeper than `MAX_DEPTH` are now 400, on JSON and msgpack alike;
- webapp: a constraint value ``"¹"`` (``str.isdigit`` is true for it, ``int`` raises) was a
  500 on ``POST /v2/apps``; the same check in the load balancer's label parser raised;
- batch executor shuffle server: negative numbers (tests/fuzz/test_batch.py).
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest

from dcos.protocol import internal
from dcos.protocol.codec import MAX_DEPTH, DecodeError, dumps_msgpack, loads_json, loads_msgpack
from dcos.protocol.resources import ResourceError, Resources
from tests.fuzz.envs import ClusterEnv
from tests.fuzz.harness import send


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_infinite_range_bound_is_a_resource_error() -> None:
    with pytest.raises(ResourceError):
        Resources.from_dict({"r": {"ports": [[31000, math.inf]]}})
    with pytest.raises(ResourceError):
        Resources.from_dict({"r": {"ports": [[math.nan, 1]]}})


def test_agent_subscribe_with_an_infinite_port_range_is_400(env: ClusterEnv) -> None:
    info = {"id": None, "hostname": "fz", "ip": "127.0.0.2", "port": 45052,
            "resources": {"s": {"cpus": 1.0}, "r": {"ports": [[31000, math.inf]]}},
            "attributes": {}, "version": "0.1.0", "capabilities": []}  # fmt: skip
    body = dumps_msgpack({"type": internal.SUBSCRIBE, "agent": info, "tasks": [],
                          "frameworks": [], "unacked": []})  # fmt: skip
    r = send(env.port, "POST", internal.PATH, body, {"Content-Type": "application/x-msgpack"})
    assert r.status == 400, r.text()
    env.assert_healthy()


def test_decoders_refuse_bodies_deeper_than_max_depth() -> None:
    ok, deep = nested(MAX_DEPTH - 5), nested(300)
    assert loads_json(orjson.dumps(ok)) == ok
    assert loads_msgpack(dumps_msgpack(ok)) == ok
    text = b'{"a":' * 299 + b'"x"' + b"}" * 299
    with pytest.raises(DecodeError, match="nested deeper"):
        loads_json(text)
    with pytest.raises(DecodeError, match="nested deeper"):
        loads_json(text.decode())
    with pytest.raises(DecodeError, match="nested deeper"):
        loads_msgpack(dumps_msgpack(deep))


def test_a_deeply_nested_framework_info_is_refused_and_state_still_renders(env: ClusterEnv) -> None:
    labels = b'{"labels":[{"key":"k","value":"v","x":' + b"[" * 300 + b"]" * 300 + b"}]}"
    body = (b'{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"deep",'
            b'"labels":' + labels + b"}}}")  # fmt: skip
    r = send(env.port, "POST", "/api/v1/scheduler", body, {"Content-Type": "application/json"})
    assert r.status == 400, r.text()
    op = b'{"type":"GET_FRAMEWORKS","x":' + b"[" * 300 + b"]" * 300 + b"}"
    assert send(env.port, "POST", "/api/v1", op).status == 400
    for path in ("/master/state", "/master/frameworks"):
        status, raw = env.get(env.cluster.url + path)
        assert status == 200, raw[:300]
    r = send(env.port, "POST", "/api/v1", b'{"type":"GET_FRAMEWORKS"}')
    assert r.status == 200, r.text()
    env.assert_healthy()


def test_non_ascii_digits_in_constraints_and_lb_labels_are_refused_not_raised() -> None:
    """``"¹".isdigit()`` is True but ``int("¹")`` raises: a GROUP_BY/MAX_PER constraint value
    ``"¹"`` made ``POST /v2/apps`` a 500, and an app label ``HAPROXY_0_PORT="¹"`` (accepted:
    labels are free text) made the load balancer's config build raise for every app."""
    from frameworks.webapp.lb.labels import read_ports
    from frameworks.webapp.model.app import constraint_errors

    for op in ("GROUP_BY", "MAX_PER"):
        assert constraint_errors(["rack", op, "¹"]) == [f"{op} value must be a positive integer"]
    app = {"labels": {"HAPROXY_GROUP": "external", "HAPROXY_0_PORT": "¹"},
           "portDefinitions": [{"port": 10000}]}  # fmt: skip
    specs, reason = read_ports(app, "external")
    assert specs == [] and reason is not None and "HAPROXY_0_PORT" in reason
