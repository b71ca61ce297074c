"""Long-lived RecordIO event streams (scheduler SUBSCRIBE and the internal agent stream).

`EventStream.send` is called synchronously by the master shell when it carries out core
actions; it only buffers. `run` (awaited by the HTTP handler that owns the response) writes
whatever is buffered in one write -- every record whole, several records per write when
they pile up -- until `close` is called or the peer goes away. The writer itself is the
shared `dcos.common.streams.RecordIOStream`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from dcos.common.streams import RecordIOStream, set_nodelay

__all__ = ["EventStream", "set_nodelay"]

log = logging.getLogger(__name__)


class EventStream(RecordIOStream):
    """A master-side stream whose records `encode` makes (JSON for schedulers, msgpack for
    agents); created by the scheduler SUBSCRIBE and agent channel handlers."""

    def __init__(self, encode: Callable[[Any], bytes]) -> None:
        super().__init__(encode, log, "event stream")
