"""Real dcos-py processes on loopback, for integration tests (and framework authors' tests).

- `free_port()`: a TCP port free on 127.0.0.1 right now (bind to port 0, read it, close).
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on at 127.0.0.1 (the OS picks it; it may be reused later).
    Called by tests that must name a port before starting a server or a process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
