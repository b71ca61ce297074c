"""A real master and a real agent started with ``--security-dir``: the agent's API over HTTPS
refuses anonymous callers (401, plain text) but keeps ``/health`` open; a task without a
user runs as ``nobody`` in a sandbox owned by nobody, with its secret (env and a 0400 file)
resolved from the master and never written to the agent's log, checkpoint or ``/state``; a
hard-linked file is not served by the files API; an under-privileged user sees neither the
sandbox nor the task; an unknown task user fails the task with a clear message."""

from __future__ import annotations

import http.client
import json
import os
import pwd
import shutil
import signal
import ssl
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dcos.sdk import SchedulerDriver
from dcos.sdk import task_info as build_task_info
from dcos.sdk.offers import OfferPacker
from dcos.security.acls import default_acls
from dcos.security.layout import SecurityDir, init_security_dir
from dcos.security.tls import ca_client_context, client_context
from dcos.testing import RecordingScheduler, async_wait_until
from dcos.testing.processes import free_port, kill_sandbox_processes

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ADMIN_PW = "admin-pw-agent-sec"
VIEWER_PW = "viewer-pw-agent-sec"
SECRET_VALUE = "s3cr3t-agent-VALUE"
NAMES = {"master": "component", "agent": "agent", "webapp": "component"}
NOBODY = pwd.getpwnam("nobody")


@dataclass
class Cluster:
    sd: SecurityDir
    root: Path  # 0755: nobody reaches the agent's sandboxes under it
    master_port: int
    agent_port: int
    procs: dict[str, subprocess.Popen[bytes]]
    admin: str = ""  # the admin's token

    @property
    def master_url(self) -> str:
        return f"https://127.0.0.1:{self.master_port}"

    def call(self, port: int, method: str, path: str, body: Any = None, *,
             token: str | None = None, cert: str | None = None,
             context: ssl.SSLContext | None = None) -> tuple[int, Any, Any]:  # fmt: skip
        """(status, JSON or text, headers) over HTTPS, as `token`'s owner or `cert`."""
        ctx = context or client_context(self.sd, cert)
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"token={token}"
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body).encode(),
                         headers=headers)  # fmt: skip
            resp = conn.getresponse()
            payload = resp.read()
        finally:
            conn.close()
        try:
            return resp.status, json.loads(payload) if payload else None, resp.headers
        except ValueError:
            return resp.status, payload.decode("utf-8", "replace"), resp.headers

    def agent(self, path: str, token: str | None = None, **kw: Any) -> tuple[int, Any, Any]:
        return self.call(self.agent_port, "GET", path, token=token, **kw)

    def master(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any, Any]:
        return self.call(self.master_port, method, path, body, **kw)

    def login(self, uid: str, password: str) -> str:
        status, body, _ = self.master("POST", "/acs/api/v1/auth/login",
                                      {"uid": uid, "password": password})  # fmt: skip
        assert status == 200, body
        return str(body["token"])


def _spawn(root: Path, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *argv], stdout=open(root / f"{name}.out", "wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def _wait(what: str, cond: Any, procs: dict[str, subprocess.Popen[bytes]], root: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if cond():
                return
        except OSError:
            pass
        for name, proc in procs.items():
            assert proc.poll() is None, (root / f"{name}.out").read_text()[-3000:]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="dcos-agent-sec-"))
    os.chmod(root, 0o755)
    sd = init_security_dir(root / "security", names=NAMES, admin_password=ADMIN_PW)
    # the defaults, with more users components may run tasks as: one this host lacks, and
    # root for the SDK executor (this host's Python is out of nobody's reach: findings13.md)
    acls = default_acls(admins=["admin"], components=sorted(NAMES),
                        task_users=["nobody", "no-such-user-x", "root"])  # fmt: skip
    sd.acls.write_text(json.dumps(acls))
    c = Cluster(sd, root, free_port(), free_port(), {})
    try:
        c.procs["master"] = _spawn(root, "master", [
            "-m", "dcos.master", "--ip", "127.0.0.1", "--port", str(c.master_port),
            "--work-dir", str(root / "master"), "--allocation-interval", "0.2",
            "--security-dir", str(sd.root)])  # fmt: skip
        _wait("the master", lambda: c.master("GET", "/health")[0] == 200, c.procs, root)
        c.procs["agent"] = _spawn(root, "agent", [
            "-m", "dcos.agent", "--master", c.master_url, "--ip", "127.0.0.1",
            "--port", str(c.agent_port), "--work-dir", str(root / "agent"),
            "--resources", "cpus:2;mem:1024;disk:1024;ports:[33000-33099]",
            "--log-file", str(root / "agent.log"), "--isolation", "posix/cpu,posix/mem",
            "--security-dir", str(sd.root)])  # fmt: skip
        c.admin = c.login("admin", ADMIN_PW)

        def registered() -> bool:
            status, body, _ = c.master("GET", "/master/slaves", token=c.admin)
            return status == 200 and len(body["slaves"]) == 1

        _wait("the agent to register", registered, c.procs, root)
        status, body, _ = c.master("PUT", "/secrets/v1/secret/default/team/db",
                                   {"value": SECRET_VALUE}, token=c.admin)  # fmt: skip
        assert status == 201, body
        status, body, _ = c.master("PUT", "/acs/api/v1/users/viewer",
                                   {"password": VIEWER_PW, "description": "no ACLs"},
                                   token=c.admin)  # fmt: skip
        assert status == 201, body
        yield c
    finally:
        for proc in c.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGUSR1 if proc is c.procs.get("agent")
                          else signal.SIGTERM)  # fmt: skip
        for proc in c.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        kill_sandbox_processes(root / "agent")
        shutil.rmtree(root, ignore_errors=True)


class TaskScheduler(RecordingScheduler):
    """Launches the TaskInfos `make(task_id, agent_id, resources)` returns, one per id."""

    def __init__(self) -> None:
        super().__init__("cpus:0.1;mem:32")
        self.infos: list[tuple[str, Any]] = []

    def add(self, task_id: str, make: Any) -> str:
        self.infos.append((task_id, make))
        return task_id

    async def resource_offers(self, driver: Any, offers: list[Any]) -> None:
        for offer in offers:
            packer = OfferPacker(offer)
            tasks = []
            while self.infos and (fit := packer.take(self.needs)).ok:
                tid, make = self.infos.pop(0)
                tasks.append(make(tid, offer.agent_id, fit.resources))
            if tasks:
                await driver.launch([offer], tasks, refuse_seconds=0.5)
            else:
                await driver.decline([offer], refuse_seconds=0.5)


SECRET_REF = {"type": "REFERENCE", "reference": {"name": "team/db"}}


def secret_task(tid: str, agent_id: str, resources: Any) -> Any:
    info = build_task_info(
        name=tid, task_id=tid, agent_id=agent_id, resources=resources,
        command="id -u > uid; echo \"$USER $HOME\" > who; printf %s \"$PW\" > pw_env; cat pw.txt > pw_copy; "
                "echo linked > a; ln a b; touch done; sleep 60",
        container={"type": "MESOS", "volumes": [
            {"container_path": "pw.txt", "mode": "RO",
             "source": {"type": "SECRET", "secret": SECRET_REF}}]},
    )  # fmt: skip
    info["command"].setdefault("environment", {"variables": []})["variables"].append(
        {"name": "PW", "type": "SECRET", "secret": SECRET_REF})
    return info


EXECUTOR_SCRIPT = Path(__file__).with_name("shell_executor.py")


def executor_task(tid: str, agent_id: str, resources: Any) -> Any:
    """A task for the SDK's shell executor, which must reach the agent over HTTPS with the
    CA the agent names in its environment (DCOS_CA_FILE)."""
    executor = {"executor_id": {"value": "shell"}, "name": "shell executor",
                "command": {"value": f"{sys.executable} {EXECUTOR_SCRIPT}", "user": "root"},
                "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.05}},
                              {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}}]}
    return build_task_info(name=tid, task_id=tid, agent_id=agent_id, resources=resources,
                           executor=executor, data=b"test -n \"$DCOS_CA_FILE\"")  # fmt: skip


def unknown_user_task(tid: str, agent_id: str, resources: Any) -> Any:
    return build_task_info(name=tid, task_id=tid, agent_id=agent_id, resources=resources,
                           command="true", user="no-such-user-x")  # fmt: skip


def test_anonymous_callers_get_401_and_health_stays_open(cluster: Cluster) -> None:
    anonymous = ca_client_context(cluster.sd.ca_cert)  # verifies the agent, presents nothing
    for path in ("/state", "/files/browse?path=/", "/metrics/snapshot", "/monitor/statistics"):
        status, body, headers = cluster.agent(path, context=anonymous)
        assert status == 401, (path, body)
        assert isinstance(body, str) and "authentication required" in body
        assert "acsjwt" in headers.get_all("WWW-Authenticate")
    assert cluster.agent("/health", context=anonymous)[0] == 200
    status, body, _ = cluster.agent("/state", token="not-a-token")
    assert status == 401 and "invalid token" in body
    conn = http.client.HTTPConnection("127.0.0.1", cluster.agent_port, timeout=5)
    try:  # plain HTTP is not spoken any more
        conn.request("GET", "/state")
        answer = conn.getresponse()
        assert answer.status == 400, answer.status  # at most a TLS server's complaint
    except OSError:
        pass
    finally:
        conn.close()


async def test_task_runs_as_nobody_with_its_secrets(cluster: Cluster) -> None:
    sched = TaskScheduler()
    tid = sched.add("secret-task", secret_task)
    bad = sched.add("unknown-user-task", unknown_user_task)
    custom = sched.add("executor-task", executor_task)
    driver = SchedulerDriver(sched, {"name": "agent-sec", "user": ""}, cluster.master_url,
                             ssl=client_context(cluster.sd, "webapp"))  # fmt: skip
    await driver.start()
    try:
        await sched.wait_states([tid], "TASK_RUNNING")
        await sched.wait_for(bad, "TASK_FAILED")
        assert "user 'no-such-user-x' does not exist on this agent" in (
            sched.statuses[bad][-1].message or "")
        await sched.wait_for(custom, "TASK_FINISHED")  # the executor subscribed over HTTPS
        sandbox = _sandbox(cluster, tid)
        await async_wait_until(lambda: (sandbox / "done").exists(), "the task to finish writing")
        _check_task_files(sandbox)
        _check_files_api(cluster, sandbox)
        _check_no_secret_value_written(cluster)
        _check_viewer_sees_nothing(cluster, sandbox, tid)
    finally:
        await driver.stop()


def _sandbox(cluster: Cluster, tid: str) -> Path:
    status, state, _ = cluster.agent("/state", token=cluster.admin)
    assert status == 200, state
    for fw in state["frameworks"]:
        for ex in fw["executors"]:
            if ex["id"] == tid:
                return Path(ex["directory"])
    raise AssertionError(f"{tid} not in the agent's /state")


def _check_task_files(sandbox: Path) -> None:
    assert (sandbox / "uid").read_text().strip() == str(NOBODY.pw_uid)
    assert (sandbox / "who").read_text().split() == ["nobody", str(sandbox)]
    assert os.stat(sandbox).st_uid == NOBODY.pw_uid
    assert os.stat(sandbox / "stdout").st_uid == NOBODY.pw_uid
    assert (sandbox / "pw_env").read_text() == SECRET_VALUE
    assert (sandbox / "pw_copy").read_text() == SECRET_VALUE
    st = os.stat(sandbox / "pw.txt")
    assert stat.S_IMODE(st.st_mode) == 0o400 and st.st_uid == NOBODY.pw_uid


def _check_files_api(cluster: Cluster, sandbox: Path) -> None:
    status, body, _ = cluster.agent(f"/files/read?path={sandbox}/uid&offset=0",
                                    token=cluster.admin)  # fmt: skip
    assert status == 200 and body["data"].strip() == str(NOBODY.pw_uid)
    status, body, _ = cluster.agent(f"/files/read?path={sandbox}/a&offset=0", token=cluster.admin)
    assert status == 403 and "hard links" in body and "linked" not in body
    status, body, _ = cluster.agent(f"/files/download?path={sandbox}/b", token=cluster.admin)
    assert status == 403 and "hard links" in body
    for name in ("pw.txt", ".dcos-secrets/pw.txt"):  # even the admin never reads a secret
        status, body, _ = cluster.agent(f"/files/read?path={sandbox}/{name}&offset=0",
                                        token=cluster.admin)  # fmt: skip
        assert status == 403 and SECRET_VALUE not in body and "secret" in body, body


def _check_no_secret_value_written(cluster: Cluster) -> None:
    status, state, _ = cluster.agent("/state", token=cluster.admin)
    assert status == 200 and SECRET_VALUE not in json.dumps(state)
    assert "team/db" in json.dumps(state)  # the reference is shown
    status, stimuli, _ = cluster.agent("/debug/stimuli", token=cluster.admin)
    assert status == 200 and SECRET_VALUE not in json.dumps(stimuli)
    for path in [cluster.root / "agent.log", *(cluster.root / "agent" / "meta").rglob("*")]:
        if path.is_file():
            assert SECRET_VALUE.encode() not in path.read_bytes(), path


def _check_viewer_sees_nothing(cluster: Cluster, sandbox: Path, tid: str) -> None:
    viewer = cluster.login("viewer", VIEWER_PW)
    status, body, _ = cluster.agent(f"/files/read?path={sandbox}/uid&offset=0", token=viewer)
    assert status == 403 and "access_sandboxes" in body
    status, body, _ = cluster.agent(f"/files/browse?path={sandbox}", token=viewer)
    assert status == 403
    status, state, _ = cluster.agent("/state", token=viewer)
    assert status == 200 and tid not in json.dumps(state)
