"""Finding the `redis` package's Redis through dcos-py DNS.

A webapp app `/<path>` answers SRV `_<label>._tcp.webapp.dcos` with one record per task port
(target `<agent>.agent.dcos`, port the task's host port), where `<label>` is the app id's
segments reversed and joined by dashes (`/redis` -> `redis`, `/team/redis` -> `redis-team`).
The resolver is `$DCOS_DNS_RESOLVER` (`host:port`, set by the agent for every task); without it
the host's resolv.conf is used.

Called by `tweeter.store.RedisLocator` (the web app) and `tweeter_analytics.__main__` whenever
they need a Redis address: at start and again after a connection to the old one failed.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import dns.exception
import dns.resolver

DOMAIN = "webapp.dcos"


class DiscoveryError(Exception):
    """No address could be found for a service; the message says which name and why."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def app_label(service: str) -> str:
    """The DNS label of the webapp app `service` (an app id with or without its leading
    slash): `/team/redis` -> `redis-team`."""
    parts = [p for p in service.strip().strip("/").split("/") if p]
    if not parts:
        raise DiscoveryError(f"not an app id: {service!r}")
    return "-".join(reversed(parts)).lower()


def srv_name(service: str) -> str:
    return f"_{app_label(service)}._tcp.{DOMAIN}"


def resolver_from_env(value: str | None = None) -> dns.resolver.Resolver:
    """A resolver asking `value` (`host:port`, default `$DCOS_DNS_RESOLVER`) or, when that is
    empty, the servers of the host's resolv.conf."""
    spec = os.environ.get("DCOS_DNS_RESOLVER", "") if value is None else value
    if not spec:
        return dns.resolver.Resolver()
    host, sep, port = spec.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise DiscoveryError(f"DCOS_DNS_RESOLVER must be host:port, got {spec!r}")
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [host]
    res.port = int(port)
    return res


def locate(service: str, resolver: dns.resolver.Resolver | None = None,
           timeout: float = 2.0) -> Endpoint:
    """One endpoint of the app `service`: a random SRV record of its first port, its target
    resolved to an IPv4 address at the same resolver. Raises `DiscoveryError` when there is
    no record (the app has no running task yet) or the resolver does not answer."""
    res = resolver or resolver_from_env()
    name = srv_name(service)
    try:
        answers = list(res.resolve(name, "SRV", lifetime=timeout))
        if not answers:
            raise DiscoveryError(f"{name}: no SRV record")
        srv = random.choice(answers)
        target = srv.target.to_text(omit_final_dot=True)
        a = list(res.resolve(target, "A", lifetime=timeout))
    except dns.resolver.NXDOMAIN:
        raise DiscoveryError(f"{name}: no such name (is the app running?)") from None
    except dns.resolver.NoAnswer:
        raise DiscoveryError(f"{name}: no answer") from None
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        raise DiscoveryError(f"{name}: resolver failed: {exc}") from None
    if not a:
        raise DiscoveryError(f"{target}: no A record")
    return Endpoint(a[0].to_text(), int(srv.port))
