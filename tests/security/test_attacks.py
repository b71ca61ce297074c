"""The cross-component attack suite (issue 13): what an authenticated but unprivileged user
(`alice`, no ACL entry) -- and, for the sandbox escapes, even the admin -- tries against a
`dcos-py up --secure` cluster. Each attempt is refused, logged with the principal, and
changes nothing: the victim app's task keeps running, the webapp framework keeps its stream.
"""

from __future__ import annotations

import io
import os
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.security.conftest import ALICE, LogWatch, SecureCluster

VICTIM = "/team/victim"
VICTIM_OUTPUT = "victim-output-" + uuid.uuid4().hex[:8]


@dataclass(frozen=True)
class Victim:
    """The admin's running app: its task, the agent it runs on, its sandbox, the framework."""

    task_id: str
    agent_id: str
    agent_url: str
    sandbox: str
    framework_id: str


def app_body(app_id: str, cmd: str, **extra: Any) -> dict[str, Any]:
    return {"id": app_id, "cmd": cmd, "cpus": 0.05, "mem": 32, "instances": 1, **extra}


def running_tasks(c: SecureCluster, app_id: str) -> list[dict[str, Any]]:
    r = c.admin.get(f"{c.webapp}/v2/apps{app_id}/tasks", timeout=10)
    if r.status_code != 200:
        return []
    return [t for t in r.json().get("tasks", []) if t.get("state") == "TASK_RUNNING"]


def remove_app(c: SecureCluster, app_id: str) -> None:
    c.admin.delete(f"{c.webapp}/v2/apps{app_id}?force=true", timeout=10)


def sandbox_of(c: SecureCluster, agent_url: str, task_id: str) -> str:
    state = c.admin.get(agent_url + "/state", timeout=10).json()
    for fw in state.get("frameworks", []):
        for ex in fw.get("executors", []):
            if any(t.get("id") == task_id for t in ex.get("tasks", [])) or ex.get("id") == task_id:
                return str(ex["directory"])
    raise AssertionError(f"no sandbox for {task_id} in the agent's /state")


@pytest.fixture(scope="module")
def victim(secure_cluster: SecureCluster) -> Iterator[Victim]:
    c = secure_cluster
    r = c.admin.post(c.webapp + "/v2/apps",
                     json=app_body(VICTIM, f"echo {VICTIM_OUTPUT}; sleep 1000"), timeout=10)
    assert r.status_code == 201, (r.status_code, r.text[:300])
    task = c.wait_for("the victim's task to run", lambda: running_tasks(c, VICTIM), 30)[0]
    agents = c.admin.get(c.master + "/master/slaves", timeout=10).json()["slaves"]
    agent = next(a for a in agents if a["id"] == task["slaveId"])
    agent_url = f"https://127.0.0.1:{agent['port']}"
    frameworks = c.admin.get(c.master + "/master/frameworks", timeout=10).json()["frameworks"]
    fw = next(f for f in frameworks if f["name"] == "webapp" and f.get("active"))
    try:
        yield Victim(task["id"], agent["id"], agent_url, sandbox_of(c, agent_url, task["id"]),
                     fw["id"])
    finally:
        remove_app(c, VICTIM)


def assert_untouched(c: SecureCluster, v: Victim) -> None:
    """The victim's task still runs (same id) and the webapp framework is still active."""
    assert [t["id"] for t in running_tasks(c, VICTIM)] == [v.task_id]
    frameworks = c.admin.get(c.master + "/master/frameworks", timeout=10).json()["frameworks"]
    assert any(f["id"] == v.framework_id and f.get("active") for f in frameworks)


def test_resubscribe_with_another_frameworks_id_is_refused(
        secure_cluster: SecureCluster, alice: requests.Session, victim: Victim) -> None:
    c = secure_cluster
    log = LogWatch(c.log("master"))
    r = alice.post(c.master + "/api/v1/scheduler", timeout=10, stream=True, json={
        "type": "SUBSCRIBE", "framework_id": {"value": victim.framework_id},
        "subscribe": {"framework_info": {"id": {"value": victim.framework_id}, "user": "nobody",
                                         "name": "webapp", "roles": ["*"]}}})
    assert r.status_code == 403, (r.status_code, r.text[:300])
    log.wait_for(f"principal={ALICE}")
    assert_untouched(c, victim)


def test_kill_and_teardown_of_another_framework_are_refused(
        secure_cluster: SecureCluster, alice: requests.Session, victim: Victim) -> None:
    c = secure_cluster
    log = LogWatch(c.log("master"))
    kill = alice.post(c.master + "/api/v1/scheduler", timeout=10, headers={
        "Mesos-Stream-Id": str(uuid.uuid4())}, json={
        "type": "KILL", "framework_id": {"value": victim.framework_id},
        "kill": {"task_id": {"value": victim.task_id}, "agent_id": {"value": victim.agent_id}}})
    assert kill.status_code == 403, (kill.status_code, kill.text[:300])
    teardown = alice.post(c.master + "/api/v1", timeout=10, json={
        "type": "TEARDOWN", "teardown": {"framework_id": {"value": victim.framework_id}}})
    assert teardown.status_code == 403, (teardown.status_code, teardown.text[:300])
    form = alice.post(c.master + "/master/teardown", data={"frameworkId": victim.framework_id},
                      timeout=10)
    assert form.status_code == 403, (form.status_code, form.text[:300])
    log.wait_for(f"principal={ALICE}")
    assert_untouched(c, victim)


def test_webapp_changes_by_an_unprivileged_user_are_refused(
        secure_cluster: SecureCluster, alice: requests.Session, victim: Victim) -> None:
    c = secure_cluster
    log = LogWatch(c.log("webapp"))
    calls = [
        ("POST", "/v2/tasks/delete", {"ids": [victim.task_id]}),
        ("DELETE", f"/v2/apps{VICTIM}/tasks/{victim.task_id}", None),
        ("PUT", f"/v2/apps{VICTIM}", {"instances": 0}),
        ("DELETE", f"/v2/apps{VICTIM}", None),
        ("POST", f"/v2/apps{VICTIM}/restart", None),
        ("POST", "/v2/apps", app_body("/team/evil", "id")),
    ]
    for method, path, body in calls:
        r = alice.request(method, c.webapp + path, json=body, timeout=10)
        assert r.status_code == 403, (method, path, r.status_code, r.text[:300])
        assert isinstance(r.json().get("message"), str)
    log.wait_for(f"principal={ALICE}")
    assert c.admin.get(c.webapp + "/v2/apps/team/evil", timeout=10).status_code == 404
    assert_untouched(c, victim)


def test_alice_sees_no_tasks_or_frameworks(secure_cluster: SecureCluster,
                                           alice: requests.Session, victim: Victim) -> None:
    c = secure_cluster
    state = alice.get(c.master + "/master/state", timeout=10)
    if state.status_code == 200:  # view_frameworks/view_tasks filter what she sees
        body = state.json()
        assert not body.get("frameworks"), "alice may view no framework"
        assert victim.task_id not in state.text
    else:
        assert state.status_code == 403


def test_another_frameworks_sandbox_is_not_readable(
        secure_cluster: SecureCluster, alice: requests.Session, victim: Victim) -> None:
    c = secure_cluster
    log = LogWatch(c.log(next(f"agent-{i}" for i, a in enumerate(c.agents)
                              if a == victim.agent_url)))
    stdout = f"{victim.sandbox}/stdout"
    own = c.admin.get(victim.agent_url + "/files/read", timeout=10,
                      params={"path": stdout, "offset": "0"})
    assert own.status_code == 200 and VICTIM_OUTPUT in own.json()["data"]  # the control
    for path in ("/files/read", "/files/browse", "/files/download"):
        r = alice.get(victim.agent_url + path, params={"path": stdout, "offset": "0"}, timeout=10)
        assert r.status_code == 403, (path, r.status_code, r.text[:300])
        assert VICTIM_OUTPUT not in r.text
    through_gateway = alice.get(f"{c.gateway}/agent/{victim.agent_id}/files/read",
                                params={"path": stdout, "offset": "0"}, timeout=10)
    assert through_gateway.status_code == 403, through_gateway.status_code
    assert VICTIM_OUTPUT not in through_gateway.text
    log.wait_for(f"principal={ALICE}")


def test_a_hard_link_out_of_the_sandbox_is_not_served(secure_cluster: SecureCluster,
                                                      victim: Victim) -> None:
    """A task that hard-links a file it cannot read (/etc/shadow) into its sandbox must not
    get it back through the files API, even when an admin reads it. The test plays the task
    (it runs as root here; a file of the same filesystem stands in when /etc is another)."""
    c = secure_cluster
    secret = c.work / "not-for-tasks.txt"
    secret.write_text("root:$6$shadow-stand-in\n")
    os.chmod(secret, 0o600)
    link = Path(victim.sandbox) / "shadow"
    try:
        os.link("/etc/shadow", link)
        expected = Path("/etc/shadow").read_text(errors="replace")[:20]
    except OSError:  # another filesystem (EXDEV): the stand-in, on the sandbox's
        os.link(secret, link)
        expected = "shadow-stand-in"
    try:
        for path in ("/files/read", "/files/download"):
            r = c.admin.get(victim.agent_url + path, params={"path": str(link), "offset": "0"},
                            timeout=10)
            assert r.status_code in (403, 404), (path, r.status_code)
            assert expected not in r.text
    finally:
        link.unlink(missing_ok=True)


def test_root_tasks_are_refused(secure_cluster: SecureCluster) -> None:
    """An app asking for `"user": "root"`: the webapp's principal may run tasks only as the
    unprivileged users the ACLs name, so the master refuses the launch (TASK_ERROR,
    REASON_TASK_UNAUTHORIZED) and no process runs as root."""
    c = secure_cluster
    app_id = "/team/root-" + uuid.uuid4().hex[:6]
    log = LogWatch(c.log("master"))
    r = c.admin.post(c.webapp + "/v2/apps", timeout=10,
                     json=app_body(app_id, "sleep 1000", user="root"))
    try:
        if r.status_code in (403, 422):  # refused up front: fine as well
            return
        assert r.status_code == 201, (r.status_code, r.text[:300])
        log.wait_for("root", timeout=20)
        time.sleep(1)
        assert running_tasks(c, app_id) == []
    finally:
        remove_app(c, app_id)


def test_event_subscription_callbacks_cannot_reach_internal_urls(
        secure_cluster: SecureCluster) -> None:
    c = secure_cluster
    for target in (f"{c.master}/api/v1", f"http://127.0.0.1:{c.ports.agent}/state",
                   "http://169.254.169.254/latest/meta-data/"):
        r = c.admin.post(c.webapp + "/v2/eventSubscriptions", params={"callbackUrl": target},
                         timeout=10)
        assert r.status_code in (403, 422), (target, r.status_code, r.text[:300])
    listed = c.admin.get(c.webapp + "/v2/eventSubscriptions", timeout=10).json()
    assert listed.get("callbackUrls", []) == []


def evil_archive(path: Path, marker: str) -> None:
    """A tarball with a member ``../../<marker>`` and a symlink member leaving the sandbox."""
    with tarfile.open(path, "w:gz") as tar:
        data = b"escaped\n"
        info = tarfile.TarInfo(f"../../{marker}")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("etc-link")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc"
        tar.addfile(link)


def test_fetcher_refuses_archives_escaping_the_sandbox(secure_cluster: SecureCluster) -> None:
    c = secure_cluster
    marker = "escaped-" + uuid.uuid4().hex[:8]
    archive = c.work / f"{marker}.tar.gz"
    evil_archive(archive, marker)
    app_id = "/team/fetch-" + uuid.uuid4().hex[:6]
    r = c.admin.post(c.webapp + "/v2/apps", timeout=10, json=app_body(
        app_id, "sleep 1000", fetch=[{"uri": archive.as_uri(), "extract": True}]))
    assert r.status_code == 201, (r.status_code, r.text[:300])
    try:
        def failed() -> Any:
            app = c.admin.get(f"{c.webapp}/v2/apps{app_id}", timeout=10).json()["app"]
            return app.get("lastTaskFailure")

        failure = c.wait_for("the fetch to fail", failed, 30)
        assert running_tasks(c, app_id) == []
        assert "fetch" in str(failure).lower() or failure.get("state") == "TASK_FAILED"
        assert not list(c.work.rglob(marker)), "an archive member left the sandbox"
    finally:
        remove_app(c, app_id)


def test_secrets_are_never_shown(secure_cluster: SecureCluster,
                                 alice: requests.Session) -> None:
    c = secure_cluster
    path = "team/db-" + uuid.uuid4().hex[:6]
    value = "s3cr3t-" + uuid.uuid4().hex
    url = f"{c.master}/secrets/v1/secret/default/{path}"
    created = c.admin.put(url, json={"value": value}, timeout=10)
    assert created.status_code == 201, (created.status_code, created.text[:300])
    log = LogWatch(c.log("master"))
    for r in (alice.get(url, timeout=10), alice.put(url, json={"value": "x"}, timeout=10),
              alice.delete(url, timeout=10),
              alice.get(f"{c.gateway}/secrets/v1/secret/default/{path}", timeout=10)):
        assert r.status_code == 403, (r.request.method, r.status_code, r.text[:300])
        assert value not in r.text
    listing = alice.get(f"{c.master}/secrets/v1/secret/default/?list=true", timeout=10)
    assert listing.status_code == 403 or path not in listing.text  # filtered: she sees none
    log.wait_for(f"principal={ALICE}")
    meta = c.admin.get(url, timeout=10)
    assert meta.status_code == 200 and value not in meta.text
    for component in ("master", "webapp", "gateway"):
        assert value not in c.log(component).read_text(errors="replace")
    c.admin.delete(url, timeout=10)


def test_alice_cannot_grant_herself_anything(secure_cluster: SecureCluster,
                                             alice: requests.Session) -> None:
    c = secure_cluster
    acls = alice.get(c.master + "/acs/api/v1/acls", timeout=10)
    assert acls.status_code == 403
    put = alice.put(c.master + "/acs/api/v1/acls", json={"permissive": True}, timeout=10)
    assert put.status_code == 403
    user = alice.put(c.master + "/acs/api/v1/users/mallory", json={"password": "x" * 12},
                     timeout=10)
    assert user.status_code == 403
    doc = c.admin.get(c.master + "/acs/api/v1/acls", timeout=10).json()
    assert doc.get("permissive") is False


def test_batch_submissions_as_root_are_refused(secure_cluster: SecureCluster,
                                               alice: requests.Session) -> None:
    """A batch submission naming `"user": "root"` by a principal not allowed to run tasks
    as root: 403 (plain text, as the dispatcher's other errors), nothing queued."""
    c = secure_cluster
    before = c.admin.get(c.batch + "/v1/submissions", timeout=10)
    assert before.status_code == 200, before.text[:300]
    r = alice.post(c.batch + "/v1/submissions", timeout=10, json={
        "script": "evil.py", "script_content": "import os; os.system('id')", "user": "root"})
    assert r.status_code == 403, (r.status_code, r.text[:300])
    after = c.admin.get(c.batch + "/v1/submissions", timeout=10).json()
    assert len(after["submissions"]) == len(before.json()["submissions"])
