"""The OpenAPI 3.0 description of the gateway's own routes, served at ``GET /openapi.json``
(`dcos.common.openapi.add_openapi_route`, registered by `dcos.gateway.app.build_app` before
its catch-all route).

What it describes: the DC/OS compatibility endpoints of `dcos.gateway.metadata` (``/metadata``,
``/dcos-metadata/dcos-version.json``, ``/pkgpanda/active.buildinfo.full.json``, cluster links,
the auth provider list and login while security is off), ``/gateway/health`` and ``/health``.
Everything else is relayed (docs/gateway.md): ``/mesos/*`` to the leading master,
``/agent/<id>/*`` and ``/slave/<id>/*`` to an agent, ``/service/<name>/*`` to a framework
(``/service/marathon`` is the webapp), ``/package/*``, ``/capabilities`` and ``/cosmos/*`` to
the package service, ``/mesos_dns/*`` to the DNS HTTP API, ``/acs/api/v1/*`` and
``/secrets/v1/*`` to the leading master's IAM; those answer as described by each upstream's own
``/openapi.json``. Errors of the gateway itself are JSON ``{"code", "message"}``; the IAM
shaped ones ``{"title", "description", "code"}``.
"""

from __future__ import annotations

from typing import Any

from dcos.common.openapi import (
    ANY,
    BOOL,
    INT,
    STR,
    Schema,
    arr,
    body,
    json_reply,
    map_of,
    nullable,
    obj,
    op,
    path_param,
    spec,
)

IAM_ERROR = obj({"title": STR, "description": STR, "code": STR},
                required=["title", "description", "code"])  # fmt: skip
METADATA = obj({"PUBLIC_IPV4": STR, "CLUSTER_ID": STR, "CLUSTER_NAME": STR},
               required=["PUBLIC_IPV4", "CLUSTER_ID"])  # fmt: skip
VERSION = obj({"version": STR, "dcos-variant": STR, "dcos-image-commit": STR,
               "bootstrap-id": STR, "dcos-py-version": STR},
              required=["version", "dcos-variant"])  # fmt: skip
BUILDINFO = map_of(obj({"name": STR, "version": STR, "package_version": STR, "commit": STR},
                       required=["name", "version"]))  # fmt: skip
UPSTREAM = nullable(obj({"url": STR, "ok": BOOL, "status": INT, "error": STR},
                        required=["url", "ok"]))  # fmt: skip
HEALTH = obj({"healthy": BOOL,
              "master": obj({"leader": nullable(STR), "ok": BOOL, "error": nullable(STR),
                             "masters": arr(ANY)}),
              "package": UPSTREAM, "dns": UPSTREAM, "frameworks": arr(STR), "agents": INT,
              "ui_built": BOOL}, required=["healthy", "master"])  # fmt: skip


def _get(summary: str, schema: Schema) -> dict[str, Schema]:
    return {"get": op(summary, {200: json_reply(schema)}, tags=["gateway"])}


def gateway_spec() -> dict[str, Any]:
    """The whole description (built once per app by `build_app`)."""
    paths: dict[str, dict[str, Schema]] = {
        "/metadata": _get("The cluster's id, name and public IP", METADATA),
        "/dcos-metadata/dcos-version.json": _get("The DC/OS release dcos-py answers as",
                                                 VERSION),
        "/pkgpanda/active.buildinfo.full.json": _get(
            "The components and their builds (the CLIs' HEAD probe: 200 = security off, "
            "401 + WWW-Authenticate: acsjwt without a token when on)", BUILDINFO),
        "/cluster/v1/links": {
            "get": op("Linked clusters (none: not supported)",
                      {200: json_reply(obj({"links": arr(ANY)}, required=["links"]))},
                      tags=["gateway"]),
            "post": op("Link a cluster: 501, not supported",
                       {501: json_reply(IAM_ERROR, "not implemented")},
                       request=body(ANY, required=False), tags=["gateway"]),
        },
        "/cluster/v1/links/{link_id}": {"delete": op(
            "Unlink a cluster: 404, there are none", {404: json_reply(IAM_ERROR)},
            params=[path_param("link_id")], tags=["gateway"])},  # fmt: skip
        "/acs/api/v1/auth/providers": _get(
            "Login providers ({} while security is off; the leader's IAM answers when on)",
            map_of(ANY)),
        "/acs/api/v1/auth/login": {"post": op(
            "Log in: 501 while security is off (no token is needed); the leader's IAM "
            "answers when on", {501: json_reply(IAM_ERROR, "authentication disabled")},
            request=body(obj({"uid": STR, "password": STR}), required=False),
            tags=["gateway"])},  # fmt: skip
        "/gateway/health": _get("The leader and whether each upstream answers", HEALTH),
        "/health": _get("200 while the gateway serves", obj({"status": STR},
                                                            required=["status"])),
    }
    return spec("dcos-py gateway (DC/OS compatibility endpoints)", paths,
                description=__doc__ or "", auth_error=json_reply(
                    obj({"code": INT, "message": STR}, required=["code", "message"]),
                    "security on: no valid token (401, WWW-Authenticate: acsjwt)"))
