"""The batch dispatcher through a master failover, on a real ZooKeeper, three real masters
and two agents: the dispatcher (``--master mesos://zk://...``) keeps taking submissions while
the leader is dead, re-subscribes to the new leader with the same framework id, and both the
driver that ran through the failover (Spark's ``mesos://zk://...`` master: its SDK driver
re-subscribes too) and the one submitted during it finish."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from dcos.testing import QUICK_MASTER_FLAGS, ProcessCluster, free_port, get_json, wait_until

pytestmark = pytest.mark.integration

DRIVER = textwrap.dedent("""\
    import sys, time
    from pathlib import Path
    from frameworks.batch import SparkContext

    out, go = Path(sys.argv[1]), Path(sys.argv[2])
    sc = SparkContext(appName=out.name)  # the master comes from the dispatcher
    (out / "first").write_text(f"{sc.parallelize(range(10), 2).sum()} {sc.master}")
    while not go.exists():  # the test kills the leading master meanwhile
        time.sleep(0.1)
    (out / "second").write_text(str(sc.parallelize(range(100), 4).map(lambda x: 2 * x).sum()))
    sc.stop()
""")


@pytest.fixture
def cluster(tmp_path: Path, zk_url: str) -> Iterator[ProcessCluster]:
    c = ProcessCluster(tmp_path / "cluster", agents=2, masters=3, zk=zk_url,
                       zk_session_timeout=2.0, master_flags=QUICK_MASTER_FLAGS)
    try:
        yield c.start()
    finally:
        c.stop()


@pytest.fixture
def dispatcher(tmp_path: Path, cluster: ProcessCluster) -> Iterator[str]:
    port = free_port()
    work = cluster.work_dir / "dispatcher"  # under the cluster: its driver tasks stop with it
    log = tmp_path / "dispatcher.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "frameworks.batch.cluster.dispatcher",
         "--master", "mesos://" + cluster.master, "--work-dir", str(work), "--port", str(port),
         "--log-file", str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _health(url, proc, log), "the dispatcher's API")
        yield url
    finally:
        proc.terminate()
        proc.wait(15)


def _health(url: str, proc: subprocess.Popen[bytes], log: Path) -> bool:
    assert proc.poll() is None, log.read_text() if log.exists() else "dispatcher exited"
    try:
        get_json(url + "/health")
    except OSError:
        return False
    return True


def submit(url: str, out: Path, go: Path) -> dict[str, Any]:
    out.mkdir()
    body = {"script": "driver.py", "script_content": DRIVER, "args": [str(out), str(go)],
            "driver_mem": 256, "name": out.name,
            "conf": {"spark.executor.instances": "1", "spark.executor.memory": "256m"}}
    req = urllib.request.Request(url + "/v1/submissions", data=orjson.dumps(body),
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return orjson.loads(resp.read())


def state(url: str, sid: str) -> str:
    return str(get_json(f"{url}/v1/submissions/{sid}")["state"])  # type: ignore[index]


def dispatcher_framework(cluster: ProcessCluster) -> dict[str, Any] | None:
    frameworks = get_json(cluster.url + "/master/frameworks")["frameworks"]  # type: ignore[index]
    return next((f for f in frameworks if f["name"] == "batch-dispatcher"), None)


def test_the_dispatcher_and_its_drivers_survive_a_master_failover(
        tmp_path: Path, cluster: ProcessCluster, dispatcher: str) -> None:
    go = tmp_path / "go"
    first = submit(dispatcher, tmp_path / "before", go)
    wait_until(lambda: (tmp_path / "before" / "first").exists(), "the first driver's first job",
               timeout=90)
    assert (tmp_path / "before" / "first").read_text() == f"45 mesos://{cluster.master}"
    framework = dispatcher_framework(cluster)
    assert framework is not None and framework["active"]

    old = cluster.wait_leader()
    cluster.kill_master(old)
    second = submit(dispatcher, tmp_path / "during", tmp_path / "during" / "first")  # no leader yet
    assert second["state"] == "QUEUED"
    go.touch()  # the first driver runs its second job through the failover
    new = cluster.wait_leader(exclude={old})

    wait_until(lambda: state(dispatcher, first["id"]) == "FINISHED", "the first driver finished",
               timeout=120)
    wait_until(lambda: state(dispatcher, second["id"]) == "FINISHED",
               "the driver submitted during the failover finished", timeout=120)
    assert (tmp_path / "before" / "second").read_text() == "9900"
    assert (tmp_path / "during" / "second").read_text() == "9900"
    assert cluster.leader_index() == new
    again = dispatcher_framework(cluster)
    assert again is not None and again["active"] and again["id"] == framework["id"]
