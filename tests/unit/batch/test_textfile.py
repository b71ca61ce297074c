"""textFile over files, directories, globs, comma-separated lists, file:// and http:// URIs;
splits never lose or duplicate a line."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from frameworks.batch import SparkContext
from frameworks.batch.sources import read_split, text_splits


@pytest.fixture()
def files(tmp_path: Path) -> Path:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("a1\na2\n")
    (tmp_path / "d" / "b.txt").write_text("b1\r\nb2")
    (tmp_path / "d" / "_SUCCESS").write_text("")
    (tmp_path / "d" / ".hidden").write_text("nope\n")
    with gzip.open(tmp_path / "d" / "c.gz", "wt") as f:
        f.write("c1\nc2\n")
    return tmp_path


def test_file_dir_glob_list_and_file_uri(local_sc: SparkContext, files: Path) -> None:
    d = files / "d"
    assert local_sc.textFile(str(d / "a.txt")).collect() == ["a1", "a2"]
    assert local_sc.textFile(str(d)).collect() == ["a1", "a2", "b1", "b2", "c1", "c2"]
    assert local_sc.textFile(str(d / "*.txt")).collect() == ["a1", "a2", "b1", "b2"]
    assert local_sc.textFile(f"{d / 'b.txt'},{d / 'a.txt'}").collect() == ["b1", "b2", "a1", "a2"]
    assert local_sc.textFile(f"file://{d / 'a.txt'}").count() == 2
    with pytest.raises(FileNotFoundError, match="Input path does not exist"):
        local_sc.textFile(str(files / "missing"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.text(alphabet="ab\u00e9 ", max_size=30), max_size=30),
       parts=st.integers(1, 12), trailing=st.booleans())
def test_splits_keep_every_line_once(tmp_path: Path, lines: list[str], parts: int,
                                     trailing: bool) -> None:
    path = tmp_path / "f.txt"
    text = "\n".join(lines) + ("\n" if trailing and lines else "")
    path.write_bytes(text.encode())
    got = [line for split in text_splits([str(path)], parts) for line in read_split(split)]
    assert got == (text.split("\n")[:-1] if text.endswith("\n") else text.split("\n") if text else [])


def test_min_partitions_cuts_a_file(local_sc: SparkContext, tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    lines = [f"line {i} " + "x" * (i % 17) for i in range(2000)]
    path.write_text("\n".join(lines) + "\n")
    rdd = local_sc.textFile(str(path), minPartitions=5)
    assert rdd.getNumPartitions() >= 5
    assert rdd.collect() == lines


@pytest.fixture()
def http_server(files: Path) -> Iterator[str]:
    import asyncio

    from aiohttp import web

    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_static("/data", str(files / "d"))
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/data"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.run_until_complete(runner.cleanup())
        loop.close()


def test_http_uris(local_sc: SparkContext, http_server: str) -> None:
    rdd = local_sc.textFile(f"{http_server}/a.txt,{http_server}/c.gz")
    assert rdd.collect() == ["a1", "a2", "c1", "c2"]
    assert rdd.flatMap(list).countByValue()["a"] == 2
