"""The HAProxy config generator: which apps and ports are served, by which servers (running and
healthy tasks only), virtual hosts, modes and balance, and bad labels skipped with a reason
without affecting other apps."""

from __future__ import annotations

from marathon_fakes import marathon_task

from frameworks.webapp.lb.config import (
    LbOptions,
    generate,
    server_states,
    structure,
    task_is_healthy,
)
from frameworks.webapp.lb.labels import read_ports

OPTS = LbOptions(group="external", http_port=9080, stats_port=9090, socket_path="/run/h.sock")


def app(app_id: str, labels: dict[str, str], ports: list[int], tasks: list[dict] | None = None,
        health: bool = False) -> dict:
    a = {"id": app_id, "labels": labels,
         "portDefinitions": [{"port": p, "protocol": "tcp"} for p in ports],
         "tasks": tasks or []}
    if health:
        a["healthChecks"] = [{"protocol": "MESOS_HTTP", "path": "/", "portIndex": 0}]
    return a


def web(**labels: str) -> dict:
    tasks = [marathon_task("/shop/web", 1, "127.0.0.1", [31000]),
             marathon_task("/shop/web", 2, "127.0.0.2", [31001])]
    return app("/shop/web", {"HAPROXY_GROUP": "external", **labels}, [10000], tasks)


def section(text: str, header: str) -> list[str]:
    """The lines of one config section (after its header, up to the next blank line)."""
    lines = text.splitlines()
    start = lines.index(header)
    out = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        out.append(line.strip())
    return out


def test_app_in_the_group_gets_a_frontend_on_its_service_port_and_a_server_per_task() -> None:
    gen = generate([web()], OPTS)
    assert section(gen.text, "frontend shop_web_10000") == [
        "bind 127.0.0.1:10000", "mode tcp", "option tcplog", "use_backend shop_web_10000"]
    assert section(gen.text, "backend shop_web_10000") == [
        "mode tcp", "balance roundrobin",
        "server 127.0.0.1_31000 127.0.0.1:31000", "server 127.0.0.2_31001 127.0.0.2:31001"]
    assert gen.skipped == {}


def test_global_section_enables_socket_transfer_for_seamless_reloads() -> None:
    text = generate([], OPTS).text
    assert "stats socket /run/h.sock mode 600 level admin expose-fd listeners" in text
    assert section(text, "listen stats")[0] == "bind 127.0.0.1:9090"
    assert "monitor-uri /_haproxy_health_check" in text
    assert "option redispatch 1" in text


def test_apps_outside_the_group_are_not_served() -> None:
    other = app("/internal", {"HAPROXY_GROUP": "internal"}, [10001],
                [marathon_task("/internal", 1, "127.0.0.1", [31005])])
    plain = app("/plain", {}, [10002], [marathon_task("/plain", 1, "127.0.0.1", [31006])])
    gen = generate([other, plain], OPTS)
    assert gen.services == [] and gen.skipped == {}
    assert "10001" not in gen.text and "10002" not in gen.text


def test_running_tasks_are_servers_only_healthy_ones_enabled_killing_ones_draining() -> None:
    tasks = [marathon_task("/h", 1, "127.0.0.1", [31000], alive=True),
             marathon_task("/h", 2, "127.0.0.1", [31001], alive=False),
             marathon_task("/h", 3, "127.0.0.1", [31002]),  # no result yet
             marathon_task("/h", 4, "127.0.0.1", [31003], state="TASK_STAGING", alive=True),
             marathon_task("/h", 5, "127.0.0.1", [31004], state="TASK_KILLING", alive=True)]
    gen = generate([app("/h", {"HAPROXY_GROUP": "external"}, [10000], tasks, health=True)], OPTS)
    check = "check inter 1s fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down"
    backend = section(gen.text, "backend h_10000")
    assert [ln for ln in backend if ln.startswith("server")] == [
        f"server 127.0.0.1_31000 127.0.0.1:31000 {check}",
        f"server 127.0.0.1_31001 127.0.0.1:31001 {check} disabled",
        f"server 127.0.0.1_31002 127.0.0.1:31002 {check} disabled",
        f"server 127.0.0.1_31004 127.0.0.1:31004 {check} disabled"]
    # the task being killed drains (a new worker after a reload has no connection to it)
    assert server_states(gen.services) == {("h_10000", "127.0.0.1_31000"): "ready",
                                           ("h_10000", "127.0.0.1_31001"): "maint",
                                           ("h_10000", "127.0.0.1_31002"): "maint",
                                           ("h_10000", "127.0.0.1_31004"): "drain"}


def test_a_task_turning_healthy_changes_states_but_not_the_structure() -> None:
    def gen(alive: bool) -> str:
        tasks = [marathon_task("/h", 1, "127.0.0.1", [31000], alive=alive)]
        return generate([app("/h", {"HAPROXY_GROUP": "external"}, [10000], tasks, health=True)],
                        OPTS).text

    assert gen(True) != gen(False)
    assert structure(gen(True)) == structure(gen(False))


def test_without_health_checks_every_running_task_is_a_server() -> None:
    assert task_is_healthy(marathon_task("/x", 1, "h", [1]), checks=0)
    assert not task_is_healthy(marathon_task("/x", 1, "h", [1], state="TASK_STAGING"), checks=0)
    assert not task_is_healthy(marathon_task("/x", 1, "h", [1], alive=False), checks=1)


def test_vhost_routes_the_shared_http_frontend_by_host_header() -> None:
    gen = generate([web(HAPROXY_0_VHOST="shop.example.com,www.shop.example.com")], OPTS)
    front = section(gen.text, "frontend webapp_http_in")
    assert front[:3] == ["bind 127.0.0.1:9080", "mode http", "option forwardfor"]
    assert "acl host_shop_web_10000 req.hdr(host),field(1,:) -i shop.example.com " \
           "www.shop.example.com" in front
    assert "use_backend shop_web_10000 if host_shop_web_10000" in front
    backend = section(gen.text, "backend shop_web_10000")
    assert backend[:2] == ["mode http", "balance roundrobin"]  # a VHOST implies http
    assert "retry-on all-retryable-errors" in backend


def test_vhost_with_path_is_matched_before_host_only_rules() -> None:
    api = app("/shop/api", {"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": "shop.example.com",
                            "HAPROXY_0_PATH": "/api"}, [10001])
    front = section(generate([web(HAPROXY_0_VHOST="shop.example.com"), api], OPTS).text,
                    "frontend webapp_http_in")
    rules = [ln for ln in front if ln.startswith("use_backend")]
    assert rules == ["use_backend shop_api_10001 if host_shop_api_10001 path_shop_api_10001",
                     "use_backend shop_web_10000 if host_shop_web_10000"]


def test_mode_balance_and_port_labels() -> None:
    gen = generate([web(HAPROXY_0_MODE="http", HAPROXY_0_BALANCE="leastconn",
                        HAPROXY_0_PORT="10500")], OPTS)
    assert section(gen.text, "backend shop_web_10500")[:2] == ["mode http", "balance leastconn"]
    assert "bind 127.0.0.1:10500" in section(gen.text, "frontend shop_web_10500")


def test_disabled_port_and_per_port_group() -> None:
    two = app("/two", {"HAPROXY_GROUP": "external", "HAPROXY_1_GROUP": "internal"},
              [10000, 10001])
    assert [s.service_port for s in read_ports(two, "external")[0]] == [10000]
    off = app("/off", {"HAPROXY_GROUP": "external", "HAPROXY_0_ENABLED": "false"}, [10002])
    assert read_ports(off, "external") == ([], None)


def test_bad_labels_skip_only_that_app_with_a_reason() -> None:
    bad = {
        "/bad/mode": {"HAPROXY_0_MODE": "udp"},
        "/bad/balance": {"HAPROXY_0_BALANCE": "fastest"},
        "/bad/vhost": {"HAPROXY_0_VHOST": "bad host;\n  server x"},
        "/bad/port": {"HAPROXY_0_PORT": "70000"},
        "/bad/index": {"HAPROXY_3_VHOST": "a.example.com"},
        "/bad/tcpvhost": {"HAPROXY_0_VHOST": "a.example.com", "HAPROXY_0_MODE": "tcp"},
        "/bad/enabled": {"HAPROXY_0_ENABLED": "maybe"},
    }
    apps = [app(k, {"HAPROXY_GROUP": "external", **v}, [10100 + i]) for i, (k, v)
            in enumerate(bad.items())]
    gen = generate([*apps, web()], OPTS)
    assert set(gen.skipped) == set(bad)
    assert "udp" in gen.skipped["/bad/mode"] and "fastest" in gen.skipped["/bad/balance"]
    assert "invalid host name" in gen.skipped["/bad/vhost"]
    assert "names port 3" in gen.skipped["/bad/index"]
    assert [s.app_id for s in gen.services] == ["/shop/web"]
    assert "server x" not in gen.text


def test_service_port_clash_skips_the_later_app() -> None:
    dup = app("/zz/dup", {"HAPROXY_GROUP": "external"}, [10000])
    lb_port = app("/stats-clash", {"HAPROXY_GROUP": "external"}, [9090])
    gen = generate([dup, web(), lb_port], OPTS)
    assert gen.skipped == {"/zz/dup": "service port 10000 is already used by /shop/web",
                           "/stats-clash": "service port 9090 is already used by the load balancer"}


def test_app_without_a_service_port_is_skipped() -> None:
    gen = generate([app("/noport", {"HAPROXY_GROUP": "external"}, [0])], OPTS)
    assert "no service port" in gen.skipped["/noport"]


def test_excluded_apps_are_left_out_and_output_is_deterministic() -> None:
    apps = [web(), app("/b", {"HAPROXY_GROUP": "external"}, [10007])]
    assert generate(apps, OPTS).text == generate(list(reversed(apps)), OPTS).text
    assert [s.app_id for s in generate(apps, OPTS, exclude=["/b"]).services] == ["/shop/web"]
