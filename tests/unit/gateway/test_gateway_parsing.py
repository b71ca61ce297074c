"""The gateway's pure parts: the directory's parsers (`dcos.gateway.directory`), the leader
choice (`dcos.gateway.leader`), the static files' path check (`dcos.gateway.static.resolve`)
and the command line (`dcos.gateway.config.parse_args`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcos.gateway.config import DEFAULT_MASTER, parse_args
from dcos.gateway.directory import agents_of, app_services, frameworks_of
from dcos.gateway.leader import choose_leader, parse_redirect
from dcos.gateway.static import resolve


def test_frameworks_active_only_latest_wins() -> None:
    body = {"frameworks": [
        {"name": "webapp", "active": True, "webui_url": "http://h:8080", "registered_time": 1.5},
        {"name": "webapp", "active": True, "webui_url": "http://h:8081", "registered_time": 2.5},
        {"name": "gone", "active": False, "webui_url": "http://h:1"},
        {"name": "noui", "active": True},
        {"active": True}, "junk",
    ]}  # fmt: skip
    assert frameworks_of(body) == {"webapp": "http://h:8081", "noui": ""}
    assert frameworks_of(None) == {} == frameworks_of({"frameworks": 3})


def test_agents_from_pid_or_hostname() -> None:
    body = {"slaves": [
        {"id": "A", "pid": "slave(1)@127.0.0.1:5051", "hostname": "x", "port": 1},
        {"id": "B", "hostname": "h", "port": 5052},
        {"id": "C"}, {"pid": "slave(1)@1.2.3.4:5"},
    ]}  # fmt: skip
    assert agents_of(body) == {"A": "http://127.0.0.1:5051", "B": "http://h:5052"}


def test_app_services_from_labels() -> None:
    apps = [
        {"id": "/web", "labels": {"DCOS_SERVICE_NAME": "web", "DCOS_SERVICE_PORT_INDEX": "1"},
         "tasks": [{"state": "TASK_STAGING", "host": "h", "ports": [1, 2]},
                   {"state": "TASK_RUNNING", "host": "h", "ports": [3, 4]}]},
        {"id": "/s", "labels": {"DCOS_SERVICE_NAME": "s", "DCOS_SERVICE_SCHEME": "https"},
         "tasks": [{"host": "h2", "ports": [9]}]},
        {"id": "/none", "labels": {"DCOS_SERVICE_NAME": "none"}, "tasks": []},
        {"id": "/bad", "labels": {"DCOS_SERVICE_NAME": "bad", "DCOS_SERVICE_PORT_INDEX": "x"},
         "tasks": [{"host": "h", "ports": [1]}]},
        {"id": "/unlabelled", "tasks": [{"host": "h", "ports": [1]}]},
    ]  # fmt: skip
    assert app_services(apps) == {"web": "http://h:4", "s": "https://h2:9"}


@settings(max_examples=60, deadline=None)
@given(st.recursive(st.none() | st.text() | st.integers(), lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4), max_leaves=12))
def test_parsers_take_any_json(body: object) -> None:
    frameworks_of(body)
    agents_of(body)
    app_services(body)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                    max_leaves=8)  # fmt: skip
FIELDS = st.sampled_from(["id", "name", "active", "webui_url", "pid", "hostname", "port",
                          "registered_time", "labels", "tasks", "host", "ports", "state"])  # fmt: skip
OBJ = st.dictionaries(FIELDS, JSON | st.dictionaries(st.sampled_from(
    ["DCOS_SERVICE_NAME", "DCOS_SERVICE_PORT_INDEX", "DCOS_SERVICE_SCHEME"]), JSON), max_size=6)


@settings(max_examples=25, deadline=None)
@given(st.lists(OBJ | st.dictionaries(FIELDS, st.lists(OBJ, max_size=2)), max_size=3))
def test_parsers_take_near_miss_shapes(items: list[object]) -> None:
    frameworks_of({"frameworks": items})
    agents_of({"slaves": items})
    app_services(items)


def test_leader_choice_and_redirect_parsing() -> None:
    assert parse_redirect("//127.0.0.1:5052") == "http://127.0.0.1:5052"
    assert parse_redirect("http://h:1/master/state") == "http://h:1"
    assert parse_redirect(None) is None and parse_redirect("") is None
    assert choose_leader([None, None]) is None
    assert choose_leader(["a", "b", "b"]) == "b"
    assert choose_leader([None, "a", "b"]) == "a"


def test_static_resolve_refuses_leaving_the_root(tmp_path: Path) -> None:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<html>")
    (root / "assets" / "app.js").write_text("x")
    (root / ".hidden").write_text("x")
    (tmp_path / "secret").write_text("s")
    os.symlink(tmp_path / "secret", root / "assets" / "link")
    assert resolve(root, "/") == (root / "index.html").resolve()
    assert resolve(root, "/assets/app.js") == (root / "assets" / "app.js").resolve()
    assert resolve(root, "/assets/%61pp.js") == (root / "assets" / "app.js").resolve()
    for bad in ("/assets/../../secret", "/../secret", "/assets/%2e%2e/%2e%2e/secret",
                "/assets/..%2f..%2fsecret", "/assets/link", "/.hidden", "/assets/..\\..\\secret",
                "/assets/app.js%00", "/assets", "/nope", "//etc/passwd", "/%2fetc%2fpasswd"):
        assert resolve(root, bad) is None, bad


def test_config_flags() -> None:
    config, _ = parse_args(["--port", "0"], environ={})
    assert config.masters == (DEFAULT_MASTER,) and config.zk is None and config.package is None
    config, _ = parse_args(["--master", "http://127.0.0.1:5050", "--master", "127.0.0.1:5052",
                            "--package", "127.0.0.1:7070/", "--dns-http", "http://h:8123"], environ={})  # fmt: skip
    assert config.masters == ("http://127.0.0.1:5050", "127.0.0.1:5052")
    assert (config.package, config.dns_http) == ("http://127.0.0.1:7070", "http://h:8123")
    config, _ = parse_args(["--master", "zk://127.0.0.1:2181/dcos"], environ={})
    assert (config.zk, config.masters) == ("zk://127.0.0.1:2181/dcos", ())
    config, _ = parse_args([], environ={"DCOS_MASTER": "127.0.0.1:6000"})
    assert config.masters == ("127.0.0.1:6000",)


@pytest.mark.parametrize("argv", [
    ["--zk", "http://x"], ["--master", "a:1", "--zk", "zk://h:1/p"], ["--package", "ftp://x"],
    ["--master", "zk://h:1/p", "--master", "a:1"], ["--port", "70000"],
])  # fmt: skip
def test_bad_flags_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse_args(argv, environ={})
    assert info.value.code == 2
