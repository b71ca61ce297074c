"""Logging set-up shared by every process (master, agent, CLI, frameworks).

Called once from each process entry point.
"""

from __future__ import annotations

import logging
import sys


def setup_logging(level: str = "INFO", name: str = "dcos", file: str | None = None) -> None:
    handler: logging.Handler = (
        logging.FileHandler(file) if file else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
