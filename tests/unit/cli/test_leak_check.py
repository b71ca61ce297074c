"""The suite-end check (`tests/leak_check.py`, run by `tests/conftest.py`): it finds a process
a test left running, even one orphaned and reparented to init, names the test that started it,
and kills it; the session's own marker is in every child's environment."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import psutil

from dcos.testing import pid_alive, wait_until
from tests.leak_check import RUN_MARKER, TEST_MARKER, find_leaks, kill_leaks, session_processes

# Starts a grandchild in its own session and exits at once: the grandchild is an orphan.
ORPHAN_MAKER = r"""
import subprocess, sys
p = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"],
                     start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(p.pid, flush=True)
"""


def test_markers_are_in_the_environment_of_what_tests_start() -> None:
    assert os.environ[RUN_MARKER]
    assert os.environ[TEST_MARKER].endswith("test_markers_are_in_the_environment_of_what_tests_start")


def test_an_orphan_with_the_marker_is_found_named_and_killed() -> None:
    marker, run_id = "DCOS_PY_LEAK_CHECK_TEST", uuid.uuid4().hex
    env = {**os.environ, marker: run_id, "DCOS_PY_LEAK_CHECK_TEST_ID": "tests/x.py::test_y"}
    out = subprocess.run([sys.executable, "-c", ORPHAN_MAKER], env=env, capture_output=True,
                         text=True, check=True, timeout=30)
    orphan = int(out.stdout)
    try:
        wait_until(lambda: pid_alive(orphan), "the orphan to run")
        assert orphan not in [p.pid for p in psutil.Process().children(recursive=True)]
        leaks = find_leaks(marker, run_id, "DCOS_PY_LEAK_CHECK_TEST_ID", grace_s=0.2)
        mine = [leak for leak in leaks if leak.pid == orphan]
        assert len(mine) == 1, leaks
        assert mine[0].test == "tests/x.py::test_y"
        assert "signal.pause()" in mine[0].cmdline
        kill_leaks(mine)
        wait_until(lambda: not pid_alive(orphan), "the orphan to be killed", timeout=10)
    finally:
        if pid_alive(orphan):
            os.kill(orphan, 9)
    assert [leak for leak in session_processes(marker, run_id, "x") if leak.pid == orphan] == []

