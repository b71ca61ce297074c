"""The UI's static files through the gateway: index at `/`, assets with caching headers and
conditional answers, 503 "run `make web`" when not built, and no way out of the directory
(``..`` plain or percent-encoded, sent as raw bytes so no client normalises them)."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.gateway.conftest import MakeGateway, raw


def _dist(tmp_path: Path) -> Path:
    dist = tmp_path / "web" / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>dcos-py</title>")
    (dist / "assets" / "app.js").write_text("console.log('ui')")
    (dist / "assets" / "chunk-1a2b3c4d5e.js").write_text("// hashed")
    (dist / "style.css").write_text("body{}")
    (tmp_path / "web" / "secret.txt").write_text("root:x:0:0")
    return dist


async def test_ui_files_and_caching(tmp_path: Path, gateway: MakeGateway) -> None:
    gw = await gateway(web_dir=_dist(tmp_path))
    async with aiohttp.ClientSession() as s:
        for path in ("/", "/index.html"):
            async with s.get(gw.url + path) as r:
                assert r.status == 200 and r.content_type == "text/html"
                assert "dcos-py" in await r.text() and r.headers["Cache-Control"] == "no-cache"
        async with s.get(gw.url + "/assets/app.js") as r:
            assert r.status == 200 and r.content_type in ("text/javascript", "application/javascript")
            assert r.headers["Cache-Control"] == "no-cache"
            etag, modified = r.headers["ETag"], r.headers["Last-Modified"]
        async with s.get(gw.url + "/assets/app.js", headers={"If-None-Match": etag}) as r:
            assert r.status == 304
        async with s.get(gw.url + "/assets/app.js", headers={"If-Modified-Since": modified}) as r:
            assert r.status == 304
        async with s.get(gw.url + "/assets/chunk-1a2b3c4d5e.js") as r:
            assert "immutable" in r.headers["Cache-Control"]
        async with s.get(gw.url + "/style.css") as r:
            assert r.status == 200 and r.content_type == "text/css"
        async with s.get(gw.url + "/assets/missing.js") as r:
            assert r.status == 404 and (await r.json())["code"] == 404
        async with s.post(gw.url + "/") as r:
            assert r.status == 405


async def test_traversal_is_refused(tmp_path: Path, gateway: MakeGateway) -> None:
    gw = await gateway(web_dir=_dist(tmp_path))
    host = gw.url.split("//")[1]
    for path in ("/assets/../../etc/passwd", "/assets/../secret.txt", "/../secret.txt",
                 "/assets/%2e%2e/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt",
                 "/%2e%2e/secret.txt", "/assets/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
                 "/assets/..\\..\\secret.txt", "/assets/%252e%252e/secret.txt",
                 "/assets/app.js%00.html", "/..%5csecret.txt", "/etc/passwd"):  # fmt: skip
        status, body = await raw(gw.url, f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        assert status in (400, 403, 404), (path, status)
        assert b"root:" not in body, path


async def test_not_built_is_503_saying_make_web(tmp_path: Path, gateway: MakeGateway) -> None:
    gw = await gateway(web_dir=tmp_path / "nothing-here")
    async with aiohttp.ClientSession() as s:
        async with s.get(gw.url + "/") as r:
            assert r.status == 503 and "run `make web`" in await r.text()
        async with s.get(gw.url + "/gateway/health") as r:
            assert r.status == 200 and (await r.json())["ui_built"] is False
