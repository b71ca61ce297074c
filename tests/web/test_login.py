"""The web UI's login (dcos/web/src/auth.js, pages/login.js) against a real master and gateway
with security on: a page opened without a token lands on the login page and, once logged in,
back where it was; a wrong password is explained there; every call carries the token
(the master's SUBSCRIBE stream too); a token revoked meanwhile brings the login page back at
the next call; Settings' Log out revokes the token and shows the login page again.

The cluster is the least that serves a login: a real master and a real gateway started with
``--security-dir`` (made by `dcos.security.layout.init_security_dir`, as ``dcos-py up
--secure`` makes it), no agents; the UI tests' insecure ``ui_cluster`` is not started here.
The browser trusts the cluster CA by ignoring HTTPS errors (its own context).
"""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect

from dcos.security.layout import SecurityDir, init_security_dir
from tests.e2e.up_process import quiet_ports
from tests.web.conftest import DIST, VIEWPORT

PASSWORD = "ui-login-test-pw"
START_TIMEOUT_S = 30.0


@dataclass
class SecureCluster:
    url: str
    sd: SecurityDir

    def call(self, method: str, path: str, body: Any = None,
             token: str | None = None) -> tuple[int, Any]:  # fmt: skip
        """`method` `path` through the gateway (verifying it with the cluster CA)."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"token={token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        ctx = ssl.create_default_context(cafile=str(self.sd.ca_cert))
        try:
            with urllib.request.urlopen(req, timeout=5, context=ctx) as r:
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@pytest.fixture(scope="module")
def secure_cluster(tmp_path_factory: pytest.TempPathFactory) -> Generator[SecureCluster, None, None]:
    if not DIST.exists():
        pytest.fail(f"{DIST} missing: build the UI with `make web`")
    work = tmp_path_factory.mktemp("secure-ui")
    sd = init_security_dir(work / "security", names={"master": "component",
                                                     "gateway": "component"},
                           admin_password=PASSWORD)  # fmt: skip
    master_port, gateway_port = quiet_ports(2)
    flags = ["--security-dir", str(sd.root)]
    procs = [
        subprocess.Popen([sys.executable, "-m", "dcos.master", "--ip", "127.0.0.1", "--port",
                          str(master_port), "--work-dir", str(work / "master"), *flags,
                          "--tls-name", "master", "--log-file", str(work / "master.log")]),
        subprocess.Popen([sys.executable, "-m", "dcos.gateway", "--ip", "127.0.0.1", "--port",
                          str(gateway_port), "--master", f"https://127.0.0.1:{master_port}",
                          *flags, "--log-file", str(work / "gateway.log")]),
    ]  # fmt: skip
    cluster = SecureCluster(f"https://127.0.0.1:{gateway_port}", sd)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                status, body = cluster.call("GET", "/gateway/health")
                if status == 200 and body["healthy"]:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise AssertionError("the secure master and gateway did not start: see "
                                     f"{work}/master.log and gateway.log")  # fmt: skip
            time.sleep(0.2)
        yield cluster
    finally:
        _stop(procs)


@pytest.fixture
def secure_page(browser: Any) -> Generator[Any, None, None]:
    """A page in its own context that accepts the cluster's certificate; page errors (not the
    401s and 503s these tests provoke) fail the test."""
    context = browser.new_context(viewport=VIEWPORT, ignore_https_errors=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and not re.search(
        r"status of (401|503)|net::ERR_ABORTED", m.text) else None)  # fmt: skip
    try:
        yield page
    finally:
        context.close()
    assert not errors, errors


def login(page: Any, uid: str, password: str) -> None:
    page.get_by_label("User").fill(uid)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_login_takes_the_user_back_and_every_call_carries_the_token(
        secure_cluster: SecureCluster, secure_page: Any) -> None:  # fmt: skip
    page = secure_page
    seen: list[tuple[str, str | None]] = []
    page.on("request", lambda r: seen.append((r.url, r.headers.get("authorization"))))
    page.goto(f"{secure_cluster.url}/#/frameworks")
    expect(page.get_by_role("heading", name="Log in to dcos-py")).to_be_visible()
    assert "#/login?next=%2Fframeworks" in page.url
    assert page.locator("nav.sidebar").count() == 0  # the login page stands alone

    login(page, "admin", "wrong password")
    expect(page.locator("#login-error")).to_contain_text(re.compile(r"\S"))
    assert "#/login" in page.url

    login(page, "admin", PASSWORD)
    expect(page).to_have_url(re.compile(r"#/frameworks$"))
    expect(page.get_by_role("heading", name="Frameworks")).to_be_visible()
    token = page.evaluate("localStorage.getItem('dcos-py.token')")
    assert token and token.count(".") == 2
    # the master's event stream, as every API call, carries the token now
    expect(page.get_by_text(re.compile("Not connected"))).to_have_count(0)
    stream = [auth for url, auth in seen if url.endswith("/mesos/api/v1")]
    assert stream and stream[-1] == f"token={token}"
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert cookies.get("dcos-acs-auth-cookie") == token
    assert secure_cluster.call("GET", "/mesos/master/state", token=token)[0] == 200

    # the token revoked behind the UI's back: the next call opens the login page, to come back
    assert secure_cluster.call("POST", "/acs/api/v1/auth/logout", {}, token)[0] == 204
    wait_refused(secure_cluster, token)
    page.evaluate("location.hash = '#/settings'")
    expect(page.get_by_role("heading", name="Log in to dcos-py")).to_be_visible()
    assert "#/login?next=%2Fsettings" in page.url


def test_logout_in_settings_revokes_the_token(secure_cluster: SecureCluster,
                                              secure_page: Any) -> None:  # fmt: skip
    page = secure_page
    page.goto(f"{secure_cluster.url}/#/settings")
    expect(page.get_by_role("heading", name="Log in to dcos-py")).to_be_visible()
    login(page, "admin", PASSWORD)
    expect(page.get_by_role("heading", name="Account")).to_be_visible()
    expect(page.get_by_text("Logged in as admin")).to_be_visible()
    token = page.evaluate("localStorage.getItem('dcos-py.token')")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to dcos-py")).to_be_visible()
    assert page.evaluate("localStorage.getItem('dcos-py.token')") is None
    assert "dcos-acs-auth-cookie" not in {c["name"] for c in page.context.cookies()}
    wait_refused(secure_cluster, token)


def wait_refused(cluster: SecureCluster, token: str) -> None:
    """Wait until the gateway itself refuses `token` (it learns revocations from the master
    within ~2 s; the path is one the gateway answers, so the master's own refusal does not
    count)."""
    deadline = time.monotonic() + 10
    while cluster.call("GET", "/pkgpanda/active.buildinfo.full.json", token=token)[0] != 401:
        assert time.monotonic() < deadline, "the logged-out token still works"
        time.sleep(0.2)
