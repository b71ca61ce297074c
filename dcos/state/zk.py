"""ZooKeeper plumbing shared by the HA pieces: ``zk://`` URLs, kazoo clients, and a bridge from
kazoo's thread-based async results to asyncio.

Called by: `dcos.state.zookeeper` (the state store), `dcos.state.election` (leader election),
`dcos.state.detector` (agents, SDK, CLI finding the leading master), the master and webapp
shells (they parse their ``--zk``/``--master`` URL here), and `dcos-py up --ha`.

URL form (Mesos'): ``zk://[user:password@]host:port[,host:port...]/path``. The path is *not* a
kazoo chroot: a master URL ``zk://h/dcos`` puts the election znodes under ``/dcos`` and the
state store under the sibling ``/dcos-state``, so clients connect to the hosts alone and use
absolute paths.

kazoo runs its own threads: its callbacks, watches and state listeners never run on the event
loop. `zk_await` turns an ``IAsyncResult`` (``client.get_async(...)`` ...) into an awaitable by
completing an asyncio future with ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass
from typing import Any

from kazoo.client import KazooClient
from kazoo.retry import KazooRetry


class ZkUrlError(ValueError):
    """A ``zk://`` URL that cannot be used (the message quotes it and says why)."""


_HOST_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+)(?::(\d{1,5}))?$")
_PATH_RE = re.compile(r"^(/[^/\x00]+)+$")


@dataclass(frozen=True)
class ZkUrl:
    """A parsed ``zk://`` URL: `hosts` as kazoo takes them (``"h1:2181,h2:2181"``), the
    absolute znode `path` (``"/dcos"``; never ``"/"`` nor ending in ``/``), and the optional
    digest credentials ``"user:password"``."""

    hosts: str
    path: str
    auth: str | None = None

    def child(self, suffix: str) -> ZkUrl:
        """The same ensemble, path ``<path>/<suffix>`` (``suffix`` may have several levels)."""
        suffix = suffix.strip("/")
        if not suffix:
            return self
        return ZkUrl(self.hosts, f"{self.path}/{suffix}", self.auth)

    def sibling(self, suffix: str) -> ZkUrl:
        """The same ensemble, path ``<path><suffix>`` (``/dcos`` + ``-state`` = ``/dcos-state``)."""
        return ZkUrl(self.hosts, self.path + suffix, self.auth)

    def __str__(self) -> str:
        auth = f"{self.auth}@" if self.auth else ""
        return f"zk://{auth}{self.hosts}{self.path}"

    def redacted(self) -> str:
        """`str` without the password (for logs and error messages)."""
        if not self.auth:
            return str(self)
        return f"zk://{self.auth.split(':', 1)[0]}:***@{self.hosts}{self.path}"


def is_zk_url(text: str) -> bool:
    """Whether `text` is meant as a ZooKeeper URL (starts with ``zk://``, any case)."""
    return text.strip().lower().startswith("zk://")


def parse_zk_url(text: str) -> ZkUrl:
    """Parse ``zk://[user:password@]host[:port][,host[:port]...]/path`` (port defaults to
    2181). Raises `ZkUrlError` saying what is wrong."""
    raw = text.strip()
    if not is_zk_url(raw):
        raise ZkUrlError(f"not a ZooKeeper URL: {text!r} (expected zk://host:port[,host:port]/path)")
    rest = raw[5:]
    slash = rest.find("/")
    if slash < 0:
        raise ZkUrlError(f"ZooKeeper URL {text!r} has no path (e.g. zk://127.0.0.1:2181/dcos)")
    netloc, path = rest[:slash], rest[slash:].rstrip("/")
    auth: str | None = None
    if "@" in netloc:
        auth, netloc = netloc.rsplit("@", 1)
        if ":" not in auth or not auth.split(":", 1)[0]:
            raise ZkUrlError(f"ZooKeeper URL {text!r}: credentials must be user:password@")
    if not path:
        raise ZkUrlError(f"ZooKeeper URL {text!r} needs a path other than / (e.g. /dcos)")
    if not _PATH_RE.match(path) or any(p in (".", "..") for p in path.split("/")[1:]):
        raise ZkUrlError(f"ZooKeeper URL {text!r}: invalid znode path {path!r}")
    hosts: list[str] = []
    for part in netloc.split(","):
        m = _HOST_RE.match(part.strip())
        if not m:
            raise ZkUrlError(f"ZooKeeper URL {text!r}: invalid host {part!r} (expected host:port)")
        port = int(m.group(2) or 2181)
        if not 1 <= port <= 65535:
            raise ZkUrlError(f"ZooKeeper URL {text!r}: port {port} out of range")
        hosts.append(f"{m.group(1)}:{port}")
    return ZkUrl(",".join(hosts), path, auth)


def _as_url(url: ZkUrl | str) -> ZkUrl:
    return url if isinstance(url, ZkUrl) else parse_zk_url(url)


def new_client(url: ZkUrl | str, *, session_timeout: float = 10.0) -> KazooClient:
    """A kazoo client for the ensemble of `url` (not started: see `start_client`). It keeps
    reconnecting forever after a disconnection (within the session it resumes it; after an
    expiry kazoo opens a new session and reports LOST first)."""
    u = _as_url(url)
    auth = [("digest", u.auth)] if u.auth else None
    return KazooClient(
        hosts=u.hosts,
        timeout=session_timeout,
        auth_data=auth,
        connection_retry=KazooRetry(max_tries=-1, delay=0.1, backoff=2, max_delay=1.0),
        command_retry=KazooRetry(max_tries=3, delay=0.1, backoff=2, max_delay=1.0),
    )


START_POLL_S = 0.05


async def start_client(client: KazooClient, timeout: float = 10.0) -> None:
    """Connect `client`: kazoo connects in its own thread (``start_async``) while this waits
    on the event loop. Raises `TimeoutError` naming the hosts when no server answered within
    `timeout` seconds. On a timeout or a cancellation (a daemon stopping while ZooKeeper is
    down) the client is stopped at once, so no thread goes on trying to connect: a blocking
    ``client.start`` in a worker thread kept the process from exiting until it gave up."""
    loop = asyncio.get_running_loop()
    live = client.start_async()
    deadline = loop.time() + timeout
    try:
        while not live.is_set():
            if loop.time() >= deadline:
                hosts = ",".join(f"{h}:{p}" for h, p in client.hosts)
                raise TimeoutError(
                    f"could not connect to ZooKeeper at {hosts} within {timeout:g} s")
            await asyncio.sleep(START_POLL_S)
    except BaseException:
        await asyncio.shield(asyncio.to_thread(_stop_and_close, client))
        raise


async def connect_retrying(
    url: ZkUrl | str,
    *,
    session_timeout: float,
    what: str,
    retry_s: float = 1.0,
    log: logging.Logger | None = None,
) -> KazooClient:
    """A started client for `url`, trying again every `retry_s` seconds while no server
    answers (every tenth failure logged as a warning, prefixed with `what`). Called by the
    long-lived daemons' ZooKeeper users (`dcos.master.leadership`, `dcos.state.detector`),
    which must keep serving while ZooKeeper is down."""
    logger = log or logging.getLogger(__name__)
    attempt = 0
    while True:
        client = new_client(url, session_timeout=session_timeout)
        try:
            await start_client(client, timeout=max(2.0, session_timeout))
            return client
        except TimeoutError as exc:
            if attempt % 10 == 0:
                logger.warning("%s: %s (retrying)", what, exc)
            attempt += 1
            with contextlib.suppress(Exception):
                await stop_client(client)
            await asyncio.sleep(retry_s)


async def stop_client(client: KazooClient) -> None:
    """Close the session (its ephemeral znodes go at once) and free the client's threads."""
    await asyncio.to_thread(_stop_and_close, client)


def _stop_and_close(client: KazooClient) -> None:
    try:
        client.stop()
    finally:
        client.close()


async def zk_await(async_result: Any) -> Any:
    """Wait for a kazoo ``IAsyncResult`` on the running event loop and return its value (or
    raise its exception). kazoo completes it in its own thread; the result is handed over with
    ``call_soon_threadsafe``."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[Any] = loop.create_future()

    def transfer(result: Any) -> None:
        def settle() -> None:
            if fut.done():
                return
            try:
                fut.set_result(result.get_nowait())
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
                fut.set_exception(exc)

        try:
            loop.call_soon_threadsafe(settle)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    async_result.rawlink(transfer)
    return await fut


async def ensure_path(client: KazooClient, path: str) -> None:
    """Create `path` and its parents when missing (no-op when it exists)."""
    await zk_await(client.ensure_path_async(path))
