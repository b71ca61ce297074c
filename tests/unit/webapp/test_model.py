"""App validation (422 details), defaults, merge, groups and dependency order."""

from frameworks.webapp.model.app import absolute, merge, normalize
from frameworks.webapp.model.group import cycle_errors, dependency_layers, flatten_group, group_tree
from frameworks.webapp.model.json import iso, parse_iso


def test_defaults_filled_in():
    app, errs = normalize({"id": "web", "cmd": "sleep 1"})
    assert errs == []
    assert app["id"] == "/web"
    assert app["instances"] == 1 and app["cpus"] == 1.0 and app["mem"] == 128.0
    assert app["portDefinitions"] == [{"port": 0, "protocol": "tcp"}]
    assert app["upgradeStrategy"] == {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0}
    assert app["backoffFactor"] == 1.15 and app["killSelection"] == "YOUNGEST_FIRST"


def test_errors_name_their_paths():
    app, errs = normalize({"id": "/Bad_Id", "cpus": -1, "instances": 1.5,
                           "constraints": [["hostname", "SOMETIMES"]],
                           "upgradeStrategy": {"minimumHealthCapacity": 2}})
    assert app is None
    paths = dict(errs)
    assert "/id" in paths and "/cpus" in paths and "/instances" in paths
    assert "/constraints(0)" in paths and "/upgradeStrategy/minimumHealthCapacity" in paths
    assert "/" in paths  # no cmd, args or container
    assert all(isinstance(e, list) and e for e in paths.values())


def test_cmd_and_args_exclusive_and_health_port_index():
    _, errs = normalize({"id": "/a", "cmd": "x", "args": ["y"]})
    assert any("both" in e for _, es in errs for e in es)
    _, errs = normalize({"id": "/a", "cmd": "x", "portDefinitions": [],
                         "healthChecks": [{"protocol": "MESOS_HTTP", "portIndex": 0}]})
    assert "/healthChecks(0)/portIndex" in dict(errs)


def test_constraint_values_checked():
    for con in (["hostname", "MAX_PER"], ["rack", "LIKE", "("], ["hostname", "GROUP_BY", "x"],
                ["hostname", "UNIQUE", "1"], "hostname:UNIQUE"):
        _, errs = normalize({"id": "/a", "cmd": "x", "constraints": [con]})
        assert errs, con
    app, errs = normalize({"id": "/a", "cmd": "x", "constraints": [
        ["hostname", "UNIQUE"], ["rack", "GROUP_BY", "3"], ["zone", "IS", "a"], ["@zone", "CLUSTER"]]})
    assert not errs


def test_ports_and_uris_forms():
    app, _ = normalize({"id": "/a", "cmd": "x", "ports": [0, 0], "uris": ["http://x/y.tgz"]})
    assert [d["port"] for d in app["portDefinitions"]] == [0, 0]
    assert app["fetch"][0]["uri"] == "http://x/y.tgz"
    _, errs = normalize({"id": "/a", "cmd": "x", "requirePorts": True, "ports": [0]})
    assert "/requirePorts" in dict(errs)


def test_merge_is_partial():
    app, _ = normalize({"id": "/a", "cmd": "x", "instances": 2, "env": {"A": "1"}})
    merged, errs = normalize(merge(app, {"instances": 5, "tasks": [], "version": "v"}))
    assert not errs and merged["instances"] == 5 and merged["env"] == {"A": "1"} and merged["cmd"] == "x"


def test_paths():
    assert absolute("web", "/shop") == "/shop/web"
    assert absolute("//shop//web/") == "/shop/web"
    assert absolute("../x", "/a/b") == "/a/x"


def test_timestamps_round_trip_with_z():
    s = iso(1700000000.123)
    assert s == "2023-11-14T22:13:20.123Z"
    assert abs(parse_iso(s) - 1700000000.123) < 1e-6


def test_group_flatten_and_dependency_order():
    body = {"id": "/shop", "apps": [{"id": "web", "cmd": "x", "dependencies": ["db"]},
                                    {"id": "db", "cmd": "x"}],
            "groups": [{"id": "cache", "apps": [{"id": "redis", "cmd": "x"}]}],
            "dependencies": []}
    apps, gdeps, errs = flatten_group(body)
    assert not errs
    assert set(apps) == {"/shop/web", "/shop/db", "/shop/cache/redis"}
    layers = dependency_layers(apps, apps, gdeps)
    assert layers.index(["/shop/web"]) > [i for i, layer in enumerate(layers) if "/shop/db" in layer][0]
    tree = group_tree({a: {"id": a} for a in apps}, {"/shop": {"dependencies": []}}, "/")
    assert tree["groups"][0]["id"] == "/shop"
    assert tree["groups"][0]["groups"][0]["apps"] == [{"id": "/shop/cache/redis"}]


def test_cycle_is_an_error():
    apps, gdeps, _ = flatten_group({"id": "/g", "apps": [
        {"id": "a", "cmd": "x", "dependencies": ["b"]}, {"id": "b", "cmd": "x", "dependencies": ["/g/a"]}]})
    errs = cycle_errors(apps, gdeps)
    assert errs and "cycle" in errs[0][1][0]
