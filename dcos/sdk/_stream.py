"""What the scheduler and executor drivers share about their event streams.

`read_json_events` reads a subscription's RecordIO stream of JSON events (the scheduler
driver's from the master, the executor driver's from the agent); `cancel_tasks` ends a
driver's background tasks when it stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

import aiohttp

from dcos.protocol.codec import DecodeError, loads_json
from dcos.protocol.recordio import Decoder, RecordIOError


async def read_json_events(
    resp: aiohttp.ClientResponse, handle: Callable[[Any], bool], log: logging.Logger, peer: str
) -> None:
    """Feed each event of `resp`'s body to `handle` until the body ends or breaks, or until
    `handle` returns True (the rest of that chunk's records are still handled). A broken
    connection is logged at info, a malformed stream at warning, naming `peer`.

    Called by `SchedulerDriver._read_stream` and `ExecutorDriver._subscribe_once` once the
    SUBSCRIBE was accepted."""
    decoder = Decoder()
    try:
        async for chunk in resp.content.iter_any():
            stop = False
            for record in decoder.feed(chunk):
                if handle(loads_json(record)):
                    stop = True
            if stop:
                return
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        log.info("event stream from %s broke: %s", peer, exc)
    except (RecordIOError, DecodeError) as exc:
        log.warning("bad event stream from %s: %s", peer, exc)


async def cancel_tasks(tasks: Iterable[asyncio.Task[Any] | None]) -> None:
    """Cancel each unfinished task (but not the caller's own) and wait for it to end; what
    it raised was logged where it ran. Called by the drivers' stop paths."""
    current = asyncio.current_task()
    for task in tasks:
        if task is not None and task is not current and not task.done():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - already logged
                pass
