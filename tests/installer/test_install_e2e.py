"""End to end: `dcos-py install` on 7 hosts over real SSH (the test bed: network namespaces,
each with its own sshd and private install dirs; `tests/installer/conftest.py`).

One module, tests in order, sharing one installed cluster (3 masters h1-h3, agents h4-h5,
public agent h6, h7 spare):

config errors (all at once, no host touched) -> genconf -> a wrong key (authentication failure)
-> a port taken on one host (preflight names ``ports`` for it) -> preflight passes -> a deploy
with an unreachable agent in the list, SIGKILLed half-way, run again (the unreachable host
fails clearly, every other host installs) -> postflight -> agents registered from their own
addresses -> an app through the gateway with a token -> a package -> upgrade to a new build
(task ids kept, /version new) -> add h7, remove agent h5 (its task replaced first) -> kill the
leading master's host processes (a new leader; the API answers through another master's
gateway) -> uninstall (hosts clean: empty dirs, no process but sshd, no cgroup left).

A test whose predecessor failed fails at once (`needs`), naming that step.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.installer.conftest import (
    ADMIN,
    AGENTS,
    MASTERS,
    PUBLIC_AGENTS,
    SPARE,
    UNREACHABLE,
    ClusterClient,
    Installer,
    copy_checkout,
    host_index,
    wait_until,
)

ALL = [*MASTERS, *AGENTS, *PUBLIC_AGENTS]
APP = "/bed-sleeper"
PACKAGE = "hello-world"
NEW_VERSION_SUFFIX = ".post1"

_done: set[str] = set()


def needs(*steps: str) -> None:
    missing = [s for s in steps if s not in _done]
    if missing:
        pytest.fail(f"needs step(s) {', '.join(missing)}, which did not pass")


def lines_with(output: str, *words: str) -> list[str]:
    return [line for line in output.splitlines() if all(w in line for w in words)]


def host_dirs_empty(inst: Installer, i: int) -> dict[str, list[str]]:
    """{sub: entries} for the host's non-empty private dirs (empty dict: clean)."""
    left = {}
    for sub in ("opt", "var", "etc"):
        entries = sorted(os.listdir(inst.bed.host_dir(i) / sub))
        if entries:
            left[sub] = entries
    return left


def client(inst: Installer, master: str = MASTERS[0]) -> ClusterClient:
    c = ClusterClient(inst.ca, master, inst.state.get("token"))
    return c


# -- config and preflight -----------------------------------------------------------------------


def test_validate_config_lists_every_error_and_touches_no_host(installer: Installer) -> None:
    bad = installer.write_config(
        "bad.yaml",
        raw={
            "master_list": [MASTERS[0], MASTERS[1]],  # even
            "agent_list": [AGENTS[0], AGENTS[0]],  # duplicate
            "ssh_port": 70000,
            "ssh_key_path": str(installer.work / "no-such-key"),
            "ssh_parallelism": 0,
            "install_dir": "relative/dir",
        },
    )
    res = installer.run("--validate-config", config=bad, timeout=60)
    print(res)
    assert res.returncode == 1, str(res)
    for key in (
        "cluster_name",
        "master_list",
        "ssh_port",
        "ssh_key_path",
        "ssh_parallelism",
        "install_dir",
    ):
        assert lines_with(res.output, f"{key}:"), f"no error for {key}\n{res}"
    assert "Traceback" not in res.output, str(res)
    for i in range(1, installer.bed.n + 1):
        assert host_dirs_empty(installer, i) == {}, f"h{i} touched"
    good = installer.run("--validate-config", timeout=60)
    assert good.returncode == 0, str(good)
    _done.add("validate")


def test_genconf_builds_the_bundle(installer: Installer) -> None:
    # the same config plus an unreachable agent: certs for it too; its deploy fails later
    installer.write_config("cluster-99.yaml", agent_list=[*AGENTS, UNREACHABLE])
    res = installer.ok("--genconf", config=installer.work / "cluster-99.yaml", timeout=420)
    serve = installer.genconf / "serve"
    manifest = serve / "manifest.json"
    assert manifest.is_file(), str(res)
    wheels = list((serve / "wheels").glob("*.whl"))
    assert any(w.name.startswith("dcos_py-") for w in wheels), wheels
    assert len(wheels) > 10, wheels
    for addr in ALL:
        assert (serve / "hosts" / addr / "etc").is_dir(), addr
    assert installer.ca.is_file()
    assert not (serve / "hosts" / MASTERS[0] / "etc" / "security" / "ca.key").exists(), (
        "the CA key must stay on the bootstrap host"
    )
    installer.state["genconf_s"] = res.seconds
    _done.add("genconf")


def test_a_wrong_key_fails_authentication_clearly(installer: Installer) -> None:
    needs("genconf")
    other = installer.work / "other_key"
    if not other.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True
        )
    cfg = installer.write_config("wrong-key.yaml", ssh_key_path=str(other))
    res = installer.run(
        "--preflight",
        "--genconf-dir",
        str(installer.genconf),
        "--hosts",
        MASTERS[0],
        config=cfg,
        timeout=120,
    )
    print(res)
    assert res.returncode == 1, str(res)
    assert lines_with(res.output, MASTERS[0], "authentication failed"), str(res)
    assert "Traceback" not in res.output, str(res)


def test_preflight_names_a_taken_port_then_passes(installer: Installer) -> None:
    needs("genconf")
    bed = installer.bed
    listener = bed.popen(
        1,
        [
            "/usr/bin/python3",
            "-c",
            "import socket, time; s = socket.socket(); "
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
            f"s.bind(('{MASTERS[0]}', 5050)); s.listen(); time.sleep(600)",
        ],
    )
    try:
        wait_until(
            "the listener on h1:5050",
            lambda: bed.run(1, "ss -ltnH 'sport = :5050'", check=False).stdout.strip(),
            timeout=10,
            interval=0.1,
        )
        res = installer.run("--preflight", timeout=180)
        print(res)
        assert res.returncode == 1, str(res)
        failed = lines_with(res.output, MASTERS[0], "ports")
        assert failed and any("5050" in line for line in failed), str(res)
        for addr in ALL[1:]:  # no other host fails ports
            assert not [ln for ln in lines_with(res.output, addr, "ports") if "FAIL" in ln], str(
                res
            )
    finally:
        listener.kill()
        listener.wait()
    res = installer.ok("--preflight", timeout=180)
    assert "Traceback" not in res.output
    _done.add("preflight")


# -- deploy ---------------------------------------------------------------------------------


def test_deploy_interrupted_half_way_then_run_again_installs_every_reachable_host(
    installer: Installer,
) -> None:
    needs("preflight")
    cfg99 = installer.work / "cluster-99.yaml"
    proc = installer.popen("--deploy", config=cfg99)
    killed_after: list[str] = []
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            killed_after = [a for a in ALL if installer.installed(a)]
            if killed_after:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "deploy ended before any host was installed:\n" + (
            proc.stdout.read() if proc.stdout else ""
        )
        assert killed_after, "no host installed within 300 s"
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        out = proc.communicate()[0]
    print("first deploy, SIGKILLed once", killed_after, "were installed:\n", out)
    assert len(killed_after) < len(ALL), "every host was already installed: not half-way"

    res = installer.run("--deploy", config=cfg99, timeout=420)
    print(res)
    assert res.returncode == 1, str(res)  # the unreachable agent
    failed = lines_with(res.output, UNREACHABLE)
    assert failed, str(res)
    assert any(re.search(r"unreachable|no route|timed out|connect", ln, re.I) for ln in failed), (
        str(res)
    )
    missing = [a for a in ALL if not installer.installed(a)]
    assert not missing, f"not installed: {missing}\n{res}"
    for addr in ALL:
        assert not [ln for ln in lines_with(res.output, addr) if "FAIL" in ln.upper()], str(res)
    versions = {str(installer.installed(a)["build_id"]) for a in ALL}  # type: ignore[index]
    assert len(versions) == 1, versions
    installer.state["deploy_s"] = res.seconds
    _done.add("deploy")


def test_postflight_waits_for_a_working_cluster(installer: Installer) -> None:
    needs("deploy")
    res = installer.ok("--postflight", timeout=300)
    assert f"https://{MASTERS[0]}" in res.output, str(res)
    installer.state["postflight_s"] = res.seconds
    _done.add("postflight")


def test_agents_registered_from_their_own_addresses_and_a_master_leads(
    installer: Installer,
) -> None:
    needs("postflight")
    c = client(installer)
    installer.state["token"] = c.login()
    state = wait_until(
        "master state through the gateway",
        lambda: (r := c.get("/mesos/master/state")).status == 200 and r.body,
    )
    assert state.get("leader"), state.get("leader")
    assert any(m in str(state["leader"]) for m in MASTERS), state["leader"]
    slaves = c.get("/mesos/master/slaves")
    assert slaves.status == 200, str(slaves)
    agents = {a["hostname"]: a for a in slaves.body["slaves"]}
    assert sorted(agents) == sorted([*AGENTS, *PUBLIC_AGENTS]), sorted(agents)
    for addr, agent in agents.items():
        assert addr in agent["pid"], agent["pid"]
        assert agent.get("active", True)
    public = agents[PUBLIC_AGENTS[0]]  # reserved to slave_public, marked public_ip:true
    assert list(public.get("reserved_resources") or {}) == ["slave_public"], public
    assert public.get("attributes", {}).get("public_ip") in (True, "true"), public
    for addr in AGENTS:  # private agents: unreserved
        assert not agents[addr].get("reserved_resources"), agents[addr]
    lb = installer.bed.run(host_index(PUBLIC_AGENTS[0]), "ss -ltnH 'sport = :9080'", check=False)
    assert PUBLIC_AGENTS[0] in lb.stdout, f"no load balancer on the public agent: {lb.stdout}"
    for m in MASTERS:  # every master's gateway answers
        other = ClusterClient(installer.ca, m, installer.state["token"])
        assert other.get("/gateway/health").status == 200, m
    _done.add("registered")


# -- workloads --------------------------------------------------------------------------------


def app_tasks(c: ClusterClient, app_id: str) -> list[dict[str, Any]]:
    reply = c.get(f"/service/marathon/v2/apps/{app_id.strip('/')}?embed=apps.tasks")
    assert reply.status == 200, str(reply)
    return list(reply.body["app"].get("tasks", []))


def running_ids(c: ClusterClient, app_id: str, want: int) -> list[str] | None:
    tasks = [t for t in app_tasks(c, app_id) if t.get("state", "TASK_RUNNING") == "TASK_RUNNING"]
    return sorted(t["id"] for t in tasks) if len(tasks) >= want else None


def test_an_app_runs_through_the_gateway_with_a_token(installer: Installer) -> None:
    needs("registered")
    c = client(installer)
    anonymous = ClusterClient(installer.ca, MASTERS[0])
    assert anonymous.get("/service/marathon/v2/apps").status == 401
    app = {
        "id": APP,
        "cmd": "sleep 100000",
        "instances": 2,
        "cpus": 0.05,
        "mem": 32,
        "constraints": [["hostname", "UNIQUE"]],
    }
    reply = c.post("/service/marathon/v2/apps", app)
    assert reply.status in (200, 201), str(reply)
    ids = wait_until(f"{APP} running 2 tasks", lambda: running_ids(c, APP, 2), timeout=90)
    hosts = {t["host"] for t in app_tasks(c, APP)}
    # acceptedResourceRoles defaults to "*": never on the public agent (reserved to slave_public)
    assert hosts == set(AGENTS), hosts
    installer.state["task_ids"] = ids
    public = {"id": "/bed-public", "cmd": "sleep 100000", "instances": 1, "cpus": 0.05,
              "mem": 32, "acceptedResourceRoles": ["slave_public"]}
    assert c.post("/service/marathon/v2/apps", public).status in (200, 201)
    wait_until("/bed-public running", lambda: running_ids(c, "/bed-public", 1), timeout=90)
    assert {t["host"] for t in app_tasks(c, "/bed-public")} == {PUBLIC_AGENTS[0]}
    assert c.request("DELETE", "/service/marathon/v2/apps/bed-public").status == 200
    _done.add("app")


def test_a_package_installs_through_the_gateway(installer: Installer) -> None:
    needs("registered")
    c = client(installer)
    reply = c.post(
        "/package/install",
        {"packageName": PACKAGE},
        headers={
            "Content-Type": "application/vnd.dcos.package.install-request+json;charset=utf-8;version=v1",
            "Accept": "application/vnd.dcos.package.install-response+json;charset=utf-8;version=v2",
        },
        timeout=120,
    )
    assert reply.status == 200, str(reply)
    wait_until(f"{PACKAGE} running", lambda: running_ids(c, "/" + PACKAGE, 1), timeout=120)

    def healthy() -> bool:  # its asset fetched through the package service, its /health answers
        reply = c.get(f"/service/marathon/v2/apps/{PACKAGE}")
        return reply.status == 200 and reply.body["app"].get("tasksHealthy", 0) >= 1

    wait_until(f"{PACKAGE} healthy", healthy, timeout=120)
    _done.add("package")


# -- upgrade ----------------------------------------------------------------------------------


def bump_version(checkout: Path) -> str:
    pyproject = checkout / "pyproject.toml"
    text = pyproject.read_text()
    m = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    assert m
    new = m.group(1) + NEW_VERSION_SUFFIX
    pyproject.write_text(text[: m.start(1)] + new + text[m.end(1) :])
    return new


def test_upgrade_to_a_new_build_keeps_the_tasks(
    installer: Installer,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    needs("app")
    c = client(installer)
    before = wait_until("app tasks", lambda: running_ids(c, APP, 2))
    source = copy_checkout(tmp_path_factory.mktemp("newbuild"))
    new = bump_version(source)
    old_build = installer.installed(MASTERS[0])["build_id"]  # type: ignore[index]
    built = installer.ok("--genconf", "--source", str(source), timeout=420)
    assert f"dcos-py {new}" in built.output, str(built)
    # --upgrade builds the bundle again (from --source, else from the running dcos-py)
    res = installer.ok("--upgrade", "--source", str(source), timeout=600)
    assert f"dcos-py {new}" in res.output, str(res)
    installer.state["upgrade_s"] = res.seconds
    for addr in ALL:
        info = installer.installed(addr)
        assert info and info["version"] == new and info["build_id"] != old_build, (addr, info)
    c = client(installer)
    version = wait_until(
        "/version", lambda: (r := c.get("/mesos/version")).status == 200 and r.body
    )
    assert version.get("dcos_py_version") == new, version
    after = wait_until("app tasks after the upgrade", lambda: running_ids(c, APP, 2))
    assert after == before, f"tasks replaced by the upgrade: {before} -> {after}"
    _done.add("upgrade")


# -- add and remove agents ------------------------------------------------------------------------


def test_add_an_agent_then_remove_one_whose_tasks_move_first(installer: Installer) -> None:
    needs("app")
    c = client(installer)
    installer.ok("--add-agent", SPARE, timeout=420)
    wait_until(
        f"{SPARE} registered",
        lambda: SPARE in {a["hostname"] for a in c.get("/mesos/master/slaves").body["slaves"]},
        timeout=120,
    )
    assert installer.installed(SPARE), "no installed.json on the added agent"

    # the app's 2 tasks (hostname:UNIQUE) run on h4 and h5: removing h5 must start its
    # replacement on h7 before the old task is killed
    before = {t["id"]: t["host"] for t in app_tasks(c, APP)}
    gone = AGENTS[1]
    assert gone in before.values(), before
    res = installer.ok("--remove-agent", gone, timeout=300)
    tasks = {
        t["id"]: t["host"]
        for t in app_tasks(c, APP)
        if t.get("state", "TASK_RUNNING") == "TASK_RUNNING"
    }
    assert gone not in tasks.values(), (tasks, res)
    assert len(tasks) == 2 and SPARE in tasks.values(), (tasks, res)
    kept = {i for i, h in before.items() if h != gone}
    assert kept <= set(tasks), f"a task not on {gone} was replaced: {before} -> {tasks}"
    slaves = c.get("/mesos/master/slaves").body["slaves"]
    assert gone not in {a["hostname"] for a in slaves if a.get("active", True)}, slaves
    assert host_dirs_empty(installer, host_index(gone)) == {}
    assert installer.bed.processes(host_index(gone)) == []
    _done.add("nodes")


# -- failures ---------------------------------------------------------------------------------


def leader_address(c: ClusterClient) -> str:
    state = c.get("/mesos/master/state").body
    leader = str(state["leader"])  # master@10.213.0.1x:5050
    m = re.search(r"(10\.213\.0\.\d+)", leader)
    assert m, leader
    return m.group(1)


def test_killing_the_leading_masters_host_keeps_the_cluster_working(installer: Installer) -> None:
    needs("app")
    c = client(installer)
    leader = wait_until("a leader", lambda: leader_address(c))
    tasks = wait_until("app tasks", lambda: running_ids(c, APP, 2))
    installer.bed.kill(host_index(leader))
    assert installer.bed.processes(host_index(leader)) == []
    other = ClusterClient(
        installer.ca, next(m for m in MASTERS if m != leader), installer.state["token"]
    )
    new_leader = wait_until(
        "a new leader", lambda: (a := leader_address(other)) != leader and a, timeout=90
    )
    assert new_leader in MASTERS
    apps = wait_until(
        "the app API through another gateway",
        lambda: (r := other.get("/service/marathon/v2/apps")).status == 200 and r.body,
        timeout=90,
    )
    assert APP in [a["id"] for a in apps["apps"]]
    assert set(tasks) <= set(wait_until("tasks", lambda: running_ids(other, APP, len(tasks))))
    installer.state["killed"] = leader
    _done.add("failover")


def host_cgroups_left(i: int) -> list[str]:
    """Cgroups left inside host `i`'s own cgroup (the bed puts each host in one, dcpy-hN)."""
    left = []
    for top, dirs, _ in os.walk("/sys/fs/cgroup"):
        if os.path.basename(top) == f"dcpy-h{i}":
            left += [os.path.join(top, d) for d in dirs]
            dirs.clear()
        elif top.count("/") > 6:
            dirs.clear()
    return left


def test_uninstall_leaves_every_host_clean(installer: Installer) -> None:
    needs("deploy")
    res = installer.run("--yes", command="uninstall", timeout=300)
    print(res)
    assert res.returncode == 0, str(res)
    dirty = {}
    for i in range(1, installer.bed.n + 1):
        left = host_dirs_empty(installer, i)
        procs = installer.bed.processes(i)
        cgroups = host_cgroups_left(i)
        if left or procs or cgroups:
            dirty[f"h{i}"] = {"files": left, "processes": procs, "cgroups": cgroups}
    assert not dirty, f"{dirty}\n{res}"


def test_hash_password_prints_a_hash_the_config_accepts(installer: Installer) -> None:
    res = installer.run("--hash-password", "s3cret-pw", timeout=60)
    assert res.returncode == 0, str(res)
    from dcos.security.passwords import verify_password

    hashed = res.output.strip().splitlines()[-1].strip()
    assert verify_password("s3cret-pw", hashed), res.output
    assert ADMIN  # the config's bootstrap uid
