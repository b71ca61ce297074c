"""Compatibility: the real pymesos 0.3.15 client finds the leading master through ZooKeeper.

Our masters publish themselves as Mesos does (`dcos.state.election.ZooKeeperLeaderElector`:
ephemeral sequential ``json.info_<seq>`` znodes with the MasterInfo JSON); pymesos' own
`MasterDetector` (kazoo, min(children), data watch) runs unchanged in the compat venv
(`.venv-compat`, built by install_pymesos.sh) against a real ZooKeeper and must report the
leader's address, then the next leader after the first one's session ends, then no master.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from dcos.state.election import ZooKeeperLeaderElector
from dcos.state.leader import MasterInfo
from dcos.state.zk import new_client, parse_zk_url, start_client, stop_client

ROOT = Path(__file__).resolve().parents[2]
COMPAT_PY = ROOT / ".venv-compat" / "bin" / "python"
WAIT = 30.0


def info(i: int) -> MasterInfo:
    return MasterInfo(id=f"m{i}", ip=f"127.0.0.{i + 1}", port=5050 + i, hostname=f"h{i}", version="1.11.0")


async def next_line(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), WAIT)
    assert line, f"pymesos detector exited ({await proc.wait()}): {await stderr_of(proc)}"
    return line.decode().strip()


async def stderr_of(proc: asyncio.subprocess.Process) -> str:
    assert proc.stderr is not None
    return (await proc.stderr.read()).decode()[-3000:]


async def test_pymesos_detector_follows_our_leader(zk_url: str) -> None:
    assert COMPAT_PY.exists(), "the pymesos venv is missing: run tests/compat/install_pymesos.sh"
    path = parse_zk_url(zk_url).path
    clients = [new_client(zk_url, session_timeout=4.0) for _ in range(2)]
    for c in clients:
        await start_client(c)
    electors = [ZooKeeperLeaderElector(c, path, info(i)) for i, c in enumerate(clients)]
    # m0 leads before pymesos looks (its detector gives up for good on a missing path)
    await asyncio.wait_for(electors[0].campaign(), WAIT)
    proc = await asyncio.create_subprocess_exec(
        str(COMPAT_PY), str(Path(__file__).with_name("pymesos_detector.py")), zk_url,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        second = asyncio.ensure_future(electors[1].campaign())
        assert await next_line(proc) == "MASTER 127.0.0.1:5050"
        await stop_client(clients[0])  # the leader's session ends: m1 leads
        await asyncio.wait_for(second, WAIT)
        assert await next_line(proc) == "MASTER 127.0.0.2:5051"
        await electors[1].withdraw()
        assert await next_line(proc) == "NONE"
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), WAIT)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        for c in clients:
            await stop_client(c)
