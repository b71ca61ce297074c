"""Mesos' files API on HTTP: ``GET /files/browse``, ``/files/read``, ``/files/download`` (and
their ``.json`` names, which the old DC/OS CLI uses) over a resolver that each process brings.

`add_routes(app, resolve)` is called by the agent (`dcos.agent.http.files`: sandboxes and
``/slave/log``) and the master (`dcos.master.http.files`: ``/master/log``). `resolve(path)`
maps the request's ``path`` to the real file to serve, or raises
`dcos.common.files_api.FilesError`; it must look at nothing on disk outside what it allows.
Answers: browse -> JSON list of entries, read -> ``{"data", "offset"}`` (`files_api.read`),
download -> the file as an attachment. Errors are plain text with the status of the
`FilesError`: 400 bad parameters, 403 refused, 404 missing; 500 only for a disk I/O error.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable

from aiohttp import web

from dcos.common.files_api import (
    FilesError,
    browse,
    content_disposition,
    int_param,
    os_error,
    read,
)
from dcos.protocol.codec import dumps_json

Resolve = Callable[[str], str]  # request path -> real path; raises FilesError


def _error(exc: FilesError) -> web.Response:
    return web.Response(status=exc.status, text=exc.message + "\n")


def add_routes(app: web.Application, resolve: Resolve) -> None:
    """Register the files endpoints on `app`, serving what `resolve` allows."""

    def target(request: web.Request) -> tuple[str, str]:
        path = request.query.get("path", "")
        return path, resolve(path)

    async def json_answer(request: web.Request, verb: str,
                          work: Callable[[str, str], object]) -> web.Response:  # fmt: skip
        """`work(real, path)` in a worker thread, its result as JSON; errors as `_error`."""
        try:
            path, real = target(request)
            body = await asyncio.to_thread(work, real, path)
        except FilesError as exc:
            return _error(exc)
        except OSError as exc:
            return _error(os_error(exc, f"Cannot {verb} {request.query.get('path', '')}"))
        return web.Response(body=dumps_json(body), content_type="application/json")

    async def browse_handler(request: web.Request) -> web.Response:
        return await json_answer(request, "browse", browse)

    async def read_handler(request: web.Request) -> web.Response:
        try:
            offset = int_param(request.query, "offset", -1)
            length = int_param(request.query, "length", -1)
        except FilesError as exc:
            return _error(exc)
        return await json_answer(request, "read", lambda real, _: read(real, offset, length))

    async def download_handler(request: web.Request) -> web.StreamResponse:
        try:
            _, real = target(request)
            st = os.stat(real)
        except FilesError as exc:
            return _error(exc)
        except OSError as exc:
            return _error(os_error(exc, f"Cannot download {request.query.get('path', '')}"))
        if stat.S_ISDIR(st.st_mode):
            return web.Response(status=400, text="Cannot download a directory\n")
        if not stat.S_ISREG(st.st_mode):
            return web.Response(status=400, text="Cannot download: not a regular file\n")
        return web.FileResponse(real, headers={
            "Content-Disposition": content_disposition(os.path.basename(real)),
            "Content-Type": "application/octet-stream",
        })  # fmt: skip

    for suffix in ("", ".json"):
        app.router.add_get(f"/files/browse{suffix}", browse_handler)
        app.router.add_get(f"/files/read{suffix}", read_handler)
        app.router.add_get(f"/files/download{suffix}", download_handler)
