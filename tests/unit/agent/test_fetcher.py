"""The fetcher: file and http URIs, extraction (safe), executable, output_file, the cache."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile

import pytest
from aiohttp import web

from dcos.agent.fetcher import FetchLimits, extract, fetch, output_name
from dcos.testing import free_port


@pytest.fixture
async def http_server():
    """A local aiohttp server: GET /<name> answers files[name]; hits counts requests."""
    files: dict[str, bytes] = {}
    hits: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        hits.append(name)
        if name not in files:
            return web.Response(status=404, text="nope")
        return web.Response(body=files[name])

    app = web.Application()
    app.router.add_get("/{name}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", files, hits
    finally:
        await runner.cleanup()


def _tar_bytes(members: dict[str, bytes], mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


async def test_file_uri_and_plain_path_with_output_file(tmp_path):
    src = tmp_path / "src.txt"
    src.write_text("hello")
    sandbox = tmp_path / "sb"
    result = await fetch(
        [{"value": f"file://{src}"}, {"value": str(src), "output_file": "sub/renamed.txt"}],
        str(sandbox),
    )
    assert result.ok, result.error
    assert (sandbox / "src.txt").read_text() == "hello"
    assert (sandbox / "sub" / "renamed.txt").read_text() == "hello"


async def test_executable_bit(tmp_path):
    src = tmp_path / "run.sh"
    src.write_text("#!/bin/sh\necho hi\n")
    os.chmod(src, 0o644)
    result = await fetch([{"value": str(src), "executable": True}], str(tmp_path / "sb"))
    assert result.ok
    assert os.access(tmp_path / "sb" / "run.sh", os.X_OK)


async def test_http_download_and_extract_tgz(tmp_path, http_server):
    base, files, _ = http_server
    files["app.tgz"] = _tar_bytes({"app/main.py": b"print(1)\n", "README": b"r"})
    sandbox = tmp_path / "sb"
    result = await fetch([{"value": f"{base}/app.tgz"}], str(sandbox))
    assert result.ok, result.error
    assert (sandbox / "app" / "main.py").read_bytes() == b"print(1)\n"
    assert (sandbox / "app.tgz").exists()  # the archive is kept


@pytest.mark.parametrize("suffix,mode", [(".tar", "w"), (".tar.bz2", "w:bz2"),
                                         (".tar.xz", "w:xz")])  # fmt: skip
async def test_extract_other_tar_kinds(tmp_path, suffix, mode):
    src = tmp_path / f"a{suffix}"
    src.write_bytes(_tar_bytes({"x/y.txt": b"y"}, mode))
    result = await fetch([{"value": str(src)}], str(tmp_path / "sb"))
    assert result.ok, result.error
    assert (tmp_path / "sb" / "x" / "y.txt").read_bytes() == b"y"


async def test_extract_false_keeps_archive_packed(tmp_path):
    src = tmp_path / "a.zip"
    src.write_bytes(_zip_bytes({"inner.txt": b"i"}))
    result = await fetch([{"value": str(src), "extract": False}], str(tmp_path / "sb"))
    assert result.ok
    assert not (tmp_path / "sb" / "inner.txt").exists()


async def test_zip_extracts(tmp_path):
    src = tmp_path / "a.zip"
    src.write_bytes(_zip_bytes({"d/inner.txt": b"i"}))
    assert (await fetch([{"value": str(src)}], str(tmp_path / "sb"))).ok
    assert (tmp_path / "sb" / "d" / "inner.txt").read_bytes() == b"i"


@pytest.mark.parametrize("kind", ["tar", "zip"])
async def test_malicious_member_is_refused_and_nothing_written(tmp_path, kind):
    members = {"ok.txt": b"fine", "../escaped.txt": b"evil"}
    src = tmp_path / ("bad.tgz" if kind == "tar" else "bad.zip")
    src.write_bytes(_tar_bytes(members) if kind == "tar" else _zip_bytes(members))
    sandbox = tmp_path / "deep" / "sb"
    result = await fetch([{"value": str(src)}], str(sandbox))
    assert not result.ok
    assert "../escaped.txt" in result.error and "outside the sandbox" in result.error
    assert not (tmp_path / "deep" / "escaped.txt").exists()
    assert not (sandbox / "ok.txt").exists()


def test_tar_symlink_pointing_outside_is_refused(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("link")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc"
        tf.addfile(info)
    archive = tmp_path / "l.tar"
    archive.write_bytes(buf.getvalue())
    (tmp_path / "sb").mkdir()
    with pytest.raises(Exception, match="links outside the sandbox"):
        extract(str(archive), str(tmp_path / "sb"))


async def test_output_file_outside_sandbox_is_refused(tmp_path):
    src = tmp_path / "s"
    src.write_text("x")
    result = await fetch([{"value": str(src), "output_file": "../x"}], str(tmp_path / "sb"))
    assert not result.ok and "outside the sandbox" in result.error


async def test_cache_hit_does_not_download_again(tmp_path, http_server):
    base, files, hits = http_server
    files["tool.bin"] = b"\x00" * 1000
    cache = tmp_path / "cache"
    uri = {"value": f"{base}/tool.bin", "cache": True}
    first = await fetch([uri], str(tmp_path / "sb1"), str(cache))
    second = await fetch([uri], str(tmp_path / "sb2"), str(cache))
    assert first.ok and second.ok
    assert hits == ["tool.bin"]
    assert second.cache_hits == [uri["value"]]
    assert (tmp_path / "sb2" / "tool.bin").read_bytes() == files["tool.bin"]


async def test_cache_is_size_limited_lru(tmp_path, http_server):
    base, files, hits = http_server
    for name in ("a", "b", "c"):
        files[name] = name.encode() * 400
    cache = tmp_path / "cache"
    limits = FetchLimits(cache_max_bytes=1000)
    for name in ("a", "b", "c"):
        res = await fetch([{"value": f"{base}/{name}", "cache": True}], str(tmp_path / name),
                          str(cache), limits=limits)  # fmt: skip
        assert res.ok
    assert sum(f.stat().st_size for f in cache.iterdir()) <= 1000
    assert len(list(cache.iterdir())) == 2  # "a" (least recently used) was dropped


async def test_failures_name_the_uri_and_cause(tmp_path, http_server):
    base, _, _ = http_server
    missing = await fetch([{"value": f"{base}/missing.tgz"}], str(tmp_path / "sb"))
    assert not missing.ok
    assert missing.error == f"Failed to fetch '{base}/missing.tgz': HTTP 404 Not Found"
    nofile = await fetch([{"value": "/does/not/exist.txt"}], str(tmp_path / "sb"))
    assert nofile.error == "Failed to fetch '/does/not/exist.txt': /does/not/exist.txt: no such file"
    scheme = await fetch([{"value": "ftp://x/y"}], str(tmp_path / "sb"))
    assert "unsupported URI scheme 'ftp'" in scheme.error


async def test_download_size_limit(tmp_path, http_server):
    base, files, _ = http_server
    files["big"] = b"x" * 5000
    res = await fetch([{"value": f"{base}/big"}], str(tmp_path / "sb"),
                      limits=FetchLimits(max_bytes=1000))  # fmt: skip
    assert not res.ok and "1000 byte limit" in res.error
    assert not (tmp_path / "sb" / "big").exists()


def test_output_name():
    assert output_name({"value": "http://h/a/b.tgz?x=1"}) == "b.tgz"
    assert output_name({"value": "http://h/a", "output_file": "o"}) == "o"
