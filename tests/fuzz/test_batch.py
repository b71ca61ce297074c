"""Fuzz of the batch engine's other HTTP servers: an executor's shuffle server
(``GET /shuffle/{shuffle}/{reduce}?maps=...``, which reads slices of shuffle files by the
numbers it is given) and a driver's job web UI (``/``, ``/api/jobs``, ``/health``).

Both run in-process (`BatchExecutor._start_server` with real shuffle outputs stored,
`start_webui` with a sample snapshot). No request may get a 5xx or hang; both still serve a
normal request afterwards, and the shuffle server never reads outside its blocks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from frameworks.batch.cluster.executor import BatchExecutor
from frameworks.batch.cluster.webui import start_webui
from tests.fuzz.harness import Guard, ServerLoop, fuzz, send
from tests.fuzz.strategies import query_values

BLOCKS = {0: b"zero", 1: b"", 2: b"two-two", 3: b"3"}


@pytest.fixture(scope="module")
def shuffle_port(srv: ServerLoop, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    ex = BatchExecutor("fz-ex", "127.0.0.1:1", "127.0.0.1", 1, tmp_path_factory.mktemp("fz-ex"))
    for shuffle, part in ((0, 0), (0, 1), (7, 0)):
        ex.storage.write_shuffle(shuffle, part, BLOCKS)
    srv.run(ex._start_server())
    yield int(ex.address.rsplit(":", 1)[1])
    srv.run(ex.close())


def test_shuffle_server(shuffle_port: int) -> None:
    guard = Guard("batch executor /shuffle")
    small = st.integers(-2, 2).map(str)
    numbers = st.one_of(small, small, small, query_values(),
                        st.sampled_from(["-9223372036854775809", "1" * 30, "0x1", "1_0", " 1",
                                         "٣", "-0", "+1"]))  # fmt: skip
    maps = st.one_of(st.lists(small, max_size=3).map(",".join), query_values(),
                     st.lists(numbers, max_size=6).map(",".join),
                     st.just(",".join(["0", "1"] * 5000)))  # fmt: skip

    @fuzz(300)
    @example(shuffle="0", reduce="-1", maps="0", method="GET")  # was a 500 (negative pread)
    @given(shuffle=numbers, reduce=numbers, maps=maps,
           method=st.sampled_from(["GET"] * 6 + ["POST", "HEAD"]))  # fmt: skip
    def run(shuffle: str, reduce: str, maps: str, method: str) -> None:
        guard.request(shuffle_port, method, f"/shuffle/{shuffle}/{reduce}?maps={maps}")

    run()
    assert send(shuffle_port, "GET", "/shuffle/0/-1?maps=0").status == 400  # was a 500
    assert send(shuffle_port, "GET", "/shuffle/0/-2?maps=0").status == 400  # read block 3
    r = send(shuffle_port, "GET", "/shuffle/0/2?maps=0,1")
    assert r.status == 200 and r.body.count(b"two-two") == 2, r.body[:200]
    assert send(shuffle_port, "GET", "/health").status == 200


def snapshot() -> dict[str, Any]:
    """A job page's data as `ClusterBackend.page_snapshot` builds it (one job tracked)."""
    from frameworks.batch.cluster.jobs import JobTracker

    body = JobTracker("<fz> & 'app'").snapshot(0.0)
    body.update(app_id="app-1", framework_id=None, pending_tasks=0, waiting=None, executors=[
        {"executor_id": "e<1>", "host": "h", "cores": 1, "cpus": 1.0, "address": "a",
         "running_tasks": 0}])  # fmt: skip
    return body


@pytest.fixture(scope="module")
def webui_port(srv: ServerLoop) -> Iterator[int]:
    runner, url = srv.run(start_webui(snapshot, "127.0.0.1", 0))
    yield int(url.rstrip("/").rsplit(":", 1)[1])
    srv.run(runner.cleanup())


def test_job_web_ui(webui_port: int) -> None:
    guard = Guard("batch job web UI")
    assert send(webui_port, "GET", "/").status == 200

    @fuzz(100)
    @given(path=st.sampled_from(["/", "/api/jobs", "/health", "/nope", "/%ff", "/..", "//"]),
           query=query_values(), method=st.sampled_from(["GET", "GET", "POST", "DELETE"]))  # fmt: skip
    def run(path: str, query: str, method: str) -> None:
        guard.request(webui_port, method, f"{path}?q={query}")

    run()
    assert send(webui_port, "GET", "/api/jobs").status == 200
