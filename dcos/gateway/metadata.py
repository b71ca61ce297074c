"""The gateway's DC/OS compatibility endpoints: what the DC/OS CLIs (the Python 0.6 line and the Go
CLI) and the DC/OS UI read about the cluster before they talk to its services.

Called by: `dcos.gateway.app` (`add_routes(app, info)` once, before its proxy routes), with a
`ClusterInfo` built from the gateway's ``--cluster-id``/``--cluster-name``/``--ip`` flags
(`ClusterInfo(cluster_id=..., cluster_name=..., public_ip=...)`); `dcos-py up` keeps the cluster id in ``<work dir>/cluster-id``.

- ``GET /metadata``: ``{"PUBLIC_IPV4", "CLUSTER_ID"}`` (+ ``CLUSTER_NAME``, a dcos-py addition):
  the CLIs key their per-cluster config directory on ``CLUSTER_ID``.
- ``GET /dcos-metadata/dcos-version.json``: the DC/OS release whose APIs dcos-py answers as
  (`DCOS_RELEASE_VERSION`), ``dcos-variant`` "open", ``dcos-image-commit`` the dcos-py build's
  git sha, ``bootstrap-id`` a digest of the dcos-py version and sha (one per build), and
  ``dcos-py-version``.
- ``GET|HEAD /pkgpanda/active.buildinfo.full.json``: the components of a dcos-py cluster, each
  with the dcos-py version and commit it runs. Both CLIs probe it with HEAD and no token to
  learn whether the cluster wants authentication: 200 (no ``WWW-Authenticate``) means security is
  off, and they skip login (Go CLI: ``pkg/login`` challengeAuth -> ErrAuthDisabled; Python 0.6:
  ``dcos.auth.header_challenge_auth``).
- ``GET /cluster/v1/links``: ``{"links": []}`` (cluster linking is not supported: ``POST``
  answers 501, ``DELETE /cluster/v1/links/<id>`` 404).
- ``GET /acs/api/v1/auth/providers``: ``{}`` while security is off (issue 13): no login provider
  (``dcos auth list-providers`` says "No providers configured"). ``POST /acs/api/v1/auth/login``:
  501 with a DC/OS IAM error body (``title``, ``description``, ``code``): no token is issued,
  because none is needed; the CLIs never get there when the HEAD probe above answers 200.
  With security on (``add_routes(..., secure=True)``) neither is routed here: the gateway
  relays both to the leading master's IAM (a token for a user's uid and password), and the
  HEAD probe answers 401 + ``WWW-Authenticate: acsjwt`` without a token (`dcos.gateway.auth`).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from dcos.common.version import version_info

# The DC/OS release whose APIs dcos-py answers as: DC/OS 2.2 shipped Mesos 1.11
# (`dcos.protocol.mesos.MESOS_VERSION`), the API level the master reports. Packages whose
# `minDcosReleaseVersion` is above it are for a newer DC/OS than this cluster.
DCOS_RELEASE_VERSION = "2.2.0"
DCOS_VARIANT = "open"
DEFAULT_CLUSTER_NAME = "dcos-py"

# name -> (python module, what it is): the processes a dcos-py cluster runs
COMPONENTS: dict[str, tuple[str, str]] = {
    "dcos-master": ("dcos.master", "Mesos-compatible master"),
    "dcos-agent": ("dcos.agent", "Mesos-compatible agent"),
    "dcos-gateway": ("dcos.gateway", "HTTP entry point and web UI (Admin Router's place)"),
    "dcos-webapp": ("frameworks.webapp", "Marathon-compatible framework for long-running apps"),
    "dcos-batch": ("frameworks.batch.cluster.dispatcher", "batch (Spark-like) job dispatcher"),
    "dcos-package": ("dcos.packaging", "package service (Cosmos API)"),
    "dcos-dns": ("dcos.dns", "service discovery (Mesos-DNS-style names)"),
    "dcos-lb": ("frameworks.webapp.lb", "HAProxy load balancer fed by the webapp framework"),
}


def _build_sha() -> str:
    build = version_info()
    return build.git_sha + ("+dirty" if build.dirty else "")


@dataclass(frozen=True)
class ClusterInfo:
    """What the compat endpoints report: the cluster's id (None: a fresh uuid4, for a gateway
    started without ``--cluster-id``) and name (None: "dcos-py", the master's ``--cluster``
    default), the address the gateway is reached at (`public_ip`), the dcos-py build (version,
    git sha; this process's by default) and the DC/OS release reported (`dcos_version`)."""

    cluster_id: str | None = None
    cluster_name: str | None = None
    public_ip: str = "127.0.0.1"
    dcos_py_version: str = field(default_factory=lambda: version_info().version)
    git_sha: str = field(default_factory=_build_sha)
    dcos_version: str = DCOS_RELEASE_VERSION
    components: dict[str, tuple[str, str]] = field(default_factory=lambda: dict(COMPONENTS))

    def __post_init__(self) -> None:
        if not self.cluster_id:
            object.__setattr__(self, "cluster_id", str(uuid.uuid4()))
        if not self.cluster_name:
            object.__setattr__(self, "cluster_name", DEFAULT_CLUSTER_NAME)

    @property
    def id(self) -> str:
        return self.cluster_id or ""  # set by __post_init__

    @property
    def name(self) -> str:
        return self.cluster_name or DEFAULT_CLUSTER_NAME

    @property
    def bootstrap_id(self) -> str:
        """One id per dcos-py build (DC/OS: the digest of the bootstrap tarball)."""
        return hashlib.sha1(f"dcos-py {self.dcos_py_version} {self.git_sha}".encode(),
                            usedforsecurity=False).hexdigest()

    def metadata(self) -> dict[str, str]:
        return {"PUBLIC_IPV4": self.public_ip, "CLUSTER_ID": self.id, "CLUSTER_NAME": self.name}

    def dcos_version_json(self) -> dict[str, str]:
        return {"version": self.dcos_version, "dcos-variant": DCOS_VARIANT,
                "dcos-image-commit": self.git_sha, "bootstrap-id": self.bootstrap_id,
                "dcos-py-version": self.dcos_py_version}

    def buildinfo(self) -> dict[str, Any]:
        """pkgpanda's ``active.buildinfo.full.json`` shape: package name -> its build."""
        return {name: {"name": name, "package_version": self.dcos_py_version,
                       "version": self.dcos_py_version, "commit": self.git_sha,
                       "module": module, "description": what,
                       "single_source": {"kind": "git", "ref": self.git_sha,
                                         "ref_origin": self.dcos_py_version}}
                for name, (module, what) in sorted(self.components.items())}


INFO: web.AppKey[ClusterInfo] = web.AppKey("dcos_gateway_cluster_info", ClusterInfo)


def _iam_error(status: int, title: str, description: str, code: str) -> web.Response:
    """An error in the DC/OS IAM's JSON shape (the Go CLI decodes ``dcos.Error`` from it)."""
    return web.json_response({"title": title, "description": description, "code": code},
                             status=status)


async def _metadata(request: web.Request) -> web.Response:
    return web.json_response(request.app[INFO].metadata())


async def _dcos_version(request: web.Request) -> web.Response:
    return web.json_response(request.app[INFO].dcos_version_json())


async def _buildinfo(request: web.Request) -> web.Response:
    return web.json_response(request.app[INFO].buildinfo())


async def _links(request: web.Request) -> web.Response:
    return web.json_response({"links": []})


async def _link_add(request: web.Request) -> web.Response:
    return _iam_error(501, "Not Implemented", "cluster linking is not supported by dcos-py: "
                      "set up each cluster on its own (`dcos cluster setup <url>`)",
                      "ERR_CLUSTER_LINKING_UNSUPPORTED")


async def _link_remove(request: web.Request) -> web.Response:
    link = request.match_info["link_id"]
    return _iam_error(404, "Not Found", f"no cluster link '{link}': this cluster has no "
                      "linked clusters", "ERR_UNKNOWN_CLUSTER_LINK")


async def _providers(request: web.Request) -> web.Response:
    return web.json_response({})  # security off: nothing to log in with


async def _login(request: web.Request) -> web.Response:
    return _iam_error(501, "Authentication disabled", "this cluster does not require "
                      "authenticated requests (security is off): log in is not needed and "
                      "no token is issued", "ERR_AUTHENTICATION_DISABLED")


def add_routes(app: web.Application, info: ClusterInfo, *, secure: bool = False) -> None:
    """Route the compat endpoints (module docstring) on `app`, answering from `info`.
    `secure` (security on): ``/acs/api/v1/auth/providers`` and ``login`` are left to the
    proxy (the leading master's IAM answers them)."""
    app[INFO] = info
    router = app.router  # add_get answers HEAD too (the CLIs' auth probe)
    router.add_get("/metadata", _metadata)
    router.add_get("/dcos-metadata/dcos-version.json", _dcos_version)
    router.add_get("/pkgpanda/active.buildinfo.full.json", _buildinfo)
    router.add_get("/cluster/v1/links", _links)
    router.add_post("/cluster/v1/links", _link_add)
    router.add_delete("/cluster/v1/links/{link_id}", _link_remove)
    if not secure:
        router.add_get("/acs/api/v1/auth/providers", _providers)
        router.add_post("/acs/api/v1/auth/login", _login)
