"""What an anonymous client gets from a `dcos-py up --secure` cluster: 401 on every
component's API, in that API's own error format, `/health` (and the login route) open, no
plain HTTP at all, and a forged or garbage token refused as well (issue 13)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.security.conftest import SecureCluster

COSMOS_SEARCH = {
    "Content-Type": "application/vnd.dcos.package.search-request+json;charset=utf-8;version=v1",
    "Accept": "application/vnd.dcos.package.search-response+json;charset=utf-8;version=v1",
}

# (component attribute, method, path, JSON body, headers, what the error body looks like)
CALLS: list[tuple[str, str, str, Any, dict[str, str] | None, str]] = [
    ("master", "GET", "/master/state", None, None, "mesos"),
    ("master", "GET", "/metrics/snapshot", None, None, "mesos"),
    ("master", "POST", "/api/v1", {"type": "GET_AGENTS"}, None, "mesos"),
    ("master", "POST", "/api/v1/scheduler",
     {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "root", "name": "x"}}},
     None, "mesos"),
    ("master", "GET", "/acs/api/v1/users", None, None, "iam"),
    ("master", "GET", "/secrets/v1/secret/default/?list=true", None, None, "iam"),
    ("agent", "GET", "/state", None, None, "mesos"),
    ("agent", "GET", "/files/browse?path=/", None, None, "mesos"),
    ("agent", "POST", "/api/v1", {"type": "GET_CONTAINERS"}, None, "mesos"),
    ("webapp", "GET", "/v2/apps", None, None, "marathon"),
    ("webapp", "POST", "/v2/apps", {"id": "/x", "cmd": "id"}, None, "marathon"),
    ("webapp", "POST", "/v2/tasks/delete", {"ids": ["x"]}, None, "marathon"),
    ("package", "POST", "/package/search", {"query": ""}, COSMOS_SEARCH, "cosmos"),
    ("batch", "GET", "/v1/submissions", None, None, "mesos"),  # plain text, as its other errors
    ("dns_http", "GET", "/v1/config", None, None, "any"),
    ("gateway", "GET", "/mesos/master/state", None, None, "gateway"),
    ("gateway", "GET", "/service/webapp/v2/apps", None, None, "gateway"),
    ("gateway", "GET", "/package/repository/list", None, None, "gateway"),
]


def base(c: SecureCluster, which: str) -> str:
    return c.agents[0] if which == "agent" else str(getattr(c, which))


def check_format(kind: str, r: requests.Response) -> None:
    """The 401 body is in the API's own error format (plan: Mesos plain text, Marathon
    {"message"}, Cosmos {"type", "message"}, IAM {"title", "description", "code"}, gateway
    {"code", "message"})."""
    if kind == "mesos":
        assert r.text.strip(), "Mesos endpoints answer a plain-text reason"
        return
    if kind == "any":
        return
    body = r.json()
    if kind == "marathon":
        assert isinstance(body.get("message"), str)
    elif kind == "cosmos":
        assert body.get("type") == "Unauthorized" and body.get("message")
    elif kind == "iam":
        assert {"title", "description", "code"} <= set(body)
    elif kind == "gateway":
        assert body.get("message") or body.get("description") or body.get("title")
    else:
        assert body


@pytest.mark.parametrize("which,method,path,body,headers,kind", CALLS,
                         ids=[f"{w}:{m}:{p.split('?')[0]}" for w, m, p, *_ in CALLS])
def test_anonymous_gets_401_in_the_apis_format(secure_cluster: SecureCluster, which: str,
                                               method: str, path: str, body: Any,
                                               headers: dict[str, str] | None,
                                               kind: str) -> None:
    c = secure_cluster
    r = c.anon.request(method, base(c, which) + path, json=body, headers=headers, timeout=10)
    assert r.status_code == 401, (r.status_code, r.text[:300])
    check_format(kind, r)


@pytest.mark.parametrize("which,method,path,body,headers,kind", CALLS[::3],
                         ids=[f"{w}:{p.split('?')[0]}" for w, _, p, *_ in CALLS[::3]])
def test_a_forged_token_is_refused_too(secure_cluster: SecureCluster, which: str, method: str,
                                       path: str, body: Any, headers: dict[str, str] | None,
                                       kind: str) -> None:
    c = secure_cluster
    forged = (c.token or "a.b.c").rsplit(".", 1)[0] + ".Zm9yZ2Vk"
    for token in (forged, "garbage"):
        r = c.anon.request(method, base(c, which) + path, json=body, timeout=10,
                           headers={**(headers or {}), "Authorization": f"token={token}"})
        assert r.status_code == 401, (token[:20], r.status_code, r.text[:300])


@pytest.mark.parametrize("which,path", [
    ("master", "/health"), ("agent", "/health"), ("webapp", "/ping"), ("batch", "/health"),
    ("package", "/health"), ("dns_http", "/health"), ("gateway", "/gateway/health"),
    ("master", "/openapi.json"),
])
def test_health_stays_open(secure_cluster: SecureCluster, which: str, path: str) -> None:
    r = secure_cluster.anon.get(base(secure_cluster, which) + path, timeout=10)
    assert r.status_code == 200, (r.status_code, r.text[:200])


def test_the_dcos_cli_auth_probe_asks_for_a_token(secure_cluster: SecureCluster) -> None:
    r = secure_cluster.anon.head(secure_cluster.gateway + "/pkgpanda/active.buildinfo.full.json",
                                 timeout=10)
    assert r.status_code == 401
    assert "acsjwt" in r.headers.get("WWW-Authenticate", "").lower()


@pytest.mark.parametrize("which", ["master", "agent", "webapp", "gateway"])
def test_no_plain_http_and_no_unknown_ca(secure_cluster: SecureCluster, which: str) -> None:
    """Plain HTTP to a TLS port gets no API answer; a client that does not trust the
    cluster CA cannot complete the handshake."""
    url = base(secure_cluster, which)
    try:
        r = requests.get(url.replace("https://", "http://") + "/health", timeout=5)
    except requests.RequestException:
        pass  # the TLS server closed the connection
    else:
        assert r.status_code == 400, r.status_code
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url + "/health", timeout=5)  # the system CAs do not know the cluster's


def test_the_admin_token_up_stored_works(secure_cluster: SecureCluster) -> None:
    c = secure_cluster
    state = c.admin.get(c.master + "/master/state", timeout=10)
    assert state.status_code == 200, state.text[:300]
    assert len(state.json()["slaves"]) == 2
    assert c.admin.get(c.webapp + "/v2/apps", timeout=10).status_code == 200
