"""Plain-text and JSON answers of the master's HTTP handlers.

Called by every handler in `dcos.master.http` that answers with a message. A message may
quote what the client sent (a header, an id); aiohttp decodes request bytes that are not
UTF-8 into lone surrogates, which cannot be encoded back, so `text` escapes whatever cannot
be written (``\\udcc3``) instead of failing with a 500.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from dcos.protocol.codec import dumps_json


def text(message: str, status: int = 400) -> web.Response:
    """A plain-text answer (Mesos' style for errors); never raises on odd characters."""
    body = message.encode("utf-8", "backslashreplace")
    return web.Response(status=status, body=body, content_type="text/plain", charset="utf-8")


def json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps_json(obj), status=status, content_type="application/json")
