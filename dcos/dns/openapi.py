"""The OpenAPI 3.0 description of the DNS service's HTTP API (Mesos-DNS's, port 8123), served
at ``GET /openapi.json`` (`dcos.common.openapi.add_openapi_route`, registered by
`dcos.dns.http_api.make_app`).

What it describes: ``/v1/version``, ``/v1/config``, ``/v1/hosts/{host}`` (A records:
``[{"host", "ip"}]``), ``/v1/services/{service}`` (SRV records: ``[{"service", "host", "ip",
"port"}]``) and ``/health``. An unknown name answers Mesos-DNS's own shape: one row of empty
strings.
"""

from __future__ import annotations

from typing import Any

from dcos.common.openapi import (
    ANY,
    STR,
    Schema,
    arr,
    json_reply,
    map_of,
    obj,
    op,
    path_param,
    reply,
    spec,
    text_reply,
)

HOST_ROW = obj({"host": STR, "ip": STR}, required=["host", "ip"])
SERVICE_ROW = obj({"service": STR, "host": STR, "ip": STR, "port": STR},
                  required=["service", "host", "ip", "port"])  # fmt: skip


def _get(summary: str, responses: dict[int, Schema], **kw: Any) -> dict[str, Schema]:
    return {"get": op(summary, responses, tags=["dns"], **kw)}


def dns_spec() -> dict[str, Any]:
    """The whole description (built once per app by `make_app`)."""
    paths: dict[str, dict[str, Schema]] = {
        "/v1/version": _get("Mesos-DNS's version answer", {200: json_reply(obj(
            {"Service": STR, "URL": STR, "Version": STR}, required=["Service", "Version"]))}),
        "/v1/config": _get("The service's configuration (Mesos-DNS's field names)",
                           {200: json_reply(map_of(ANY))}),
        "/v1/hosts/{host}": _get("A records of a name (e.g. master.mesos)",
                                 {200: json_reply(arr(HOST_ROW))},
                                 params=[path_param("host", STR, "a DNS name")]),
        "/v1/services/{service}": _get("SRV records of a service name (_web._tcp.webapp.mesos)",
                                       {200: json_reply(arr(SERVICE_ROW))},
                                       params=[path_param("service", STR, "an SRV name")]),
        "/health": _get("200 once the first sync loaded records, 503 before",
                        {200: reply("OK", STR, "text/plain"),
                         503: text_reply("no records loaded yet")}),
    }
    return spec("dcos-py DNS HTTP API (Mesos-DNS)", paths, description=__doc__ or "",
                auth_error=text_reply("security on: not authenticated (401) or not allowed"))



