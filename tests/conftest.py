"""Fixtures shared by every test directory, and the suite-end check that no test left a
process running.

Every process the suite starts carries `RUN_MARKER` (one id per pytest session) in its
environment, inherited from this process, and `TEST_MARKER`, the node id of the test that was
running when it started. When the session ends, `pytest_sessionfinish` looks for processes still
running that are descendants of pytest or carry this session's marker (orphans are reparented to
init, so only the marker finds them); it gives them a few seconds to finish exiting, then kills
them, lists them with their command lines and the tests that started them, and fails the session.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Generator

import pytest

from dcos.common.clock import SimClock
from dcos.testing.zookeeper import ZooKeeperServer
from tests.leak_check import LEAK_GRACE_S, RUN_MARKER, TEST_MARKER, Leak, find_leaks, kill_leaks

_RUN_ID = uuid.uuid4().hex
os.environ[RUN_MARKER] = _RUN_ID  # at import: before any fixture or test starts a process
_leaks: list[Leak] = []


@pytest.fixture
async def autojump_clock() -> AsyncIterator[SimClock]:
    """A `SimClock` in autojump mode: time jumps to the next timer whenever every task on the
    loop waits, so ``await clock.sleep(s)`` lets everything settle and then `s` simulated
    seconds pass. Its watcher task ends with the test."""
    clock = SimClock(autojump=True)
    yield clock
    clock.stop_autojump()


@pytest.fixture(scope="session")
def zk_server(tmp_path_factory: pytest.TempPathFactory) -> Generator[ZooKeeperServer, None, None]:
    """One real ZooKeeper server (Debian package ``zookeeper``) on 127.0.0.1 for the whole
    session, stopped at its end. A missing ZooKeeper is an error (ZooKeeperMissing), never a
    skip: ``scripts/install-system-deps.sh`` installs it."""
    server = ZooKeeperServer(tmp_path_factory.mktemp("zookeeper")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def zk_url(zk_server: ZooKeeperServer) -> str:
    """A ``zk://127.0.0.1:<port>/t<uuid>`` URL on the session's server, with a path no other
    test uses (tests share the server, never their znodes)."""
    return zk_server.url(f"/t{uuid.uuid4().hex}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    """Mark the processes each test starts (setup, call and teardown) with its node id."""
    os.environ[TEST_MARKER] = item.nodeid
    try:
        yield
    finally:
        os.environ.pop(TEST_MARKER, None)


@pytest.hookimpl(trylast=True)  # after the session fixtures are torn down
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session when a process it started is still running (they are killed)."""
    leaks = find_leaks(RUN_MARKER, _RUN_ID, TEST_MARKER, grace_s=LEAK_GRACE_S)
    if not leaks:
        return
    kill_leaks(leaks)
    _leaks.extend(leaks)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """List the processes `pytest_sessionfinish` found still running."""
    if not _leaks:
        return
    tr = terminalreporter
    tr.write_sep("=", f"{len(_leaks)} process(es) left running by the tests (killed)", red=True)
    for leak in _leaks:
        tr.write_line(f"pid {leak.pid} started by {leak.test or '?'}: {leak.cmdline}")
