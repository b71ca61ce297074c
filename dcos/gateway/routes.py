"""Where a gateway path goes: the sans-IO routing core of the gateway.

Called by: `dcos.gateway.app` for every request that is not the UI, `/gateway/health` or a
DC/OS compatibility route (`dcos.gateway.metadata`). `route(raw_path, snapshot)` takes the
request's raw (still percent-encoded) path with its query string and a `Snapshot` of the
cluster directory (`dcos.gateway.directory`) and returns one of:

- `Target`: proxy to ``target.url`` (the upstream's base URL + the rest of the path, encoded
  as received); ``prefix`` is the gateway path that maps to the upstream's base URL
  (`rewrite_location` uses it for ``Location`` headers);
- `Redirect`: ``/service/<name>`` without its trailing slash -> ``/service/<name>/`` (as Admin
  Router does, so the UI's relative links resolve);
- `NotFound` (404) or `Unavailable` (503), each with a plain message for the JSON body;
- None: not a proxied path (the static UI, or 404).

The table (Admin Router's, see docs/gateway.md):

====================================== ======================================================
``/mesos/<rest>``                      leading master ``/<rest>``
``/service/marathon|webapp/<rest>``    the active framework ``webapp`` (its ``webui_url``)
``/service/batch/<rest>``              the active framework ``batch-dispatcher``
``/service/<name>/<rest>``             the active framework ``<name>``, else the app labelled
                                       ``DCOS_SERVICE_NAME=<name>`` (longest name first, so
                                       ``/service/group/app/`` works for names with slashes)
``/package/<rest>``, ``/capabilities`` the package service, same path
``/cosmos/service/<rest>``             the package service ``/service/<rest>``
``/agent|slave/<agent id>/<rest>``     that agent ``/<rest>``
``/dns|mesos_dns/<rest>``              the DNS HTTP API ``/<rest>``
``/acs/api/v1/<rest>``,                the leading master, same path (its IAM: login, users,
``/secrets/v1/<rest>``                 ACLs; the secret store; security on)
====================================== ======================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import unquote, urlsplit

WEBAPP_FRAMEWORK = "webapp"
DISPATCHER_FRAMEWORK = "batch-dispatcher"
# /service/<alias>/ names that always mean one framework (the CLI expects `marathon`).
ALIASES: Mapping[str, str] = {
    "marathon": WEBAPP_FRAMEWORK,
    "webapp": WEBAPP_FRAMEWORK,
    "batch": DISPATCHER_FRAMEWORK,
}
COMPONENT_FRAMEWORKS = frozenset(ALIASES.values())  # the cluster's own frameworks
MAX_SERVICE_DEPTH = 8  # path segments tried as a service name (groups of apps)


class Kind(StrEnum):
    """The kind of upstream a request goes to (names it in errors and in the health view)."""

    MASTER = "master"
    FRAMEWORK = "framework"
    APP = "app"
    PACKAGE = "package service"
    AGENT = "agent"
    DNS = "DNS API"


@dataclass(frozen=True)
class Snapshot:
    """What the gateway knows about the cluster at one moment (`dcos.gateway.directory`).

    ``leader``: the leading master's base URL (None: none known); ``master_error``: why there
    is none, or why its state could not be read (then the names below are the last ones read).
    ``frameworks``: active framework name -> its ``webui_url`` ('' when it has none).
    ``agents``: agent id -> its base URL. ``apps``: ``DCOS_SERVICE_NAME`` -> the base URL of
    one running task of that app. ``package``, ``dns``: the configured base URLs (None: not
    configured). Base URLs have no trailing slash, except where a ``webui_url`` has a path.
    """

    leader: str | None = None
    master_error: str | None = None
    frameworks: Mapping[str, str] = field(default_factory=dict)
    agents: Mapping[str, str] = field(default_factory=dict)
    apps: Mapping[str, str] = field(default_factory=dict)
    package: str | None = None
    dns: str | None = None


@dataclass(frozen=True)
class Target:
    """Proxy to `url`: `name` the upstream in words, `base` its base URL, `path` the upstream
    path (raw, with the query string), `prefix` the gateway path mapped to `base`.
    `component`: the upstream is a part of the cluster that authorizes the user itself (the
    masters, agents, package service, DNS, the webapp and batch-dispatcher frameworks), so
    with security on the user's credentials go there; any other framework or app runs user
    code and never sees them (`dcos.gateway.proxy`)."""

    kind: Kind
    name: str
    base: str
    path: str
    prefix: str
    component: bool = True

    @property
    def url(self) -> str:
        return self.base.rstrip("/") + self.path


@dataclass(frozen=True)
class Redirect:
    location: str


@dataclass(frozen=True)
class NotFound:
    message: str


@dataclass(frozen=True)
class Unavailable:
    message: str


Route = Target | Redirect | NotFound | Unavailable


def _split(raw: str) -> tuple[str, str]:
    """``/a/b?q`` -> (``/a/b``, ``?q``)."""
    path, sep, query = raw.partition("?")
    return path, sep + query


def _rest(segments: list[str], n: int, query: str) -> str:
    """The upstream path: the segments after the first `n`, with a leading slash."""
    return "/" + "/".join(segments[n:]) + query


def route(raw_path: str, snap: Snapshot) -> Route | None:
    """Where `raw_path` (raw path + query of a gateway request) goes; None: not proxied.
    Never raises, whatever the path."""
    path, query = _split(raw_path)
    if not path.startswith("/"):
        return None
    segments = path[1:].split("/")
    head = segments[0]
    if head == "mesos":
        return _master(segments, query, snap)
    if head == "service":
        return _service(segments, query, snap)
    if head in ("package", "capabilities"):
        return _fixed(Kind.PACKAGE, snap.package, "--package", path + query, "")
    if head == "cosmos" and len(segments) > 1 and segments[1] == "service":
        return _fixed(Kind.PACKAGE, snap.package, "--package", _rest(segments, 1, query),
                      "/cosmos")  # fmt: skip
    if head in ("agent", "slave"):
        return _agent(segments, query, snap)
    if (head == "acs" and segments[1:3] == ["api", "v1"]) or (head == "secrets"
                                                             and segments[1:2] == ["v1"]):
        return _master_same_path(path + query, snap)
    if head in ("dns", "mesos_dns"):
        return _fixed(Kind.DNS, snap.dns, "--dns-http", _rest(segments, 1, query), "/" + head)
    return None


def _fixed(kind: Kind, base: str | None, flag: str, upstream_path: str, prefix: str) -> Route:
    if base is None:
        return Unavailable(f"the {kind} is not configured (the gateway was started "
                           f"without {flag})")  # fmt: skip
    return Target(kind, str(kind), base, upstream_path, prefix)


def _master(segments: list[str], query: str, snap: Snapshot) -> Route:
    if snap.leader is None:
        return Unavailable(snap.master_error or "no leading master is known")
    return Target(Kind.MASTER, "leading master", snap.leader, _rest(segments, 1, query), "/mesos")


def _master_same_path(upstream_path: str, snap: Snapshot) -> Route:
    if snap.leader is None:
        return Unavailable(snap.master_error or "no leading master is known")
    return Target(Kind.MASTER, "leading master", snap.leader, upstream_path, "")


def _no_master(snap: Snapshot) -> Unavailable | None:
    """503 when the names could not be read (no leader, or its state did not answer)."""
    if snap.leader is None or snap.master_error:
        return Unavailable("cannot read the cluster's services and agents: "
                           + (snap.master_error or "no leading master is known"))  # fmt: skip
    return None


def _service(segments: list[str], query: str, snap: Snapshot) -> Route:
    if len(segments) < 2 or not segments[1]:
        return NotFound("no service named: use /service/<name>/")
    first = unquote(segments[1])
    if first in ALIASES:
        framework = ALIASES[first]
        if framework not in snap.frameworks:
            return _no_master(snap) or Unavailable(
                f"service '{first}': the {framework} framework is not registered with the "
                "master (or not active)")  # fmt: skip
        return _service_target(Kind.FRAMEWORK, first, snap.frameworks[framework], segments, 2,
                               query)  # fmt: skip
    # Longest name first: an app's DCOS_SERVICE_NAME may hold slashes (a group path).
    top = min(len(segments), 1 + MAX_SERVICE_DEPTH)
    for end in range(top, 1, -1):
        name = unquote("/".join(segments[1:end]))
        if name in snap.frameworks:
            return _service_target(Kind.FRAMEWORK, name, snap.frameworks[name], segments, end,
                                   query, component=name in COMPONENT_FRAMEWORKS)  # fmt: skip
        if name in snap.apps:
            return _service_target(Kind.APP, name, snap.apps[name], segments, end, query,
                                   component=False)  # fmt: skip
    return _no_master(snap) or NotFound(
        f"service '{first}' not found: no active framework and no app labelled "
        f"DCOS_SERVICE_NAME with that name")  # fmt: skip


def _service_target(kind: Kind, name: str, base: str, segments: list[str], end: int,
                    query: str, *, component: bool = True) -> Route:  # fmt: skip
    prefix = "/" + "/".join(segments[:end])
    if not base:
        return NotFound(f"service '{name}' has no web UI or API (its framework gives no "
                        "webui_url)")  # fmt: skip
    if end == len(segments):  # /service/<name> without the slash
        return Redirect(prefix + "/" + query)
    return Target(kind, f"service '{name}'", base, _rest(segments, end, query), prefix,
                  component)  # fmt: skip


def _agent(segments: list[str], query: str, snap: Snapshot) -> Route:
    if len(segments) < 2 or not segments[1]:
        return NotFound("no agent id: use /agent/<agent id>/<path>")
    agent_id = unquote(segments[1])
    base = snap.agents.get(agent_id)
    if base is None:
        return _no_master(snap) or NotFound(f"agent '{agent_id}' not found: the master "
                                            "knows no agent with that id")  # fmt: skip
    prefix = "/" + "/".join(segments[:2])
    return Target(Kind.AGENT, f"agent {agent_id}", base, _rest(segments, 2, query), prefix)


def rewrite_location(location: str, target: Target) -> str:
    """A ``Location`` from `target`'s upstream, as the client must follow it through the
    gateway: an absolute URL on the upstream's origin, or an absolute path under the
    upstream's base path, becomes the gateway `prefix` + the rest. Anything else (another
    host, a relative reference) is kept."""
    base = urlsplit(target.base)
    base_path = base.path.rstrip("/")
    try:
        loc = urlsplit(location)
    except ValueError:
        return location
    if loc.netloc:
        if loc.netloc.lower() != base.netloc.lower() or loc.scheme not in ("", base.scheme):
            return location
    elif not loc.path.startswith("/"):
        return location
    path = loc.path
    if base_path and not (path == base_path or path.startswith(base_path + "/")):
        return location
    rest = path[len(base_path):] or "/"
    out = target.prefix + rest
    if loc.query:
        out += "?" + loc.query
    if loc.fragment:
        out += "#" + loc.fragment
    return out


__all__ = [
    "ALIASES", "COMPONENT_FRAMEWORKS", "DISPATCHER_FRAMEWORK", "WEBAPP_FRAMEWORK", "Kind", "NotFound", "Redirect",
    "Route", "Snapshot", "Target", "Unavailable", "rewrite_location", "route",
]  # fmt: skip
