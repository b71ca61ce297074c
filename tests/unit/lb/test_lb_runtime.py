"""Server changes as HAProxy runtime commands (no reload): a rolling restart's steps (new
tasks in maintenance, then ready; old ones draining, then gone) in the order that keeps a
server up, and a reload only when a backend cannot take a server at run time."""

from __future__ import annotations

from marathon_fakes import marathon_task

from frameworks.webapp.lb.config import LbOptions, check_options, generate, structure
from frameworks.webapp.lb.runtime import failed, live_servers, server_commands

OPTS = LbOptions(group="external", http_port=9080, stats_port=9090, socket_path="/run/h.sock")
B = "web_10000"


def web(tasks: list[dict], **labels: str) -> dict:
    return {"id": "/web", "labels": {"HAPROXY_GROUP": "external", **labels},
            "portDefinitions": [{"port": 10000}], "tasks": tasks,
            "healthChecks": [{"protocol": "MESOS_HTTP", "path": "/", "portIndex": 0}]}


def task(n: int, port: int, state: str = "TASK_RUNNING", alive: bool | None = True) -> dict:
    return marathon_task("/web", n, "127.0.0.1", [port], state=state, alive=alive)


def services(*tasks: dict, **labels: str):
    return generate([web(list(tasks), **labels)], OPTS).services


def test_a_rolling_restart_is_runtime_commands_with_capacity_first() -> None:
    old = services(task(1, 31000), task(2, 31001))
    # the new tasks run but are not healthy yet: added in maintenance
    step1 = services(task(1, 31000), task(2, 31001), task(3, 31002, alive=None))
    assert server_commands(live_servers(old), step1) == [
        f"add server {B}/127.0.0.1_31002 127.0.0.1:31002 {check_options()}",
        f"enable health {B}/127.0.0.1_31002",
        f"set server {B}/127.0.0.1_31002 state maint"]
    # healthy now, and the old tasks are being killed: ready first, then drain
    step2 = services(task(1, 31000, "TASK_KILLING"), task(2, 31001, "TASK_KILLING"), task(3, 31002))
    assert server_commands(live_servers(step1), step2) == [
        f"set server {B}/127.0.0.1_31002 state ready",
        f"set server {B}/127.0.0.1_31000 state drain",
        f"set server {B}/127.0.0.1_31001 state drain"]
    # the old tasks are gone
    step3 = services(task(3, 31002))
    assert server_commands(live_servers(step2), step3) == [
        f"set server {B}/127.0.0.1_31000 state maint", f"shutdown sessions server {B}/127.0.0.1_31000",
        f"del server {B}/127.0.0.1_31000",
        f"set server {B}/127.0.0.1_31001 state maint", f"shutdown sessions server {B}/127.0.0.1_31001",
        f"del server {B}/127.0.0.1_31001"]
    assert server_commands(live_servers(step3), step3) == []


def test_server_changes_keep_the_structure_so_no_reload_is_needed() -> None:
    texts = [generate([web(ts)], OPTS).text for ts in (
        [task(1, 31000)], [task(1, 31000), task(2, 31001, alive=None)],
        [task(1, 31000, "TASK_KILLING"), task(2, 31001)], [task(2, 31001)], [])]
    assert len({structure(t) for t in texts}) == 1
    other_balance = generate([web([task(1, 31000)], HAPROXY_0_BALANCE="leastconn")], OPTS).text
    assert structure(other_balance) != structure(texts[0])


def test_backends_that_cannot_take_servers_at_run_time_are_reloaded() -> None:
    old = services(task(1, 31000), HAPROXY_0_BALANCE="source")
    grown = services(task(1, 31000), task(2, 31001), HAPROXY_0_BALANCE="source")
    assert server_commands(live_servers(old), grown) is None
    shrunk = services(HAPROXY_0_BALANCE="source")
    assert server_commands(live_servers(old), shrunk) is not None  # removing works anywhere


def test_haproxy_answers_are_read_per_command() -> None:
    assert not failed("add server b/s 1.2.3.4:5", "New server registered.\n")
    assert failed("add server b/s 1.2.3.4:5", "Already exists a server with the same name in backend.\n")
    assert not failed("del server b/s", "Server deleted.\n")
    assert failed("del server b/s", "Server still has connections attached to it, cannot remove it.\n")
    assert not failed("set server b/s state drain", "\n")
    assert failed("set server b/s state drain", "No such server.\n")
    assert failed("enable health b/s", None)
