"""The OpenAPI 3.0 description of the package service's Cosmos API, served at
``GET /openapi.json`` (`dcos.common.openapi.add_openapi_route`, registered by
`dcos.packaging.api.build_app`).

Every RPC is a ``POST`` whose body is named by its vendor request media type and whose answer
is one of its vendor response types, chosen by the ``Accept`` header (both verbatim from
`dcos.packaging.mediatypes.ENDPOINTS`); errors are Cosmos' ``{"type", "message", "data"}`` in
``application/vnd.dcos.package.error+json``. Also: ``GET /capabilities``,
``GET /package/resource?url=`` (an asset of a package, proxied from its repository) and
``GET /health``.
"""

from __future__ import annotations

from typing import Any

from dcos.common.openapi import (
    ANY,
    BOOL,
    INT,
    JSON,
    STR,
    Schema,
    arr,
    body,
    enum,
    header,
    json_reply,
    map_of,
    nullable,
    obj,
    op,
    path_param,
    query,
    reply,
    spec,
    string,
)
from dcos.packaging import mediatypes as mt

ERROR = obj({"type": STR, "message": STR, "data": nullable(ANY)}, required=["type", "message"])
PACKAGE_SUMMARY = obj({"name": STR, "currentVersion": STR, "versions": map_of(STR),
                       "description": STR, "framework": BOOL, "selected": BOOL,
                       "tags": arr(STR), "images": nullable(obj())},
                      required=["name", "currentVersion"])  # fmt: skip
PACKAGE = obj({"name": STR, "version": STR, "packagingVersion": STR, "description": STR,
               "maintainer": STR, "tags": arr(STR), "config": ANY, "resource": ANY,
               "marathon": ANY}, required=["name", "version"])  # fmt: skip
NAME = string(min_length=1, max_length=64)
OPTIONS = map_of(ANY)
APP_ID = string(max_length=200)

RPCS: dict[str, tuple[str, Schema, Schema]] = {  # path -> (summary, request, 200 body)
    "/package/search": (
        "Search the packages of every repository",
        obj({"query": STR}),
        obj({"packages": arr(PACKAGE_SUMMARY)}, required=["packages"])),
    "/package/describe": (
        "One package (v3: {package}; v2: the package itself)",
        obj({"packageName": NAME, "packageVersion": STR}, required=["packageName"]),
        obj({"package": PACKAGE})),
    "/package/list-versions": (
        "A package's versions",
        obj({"packageName": NAME, "includePackageVersions": BOOL}, required=["packageName"]),
        obj({"results": map_of(STR)}, required=["results"])),
    "/package/render": (
        "The Marathon app a package would install with these options",
        obj({"packageName": NAME, "packageVersion": STR, "options": OPTIONS, "appId": APP_ID},
            required=["packageName"]),
        obj({"marathonJson": obj()}, required=["marathonJson"])),
    "/package/install": (
        "Install a package: its app is created in the webapp",
        obj({"packageName": NAME, "packageVersion": STR, "options": OPTIONS, "appId": APP_ID},
            required=["packageName"]),
        obj({"packageName": STR, "packageVersion": STR, "appId": STR,
             "postInstallNotes": STR}, required=["packageName", "packageVersion"])),
    "/package/uninstall": (
        "Uninstall a package's app(s)",
        obj({"packageName": NAME, "appId": APP_ID, "all": BOOL}, required=["packageName"]),
        obj({"results": arr(obj({"packageName": STR, "packageVersion": STR, "appId": STR}))},
            required=["results"])),
    "/package/list": (
        "Installed packages",
        obj({"packageName": STR, "appId": APP_ID}),
        obj({"packages": arr(obj({"appId": STR, "packageInformation": obj()}))},
            required=["packages"])),
    "/package/repository/list": (
        "The repositories, in order",
        obj({}),
        obj({"repositories": arr(obj({"name": STR, "uri": STR}, required=["name", "uri"]))},
            required=["repositories"])),
    "/package/repository/add": (
        "Add a repository (at `index`, default last)",
        obj({"name": NAME, "uri": string(fmt="uri"), "index": INT}, required=["name", "uri"]),
        obj({"repositories": arr(obj({"name": STR, "uri": STR}))}, required=["repositories"])),
    "/package/repository/delete": (
        "Remove a repository (by name or uri)",
        obj({"name": NAME, "uri": STR}),
        obj({"repositories": arr(obj({"name": STR, "uri": STR}))}, required=["repositories"])),
    "/cosmos/service/describe": (
        "An installed package's app: its package and options",
        obj({"appId": APP_ID}, required=["appId"]),
        obj({"package": ANY, "upgradesTo": arr(STR), "downgradesTo": arr(STR),
             "resolvedOptions": ANY, "userProvidedOptions": ANY})),
    "/cosmos/service/update": (
        "Change an installed package's options or version",
        obj({"appId": APP_ID, "packageVersion": STR, "options": OPTIONS, "replace": BOOL},
            required=["appId"]),
        obj({"package": ANY, "resolvedOptions": ANY, "marathonDeploymentId": STR})),
}
ERRORS = {status: reply(what, ERROR, mt.ERROR) for status, what in (
    (400, "a missing or wrong header, an unreadable body, or invalid options"),
    (404, "unknown package, version, repository or app"),
    (409, "already installed, or a repository name or uri already used"),
    (500, "a fault of the service"),
    (502, "the webapp answered an error"),
    (503, "the webapp or a repository is unavailable"))}  # fmt: skip


def _rpc(path: str, summary: str, request: Schema, answer: Schema) -> dict[str, Schema]:
    ep = mt.ENDPOINTS[path]
    assert ep.request is not None
    return {"post": op(
        summary, {200: reply("OK (in the negotiated response type)", answer, ep.responses),
                  **ERRORS},
        params=[header("Accept", enum(*ep.responses), required=True)],
        request=body(request, ep.request), tags=["cosmos"])}  # fmt: skip


def package_spec() -> dict[str, Any]:
    """The whole description (built once per app by `build_app`)."""
    paths = {path: _rpc(path, *rpc) for path, rpc in RPCS.items()}
    capabilities = obj({"capabilities": arr(obj({"name": STR}, required=["name"]))},
                       required=["capabilities"])  # fmt: skip
    paths["/capabilities"] = {"get": op(
        "What this package service supports (PACKAGE_MANAGEMENT, ...)",
        {200: reply("capabilities", capabilities, mt.CAPABILITIES_RESPONSE), 400: ERRORS[400]},
        params=[header("Accept", enum(mt.CAPABILITIES_RESPONSE, JSON))], tags=["cosmos"])}
    asset = {200: reply("the asset", string(fmt="binary"), "application/octet-stream"),
             **{s: ERRORS[s] for s in (400, 404, 502, 503)}}  # fmt: skip
    url = query("url", string(fmt="uri"), required=True)
    paths["/package/resource"] = {"get": op(
        "An asset of a package (image, archive), from its repository", asset, params=[url],
        tags=["cosmos"])}  # fmt: skip
    paths["/package/resource/{name}"] = {"get": op(
        "The same, named by the asset's file name (the form rendered apps use)", asset,
        params=[path_param("name"), url], tags=["cosmos"])}  # fmt: skip
    paths["/health"] = {"get": op("The service and how many repositories it has", {
        200: json_reply(obj({"status": STR, "repositories": INT}, required=["status"]))},
        tags=["cosmos"])}  # fmt: skip
    return spec("dcos-py package service (Cosmos API)", paths, description=__doc__ or "",
                auth_error=reply("security on: Unauthorized (401) or Forbidden (403)", ERROR,
                                 mt.ERROR))
