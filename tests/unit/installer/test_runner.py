"""runner.for_each_host with a fake connect: per-host results, isolation of failures, the
parallelism limit and the per-host logs; preflight() driving the real probe through a fake
session that runs commands on this machine."""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

from rich.console import Console

from dcos.installer import preflight as pf
from dcos.installer.config import ClusterConfig, HostSpec, parse
from dcos.installer.progress import QuietProgress, RichProgress, make_progress
from dcos.installer.runner import HostLog, for_each_host, log_path
from dcos.installer.ssh import Completed, HostError


def make_cfg(tmp_path: Path, parallelism: int = 10) -> ClusterConfig:
    raw = {"cluster_name": "t", "master_list": ["127.0.0.1"],
           "agent_list": ["10.0.0.21", "10.0.0.22", "10.0.0.23"], "ssh_key_path": "/k",
           "ssh_parallelism": parallelism}
    return parse(raw, tmp_path / "cluster.yaml", check_key_file=False)


class FakeSession:
    """Runs commands with /bin/sh on this machine (the 'host' is this machine)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.closed = False

    async def __aenter__(self) -> FakeSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.closed = True

    async def run(self, cmd: str, *, input: str | None = None, timeout: float = 600,
                  check: bool = True) -> Completed:
        p = await asyncio.to_thread(subprocess.run, ["/bin/sh", "-c", cmd], input=input,
                                    capture_output=True, text=True, timeout=timeout)
        return Completed(p.returncode, p.stdout, p.stderr)

    async def put(self, local: Path, remote: PurePosixPath) -> None:
        raise NotImplementedError

    async def put_text(self, text: str, remote: PurePosixPath, mode: int = 0o644) -> None:
        raise NotImplementedError


def fake_connect(unreachable: set[str], sessions: list[FakeSession]) -> Any:
    async def connect(cfg: ClusterConfig, address: str, *, timeout: float = 10) -> FakeSession:
        await asyncio.sleep(0)
        if address in unreachable:
            raise HostError(f"unreachable: connection refused ({address}:22)")
        s = FakeSession(address)
        sessions.append(s)
        return s
    return connect


async def test_one_hosts_failure_never_stops_the_others(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)
    hosts = cfg.hosts()
    lines: list[str] = []
    sessions: list[FakeSession] = []

    async def work(session: Any, host: HostSpec, log: HostLog) -> str:
        log(f"working on {host.address}\nsecond line")
        if host.address == "10.0.0.22":
            raise RuntimeError("boom\nwith a second line")
        if host.address == "10.0.0.23":
            raise HostError("`pip install x` exited 1: no space left")
        return f"done {host.role}"

    results = await for_each_host(cfg, hosts, "deploy", work, progress=QuietProgress(lines.append),
                                  connect=fake_connect({"10.0.0.21"}, sessions))
    assert [(r.address, r.ok, r.detail) for r in results] == [
        ("127.0.0.1", True, "done master"),
        ("10.0.0.21", False, "unreachable: connection refused (10.0.0.21:22)"),
        ("10.0.0.22", False, "RuntimeError: boom with a second line"),
        ("10.0.0.23", False, "`pip install x` exited 1: no space left"),
    ]
    assert all(s.closed for s in sessions) and len(sessions) == 3
    assert lines[0] == "[deploy] 4 host(s): 127.0.0.1, 10.0.0.21, 10.0.0.22, 10.0.0.23"
    assert "[deploy] 127.0.0.1: ok done master" in lines
    assert "[deploy] 10.0.0.21: FAILED unreachable: connection refused (10.0.0.21:22)" in lines

    log = log_path(cfg, "10.0.0.22")
    assert log == tmp_path / "genconf" / "logs" / "10.0.0.22.log"
    text = log.read_text().splitlines()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00 deploy "
    assert all(re.match(stamp, ln) for ln in text)
    assert any(ln.endswith("deploy working on 10.0.0.22") for ln in text)
    assert any(ln.endswith("deploy second line") for ln in text)
    assert any("Traceback" in ln for ln in text)  # unexpected errors keep their traceback
    assert text[-1].endswith("deploy: FAILED: RuntimeError: boom with a second line")


async def test_logs_are_appended_across_steps(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)

    async def work(session: Any, host: HostSpec, log: HostLog) -> str:
        log("hello")
        return ""

    for step in ("preflight", "deploy"):
        await for_each_host(cfg, cfg.hosts()[:1], step, work,
                            progress=QuietProgress(lambda _: None),
                            connect=fake_connect(set(), []))
    text = log_path(cfg, "127.0.0.1").read_text()
    assert " preflight hello\n" in text and " deploy hello\n" in text
    assert text.index("preflight hello") < text.index("deploy hello")


async def test_at_most_ssh_parallelism_hosts_at_once(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, parallelism=2)
    running = 0
    peak = 0

    async def work(session: Any, host: HostSpec, log: HostLog) -> str:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        return "ok"

    results = await for_each_host(cfg, cfg.hosts(), "x", work,
                                  progress=QuietProgress(lambda _: None),
                                  connect=fake_connect(set(), []))
    assert all(r.ok for r in results) and peak == 2


async def test_preflight_runs_the_real_probe_and_judges_it(tmp_path: Path) -> None:
    """The probe runs on this machine through the fake session (as a real host would run it
    over SSH); this machine is the master 127.0.0.1; 10.0.0.21 is unreachable."""
    cfg = parse({"cluster_name": "t", "master_list": ["127.0.0.1"], "agent_list": ["10.0.0.21"],
                 "ssh_key_path": "/k", "zookeeper": {"external": ["127.0.0.1:2181"]}},
                tmp_path / "cluster.yaml", check_key_file=False)
    lines: list[str] = []
    results = await pf.preflight(cfg, cfg.hosts(), None, QuietProgress(lines.append),
                                 connect=fake_connect({"10.0.0.21"}, []))
    by = {r.address: r for r in results}
    master = {c.check: c for c in by["127.0.0.1"].checks}
    assert list(master) == ["ssh", "python", "ports", "cgroups", "disk", "memory", "clock",
                            "version"]
    for name in ("ssh", "python", "disk", "memory", "clock"):
        assert master[name].ok, master[name]
    assert [(c.check, c.ok, c.detail) for c in by["10.0.0.21"].checks] == [
        ("ssh", False, "unreachable: connection refused (10.0.0.21:22)")]
    assert not by["10.0.0.21"].ok
    assert "probe result:" in log_path(cfg, "127.0.0.1").read_text()
    assert "[preflight] 10.0.0.21: FAILED unreachable: connection refused (10.0.0.21:22)" in lines


def test_rich_progress_shows_a_bar_per_host_and_how_it_ended() -> None:
    out = io.StringIO()
    p = RichProgress(Console(file=out, width=120, force_terminal=False))
    p.begin("deploy", ["10.0.0.21", "10.0.0.22"])
    p.update("10.0.0.21", "copying wheels", 0.5)
    p.update("10.0.0.22", "pip install\nsecond line")
    p.update("10.0.0.99", "not a host of the step: ignored")
    p.finish("10.0.0.21", True, "installed build b-1")
    p.finish("10.0.0.22", False, "`pip install` exited 1")
    p.end()
    text = out.getvalue()
    assert "deploy" in text and "ok installed build b-1" in text
    assert "FAILED `pip install` exited 1" in text and "10.0.0.99" not in text
    assert isinstance(make_progress(quiet=True), QuietProgress)
