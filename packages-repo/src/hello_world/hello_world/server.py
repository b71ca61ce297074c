"""The HTTP server of hello_world (standard library only).

- ``GET /``: the message as ``text/plain; charset=utf-8`` (a newline after it), with the
  headers ``X-Hello-Version`` (the package version the app was installed as) and
  ``X-Task-Id`` (``$MESOS_TASK_ID``), so a client sees which task and which release answered.
- ``GET /health``: ``200 {"status": "ok", "version", "task"}`` (the package's health check).
- ``HEAD`` of both; anything else: 404 (unknown path) or 405 (other methods).

It listens on every address it is given (the agent's address for the load balancer and DNS
clients, and 127.0.0.1 where the agent runs its health checks) and stops on SIGTERM/SIGINT
after the requests in progress are answered.

Called by `hello_world.__main__`; `serve` is also what the unit tests run.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Greeting:
    """What the server answers: the message, the version and the task it runs as."""

    message: str
    version: str
    task_id: str

    def health(self) -> bytes:
        return json.dumps({"status": "ok", "version": self.version, "task": self.task_id}).encode()


class Handler(BaseHTTPRequestHandler):
    """One connection (HTTP/1.1, keep-alive); the greeting is the server's `greeting`."""

    protocol_version = "HTTP/1.1"
    server: HelloServer

    def setup(self) -> None:
        super().setup()
        # headers and body go out as two writes: no Nagle stall between them on keep-alive
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _answer(self, status: int, body: bytes, content_type: str, head: bool = False) -> None:
        g = self.server.greeting
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Hello-Version", g.version)
        self.send_header("X-Task-Id", g.task_id)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _route(self, head: bool) -> None:
        path = self.path.split("?", 1)[0]
        g = self.server.greeting
        if path == "/":
            self._answer(200, (g.message + "\n").encode(), "text/plain; charset=utf-8", head)
        elif path == "/health":
            self._answer(200, g.health(), "application/json", head)
        else:
            self._answer(404, b'{"message": "not found"}', "application/json", head)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._route(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._route(head=True)

    def _refuse(self) -> None:
        self.send_response(405)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """No access log (the sandbox's stderr would grow with every health check)."""


class HelloServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], greeting: Greeting) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, Handler)
        self.greeting = greeting


class Servers:
    """One `HelloServer` per address, all on one port (the first bound picks it when 0)."""

    def __init__(self, hosts: Iterable[str], port: int, greeting: Greeting) -> None:
        self.servers: list[HelloServer] = []
        try:
            for host in hosts:
                server = HelloServer((host, port), greeting)
                port = server.server_address[1]
                self.servers.append(server)
        except BaseException:
            self.close()
            raise
        self.port = port
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Serve every address in its own thread."""
        for server in self.servers:
            t = threading.Thread(target=server.serve_forever, name="hello-world", daemon=True)
            t.start()
            self._threads.append(t)

    def close(self) -> None:
        """Stop accepting, then close the sockets (requests in progress finish first)."""
        for server in self.servers:
            if self._threads:
                server.shutdown()
            server.server_close()
        for t in getattr(self, "_threads", []):
            t.join(timeout=5)


def bind_hosts(hosts: Iterable[str]) -> list[str]:
    """The addresses to listen on: each given one once, in order, plus 127.0.0.1 (where the
    agent's health checks connect) unless a wildcard address is among them."""
    out: list[str] = []
    for h in hosts:
        h = h.strip()
        if h and h not in out:
            out.append(h)
    if not any(h in ("0.0.0.0", "::", "127.0.0.1") for h in out):
        out.append("127.0.0.1")
    return out
