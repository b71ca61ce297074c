"""The DNS record table: names (groups reversed, RFC 1123), A and SRV sets, special names,
aliases, case-insensitivity, and the wire answers built from it (dnslib on both sides)."""

from __future__ import annotations

import random

from dnslib import QTYPE, RCODE, DNSRecord

from dcos.dns.names import app_label, sanitize_label
from dcos.dns.records import (
    ClusterInfo,
    agents_from_master,
    build_table,
    leader_from_state,
)
from dcos.dns.server import answer

CLUSTER = ClusterInfo(
    master_ip="10.0.0.1", master_port=5050, webapp_ip="10.0.0.2", webapp_port=8080,
    agent_ips={"S0": "10.0.1.10", "S1": "10.0.1.11"},
    agent_hosts={"S0": "node-a", "S1": "node-b"},
)


def task(tid: str, agent: str, ports: list[int], state: str = "TASK_RUNNING") -> dict:
    return {"id": tid, "slaveId": agent, "host": {"S0": "node-a", "S1": "node-b"}.get(agent, agent),
            "ports": ports, "state": state, "startedAt": "2024-01-01T00:00:00.000Z"}


APPS = [
    {"id": "/shop/web", "portDefinitions": [{"port": 10000, "protocol": "tcp", "name": "http"},
                                            {"port": 10001, "protocol": "udp,tcp"}],
     "tasks": [task("shop_web.1", "S0", [31000, 31001]), task("shop_web.2", "S1", [31005, 31006]),
               task("shop_web.3", "S1", [31007, 31008], state="TASK_STAGING")]},
    {"id": "/db", "tasks": [task("db.1", "S0", [31010])]},
    {"id": "/idle", "tasks": []},
]


def table():
    return build_table(APPS, CLUSTER)


def test_group_path_is_reversed_and_joined_with_dashes() -> None:
    assert app_label("/shop/web") == "web-shop"
    assert app_label("/a/b/c") == "c-b-a"
    assert app_label("//x//") == "x"
    assert app_label("/Prod/My_App") == "my-app-prod"


def test_labels_are_rfc1123_and_at_most_63_characters() -> None:
    long = app_label("/" + "a" * 80 + "/" + "b" * 30)
    assert len(long) <= 63 and not long.endswith("-") and not long.startswith("-")
    assert app_label("/" + "a" * 80) != app_label("/" + "a" * 81)  # cut labels do not collide
    assert sanitize_label("--x..y__z--") == "x-y-z"
    assert sanitize_label("***") == ""


def test_a_records_are_the_agents_running_the_apps_tasks() -> None:
    t = table()
    assert t.lookup_a("web-shop.webapp.dcos") == ("10.0.1.10", "10.0.1.11")
    assert t.lookup_a("db.webapp.dcos") == ("10.0.1.10",)
    assert t.lookup_a("idle.webapp.dcos") == ()  # no running task: no record


def test_staging_tasks_are_not_published() -> None:
    ports = {s.port for s in table().lookup_srv("_web-shop._tcp.webapp.dcos")}
    assert 31007 not in ports and 31008 not in ports


def test_srv_records_have_one_entry_per_task_port_with_a_resolvable_target() -> None:
    t = table()
    srv = t.lookup_srv("_web-shop._tcp.webapp.dcos")
    assert sorted(s.port for s in srv) == [31000, 31001, 31005, 31006]
    for s in srv:
        assert t.lookup_a(s.target) == (s.ip,)
    assert {s.target for s in srv} == {"node-a.agent.dcos", "node-b.agent.dcos"}


def test_udp_and_named_ports_get_their_own_srv_names() -> None:
    t = table()
    assert sorted(s.port for s in t.lookup_srv("_web-shop._udp.webapp.dcos")) == [31001, 31006]
    assert sorted(s.port for s in t.lookup_srv("_http._web-shop._tcp.webapp.dcos")) == [31000, 31005]


def test_special_names_leader_master_and_framework() -> None:
    t = table()
    assert t.lookup_a("leader.dcos") == ("10.0.0.1",)
    assert t.lookup_a("master.dcos") == ("10.0.0.1",)
    assert t.lookup_a("webapp.dcos") == ("10.0.0.2",)
    assert [s.port for s in t.lookup_srv("_leader._tcp.dcos")] == [5050]
    assert [s.port for s in t.lookup_srv("_webapp._tcp.dcos")] == [8080]


def test_names_are_case_insensitive_and_accept_a_trailing_dot() -> None:
    t = table()
    assert t.lookup_a("WEB-Shop.WebApp.DCOS.") == ("10.0.1.10", "10.0.1.11")
    assert t.lookup_srv("_WEB-SHOP._TCP.webapp.dcos")


def test_mesos_and_marathon_aliases() -> None:
    t = table()
    assert t.lookup_a("master.mesos") == ("10.0.0.1",)
    assert t.lookup_a("web-shop.marathon.mesos") == ("10.0.1.10", "10.0.1.11")
    assert t.lookup_a("marathon.mesos") == ("10.0.0.2",)
    assert t.hosts("master.mesos") == [{"host": "master.mesos.", "ip": "10.0.0.1"}]


def test_unknown_names_do_not_exist_but_interior_names_do() -> None:
    t = table()
    assert not t.exists("nope.webapp.dcos")
    assert t.exists("webapp.dcos") and t.exists("agent.dcos") and t.exists("dcos")
    assert t.exists("_tcp.webapp.dcos")


def test_task_without_an_ip_is_skipped_with_a_reason() -> None:
    apps = [{"id": "/x", "tasks": [task("x.1", "S9", [31000]) | {"host": "unknown-host"}]}]
    t = build_table(apps, ClusterInfo())
    assert t.lookup_a("x.webapp.dcos") == ()
    assert t.problems and "x.1" in t.problems[0]


def test_task_host_ip_is_used_when_the_agent_is_unknown() -> None:
    apps = [{"id": "/x", "tasks": [task("x.1", "S9", [31000]) | {"host": "127.0.0.1"}]}]
    t = build_table(apps, ClusterInfo())
    assert t.lookup_a("x.webapp.dcos") == ("127.0.0.1",)
    assert [(s.target, s.port) for s in t.lookup_srv("_x._tcp.webapp.dcos")] == [
        ("127-0-0-1.agent.dcos", 31000)]


def test_agents_and_leader_are_read_from_master_json() -> None:
    ips, hosts = agents_from_master({"slaves": [
        {"id": "S0", "pid": "slave(1)@10.1.1.1:5051", "hostname": "h0"},
        {"id": "S1", "pid": "", "hostname": "10.1.1.2"}]})
    assert ips == {"S0": "10.1.1.1", "S1": "10.1.1.2"} and hosts["S0"] == "h0"
    assert leader_from_state({"leader": "master@10.2.2.2:5050"}) == ("10.2.2.2", 5050)
    assert leader_from_state({"leader_info": {"address": {"ip": "10.3.3.3", "port": 5051}}}) == (
        "10.3.3.3", 5051)
    assert leader_from_state({}) is None


def ask(name: str, qtype: str = "A", **kw) -> DNSRecord:
    reply = answer(table(), DNSRecord.question(name, qtype).pack(), ttl=5,
                   rng=random.Random(1), **kw)
    assert reply is not None
    return DNSRecord.parse(reply)


def test_wire_a_answer_with_short_ttl_and_authoritative_flag() -> None:
    r = ask("web-shop.webapp.dcos")
    assert r.header.rcode == RCODE.NOERROR and r.header.aa == 1
    assert sorted(str(rr.rdata) for rr in r.rr) == ["10.0.1.10", "10.0.1.11"]
    assert {rr.ttl for rr in r.rr} == {5}


def test_wire_srv_answer_carries_the_targets_a_records() -> None:
    r = ask("_db._tcp.webapp.dcos", "SRV")
    assert [(rr.rdata.port, str(rr.rdata.target)) for rr in r.rr] == [(31010, "node-a.agent.dcos.")]
    assert [(str(rr.rname), str(rr.rdata)) for rr in r.ar] == [("node-a.agent.dcos.", "10.0.1.10")]


def test_wire_unknown_name_is_nxdomain_and_foreign_names_are_refused() -> None:
    assert ask("nope.webapp.dcos").header.rcode == RCODE.NXDOMAIN
    assert ask("example.com").header.rcode == RCODE.REFUSED


def test_wire_existing_name_of_another_type_is_noerror_without_answers() -> None:
    r = ask("web-shop.webapp.dcos", "AAAA")
    assert r.header.rcode == RCODE.NOERROR and r.rr == []
    assert [rr.rtype for rr in r.auth] == [QTYPE.SOA]


def test_wire_oversized_udp_answer_is_truncated_for_a_tcp_retry() -> None:
    many = [{"id": "/big", "tasks": [task(f"big.{i}", f"10.9.{i // 250}.{i % 250 + 1}", [31000])
                                     for i in range(100)]}]
    t = build_table(many, ClusterInfo())
    packet = DNSRecord.question("big.webapp.dcos").pack()
    udp = DNSRecord.parse(answer(t, packet))
    assert udp.header.tc == 1 and udp.rr == []
    tcp = DNSRecord.parse(answer(t, packet, max_size=None))
    assert tcp.header.tc == 0 and len(tcp.rr) == 100


def test_wire_garbage_is_ignored() -> None:
    assert answer(table(), b"\x01\x02") is None
