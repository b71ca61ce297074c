"""Serving the web UI's built files (``--web-dir``, default `dcos.web.DIST`).

Called by: `dcos.gateway.app`, which sends every GET/HEAD that no other route took to
`StaticFiles.handle`.

``/`` and ``/index.html`` answer ``index.html`` (the UI routes by the URL's ``#`` fragment, so
there is no server-side route table); any other path answers the file at that path under the
directory (``/assets/app.js``, ``/style.css``), or 404 JSON. Caching: every file carries
``Last-Modified`` and an ``ETag`` (conditional requests answer 304) and ``Cache-Control:
no-cache`` (revalidate each time: names are not content-hashed), except names with a content
hash (``app-3f9a1c2b.js``), which are ``immutable`` for a year. When the UI is not built
(no ``index.html``), ``/`` answers 503 text: "the web UI is not built: run `make web`".

No file outside the directory is ever served: `resolve` refuses ``..`` and ``.`` segments
(also percent-encoded: the path is decoded first), backslashes, NUL bytes, hidden names and
anything whose real path (symlinks followed) leaves the directory.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

from aiohttp import web

from dcos.gateway.proxy import error

NOT_BUILT = "the web UI is not built: run `make web`\n"
HASHED = re.compile(r"[.-][0-9A-Za-z_]{8,}\.(js|css|map|woff2?|png|svg)$")
IMMUTABLE = "public, max-age=31536000, immutable"


def resolve(root: Path, path: str) -> Path | None:
    """The file `path` (a request path, possibly still percent-encoded) names under `root`,
    or None when it names none or tries to leave `root`."""
    text = unquote(path)
    if "\x00" in text or "\\" in text:
        return None
    parts = [p for p in text.split("/") if p]
    if not parts:
        parts = ["index.html"]
    if any(p in (".", "..") or p.startswith(".") for p in parts):
        return None
    try:
        base = root.resolve()
        candidate = base.joinpath(*parts).resolve()
    except (OSError, ValueError, RuntimeError):
        return None
    if not candidate.is_relative_to(base) or not candidate.is_file():
        return None
    return candidate


class StaticFiles:
    """The UI's files under `root` (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def built(self) -> bool:
        return (self.root / "index.html").is_file()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            return error(405, f"{request.method} is not allowed on {request.path}")
        raw = request.raw_path.partition("?")[0]
        if raw in ("/", "/index.html") and not self.built:
            return web.Response(status=503, text=NOT_BUILT)
        file = resolve(self.root, raw)
        if file is None:
            return error(404, f"no such page or route: {request.path}")
        resp = web.FileResponse(file)
        hashed = HASHED.search(file.name) is not None
        resp.headers["Cache-Control"] = IMMUTABLE if hashed else "no-cache"
        if file.suffix == ".html":
            resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp


__all__ = ["NOT_BUILT", "StaticFiles", "resolve"]
