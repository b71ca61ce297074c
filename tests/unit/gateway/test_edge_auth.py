"""The gateway's open/closed decision at the edge (`dcos.gateway.edge`, security on): which
paths answer without a token, and where a GET's token may come from (the UI's cookie)."""

from __future__ import annotations

import pytest

from dcos.gateway.edge import COOKIE, cookie_token, is_open, without_auth_cookie


@pytest.mark.parametrize("path", [
    "/", "/index.html", "/assets/app.js", "/assets/style.css", "/health", "/gateway/health",
    "/openapi.json", "/metadata", "/dcos-metadata/dcos-version.json",
    "/acs/api/v1/auth/login", "/acs/api/v1/auth/providers", "/metadata?x=1",
])  # fmt: skip
def test_open_paths(path: str) -> None:
    assert is_open(path)


@pytest.mark.parametrize("path", [
    # the CLIs' login probe, every API, the IAM beyond login, secrets
    "/pkgpanda/active.buildinfo.full.json", "/mesos/master/state", "/mesos/api/v1",
    "/service/marathon/v2/apps", "/package/list", "/capabilities", "/agent/a1/files/read",
    "/dns/v1/version", "/acs/api/v1/users", "/acs/api/v1/auth/logout", "/acs/api/v1/acls",
    "/secrets/v1/secret/default/x", "/cluster/v1/links", "/assets/", "/dcos-metadata/",
    # tricks: dot segments (also encoded), encodings of open names, a path without a slash
    "/assets/../mesos/master/state", "/assets/%2e%2e/mesos/api/v1", "/assets/%2E%2E/x",
    "/acs/api/v1/auth/login/../../users", "/acs/api/v1/auth/%6cogin", "/%61ssets/app.js",
    "/./metadata", "/metadata/.", "mesos", "", "/assets\\..\\x", "/ACS/api/v1/auth/login",
    "/acs/api/v1/auth/login/", "/health/x",
])  # fmt: skip
def test_closed_paths(path: str) -> None:
    assert not is_open(path)


def test_cookie_token_only_for_reads() -> None:
    cookie = f"a=b; {COOKIE}=eyJ.x.y; c=d"
    assert cookie_token("GET", cookie) == "eyJ.x.y"
    assert cookie_token("head", cookie) == "eyJ.x.y"
    for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        assert cookie_token(method, cookie) is None  # a cross-site form cannot use it


@pytest.mark.parametrize("header", [None, "", "a=b", f"{COOKIE}=", f"{COOKIE}=  ", "\x00;;=="])
def test_cookie_token_absent(header: str | None) -> None:
    assert cookie_token("GET", header) is None


def test_iam_and_secrets_go_to_the_leader_same_path() -> None:
    from dcos.gateway.routes import Kind, Snapshot, Target, Unavailable, route

    snap = Snapshot(leader="https://127.0.0.1:5050")
    for path in ("/acs/api/v1/auth/login", "/acs/api/v1/users/bob?x=1",
                 "/secrets/v1/secret/default/team/db"):  # fmt: skip
        got = route(path, snap)
        assert isinstance(got, Target) and got.kind == Kind.MASTER
        assert got.url == "https://127.0.0.1:5050" + path
    assert isinstance(route("/acs/api/v1/users", Snapshot()), Unavailable)
    assert route("/acs/other", snap) is None and route("/secrets/v2/x", snap) is None


def test_the_token_cookie_never_goes_upstream() -> None:
    assert without_auth_cookie(f"a=b; {COOKIE}=eyJ.x.y; c=d") == "a=b; c=d"
    assert without_auth_cookie(f"{COOKIE}=eyJ.x.y") is None
    assert without_auth_cookie(f" {COOKIE} =t;;") is None
    assert without_auth_cookie("session=1") == "session=1"


def test_only_the_clusters_own_upstreams_get_credentials() -> None:
    from dcos.gateway.routes import Snapshot, Target, route

    snap = Snapshot(leader="https://m:5050", package="https://p:7070", dns="https://d:8123",
                    frameworks={"webapp": "https://w:8080", "batch-dispatcher": "https://b:7077",
                                "myjob": "http://u:4040"},
                    agents={"a1": "https://a:5051"}, apps={"team/site": "http://t:31000"})  # fmt: skip
    expected = {
        "/mesos/master/state": True, "/acs/api/v1/users": True, "/package/list": True,
        "/dns/v1/version": True, "/agent/a1/state": True, "/service/marathon/v2/apps": True,
        "/service/webapp/v2/apps": True, "/service/batch/v1/submissions": True,
        "/service/myjob/jobs": False, "/service/team/site/index.html": False,
    }  # fmt: skip
    for path, component in expected.items():
        got = route(path, snap)
        assert isinstance(got, Target) and got.component is component, path
