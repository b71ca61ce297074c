"""Mesos' files API on HTTP: ``GET /files/browse``, ``/files/read``, ``/files/download`` (and
their ``.json`` names, which the old DC/OS CLI uses) over a resolver that each process brings.

`add_routes(app, resolve)` is called by the agent (`dcos.agent.http.files`: sandboxes and
``/slave/log``) and the master (`dcos.master.http.files`: ``/master/log``). `resolve(path)`
maps the request's ``path`` to the real file to serve, or raises
`dcos.common.files_api.FilesError`; it must look at nothing on disk outside what it allows.
Answers: browse -> JSON list of entries, read -> ``{"data", "offset"}`` (`files_api.read`),
download -> the file as an attachment (streamed from the descriptor that was checked). Errors are plain text with the status of the
`FilesError`: 400 bad parameters, 403 refused (outside what `resolve` allows, a file with more
than one hard link), 404 missing; 500 only for a disk I/O error.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from aiohttp import web

from dcos.common.files_api import (
    FilesError,
    browse,
    content_disposition,
    int_param,
    open_checked,
    os_error,
    read,
)
from dcos.protocol.codec import dumps_json

CHUNK = 256 * 1024
Resolve = Callable[[str], str]  # request path -> real path; raises FilesError
Authorize = Callable[[web.Request, str], None]  # (request, real path); raises FilesError


def _error(exc: FilesError) -> web.Response:
    return web.Response(status=exc.status, text=exc.message + "\n")


async def _send(request: web.Request, fd: int, size: int, name: str) -> web.StreamResponse:
    """Stream the `size` bytes of open file `fd` as an attachment called `name`. From the
    descriptor that was checked, never by its path again (aiohttp's FileResponse would
    also serve a ``<name>.gz`` sibling, which a task can make a symlink to anything)."""
    resp = web.StreamResponse(headers={
        "Content-Disposition": content_disposition(name),
        "Content-Type": "application/octet-stream",
    })  # fmt: skip
    resp.content_length = size
    await resp.prepare(request)
    offset = 0
    while offset < size:
        chunk = await asyncio.to_thread(os.pread, fd, min(CHUNK, size - offset), offset)
        if not chunk:  # it shrank (a log rotated): the client sees a short body
            break
        await resp.write(chunk)
        offset += len(chunk)
    await resp.write_eof()
    return resp


def add_routes(app: web.Application, resolve: Resolve, authorize: Authorize | None = None
               ) -> None:  # fmt: skip
    """Register the files endpoints on `app`, serving what `resolve` allows (and, with
    `authorize`, what it lets the request's caller see: it raises `FilesError`, 403)."""

    def target(request: web.Request) -> tuple[str, str]:
        path = request.query.get("path", "")
        real = resolve(path)
        if authorize is not None:
            authorize(request, real)
        return path, real

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
            fd, st = await asyncio.to_thread(open_checked, real, "download")
        except FilesError as exc:
            return _error(exc)
        except OSError as exc:
            return _error(os_error(exc, f"Cannot download {request.query.get('path', '')}"))
        try:
            return await _send(request, fd, st.st_size, os.path.basename(real))
        finally:
            os.close(fd)

    for suffix in ("", ".json"):
        app.router.add_get(f"/files/browse{suffix}", browse_handler)
        app.router.add_get(f"/files/read{suffix}", read_handler)
        app.router.add_get(f"/files/download{suffix}", download_handler)
