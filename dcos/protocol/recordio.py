"""RecordIO framing, as Mesos streams it: ``<decimal length>\\n<record bytes>`` repeated.

Used for the scheduler event stream (JSON records), the executor stream and the internal
master -> agent stream (msgpack records). `encode` is called by the writers (master, agent);
`Decoder` by the readers (SDK, agent, tests), fed with whatever chunks the socket gives.
"""

from __future__ import annotations

MAX_RECORD = 64 * 1024 * 1024


class RecordIOError(ValueError):
    """The stream is not valid RecordIO (bad length header or an oversized record)."""


def encode(record: bytes) -> bytes:
    return b"%d\n%s" % (len(record), record)


class Decoder:
    """Incremental decoder: `feed(chunk)` returns the complete records seen so far."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._need: int | None = None

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buf += chunk
        out: list[bytes] = []
        while True:
            if self._need is None:
                nl = self._buf.find(b"\n")
                if nl < 0:
                    if len(self._buf) > 20:
                        raise RecordIOError("record length header too long")
                    return out
                header = bytes(self._buf[:nl])
                if not header.isdigit():
                    raise RecordIOError(f"bad record length {header[:20]!r}")
                self._need = int(header)
                if self._need > MAX_RECORD:
                    raise RecordIOError(f"record of {self._need} bytes is too large")
                del self._buf[: nl + 1]
            if len(self._buf) < self._need:
                return out
            out.append(bytes(self._buf[: self._need]))
            del self._buf[: self._need]
            self._need = None
