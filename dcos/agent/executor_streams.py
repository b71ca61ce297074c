"""The open event stream of each subscribed custom executor (owned by the agent shell).

The shell carries out `ToExecutor` / `CloseExecutor` actions here; the ``/api/v1/executor``
endpoint (`dcos.agent.http.executor_api`) makes a stream when an executor subscribes, writes
it out until it closes, and forgets it when the executor's connection ends.
"""

from __future__ import annotations

import logging
from typing import Any

from dcos.agent.core.model import ExecutorKey
from dcos.common.streams import RecordIOStream
from dcos.protocol.codec import dumps_json

log = logging.getLogger(__name__)


class ExecutorStream(RecordIOStream):
    """One executor's event stream of JSON records: `send` buffers (sync), `run` writes
    until closed, with a HEARTBEAT event whenever `heartbeat` seconds pass in silence."""

    def __init__(self) -> None:
        super().__init__(dumps_json, log, "executor stream", {"type": "HEARTBEAT"})


class ExecutorStreams:
    """The open stream of each subscribed executor."""

    def __init__(self) -> None:
        self._streams: dict[ExecutorKey, ExecutorStream] = {}

    def attach(self, key: ExecutorKey, stream: ExecutorStream) -> None:
        old = self._streams.get(key)
        if old is not None:
            old.close()
        self._streams[key] = stream

    def detach(self, key: ExecutorKey, stream: ExecutorStream) -> bool:
        """Forget `stream` if it is still the executor's; True when it was."""
        if self._streams.get(key) is stream:
            del self._streams[key]
            return True
        return False

    def send(self, key: ExecutorKey, event: dict[str, Any]) -> None:
        stream = self._streams.get(key)
        if stream is None:
            log.debug("no stream for executor %s; %s dropped", key, event.get("type"))
            return
        stream.send(event)

    def close(self, key: ExecutorKey) -> None:
        stream = self._streams.pop(key, None)
        if stream is not None:
            stream.close()

    def close_all(self) -> None:
        for key in list(self._streams):
            self.close(key)

    def __contains__(self, key: object) -> bool:
        return key in self._streams
