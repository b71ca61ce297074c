"""Schemathesis against the master's description (`dcos.master.http.openapi`): the Mesos v1
scheduler and operator APIs, the operator endpoints, files and metrics.

Not sent: SUBSCRIBE calls (scheduler and operator: streams). So that scheduler calls reach
more than "framework not subscribed", the module subscribes a framework of its own first
(`Subscribed`: failover timeout 0, so it is gone once its stream closes; it holds the offers it
gets meanwhile, and launches nothing: generated offer ids match none) and every other
generated scheduler call but TEARDOWN is sent as that framework, with its stream id
(`as_framework`). Every other write is sent: a generated TEARDOWN names a framework id no
framework has, so the webapp's and the batch dispatcher's frameworks stay registered for the
modules after this one.
"""

from __future__ import annotations

import threading
from typing import Any

import orjson
import requests

from tests.fuzz.openapi.harness import TIMEOUT_S, Cluster, alive, fuzz, load

SCHEDULER_PATHS = {"/api/v1/scheduler", "/master/api/v1/scheduler"}


class Subscribed:
    """A framework subscribed over a real SUBSCRIBE stream, drained in a thread until
    `close`."""

    def __init__(self, master: str) -> None:
        call = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {
            "user": "nobody", "name": "openapi-fuzz", "failover_timeout": 0}}}
        self.resp = requests.post(f"{master}/api/v1/scheduler", data=orjson.dumps(call),
                                  headers={"Content-Type": "application/json"}, stream=True,
                                  timeout=TIMEOUT_S)  # fmt: skip
        assert self.resp.status_code == 200, self.resp.text
        self.stream_id = self.resp.headers["Mesos-Stream-Id"]
        raw = self.resp.raw
        size = int(raw.readline())
        first = orjson.loads(raw.read(size))
        assert first["type"] == "SUBSCRIBED", first
        self.framework_id = first["subscribed"]["framework_id"]["value"]
        self._drain = threading.Thread(target=self._read_rest, daemon=True)
        self._drain.start()

    def _read_rest(self) -> None:
        try:
            while self.resp.raw.read(4096):
                pass
        except Exception:  # noqa: BLE001 - closed by `close`
            return

    def close(self) -> None:
        self.resp.close()


def as_framework(sub: Subscribed) -> Any:
    def prepare(case: Any) -> Any:
        body = case.body
        if (case.operation.path in SCHEDULER_PATHS and isinstance(body, dict)
                and body.get("type") != "TEARDOWN" and len(repr(body)) % 2):
            case.body = {**body, "framework_id": {"value": sub.framework_id}}
            case.headers = {**(case.headers or {}), "Mesos-Stream-Id": sub.stream_id}
        return case

    return prepare


def test_master(up_cluster: Cluster) -> None:
    sub = Subscribed(up_cluster.master)
    try:
        fuzz("master", load(up_cluster.master), up_cluster.session, prepare=as_framework(sub))
    finally:
        sub.close()
    alive(up_cluster, up_cluster.master)
