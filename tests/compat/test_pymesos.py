"""Compatibility: the real pymesos 0.3.15 client (a third-party Mesos framework library)
drives dcos-py's master unchanged: subscribe, offers, launch, status updates with uuids and
acknowledgements, kill without an agent id, explicit reconciliation.

The client lives in its own venv (`.venv-compat`, built by install_pymesos.sh, which `make
test` runs); the test fails if it is missing.
"""

import base64
import subprocess
from pathlib import Path

import orjson
import pytest

from dcos.testing import ProcessCluster

ROOT = Path(__file__).resolve().parents[2]
COMPAT_PY = ROOT / ".venv-compat" / "bin" / "python"

pytestmark = pytest.mark.integration


def test_pymesos_scheduler_runs_unchanged(tmp_path):
    cluster = ProcessCluster(tmp_path, agents=2, master_flags=["--allocation-interval", "0.2"])
    check_pymesos_run(cluster)


def test_pymesos_scheduler_finds_the_leader_through_zookeeper(tmp_path, zk_url):
    """Three masters on ZooKeeper: pymesos is given the ``zk://`` URL, as a Mesos user would,
    and its own detector (kazoo, ``json.info_`` znodes) leads it to the leading master."""
    cluster = ProcessCluster(tmp_path, agents=2, masters=3, zk=zk_url,
                             master_flags=["--allocation-interval", "0.2"])  # fmt: skip
    assert zk_url.startswith("zk://")
    check_pymesos_run(cluster, master=zk_url)


def check_pymesos_run(cluster: ProcessCluster, master: str | None = None) -> None:
    """Run tests/compat/pymesos_scheduler.py against `cluster` (its master, or `master`)."""
    assert COMPAT_PY.exists(), "the pymesos venv is missing: run tests/compat/install_pymesos.sh"
    try:
        cluster.start()
        out = subprocess.run(
            [str(COMPAT_PY), str(Path(__file__).with_name("pymesos_scheduler.py")),
             master or cluster.master, "6"],
            capture_output=True, timeout=120, check=False,
        )
        assert out.returncode == 0, out.stderr.decode()[-3000:]
        seen = orjson.loads(out.stdout.splitlines()[-1])
    finally:
        cluster.stop()
    assert seen["ok"], seen
    assert seen["registered"]
    normal = [u for u in seen["updates"] if u["reason"] != "REASON_RECONCILIATION"]
    for u in normal:
        assert u["agent"], u
        assert len(base64.b64decode(u["uuid"])) == 16
    assert sum(u["state"] == "TASK_FINISHED" for u in normal) == 6
    assert any(u["state"] == "TASK_KILLED" for u in normal)
    recon = [u for u in seen["updates"] if u["reason"] == "REASON_RECONCILIATION"]
    assert len(recon) == 1
    assert recon[0]["uuid"] is None and recon[0]["state"] == "TASK_RUNNING"
