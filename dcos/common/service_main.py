"""The tail of a component's ``main()``: run its server on uvloop until SIGTERM or SIGINT.

Called by the ``__main__`` of the master, the DNS server, the package service and the gateway:
``return run_until_signalled("gateway", lambda stop: serve(config, stop))``. `serve` gets an
`asyncio.Event` that is set on SIGTERM/SIGINT and returns once it has stopped cleanly. A server
that cannot start (its port taken: an `OSError`, or one of `errors`) prints
``<name>: cannot start: <why>`` on stderr and the exit status is 1; otherwise 0.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable

import uvloop


def run_until_signalled(
    name: str,
    serve: Callable[[asyncio.Event], Awaitable[None]],
    errors: tuple[type[BaseException], ...] = (OSError,),
) -> int:
    """Run ``serve(stop)`` (module docstring); the process's exit status."""

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(stop)

    try:
        uvloop.run(_main())
    except errors as exc:
        print(f"{name}: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


__all__ = ["run_until_signalled"]
