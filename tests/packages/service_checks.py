"""Checks that an installed package's service really works, shared by the catalog's package
tests (hello-world, redis, webapp, batch-dispatcher): DNS lookups at the cluster's dcos-py DNS
server, the address of an app's task, polling, a minimal Redis (RESP) client over a raw socket,
the master's view of frameworks and tasks; and a package's template rendered with given options
(checked by the webapp's app validation) without a cluster.

Called by: tests/packages/test_{hello_world,redis,webapp_pkg,batch_dispatcher_pkg}.py.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any, TypeVar

import dns.resolver
import orjson

from dcos.packaging.render import merge_options, render_template, validate_options
from frameworks.webapp.model.app import normalize
from tests.packages.conftest import CHECKOUT, PkgCluster, get_json

T = TypeVar("T")
Json = dict[str, Any]


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, every: float = 0.2) -> T:
    """`probe()`'s first truthy answer; AssertionError naming `what` (and the last exception
    `probe` raised) when `timeout` passes first."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - retried; shown if it never succeeds
            last = exc
        time.sleep(every)
    raise AssertionError(f"{what} not within {timeout:g} s" + (f" (last: {last!r})" if last else ""))


def resolver(c: PkgCluster) -> dns.resolver.Resolver:
    """A resolver that asks only the cluster's DNS server."""
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [c.dns[0]]
    res.port = c.dns[1]
    res.lifetime = 3.0
    return res


def srv_endpoints(c: PkgCluster, name: str) -> list[tuple[str, int]]:
    """(IPv4, port) of every SRV answer for `name` (target resolved with an A lookup)."""
    res = resolver(c)
    out = []
    for srv in res.resolve(name, "SRV"):
        for a in res.resolve(str(srv.target), "A"):
            out.append((a.address, int(srv.port)))
    return sorted(out)


def a_records(c: PkgCluster, name: str) -> list[str]:
    return sorted(a.address for a in resolver(c).resolve(name, "A"))


def task_endpoints(c: PkgCluster, app_id: str) -> list[tuple[str, int]]:
    """(host, first port) of each running task of the webapp app `app_id`."""
    app = get_json(f"{c.webapp_url}/v2/apps/{app_id.strip('/')}?embed=apps.tasks")["app"]
    return sorted((t["host"], t["ports"][0]) for t in app.get("tasks", [])
                  if t.get("state", "TASK_RUNNING") == "TASK_RUNNING" and t.get("ports"))


def frameworks_named(c: PkgCluster, name: str) -> list[dict[str, Any]]:
    """The master's frameworks (active or not) registered under `name`."""
    state = get_json(c.master_url + "/master/state")
    return [fw for fw in state.get("frameworks", []) if fw.get("name") == name]


# --- Redis' protocol (RESP), enough for PING / SET / GET / CONFIG GET ------------------------


def resp_command(sock: socket.socket, *args: str) -> Any:
    """Send one command as a RESP array of bulk strings; its reply (simple string, error as
    `RuntimeError`, integer, bulk string or None, array)."""
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        data = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    sock.sendall(b"".join(out))
    return _read_reply(sock.makefile("rb"))


def _read_reply(f: Any) -> Any:
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError(f"connection closed mid-reply: {line!r}")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        return None if size < 0 else f.read(size + 2)[:-2].decode()
    if kind == b"*":
        size = int(rest)
        return None if size < 0 else [_read_reply(f) for _ in range(size)]
    raise ConnectionError(f"not a RESP reply: {line!r}")


# --- a package's template, rendered as the package service would ------------------------------


def render_release(name: str, release: int, options: dict[str, Any] | None = None) -> Json:
    """packages-repo/packages/<name>/<release> rendered with `options` over its defaults (an
    asset URI standing in for the package service's), checked against its config schema and by
    the webapp's own app validation; the app definition. AssertionError listing what fails."""
    folder = CHECKOUT / "packages-repo" / "packages" / name / str(release)
    schema = orjson.loads((folder / "config.json").read_bytes())
    merged = merge_options(schema, options or {})
    errors = validate_options(schema, merged)
    assert not errors, errors
    resource_file = folder / "resource.json"
    resource = orjson.loads(resource_file.read_bytes()) if resource_file.exists() else {}
    uris = resource.get("assets", {}).get("uris", {})
    resource = {**resource, "assets": {"uris": {
        k: f"http://packages.test/package/resource?url=assets%2F{k}.tar" for k in uris}}}
    app = render_template((folder / "marathon.json.mustache").read_text(), merged, resource)
    normalized, problems = normalize(app)
    assert normalized is not None, problems
    return app


def option_errors(name: str, release: int, options: dict[str, Any]) -> list[str]:
    """The failing option paths of `options` against the package's config schema."""
    folder = CHECKOUT / "packages-repo" / "packages" / name / str(release)
    schema = orjson.loads((folder / "config.json").read_bytes())
    return [e.path for e in validate_options(schema, merge_options(schema, options))]
