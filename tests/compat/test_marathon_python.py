"""Compatibility: the real marathon-python 0.13.0 client drives the webapp framework
unchanged (its strict models reject any key they do not know, so this also checks our JSON
shapes). The client lives in .venv-compat (tests/compat/install_marathon.sh, run by `make test`)."""

import subprocess
from pathlib import Path

import orjson
import pytest

from dcos.testing import ProcessCluster
from tests.integration.test_webapp import Webapp
from tests.integration.test_webapp_ha import Webapp as HaWebapp

ROOT = Path(__file__).resolve().parents[2]
COMPAT_PY = ROOT / ".venv-compat" / "bin" / "python"

pytestmark = pytest.mark.integration


def check_client_installed() -> None:
    assert COMPAT_PY.exists(), "the compat venv is missing: run tests/compat/install_marathon.sh"
    ok = subprocess.run([str(COMPAT_PY), "-c", "import collections, collections.abc;"
                         "collections.Iterable = collections.abc.Iterable; import marathon"],
                        capture_output=True, check=False)  # fmt: skip
    assert ok.returncode == 0, "marathon-python is missing: run tests/compat/install_marathon.sh"


def run_client(cluster: ProcessCluster, url: str, log: str) -> dict:
    """tests/compat/marathon_client.py against `url`; what it saw."""
    out = subprocess.run(
        [str(COMPAT_PY), str(Path(__file__).with_name("marathon_client.py")), url],
        capture_output=True, timeout=150, check=False,
    )
    assert out.returncode == 0, out.stderr.decode()[-3000:] + cluster.log_tail(log)
    return orjson.loads(out.stdout.splitlines()[-1])


def test_marathon_python_client_runs_unchanged(tmp_path):
    check_client_installed()
    cluster = ProcessCluster(tmp_path, agents=2, master_flags=["--allocation-interval", "0.1"])
    try:
        cluster.start()
        w = Webapp(cluster)
        w.start()
        seen = run_client(cluster, w.url, "webapp")
    finally:
        cluster.stop()
    check_seen(seen)


def test_marathon_python_through_a_follower_instance(tmp_path, zk_url):
    """Two webapp instances on ZooKeeper; the client is pointed at the follower, which
    proxies every call (and the event stream) to the leader as Marathon does."""
    check_client_installed()
    cluster = ProcessCluster(tmp_path, agents=2, master_flags=["--allocation-interval", "0.1"])
    try:
        cluster.start()
        leader, follower = HaWebapp(cluster, zk_url, 0), HaWebapp(cluster, zk_url, 1)
        leader.start()
        cluster.wait_for(lambda: leader.info().get("frameworkId"), "webapp-0 leads")
        follower.start()
        cluster.wait_for(lambda: follower.leader() == leader.host_port, "the follower knows")
        seen = run_client(cluster, follower.url, "webapp-1")
        assert follower.info()["elected"] is False
    finally:
        cluster.stop()
    check_seen(seen)


def check_seen(seen: dict) -> None:
    assert seen["ping"] and seen["created"] and seen["info"]
    assert seen["deployments_after_create"] == 1
    assert "/compat-app" in seen["listed"]
    assert seen["tasks"] == 2 and seen["task_fields"] == [True, True]
    assert seen["after_kill"] == 2
    assert seen["queue"] == 0
    assert seen["versions"] >= 3
    assert seen["events"] and seen["events"][0] == "MarathonEventStreamAttached"
