"""Compatibility: a real pymesos 0.3.15 executor (MesosExecutorDriver) runs as a custom
executor on a dcos-py agent, unchanged: it subscribes (SUBSCRIBED passes pymesos' dict-equality
asserts), gets LAUNCH events, and its TASK_RUNNING/TASK_FINISHED updates (sent without an
agent_id) reach a pymesos scheduler with agent_id and uuid; its framework messages arrive too.
pymesos cannot send the executor's token (no way to add a header to its calls): the agent
takes it from the environment of the local process at the other end of the connection."""

import base64
import subprocess
from pathlib import Path

import orjson
import pytest

from dcos.testing import ProcessCluster, get_json

ROOT = Path(__file__).resolve().parents[2]
COMPAT_PY = ROOT / ".venv-compat" / "bin" / "python"

pytestmark = pytest.mark.integration


def test_pymesos_executor_runs_unchanged(tmp_path):
    assert COMPAT_PY.exists(), "the pymesos venv is missing: run tests/compat/install_pymesos.sh"
    cluster = ProcessCluster(tmp_path, agents=1, master_flags=["--allocation-interval", "0.2"])
    try:
        cluster.start()
        out = subprocess.run(
            [str(COMPAT_PY), str(Path(__file__).with_name("pymesos_executor_scheduler.py")),
             cluster.master],
            capture_output=True, timeout=90, check=False,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr.decode()[-3000:]
        seen = orjson.loads(out.stdout.splitlines()[-1])
        stimuli = get_json(f"http://127.0.0.1:{cluster.agent_ports[0]}/debug/stimuli?limit=1000")
    finally:
        cluster.stop()
    assert seen["ok"], seen
    for task in ("pm-1", "pm-2"):
        states = [u["state"] for u in seen["updates"] if u["task"] == task]
        assert states == ["TASK_RUNNING", "TASK_FINISHED"], seen
    for u in seen["updates"]:
        assert u["agent"] and u["executor"] == "pymesos-exec", u
        assert len(base64.b64decode(u["uuid"])) == 16 and u["source"] == "SOURCE_EXECUTOR"
    assert sorted(m["data"] for m in seen["messages"]) == ["hello from pm-1", "hello from pm-2"]
    assert all(m["executor"] == "pymesos-exec" and m["agent"] for m in seen["messages"])
    # pymesos sends no Authorization header: the agent found the executor's token in the
    # environment of the process at the other end of each connection (never shown)
    calls = [e["event"] for e in stimuli["entries"]  # type: ignore[index]
             if e["event"]["type"] in ("ExecutorSubscribe", "ExecutorUpdate", "ExecutorMessage")]
    assert {c["type"] for c in calls} == {"ExecutorSubscribe", "ExecutorUpdate", "ExecutorMessage"}
    assert all(c["token"] == "<hidden>" for c in calls), calls
