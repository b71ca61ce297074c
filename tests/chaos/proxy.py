"""`BlackholeProxy`: a TCP proxy on 127.0.0.1 that a test can turn into a black hole, to cut
one process off from one server while everything else still reaches it (the ensemble chaos
test routes each master's ZooKeeper traffic through its own proxies and cuts the leader off).

While `cut` is on, the proxy forwards nothing in either direction and sends nothing back:
connections stay open, bytes vanish, new connections are accepted and then hear nothing, as
when a network drops packets (no RST, no FIN). `heal()` closes the connections that lost bytes
(their streams are broken) and forwards again. The proxy runs its own event loop in a daemon
thread; `close()` stops it and every connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading


class BlackholeProxy:
    """Listens on 127.0.0.1:`port` (a free one) and forwards to 127.0.0.1:`target_port`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.cut = False
        self._loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._cut_writers: set[asyncio.StreamWriter] = set()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        self.port: int = sock.getsockname()[1]
        self._sock = sock
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(target=self._run, name=f"proxy-{self.port}", daemon=True)
        self._started = threading.Event()
        self._thread.start()
        self._started.wait(5)

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def serve() -> None:
            self._server = await asyncio.start_server(self._client, sock=self._sock)
            self._started.set()

        self._loop.run_until_complete(serve())
        self._loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        up_w: asyncio.StreamWriter | None = None
        try:
            if self.cut:
                self._cut_writers.add(writer)
                await reader.read()  # swallow until the client gives up
                return
            try:
                up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
            except OSError:
                return  # the server is down: the client sees its connection closed
            self._writers.add(up_w)
            await asyncio.gather(self._pump(reader, up_w, writer), self._pump(up_r, writer, up_w))
        finally:
            for w in (writer, up_w):
                if w is not None:
                    self._writers.discard(w)
                    self._cut_writers.discard(w)
                    w.close()

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                    owner: asyncio.StreamWriter) -> None:  # fmt: skip
        """Copy src -> dst; while cut, read and drop (and remember `owner` as broken)."""
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await src.read(65536):
                if self.cut:
                    self._cut_writers.update((owner, dst))
                    continue
                dst.write(data)
                await dst.drain()
        dst.close()

    def set_cut(self, cut: bool) -> None:
        """Black-hole (True) or forward again (False, closing the broken connections)."""
        self.cut = cut
        if not cut:
            self._loop.call_soon_threadsafe(self._close_cut)

    def _close_cut(self) -> None:
        for w in list(self._cut_writers):
            w.close()
        self._cut_writers.clear()

    def close(self) -> None:
        def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for w in list(self._writers):
                w.close()
            self._loop.stop()

        if self._loop.is_running():
            self._loop.call_soon_threadsafe(shutdown)
            self._thread.join(5)
        self._loop.close()
