"""Server changes through HAProxy's runtime API instead of a reload (sans-IO).

A rolling restart changes only servers: new tasks appear (first in maintenance until their
health checks pass), old ones drain (TASK_KILLING: no new connections, the open ones finish)
and then go. A reload for each of these steps starts a new worker and leaves the old one with
the old servers, which is where requests used to fail (a 503 while the new worker took over,
a response cut when an old task was killed under the old worker). So when only servers
changed, `server_commands` gives the runtime commands that turn the worker's servers into the
wanted ones, and the load balancer sends them with no reload at all:

- new servers: ``add server`` (with the backend's check options), ``enable health``, then
  their state (HAProxy >= 2.4; the backend's balance algorithm must allow dynamic servers);
- changed states: ``set server B/S state ready|maint|drain``;
- gone servers: ``set server ... state maint``, ``shutdown sessions server``, ``del server``.

Servers are added before any is taken away, so a backend with healthy tasks always has one up.
A reload is still used when the frontends or backends themselves change (`structure`); the
config written for it has every server with its state (a draining server is written as
``disabled``: a new worker has no connection to it), so state is carried across reloads.

Called by: `frameworks.webapp.lb.service.LoadBalancer.apply`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from frameworks.webapp.lb.config import Server, Service, check_options

# Balance algorithms whose backends accept `add server` (HAProxy 2.6: not static-rr, and not
# the map-based hashes source/uri use by default).
DYNAMIC_BALANCE = frozenset({"roundrobin", "leastconn", "first", "random"})


@dataclass(frozen=True)
class Live:
    """One server as the running HAProxy worker has it."""

    backend: str
    server: Server
    checked: bool


Servers = dict[tuple[str, str], Live]


def live_servers(services: Iterable[Service]) -> Servers:
    """The servers a worker started on the config of `services` has."""
    return {(s.name, v.name): Live(s.name, v, s.health_checked) for s in services for v in s.servers}


def server_commands(live: Mapping[tuple[str, str], Live], services: Iterable[Service]) -> list[str] | None:
    """The runtime commands that make the worker's servers (`live`) those of `services`, in
    order (adds, then state changes, then removals); None when a backend that gains a server
    cannot take one at run time (its balance algorithm), so a reload is needed."""
    want = live_servers(services)
    balance = {s.name: s.spec.balance for s in services}
    adds: list[str] = []
    states: list[str] = []
    removes: list[str] = []
    for key, new in want.items():
        old = live.get(key)
        ref = f"{new.backend}/{new.server.name}"
        if old is None or old.checked != new.checked or old.server.port != new.server.port \
                or old.server.host != new.server.host:
            if old is not None or balance.get(new.backend) not in DYNAMIC_BALANCE:
                return None
            options = f" {check_options()}" if new.checked else ""
            adds.append(f"add server {ref} {new.server.host}:{new.server.port}{options}")
            if new.checked:
                adds.append(f"enable health {ref}")
            states.append(f"set server {ref} state {new.server.state}")
        elif old.server.state != new.server.state:
            states.append(f"set server {ref} state {new.server.state}")
    for key, old in live.items():
        if key not in want:
            ref = f"{old.backend}/{old.server.name}"
            removes += [f"set server {ref} state maint", f"shutdown sessions server {ref}",
                        f"del server {ref}"]
    # ready first: capacity arrives before anything drains or goes
    states.sort(key=lambda c: not c.endswith(" ready"))
    return adds + states + removes


def failed(command: str, answer: str | None) -> bool:
    """Whether HAProxy refused `command` (its answer names an error, or none came)."""
    if answer is None:
        return True
    text = answer.strip()
    if command.startswith("add server"):
        return "New server registered" not in text
    if command.startswith("del server"):
        return "Server deleted" not in text
    return bool(text)
