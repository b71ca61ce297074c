"""Logging set-up shared by every daemon (master, agent, webapp, load balancer, DNS, batch).

Called once from each process entry point (``python -m dcos.master`` ...), after its flags are
parsed (`dcos.common.flags` adds ``--log-level``, ``--log-format`` and ``--log-file``).

- `parse_log_level` validates a level name (DEBUG, INFO, WARNING, ERROR, CRITICAL; any case)
  and is the ``--log-level`` flag's type, so a typo is a usage error, not a crash.
- `setup_logging` sends records to stderr, or to `file` through a `WatchedFileHandler` (which
  reopens the file when logrotate moves it away), as text lines or as JSON lines
  (``{"ts", "level", "logger", "msg", ...}``; exceptions under ``exc``).
- Loggers are named by module (``logging.getLogger(__name__)``), so ``dcos.agent.shell`` and
  ``frameworks.webapp.scheduler`` say where a line comes from.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# LogRecord attributes that are not "extra" fields.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def parse_log_level(text: str) -> str:
    """The canonical level name for `text` (any case; WARN means WARNING); ValueError else."""
    name = str(text).strip().upper()
    name = {"WARN": "WARNING", "FATAL": "CRITICAL"}.get(name, name)
    if name not in LEVELS:
        raise ValueError(f"unknown log level {text!r} (use one of {', '.join(LEVELS)})")
    return name


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: ts (ISO 8601 UTC), level, logger, msg, and any ``extra=``."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                body[key] = value
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(body, default=str).decode()


def setup_logging(level: str = "INFO", json_lines: bool = False, file: str | None = None) -> None:
    """Configure the root logger once per process; replaces any handlers it had.

    `level` is validated (`parse_log_level`; ValueError). `file`: append there through a
    `WatchedFileHandler` (its directory is created), else stderr. `json_lines`: JSON lines
    instead of text. aiohttp's access log is kept at WARNING.
    """
    name = parse_log_level(level)
    handler: logging.Handler
    if file:
        os.makedirs(os.path.dirname(os.path.abspath(file)), exist_ok=True)
        handler = logging.handlers.WatchedFileHandler(file)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLineFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(name)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
