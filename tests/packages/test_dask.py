"""The `dask` package: a real Dask cluster on dcos-py.

End to end on the shared package cluster (`pkg_cluster`): install with 2 workers through the
package service, find the scheduler through dcos-py DNS (SRV of its port named `scheduler`),
run computations from a `distributed.Client` in this process and check the results, scale the
workers app to 3 through the webapp API and see the client see 3 workers, kill the scheduler's
process and see the workers follow the new scheduler (found again through DNS), reach the
scheduler's dashboard through the load balancer's virtual host, uninstall and find nothing left.

Without a cluster: the package's task launcher `dcos_dask` (packages-repo/src/dcos_dask) --
its DNS wire code against a reply made by dnspython, its DNS labels against dcos-py DNS's own,
and its wheel unpacking (a `.data/purelib` tree lands at the top).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import dask
import dask.bag
import distributed
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import psutil
import pytest
from distributed import Client
from distributed.versions import VersionMismatchWarning

from dcos.dns.names import app_label
from tests.packages.conftest import CHECKOUT, PkgCluster, http
from tests.packages.service_checks import srv_endpoints, wait_for

sys.path.insert(0, str(CHECKOUT / "packages-repo" / "src" / "dcos_dask"))
from dcos_dask import launch, srv  # noqa: E402

SERVICE = "dask-e2e"
GROUP = f"/{SERVICE}"
VHOST = "dask-e2e.dcos"
SCHEDULER_SRV = f"_scheduler._scheduler-{SERVICE}._tcp.webapp.dcos"


# --- the launcher, no cluster -----------------------------------------------------------------


@pytest.mark.parametrize("app_id", ["/dask/scheduler", "/team/Dask_1/scheduler", "/a.b/c"])
def test_launcher_labels_match_dcos_dns(app_id: str) -> None:
    assert srv.app_label(app_id) == app_label(app_id)


def test_srv_name_of_a_named_port() -> None:
    assert srv.srv_name("/dask/scheduler", "scheduler") == "_scheduler._scheduler-dask._tcp.webapp.dcos"
    assert srv.srv_name("/dask/workers") == "_workers-dask._tcp.webapp.dcos"


@pytest.fixture
def dns_server() -> Iterator[tuple[str, int]]:
    """A one-socket UDP DNS server answering SRV `_scheduler._scheduler-dask._tcp.webapp.dcos`
    with two targets (one with its A record in the additional section, one without) and A
    for the second target; NXDOMAIN for anything else. Replies are built by dnspython."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    stop = threading.Event()
    name = "_scheduler._scheduler-dask._tcp.webapp.dcos."

    def serve() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query)
            question = query.question[0]
            qname = question.name.to_text().lower()
            if qname == name and question.rdtype == dns.rdatatype.SRV:
                reply.answer.append(dns.rrset.from_text(
                    name, 30, "IN", "SRV", "0 1 31005 a1.agent.dcos.", "0 1 32007 a2.agent.dcos."))
                reply.additional.append(dns.rrset.from_text("a1.agent.dcos.", 30, "IN", "A", "10.0.0.1"))
            elif qname == "a2.agent.dcos." and question.rdtype == dns.rdatatype.A:
                reply.answer.append(dns.rrset.from_text("a2.agent.dcos.", 30, "IN", "A", "10.0.0.2"))
            else:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            sock.sendto(reply.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()
    finally:
        stop.set()
        thread.join()
        sock.close()


def test_lookup_srv_resolves_targets_from_additional_or_a_queries(dns_server: tuple[str, int]) -> None:
    found = srv.lookup_srv(srv.srv_name("/dask/scheduler", "scheduler"), dns_server)
    assert sorted(found) == [srv.Endpoint("10.0.0.1", 31005), srv.Endpoint("10.0.0.2", 32007)]
    with pytest.raises(srv.DnsError, match="NXDOMAIN"):
        srv.lookup_srv("_nothing._tcp.webapp.dcos", dns_server)


def test_a_relative_scheduler_app_is_a_sibling_of_the_task_app() -> None:
    assert launch.sibling_app("scheduler", "/team/dask/workers") == "/team/dask/scheduler"
    assert launch.sibling_app("/dask/scheduler", "/other/workers") == "/dask/scheduler"


def test_resolver_address_from_the_task_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DCOS_DNS_RESOLVER", "127.0.0.1:8053")
    assert srv.resolver_address() == ("127.0.0.1", 8053)
    assert srv.resolver_address("[::1]:53") == ("::1", 53)
    with pytest.raises(srv.DnsError, match="host:port"):
        srv.resolver_address("nowhere")


def test_install_wheels_unpacks_every_wheel_and_moves_data_purelib(tmp_path: Path) -> None:
    wheels = tmp_path / "dask"
    wheels.mkdir()
    with zipfile.ZipFile(wheels / "plain-1.0-py3-none-any.whl", "w") as z:
        z.writestr("plain/__init__.py", "X = 1\n")
        z.writestr("plain-1.0.dist-info/METADATA", "Name: plain\n")
    with zipfile.ZipFile(wheels / "odd-1.0-py3-none-any.whl", "w") as z:
        z.writestr("odd-1.0.data/purelib/odd.py", "Y = 2\n")
        z.writestr("odd-1.0.data/data/share/odd.json", "{}\n")
    pylib = tmp_path / "pylib"
    assert launch.install_wheels(str(wheels), str(pylib)) == 2
    assert (pylib / "plain" / "__init__.py").read_text() == "X = 1\n"
    assert (pylib / "odd.py").read_text() == "Y = 2\n"
    assert not (pylib / "odd-1.0.data" / "purelib").exists()
    assert launch.install_wheels(str(wheels), str(pylib)) == 0  # stamped: kept as it is
    assert launch.install_wheels(str(wheels), str(tmp_path / "lean"), without=["Odd"]) == 1
    assert (tmp_path / "lean" / "plain").is_dir() and not (tmp_path / "lean" / "odd.py").exists()
    with pytest.raises(SystemExit, match="no wheels"):
        launch.install_wheels(str(tmp_path / "empty"), str(tmp_path / "pylib2"))


# --- the package on a real cluster ------------------------------------------------------------


def _workers(client: Client) -> dict[str, dict]:
    return client.scheduler_info(n_workers=-1)["workers"]


def _scale(c: PkgCluster, app_id: str, instances: int) -> None:
    status, _, raw = http("PUT", f"{c.webapp_url}/v2/apps{app_id}", {"instances": instances},
                          {"Content-Type": "application/json"})
    assert status in (200, 201), raw


def _task_ids(c: PkgCluster, app_id: str) -> set[str]:
    """The app's running tasks, each healthy."""
    app = c.apps_of(app_id)[0]
    return {t["id"] for t in app.get("tasks", []) if t.get("state") == "TASK_RUNNING"
            and all(r.get("alive") for r in t.get("healthCheckResults") or [{}])}


def _kill_task_process(task_id: str, module: str) -> bool:
    """SIGKILL the process of task `task_id` running `module` (a crash); whether one was found."""
    for p in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error):
            if p.environ().get("MESOS_TASK_ID") == task_id and module in p.cmdline():
                p.kill()
                return True
    return False


def test_dask_cluster_end_to_end(pkg_cluster: PkgCluster) -> None:
    c = pkg_cluster
    options = {"service": {"name": SERVICE}, "workers": {"count": 2},
               "dashboard": {"vhost": VHOST}}
    answer = c.install("dask", options=options)
    assert answer["packageName"] == "dask" and answer["appId"] == GROUP
    try:
        apps = {a["id"]: a for a in c.wait_healthy(GROUP, timeout=240)}
        assert apps[f"{GROUP}/workers"]["instances"] == 2
        # the workers found the scheduler through DNS; so does this client
        endpoints = wait_for("the scheduler in DNS", lambda: srv_endpoints(c, SCHEDULER_SRV), 30)
        assert len(endpoints) == 1
        host, port = endpoints[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", VersionMismatchWarning)  # numpy: cluster-side only
            with Client(f"tcp://{host}:{port}", timeout=30) as client:
                versions = client.get_versions(check=False)["scheduler"]["packages"]
                assert versions["dask"] == dask.__version__
                assert versions["distributed"] == distributed.__version__
                wait_for("2 workers", lambda: len(_workers(client)) == 2, 60)
                assert {w["name"] for w in _workers(client).values()} == {
                    t["id"] for t in apps[f"{GROUP}/workers"]["tasks"]}

                squares = client.gather(client.map(lambda x: x * x, range(100)))
                assert sum(squares) == sum(x * x for x in range(100))
                total = dask.bag.from_sequence(range(10_000), npartitions=8) \
                    .map(lambda x: x % 7).sum().compute(scheduler=client)
                assert total == sum(x % 7 for x in range(10_000))

                _scale(c, f"{GROUP}/workers", 3)
                c.wait_healthy(GROUP, timeout=180)
                wait_for("3 workers", lambda: len(_workers(client)) == 3, 60)
                ran = client.run(lambda: "here")  # every worker answers
                assert len(ran) == 3 and set(ran.values()) == {"here"}

        # the scheduler dies: the webapp starts another, the workers lose it, exit, are
        # restarted and find the new one through DNS
        old = _task_ids(c, f"{GROUP}/scheduler")
        assert len(old) == 1 and _kill_task_process(next(iter(old)), "dcos_dask")
        wait_for("a new scheduler task", lambda: _task_ids(c, f"{GROUP}/scheduler") - old, 120)
        new = c.wait_healthy(f"{GROUP}/scheduler", timeout=180)[0]["tasks"][0]["ports"][0]
        c.wait_healthy(GROUP, timeout=180)
        # (DNS follows the webapp's events: until then it may still name the dead one's port)
        host, port = wait_for("the new scheduler in DNS", lambda: [
            e for e in srv_endpoints(c, SCHEDULER_SRV) if e[1] == new], 30)[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", VersionMismatchWarning)
            with Client(f"tcp://{host}:{port}", timeout=30) as client:
                wait_for("3 workers at the new scheduler", lambda: len(_workers(client)) == 3, 120)
                assert client.submit(sum, [1, 2, 3]).result() == 6

        # the scheduler's dashboard through the load balancer's virtual host
        def dashboard() -> bool:
            status, _, body = http("GET", f"{c.lb_http}/status", headers={"Host": VHOST})
            return status == 200 and b"bokeh" in body.lower()

        def health() -> bool:
            return http("GET", f"{c.lb_http}/health", headers={"Host": VHOST})[::2] == (200, b"ok")

        # (the LB takes a task out at its first failed health check and back at the next pass)
        wait_for("the dashboard behind the load balancer", dashboard, 30)
        wait_for("the scheduler's /health behind the load balancer", health, 30)
    finally:
        c.uninstall("dask", app_id=GROUP)
    c.assert_clean(GROUP)
