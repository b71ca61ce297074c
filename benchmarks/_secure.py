"""Security on in the benchmarks (`--secure`; issue 13): not a benchmark itself.

Called by `control_plane.py` and `launch.py` (which then run their measurement once without
and once with security and print both and the ratio) and `flood.py`.

`make_dir` makes a security directory (`dcos.security.layout.init_security_dir`) with the
certificates the benchmark processes present: the master (``master``), the agents (``agent``,
kind agent), the benchmark framework and its readers (``bench``, kind component: its tasks run
as the default unprivileged task user, which the ACLs allow). `client_ssl` is the mutual-TLS
client context of one of them; with no directory everything stays plain HTTP.
"""

from __future__ import annotations

import ssl
from pathlib import Path

NAMES = {"master": "component", "agent": "agent", "bench": "component", "webapp": "component",
         "cli": "component"}
GOAL_SECURE_RATIO = 0.8  # TLS + authentication may cost at most 20 % of tasks/s


def make_dir(work_dir: str) -> str:
    """A fresh security directory under `work_dir`; its path."""
    from dcos.security.layout import init_security_dir

    return str(init_security_dir(Path(work_dir) / "security", names=NAMES).root)


def scheme(security: str | None) -> str:
    return "https" if security else "http"


def client_ssl(security: str | None, name: str = "bench") -> ssl.SSLContext | None:
    """The client context presenting certs/<name>.crt and trusting the CA (None: plain)."""
    if not security:
        return None
    from dcos.security.layout import SecurityDir
    from dcos.security.tls import client_context

    return client_context(SecurityDir(Path(security)), name)


def ratio_line(what: str, plain: float, secure: float, unit: str = "tasks/s",
               goal: float = GOAL_SECURE_RATIO) -> str:
    """The comparison line: secure vs plain, the cost and whether the goal is met."""
    ratio = secure / plain if plain else float("nan")
    met = "MET" if ratio >= goal else "NOT MET"
    return (f"{what}: security on {secure:,.0f} {unit} vs off {plain:,.0f} {unit} = "
            f"{ratio:.2f}x (TLS + authentication cost {100 * (1 - ratio):.0f}%)   "
            f"goal cost <= {100 * (1 - goal):.0f}%: {met}")
