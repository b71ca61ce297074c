"""The gateway's routing core (`dcos.gateway.routes`): the route table, misses, redirects,
Location rewriting, and that no path (hypothesis) makes it raise."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dcos.gateway.routes import (
    Kind,
    NotFound,
    Redirect,
    Snapshot,
    Target,
    Unavailable,
    rewrite_location,
    route,
)

SNAP = Snapshot(
    leader="http://127.0.0.1:5050",
    frameworks={"webapp": "http://127.0.0.1:8080", "batch-dispatcher": "http://127.0.0.1:7077/",
                "spark-job-1": "http://127.0.0.1:4040/jobs/1", "noui": ""},
    agents={"S0": "http://127.0.0.1:5051", "a b": "http://127.0.0.1:5052"},
    apps={"nginx": "http://127.0.0.1:31000", "group/app": "http://127.0.0.1:31001"},
    package="http://127.0.0.1:7070",
    dns="http://127.0.0.1:8123",
)  # fmt: skip


def target(path: str, snap: Snapshot = SNAP) -> Target:
    t = route(path, snap)
    assert isinstance(t, Target), t
    return t


def test_mesos_goes_to_the_leader_with_the_rest_of_the_path_and_query() -> None:
    t = target("/mesos/master/state.json?jsonp=x")
    assert (t.kind, t.url, t.prefix) == (Kind.MASTER, "http://127.0.0.1:5050/master/state.json?jsonp=x", "/mesos")
    assert target("/mesos/api/v1").url == "http://127.0.0.1:5050/api/v1"
    assert target("/mesos").url == "http://127.0.0.1:5050/"


def test_no_leader_is_503_with_the_reason() -> None:
    snap = Snapshot(master_error="none of the masters names a leader")
    assert route("/mesos/master/state", snap) == Unavailable("none of the masters names a leader")
    got = route("/service/whatever/", snap)
    assert isinstance(got, Unavailable) and "names a leader" in got.message
    assert isinstance(route("/agent/S0/state", snap), Unavailable)


def test_marathon_webapp_and_batch_aliases() -> None:
    assert target("/service/marathon/v2/apps?embed=apps.tasks").url == "http://127.0.0.1:8080/v2/apps?embed=apps.tasks"
    assert target("/service/webapp/v2/info").url == "http://127.0.0.1:8080/v2/info"
    assert target("/service/marathon/v2/apps").prefix == "/service/marathon"
    assert target("/service/batch/submissions").url == "http://127.0.0.1:7077/submissions"


def test_alias_without_its_framework_is_503() -> None:
    snap = Snapshot(leader="http://m:5050")
    got = route("/service/marathon/v2/apps", snap)
    assert isinstance(got, Unavailable) and "webapp framework is not registered" in got.message


def test_framework_by_name_keeps_the_webui_path() -> None:
    t = target("/service/spark-job-1/stages/")
    assert t.url == "http://127.0.0.1:4040/jobs/1/stages/"
    assert t.kind == Kind.FRAMEWORK


def test_labelled_apps_longest_name_first() -> None:
    assert target("/service/nginx/index.html").url == "http://127.0.0.1:31000/index.html"
    t = target("/service/group/app/x")
    assert (t.kind, t.url, t.prefix) == (Kind.APP, "http://127.0.0.1:31001/x", "/service/group/app")


def test_unknown_service_and_framework_without_ui_are_404() -> None:
    got = route("/service/nope/x", SNAP)
    assert isinstance(got, NotFound) and "service 'nope' not found" in got.message
    assert isinstance(route("/service/noui/", SNAP), NotFound)
    assert isinstance(route("/service/", SNAP), NotFound)
    assert isinstance(route("/service", SNAP), NotFound)


def test_service_without_trailing_slash_redirects() -> None:
    assert route("/service/marathon", SNAP) == Redirect("/service/marathon/")
    assert route("/service/nginx?a=1", SNAP) == Redirect("/service/nginx/?a=1")


def test_package_capabilities_cosmos() -> None:
    assert target("/package/list").url == "http://127.0.0.1:7070/package/list"
    assert target("/capabilities").url == "http://127.0.0.1:7070/capabilities"
    assert target("/cosmos/service/start").url == "http://127.0.0.1:7070/service/start"
    got = route("/package/list", Snapshot(leader="http://m:5050"))
    assert isinstance(got, Unavailable) and "--package" in got.message


def test_agents_by_id_slave_alias_and_encoded_id() -> None:
    t = target("/agent/S0/files/read?path=/x&offset=0")
    assert (t.url, t.prefix) == ("http://127.0.0.1:5051/files/read?path=/x&offset=0", "/agent/S0")
    assert target("/slave/S0/state").url == "http://127.0.0.1:5051/state"
    assert target("/agent/a%20b/state").url == "http://127.0.0.1:5052/state"
    got = route("/agent/S9/state", SNAP)
    assert isinstance(got, NotFound) and "agent 'S9' not found" in got.message
    assert isinstance(route("/agent/", SNAP), NotFound)


def test_dns_both_prefixes() -> None:
    assert target("/dns/v1/hosts/x.marathon.mesos").url == "http://127.0.0.1:8123/v1/hosts/x.marathon.mesos"
    assert target("/mesos_dns/v1/version").url == "http://127.0.0.1:8123/v1/version"
    assert isinstance(route("/dns/v1/version", Snapshot()), Unavailable)


def test_other_paths_are_not_proxied() -> None:
    for path in ("/", "/index.html", "/assets/app.js", "/mesosx/a", "/services/x", "", "x"):
        assert route(path, SNAP) is None


def test_encoding_is_kept_as_received() -> None:
    assert target("/service/marathon/v2/apps/%2Fa%2Fb").url == "http://127.0.0.1:8080/v2/apps/%2Fa%2Fb"


@given(st.text(max_size=80))
def test_any_path_routes_without_raising(rest: str) -> None:
    for prefix in ("/", "/mesos/", "/service/", "/agent/", "/slave/", "/dns/", "/package/", "/cosmos/"):
        got = route(prefix + rest, SNAP)
        assert got is None or isinstance(got, Target | Redirect | NotFound | Unavailable)
        route(prefix + rest, Snapshot())


@given(st.text(alphabet=st.characters(blacklist_characters="?#"), max_size=60))
def test_mesos_rest_passes_through_unchanged(rest: str) -> None:
    assert target("/mesos/" + rest).url == "http://127.0.0.1:5050/" + rest


def test_location_rewrite() -> None:
    t = target("/service/marathon/v2/apps")
    assert rewrite_location("http://127.0.0.1:8080/v2/deployments/1", t) == "/service/marathon/v2/deployments/1"
    assert rewrite_location("/v2/apps/x?a=1", t) == "/service/marathon/v2/apps/x?a=1"
    assert rewrite_location("http://other:1/x", t) == "http://other:1/x"
    assert rewrite_location("relative/x", t) == "relative/x"
    m = target("/mesos/master/state")
    assert rewrite_location("//127.0.0.1:5050/master/state", m) == "/mesos/master/state"
    assert rewrite_location("//127.0.0.1:5052/master/state", m) == "//127.0.0.1:5052/master/state"
    job = target("/service/spark-job-1/x")
    assert rewrite_location("http://127.0.0.1:4040/jobs/1/stages", job) == "/service/spark-job-1/stages"
    assert rewrite_location("/jobs/2/", job) == "/jobs/2/"


@given(st.text(max_size=60))
def test_location_rewrite_never_raises(location: str) -> None:
    rewrite_location(location, target("/agent/S0/x"))


def test_unreadable_state_still_proxies_mesos_but_misses_are_503() -> None:
    snap = Snapshot(leader="http://m:5050", master_error="the leading master at http://m:5050 is not answering: timeout",
                    frameworks={"webapp": "http://w:8080"})  # fmt: skip
    assert target("/mesos/master/state", snap).url == "http://m:5050/master/state"
    assert target("/service/marathon/v2/apps", snap).url == "http://w:8080/v2/apps"  # last known
    got = route("/service/other/", snap)
    assert isinstance(got, Unavailable) and "is not answering" in got.message
