"""A network namespace joined to the host by a veth pair, for the partition chaos test.

`NetNamespace.create()` makes a namespace with a unique name, a veth pair on a private /30
(host side ``.1``, namespace side ``.2``) and the namespace's loopback up. A process started
with `NetNamespace.argv(...)` (``ip netns exec NAME ...``) lives inside it: it reaches the host
only at `host_ip`, and the host reaches it at `ns_ip`. `link_down()` / `link_up()` set the
host end of the pair down and up: while it is down, every packet between the two sides is
dropped (no RST, no ICMP), exactly like a cut cable. `delete()` removes the pair and the
namespace (the tests call it in a finalizer, whatever happened).

Needs root and the ``ip`` command (iproute2); `require_netns()` fails loudly, with the reason,
when they are missing: the chaos test must not skip silently.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from dataclasses import dataclass

import pytest


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ip ARGS``; raise with its stderr when `check` and it fails."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def require_netns() -> None:
    """Fail the calling test (never skip) unless namespaces can be made here."""
    if shutil.which("ip") is None:
        pytest.fail("the partition chaos test needs the `ip` command (apt-get install iproute2)")
    if os.geteuid() != 0:
        pytest.fail("the partition chaos test needs root (ip netns add, veth pairs)")


PREFIX = "dcos-chaos-"


def remove_stale() -> None:
    """Delete ``dcos-chaos-<pid>-*`` namespaces whose test process is gone (deleting a
    namespace deletes its end of the veth pair, and so the pair)."""
    for line in _ip("netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.strip() else ""
        if not name.startswith(PREFIX):
            continue
        pid = name[len(PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            _ip("netns", "del", name, check=False)


def _used_subnets() -> set[str]:
    out = _ip("-4", "-o", "addr", "show", check=False).stdout
    return {line.split()[3].rsplit(".", 1)[0] for line in out.splitlines() if " inet " in line}


@dataclass
class NetNamespace:
    """One namespace, its veth pair and its /30 (see the module docstring)."""

    name: str
    host_if: str
    ns_if: str
    host_ip: str
    ns_ip: str
    created: bool = False

    @classmethod
    def create(cls) -> NetNamespace:
        """Make a namespace named after this process (``dcos-chaos-<pid>-<n>``) with an unused
        10.x.y.0/30; first removes the namespaces of test processes that died without
        cleaning up (a killed run)."""
        remove_stale()
        tag = f"{random.randrange(0x1000000):06x}"  # veth names: at most 15 characters
        used = _used_subnets()
        for _ in range(50):
            prefix = f"10.{random.randrange(64, 250)}.{random.randrange(1, 250)}"
            if prefix not in used:
                break
        ns = cls(name=f"{PREFIX}{os.getpid()}-{tag}", host_if=f"dch{tag}", ns_if=f"dcn{tag}",
                 host_ip=f"{prefix}.1", ns_ip=f"{prefix}.2")  # fmt: skip
        try:
            ns._build()
        except BaseException:
            ns.delete()
            raise
        return ns

    def _build(self) -> None:
        _ip("netns", "add", self.name)
        self.created = True
        _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        _ip("link", "set", self.ns_if, "netns", self.name)
        _ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
        _ip("link", "set", self.host_if, "up")
        self.exec_ip("addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if)
        self.exec_ip("link", "set", self.ns_if, "up")
        self.exec_ip("link", "set", "lo", "up")

    def exec_ip(self, *args: str) -> None:
        """``ip ARGS`` inside the namespace."""
        _ip("netns", "exec", self.name, "ip", *args)

    def argv(self, *argv: str) -> list[str]:
        """`argv` run inside the namespace (``ip netns exec`` execs it: same pid)."""
        return ["ip", "netns", "exec", self.name, *argv]

    def link_down(self) -> None:
        """Cut the link: every packet between host and namespace is dropped from now on."""
        _ip("link", "set", self.host_if, "down")

    def link_up(self) -> None:
        """Heal the link (the namespace side keeps its address and routes)."""
        _ip("link", "set", self.host_if, "up")

    def delete(self) -> None:
        """Remove the veth pair and the namespace; safe to call twice or after a failed
        create. Processes still inside keep running, so callers stop them first."""
        _ip("link", "del", self.host_if, check=False)
        if self.created:
            _ip("netns", "del", self.name, check=False)
            self.created = False
