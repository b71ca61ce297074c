"""The fuzz suite's harness: servers on a background event loop, a raw HTTP/1.1 client with
a per-request timeout, the bounded hypothesis settings, and the per-request check.

Every fuzz test is a plain (sync) hypothesis test: its servers (the real aiohttp apps of the
master, agent, webapp, DNS and batch dispatcher, in-process on loopback) run on one event loop
in a background thread (`ServerLoop`), started once per module; each generated request is sent
from the test's thread over a fresh blocking socket (`send`) as raw bytes, so headers and
targets can hold bytes no HTTP library would send (non-ASCII, NUL, non-UTF-8). A request fails
the test when the answer is a 5xx, when no answer comes within `REQUEST_TIMEOUT` (a hang), or
when the server stops accepting connections or drops one without answering (a crash).
`Guard.check` adds: a refused request (4xx) changed nothing the test protects.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections import Counter, deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, settings

T = TypeVar("T")

REQUEST_TIMEOUT = 5.0  # a request without an answer by then is a hang
MAX_BODY = 64 * 1024  # of an answer we read
# DCOS_FUZZ_SCALE=10 runs ten times as many examples (a longer local fuzz run);
# DCOS_FUZZ_EXPLORE=1 draws new examples each run instead of the fixed ones
SCALE = float(os.environ.get("DCOS_FUZZ_SCALE", "1"))
EXPLORE = os.environ.get("DCOS_FUZZ_EXPLORE") == "1"
STATS: dict[str, Counter[int]] = {}  # test name -> answers by status (the terminal summary)


def fuzz(examples: int) -> settings:
    """Bounded and reproducible: `examples` generated requests (times `SCALE`), a fixed seed
    (derandomize), no example database, a deadline per example above the request timeout."""
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        derandomize=not EXPLORE,
        database=None,
        deadline=timedelta(seconds=3 * REQUEST_TIMEOUT),
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much, HealthCheck.large_base_example],
        print_blob=False,
    )


class ServerLoop:
    """An event loop running in a daemon thread; `run` a coroutine on it from the test."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzz-servers",
                                       daemon=True)  # fmt: skip
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """`fn()` on the loop's thread (reading server state without racing it)."""

        async def _call() -> T:
            return fn()

        return self.run(_call(), timeout)

    def close(self) -> None:
        async def _cancel_rest() -> None:
            me = asyncio.current_task()
            rest = [t for t in asyncio.all_tasks() if t is not me]
            for t in rest:
                t.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        try:
            self.run(_cancel_rest(), 10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


class _Errors(logging.Handler):
    """The last server-side errors (with tracebacks), quoted in a 5xx failure."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: deque[str] = deque(maxlen=3)
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if "Error handling request" in record.getMessage() and record.exc_info is not None:
            exc = record.exc_info[1]
            if exc is not None and getattr(exc, "code", 500) < 500:  # aiohttp's own 400s
                return
        self.records.append(self.format(record))


SERVER_ERRORS = _Errors()
logging.getLogger().addHandler(SERVER_ERRORS)


class Failure(AssertionError):
    """A request the server got wrong: 5xx, hang or crash."""


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def text(self) -> str:
        return self.body[:500].decode("utf-8", "replace")


def _bytes(text: str | bytes) -> bytes:
    """`text` as UTF-8, lone surrogates included (bytes pass through)."""
    if isinstance(text, bytes):
        return text
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _target(path: str | bytes) -> bytes:
    return _bytes(path)


def _header_bytes(headers: dict[str, str | bytes] | None) -> bytes:
    out = b""
    for k, v in (headers or {}).items():
        out += k.encode() + b": " + _bytes(v) + b"\r\n"
    return out


def send(port: int, method: str, path: str | bytes, body: bytes = b"",
         headers: dict[str, str | bytes] | None = None,
         timeout: float = REQUEST_TIMEOUT) -> Reply:  # fmt: skip
    """One request on a fresh connection (``Connection: close``); the answer's status line,
    headers and (for a non-2xx or a sized answer) up to `MAX_BODY` bytes of body. Raises
    `Failure` on a hang (no status line within `timeout`) or a crash (refused or dropped)."""
    what = f"{method} {_target(path)[:200]!r}"
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError as exc:
        raise Failure(f"crash: cannot connect for {what}: {exc}") from None
    try:
        head = (f"{method} ".encode() + _target(path) + b" HTTP/1.1\r\n"
                + f"Host: 127.0.0.1:{port}\r\nConnection: close\r\n".encode()
                + f"Content-Length: {len(body)}\r\n".encode() + _header_bytes(headers) + b"\r\n")  # fmt: skip
        try:
            sock.sendall(head + body)
        except OSError:
            pass  # the server may answer (400) and close before reading everything
        return _read_reply(sock, what)
    except TimeoutError:
        raise Failure(f"hang: no answer to {what} within {timeout} s") from None
    finally:
        sock.close()


def _read_reply(sock: socket.socket, what: str) -> Reply:
    buf = b""
    while b"\r\n\r\n" not in buf:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            if buf.startswith(b"HTTP/1."):
                break
            raise Failure(f"crash: connection dropped without an answer to {what}")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
    body = rest
    sized = "content-length" in headers
    if status >= 300 or sized:  # streams (2xx chunked) are never read to their end
        want = min(int(headers.get("content-length", MAX_BODY)), MAX_BODY)
        while len(body) < want:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, OSError):
                break
            if not chunk:
                break
            body += chunk
    return Reply(status, headers, body)


@dataclass
class Guard:
    """Checks each fuzzed request of one test: no 5xx, and after a refused one (4xx) the
    protected state (`snapshot()`) is what it was before. An accepted request may change it
    (the new value becomes the baseline)."""

    name: str
    snapshot: Callable[[], Any] = lambda: None
    allowed_5xx: frozenset[int] = frozenset()
    baseline: Any = None
    statuses: Counter[int] = field(default_factory=Counter)
    reasons: Counter[tuple[int, str]] = field(default_factory=Counter)  # for `-s` debugging

    def __post_init__(self) -> None:
        self.baseline = self.snapshot()
        STATS[self.name] = self.statuses

    def check(self, reply: Reply, what: str = "") -> Reply:
        self.statuses[reply.status] += 1
        self.reasons[(reply.status, reply.text()[:70])] += 1
        if reply.status >= 500 and reply.status not in self.allowed_5xx:
            logged = "\n".join(SERVER_ERRORS.records)
            raise Failure(f"{self.name}: {reply.status} for {what[:300]}: {reply.text()}\n"
                          f"server log:\n{logged[-4000:]}")
        now = self.snapshot()
        if 400 <= reply.status < 500 and now != self.baseline:
            raise Failure(f"{self.name}: refused ({reply.status}: {reply.text()[:200]}) but state "
                          f"changed for {what[:300]}:\n before {self.baseline!r}\n after  {now!r}")
        self.baseline = now
        return reply

    def request(self, port: int, method: str, path: str | bytes, body: bytes = b"",
                headers: dict[str, str | bytes] | None = None) -> Reply:  # fmt: skip
        what = f"{method} {_target(path)[:200]!r} headers={headers!r} body={body[:300]!r}"
        return self.check(send(port, method, path, body, headers), what)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
