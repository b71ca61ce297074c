"""The package service with its state in ZooKeeper (`--zk`, as `dcos-py up --ha` runs it):
two processes share one repository list; it survives a restart; `--default-repo` seeds it only
the first time (a deleted default stays deleted)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from dcos.packaging import mediatypes as mt
from tests.e2e.up_process import quiet_ports
from tests.packages.conftest import http
from tests.packages.testrepo import write_repo

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def service(zk_url: str, port: int, work: Path, default: str) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dcos.packaging", "--master", "127.0.0.1:1", "--webapp",
         "http://127.0.0.1:1", "--port", str(port), "--zk", zk_url, "--work-dir", str(work),
         "--default-repo", default],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                if http("GET", url + "/health", timeout=1)[0] == 200:
                    break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
            assert time.monotonic() < deadline, "package service did not start"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def rpc(url: str, path: str, body: object) -> dict:
    ep = mt.ENDPOINTS[path]
    assert ep.request is not None
    status, _, raw = http("POST", url + path, body,
                          {"Content-Type": ep.request, "Accept": ",".join(ep.responses)})
    assert status == 200, raw
    return orjson.loads(raw)


def names(url: str) -> list[str]:
    return [r["name"] for r in rpc(url, "/package/repository/list", {})["repositories"]]


def test_two_instances_share_the_list_in_zookeeper(zk_url: str, tmp_path: Path) -> None:
    index = write_repo(tmp_path / "repo")
    extra = write_repo(tmp_path / "extra")
    default = f"Universe={index.as_uri()}"
    p1, p2 = quiet_ports(2)
    with service(zk_url, p1, tmp_path / "a", default) as a, \
            service(zk_url, p2, tmp_path / "b", default) as b:
        assert names(a) == names(b) == ["Universe"]
        rpc(a, "/package/repository/add", {"name": "extra", "uri": extra.as_uri(), "index": 0})
        assert names(b) == ["extra", "Universe"]
        rpc(b, "/package/repository/delete", {"name": "Universe"})
        assert names(a) == ["extra"]
        found = rpc(a, "/package/search", {"query": "pyhttp"})["packages"]
        assert [p["name"] for p in found] == ["pyhttp"]
    with service(zk_url, p1, tmp_path / "a", default) as again:
        assert names(again) == ["extra"]  # kept; the deleted default is not seeded again
    assert not (tmp_path / "a" / "packaging.db").exists()
