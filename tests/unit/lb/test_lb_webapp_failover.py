"""The load balancer with several webapp instances: a resync reads from the first instance
that answers, and while none answers it fails before anything is applied (HAProxy keeps its
config: no reload to an empty backend set during a failover). `apply` is replaced by a
recorder here; tests/integration/test_lb_ha.py runs the same with a real HAProxy."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from marathon_fakes import FakeMarathon, marathon_task

from frameworks.webapp.lb.__main__ import parse_args
from frameworks.webapp.lb.config import LbOptions
from frameworks.webapp.lb.service import LoadBalancer


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def marathon() -> Iterator[FakeMarathon]:
    fake = FakeMarathon().start()
    yield fake
    fake.stop()


class Recorder:
    def __init__(self) -> None:
        self.applied: list[list[Any]] = []

    async def __call__(self, apps: list[Any]) -> bool:
        self.applied.append(apps)
        return True


async def test_resync_reads_from_the_instance_that_answers(marathon: FakeMarathon,
                                                           tmp_path: Path) -> None:
    app = {"id": "/web", "tasks": [marathon_task("/web", 1, "127.0.0.1", [31000])]}
    marathon.set_apps([app])
    dead = _dead_url()
    lb = LoadBalancer(f"{dead},{marathon.url}", LbOptions(), tmp_path, "/usr/sbin/haproxy")
    recorder = Recorder()
    lb.apply = recorder  # type: ignore[method-assign]
    async with aiohttp.ClientSession() as session:
        lb._session = session
        await lb.resync()
    assert [a["id"] for a in recorder.applied[0]] == ["/web"]
    assert lb.webapp == marathon.url
    assert lb.follower.endpoints is lb.webapps  # the stream moves with the reads


async def test_with_no_instance_answering_nothing_is_applied(tmp_path: Path) -> None:
    lb = LoadBalancer([_dead_url(), _dead_url()], LbOptions(), tmp_path, "/usr/sbin/haproxy")
    recorder = Recorder()
    lb.apply = recorder  # type: ignore[method-assign]
    async with aiohttp.ClientSession() as session:
        lb._session = session
        with pytest.raises(RuntimeError, match="no webapp instance answered"):
            await lb.resync()
    assert recorder.applied == []


def test_the_webapp_flag_takes_a_list_and_refuses_a_bad_entry(
        capsys: pytest.CaptureFixture[str]) -> None:
    a = parse_args(["--webapp", "http://a:8080/,http://b:8080"], environ={})
    assert a.webapp == "http://a:8080,http://b:8080"
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--webapp", "http://a:8080,b:8080"], environ={})
    assert exit_info.value.code == 2
    assert "bad webapp URL 'b:8080'" in capsys.readouterr().err
