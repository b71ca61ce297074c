"""Fixtures of the fuzz suite, and a summary of how many requests each fuzz test sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fuzz.envs import ClusterEnv, cluster_env
from tests.fuzz.harness import STATS, ServerLoop


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterEnv]:
    """A master, an agent, a framework and its running task (`tests.fuzz.envs`), per module."""
    yield from cluster_env(str(tmp_path_factory.mktemp("fuzz-cluster")))


@pytest.fixture(scope="module")
def srv() -> Iterator[ServerLoop]:
    """An event loop in a thread for the servers a fuzz module starts in-process, per module."""
    loop = ServerLoop()
    try:
        yield loop
    finally:
        loop.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not STATS:
        return
    terminalreporter.section("fuzz: requests per API (answers by status)")
    for name, counts in STATS.items():
        total = sum(counts.values())
        by = ", ".join(f"{s}: {n}" for s, n in sorted(counts.items()))
        terminalreporter.write_line(f"{name}: {total} ({by})")
