"""Long-lived RecordIO event streams: the scheduler SUBSCRIBE and the internal agent stream
(`EventStream`), and the operator API's SUBSCRIBE (`OperatorStream`).

`send` is called synchronously by the master shell when it carries out core actions; it
only buffers. `run` (awaited by the HTTP handler that owns the response) writes whatever is
buffered in one write -- every record whole, several records per write when they pile up --
until `close` is called or the peer goes away. The writer itself is the shared
`dcos.common.streams.RecordIOStream`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from dcos.common.streams import RecordIOStream, set_nodelay
from dcos.protocol.codec import dumps_json

__all__ = ["EventStream", "OperatorStream", "set_nodelay"]

log = logging.getLogger(__name__)

# what an operator subscriber may leave unread before it is dropped (its stream closed)
OPERATOR_QUEUE_BYTES = 8 * 1024 * 1024


class EventStream(RecordIOStream):
    """A master-side stream whose records `encode` makes (JSON for schedulers, msgpack for
    agents); created by the scheduler SUBSCRIBE and agent channel handlers."""

    def __init__(self, encode: Callable[[Any], bytes]) -> None:
        super().__init__(encode, log, "event stream")


class OperatorStream(RecordIOStream):
    """One operator SUBSCRIBE stream (`dcos.master.http.operator_feed`): JSON records, a
    HEARTBEAT whenever `run`'s heartbeat interval passes in silence, and a bounded queue.

    `push` takes records already framed (the feed encodes each event once for every
    subscriber). Records count against `limit` bytes from when they are queued until `run`
    hands them to the socket; a subscriber that lets more pile up (it reads slower than the
    master changes) is dropped: its queue is discarded, `abort` (the connection's own,
    set by the handler) cuts the connection so that a write stuck on a full socket ends too,
    and `dropped` says why. `since` is the last observed event its snapshot shows; `peer`
    names the subscriber in the logs."""

    def __init__(self, since: int, limit: int = OPERATOR_QUEUE_BYTES) -> None:
        super().__init__(dumps_json, log, "operator event stream", {"type": "HEARTBEAT"})
        self.since = since
        self.limit = limit
        self.dropped: str | None = None
        self.abort: Callable[[], None] | None = None
        self.peer = "?"
        # security on: what the subscriber may see (`dcos.master.authz.Visibility`)
        self.visibility: Any = None
        self._pending = 0

    def push(self, record: bytes, *, counted: bool = True) -> bool:
        """Queue one framed record; False (and the stream dropped) when the queue would pass
        `limit`. The SUBSCRIBED snapshot goes in uncounted (it may be larger than `limit`)."""
        if self._closing:
            return False
        if not self._buf:  # `run` took everything queued so far
            self._pending = 0
        elif self._pending + len(record) > self.limit:
            self.drop(f"more than {self.limit} bytes of events unread")
            return False
        if counted:
            self._pending += len(record)
        self._buf.append(record)
        self._wake.set()
        return True

    def drop(self, why: str) -> None:
        """End the stream now, without flushing: the subscriber does not keep up."""
        self.dropped = why
        self._buf.clear()
        self.close()
        if self.abort is not None:
            self.abort()
