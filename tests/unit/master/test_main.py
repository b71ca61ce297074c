"""`python -m dcos.master`: flags, the listening log line, clean exit on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from dcos.master.__main__ import parse_args


def test_defaults_and_flags():
    c = parse_args([])
    assert (c.ip, c.port, c.work_dir) == ("127.0.0.1", 5050, "./work-dir/master")
    assert (c.agent_ping_timeout, c.max_agent_ping_timeouts, c.offer_timeout) == (15.0, 5, None)
    assert (c.allocation_interval, c.heartbeat_interval) == (1.0, 15.0)
    c = parse_args(
        [
            "--ip",
            "0.0.0.0",
            "--port",
            "6060",
            "--hostname",
            "m1",
            "--work-dir",
            "/w",
            "--agent-ping-timeout",
            "2",
            "--max-agent-ping-timeouts",
            "3",
            "--offer-timeout",
            "30",
            "--allocation-interval",
            "0.5",
            "--heartbeat-interval",
            "5",
            "--log-level",
            "DEBUG",
        ]
    )
    assert (c.ip, c.port, c.advertised_hostname, c.work_dir) == ("0.0.0.0", 6060, "m1", "/w")
    assert (c.agent_ping_timeout, c.max_agent_ping_timeouts, c.offer_timeout) == (2, 3, 30)
    assert (c.allocation_interval, c.heartbeat_interval, c.log_level) == (0.5, 5, "DEBUG")


def test_bad_flag_exits_with_usage():
    with pytest.raises(SystemExit):
        parse_args(["--port", "nope"])
    with pytest.raises(SystemExit):
        parse_args(["--allocation-interval", "0"])


def test_serves_and_stops_cleanly_on_sigterm(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "dcos.master", "--port", "0", "--work-dir", str(tmp_path)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        for line in proc.stderr:
            if "master listening on http://127.0.0.1:" in line:
                break
        else:
            pytest.fail("master never said it was listening")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert os.path.exists(tmp_path / "state.db")
