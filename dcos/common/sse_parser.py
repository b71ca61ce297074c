"""Server-sent events (``text/event-stream``), sans-IO: bytes in, complete `SseEvent`s out.

Used by: `dcos.common.sse.EventFollower` (DNS, load balancer; asyncio) and the CLI's
`deployment`/`app --wait` event listener (`dcos.cli.http.sse_events`; a thread, no event
loop). No I/O and no aiohttp here, so the CLI imports it without loading aiohttp.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson


@dataclass(frozen=True)
class SseEvent:
    """One dispatched server-sent event: its `event:` name ("message" when absent) and `data`."""

    event: str
    data: str
    id: str | None = None

    def json(self) -> object:
        """The data decoded as JSON, or None when it is not JSON."""
        try:
            return orjson.loads(self.data)
        except orjson.JSONDecodeError:
            return None

    @property
    def event_type(self) -> str:
        """Marathon's `eventType` from the JSON data, else the SSE event name."""
        body = self.json()
        if isinstance(body, dict) and isinstance(body.get("eventType"), str):
            return str(body["eventType"])
        return self.event


@dataclass
class SseParser:
    """Incremental `text/event-stream` parser (the WHATWG rules that matter here: `event:`,
    `data:` (joined by newlines), `id:`, comments, CRLF/LF line ends, a blank line dispatches)."""

    _buffer: bytes = b""
    _event: str = ""
    _data: list[str] = field(default_factory=list)
    _id: str | None = None

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Add bytes read from the stream; the events completed by them, in order."""
        self._buffer += chunk
        out: list[SseEvent] = []
        while True:
            nl = self._buffer.find(b"\n")
            if nl < 0:
                return out
            raw, self._buffer = self._buffer[:nl], self._buffer[nl + 1:]
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            event = self._line(line)
            if event is not None:
                out.append(event)

    def _line(self, line: str) -> SseEvent | None:
        if line == "":
            if not self._data:
                self._event = ""
                return None
            event = SseEvent(self._event or "message", "\n".join(self._data), self._id)
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            self._id = value
        return None
