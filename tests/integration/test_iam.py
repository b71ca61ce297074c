"""The IAM and secrets API of a real master process started with ``--security-dir``: login,
tokens, logout and revocation, users, ACLs (a bad document is refused and changes nothing),
secrets (never a value in any answer or log), internal resolve for agent certificates only,
the components' policy, and the CLI commands against it."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from dcos.cli.main import app as cli_app
from dcos.security.layout import SecurityDir, init_security_dir
from dcos.security.tls import client_context
from dcos.testing.processes import free_port

pytestmark = pytest.mark.integration

ADMIN_PW = "admin-pw-12345"
BOB_PW = "bob-pw-12345"
SECRET_VALUE = "s3cr3t-VALUE-never-shown"
NAMES = {"master": "component", "agent": "agent", "webapp": "component", "cli": "component"}


@dataclass
class Master:
    sd: SecurityDir
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = None,
             cert: str | None = None, raw: bytes | None = None) -> tuple[int, Any, Any]:
        """(status, decoded JSON body or text or None, headers) over HTTPS; `cert` presents
        that principal's certificate."""
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10,
                                           context=client_context(self.sd, cert))
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"token={token}"
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
        finally:
            conn.close()
        try:
            decoded: Any = json.loads(payload) if payload else None
        except ValueError:
            decoded = payload.decode("utf-8", "replace")
        return resp.status, decoded, resp.headers

    def login(self, uid: str, password: str) -> str:
        status, body, _ = self.call("POST", "/acs/api/v1/auth/login",
                                    {"uid": uid, "password": password})
        assert status == 200, body
        return str(body["token"])


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Master]:
    root = tmp_path_factory.mktemp("iam")
    sd = init_security_dir(root / "security", names=NAMES, admin_password=ADMIN_PW)
    port = free_port()
    log = root / "master.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dcos.master", "--ip", "127.0.0.1", "--port", str(port),
         "--work-dir", str(root / "master"), "--log-file", str(log),
         "--security-dir", str(sd.root)],
        stdout=open(root / "master.out", "wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    m = Master(sd, port, proc, log)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if m.call("GET", "/health")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, (root / "master.out").read_text()
            assert time.monotonic() < deadline, "master did not answer /health"
            time.sleep(0.1)
        yield m
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _iam_error(body: Any, code: str | None = None) -> None:
    assert isinstance(body, dict) and {"title", "description", "code"} <= set(body), body
    if code is not None:
        assert body["code"] == code, body


def test_login_providers_and_tokens(master: Master) -> None:
    status, body, _ = master.call("GET", "/acs/api/v1/auth/providers")
    assert status == 200
    assert body["dcos-users"]["authentication-type"] == "dcos-uid-password"
    status, body, _ = master.call("POST", "/acs/api/v1/auth/login",
                                  {"uid": "admin", "password": "wrong-password"})
    assert status == 401
    _iam_error(body, "ERR_INVALID_CREDENTIALS")
    # failed logins of one uid are limited: a burst of 10, then 1/s (time-independent check:
    # count the 401s before the first 429)
    failures = 0
    while True:
        status, body, headers = master.call("POST", "/acs/api/v1/auth/login",
                                            {"uid": "mallory", "password": "guess-guess"})
        if status != 401:
            break
        failures += 1
        assert failures < 60
    assert status == 429 and headers["Retry-After"] and failures >= 10
    _iam_error(body, "ERR_TOO_MANY_REQUESTS")
    status, body, _ = master.call("POST", "/acs/api/v1/auth/login", raw=b"{not json")
    assert status == 400
    _iam_error(body)
    status, body, headers = master.call("GET", "/acs/api/v1/users")
    assert status == 401 and "acsjwt" in headers.get_all("WWW-Authenticate", [])
    _iam_error(body)
    token = master.login("admin", ADMIN_PW)
    status, body, _ = master.call("GET", "/acs/api/v1/users", token=token)
    assert status == 200
    assert {"uid": "admin", "description": "bootstrap superuser", "is_service": False,
            "url": "/acs/api/v1/users/admin"} in body["array"]
    # the same token works on the master's other APIs
    assert master.call("GET", "/master/state", token=token)[0] == 200


def test_users_and_acls(master: Master) -> None:
    admin = master.login("admin", ADMIN_PW)
    assert master.call("PUT", "/acs/api/v1/users/bob", {"password": BOB_PW},
                       token=admin)[0] == 201
    status, body, _ = master.call("PUT", "/acs/api/v1/users/bob", {"password": BOB_PW},
                                  token=admin)
    assert status == 409
    _iam_error(body, "ERR_USER_EXISTS")
    status, body, _ = master.call("PUT", "/acs/api/v1/users/bad%2Fuid", {"password": BOB_PW},
                                  token=admin)
    assert status in (400, 404)
    bob = master.login("bob", BOB_PW)
    status, body, _ = master.call("GET", "/acs/api/v1/users", token=bob)
    assert status == 200 and [u["uid"] for u in body["array"]] == ["bob"]
    status, body, _ = master.call("PUT", "/acs/api/v1/users/eve", {"password": BOB_PW},
                                  token=bob)
    assert status == 403
    _iam_error(body, "ERR_FORBIDDEN")
    assert master.call("GET", "/acs/api/v1/acls", token=bob)[0] == 403

    # a bad document: 400 naming where, the stored document unchanged
    status, before, _ = master.call("GET", "/acs/api/v1/acls", token=admin)
    assert status == 200 and before["permissive"] is False
    bad = dict(before, manage_secrets=[{"principals": {"values": ["bob"]},
                                        "secrets": {"values": "team"}}])
    status, body, _ = master.call("PUT", "/acs/api/v1/acls", bad, token=admin)
    assert status == 400
    _iam_error(body)
    assert "manage_secrets[0].secrets" in body["description"]
    assert master.call("GET", "/acs/api/v1/acls", token=admin)[1] == before
    # bob may manage secrets under team/
    good = dict(before, manage_secrets=[
        {"principals": {"values": ["bob"]}, "secrets": {"values": ["team"]}},
        *before.get("manage_secrets", []),
    ])  # fmt: skip
    assert master.call("PUT", "/acs/api/v1/acls", good, token=admin)[0] == 204
    assert master.call("PUT", "/secrets/v1/secret/default/team/bob-db",
                       {"value": SECRET_VALUE}, token=bob)[0] == 201
    status, body, _ = master.call("PUT", "/secrets/v1/secret/default/other/x",
                                  {"value": SECRET_VALUE}, token=bob)
    assert status == 403
    _iam_error(body, "ERR_FORBIDDEN")
    status, body, _ = master.call("GET", "/secrets/v1/secret/default/?list=true", token=bob)
    assert status == 200 and body["array"] == ["team/bob-db"]


def test_secrets_never_show_their_value(master: Master) -> None:
    admin = master.login("admin", ADMIN_PW)
    base = "/secrets/v1/secret/default/"
    seen: list[Any] = []

    def call(method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        status, answer, _ = master.call(method, path, body, **kw)
        seen.append(answer)
        return status, answer

    assert call("PUT", base + "app/db", {"value": SECRET_VALUE}, token=admin)[0] == 201
    assert call("PUT", base + "app/db", {"value": "x"}, token=admin)[0] == 409
    status, body = call("GET", base + "app/db", token=admin)
    assert status == 200 and body["path"] == "app/db" and set(body) == {"path", "created",
                                                                        "updated"}
    status, body = call("GET", base + "app/?list=true", token=admin)
    assert status == 200 and body["array"] == ["db"]
    status, body = call("PUT", base + "app/../etc", {"value": "x"}, token=admin)
    assert status in (400, 404)  # aiohttp may normalise the path first; never stored
    status, body = call("PUT", base + "app//db", {"value": "x"}, token=admin)
    assert status == 400
    assert call("PATCH", base + "app/db", {"value": SECRET_VALUE + "2"}, token=admin)[0] == 204

    # internal resolve: agents only
    paths = {"paths": ["app/db"]}
    assert call("POST", "/secrets/v1/internal/resolve", paths, token=admin)[0] == 403
    assert call("POST", "/secrets/v1/internal/resolve", paths, cert="webapp")[0] == 403
    status, values = master.call("POST", "/secrets/v1/internal/resolve", paths, cert="agent")[:2]
    assert status == 200
    assert base64.b64decode(values["values"]["app/db"]).decode() == SECRET_VALUE + "2"
    status, body = call("POST", "/secrets/v1/internal/resolve", {"paths": ["app/nope"]},
                        cert="agent")
    assert status == 404 and body["missing"] == ["app/nope"]

    assert call("DELETE", base + "app/db", token=admin)[0] == 204
    assert call("GET", base + "app/db", token=admin)[0] == 404
    assert call("DELETE", base + "app/db", token=admin)[0] == 404
    assert SECRET_VALUE not in json.dumps(seen)
    time.sleep(0.3)  # the log file is written by the master's logging thread
    assert SECRET_VALUE not in master.log.read_text()
    assert ADMIN_PW not in master.log.read_text() and BOB_PW not in master.log.read_text()


def test_policy_logout_and_revoke(master: Master) -> None:
    admin = master.login("admin", ADMIN_PW)
    assert master.call("GET", "/acs/api/v1/policy", token=admin)[0] == 403
    status, policy, _ = master.call("GET", "/acs/api/v1/policy", cert="agent")
    assert status == 200 and policy["acls"]["permissive"] is False
    assert master.call("PUT", "/acs/api/v1/users/carol", {"password": BOB_PW},
                       token=admin)[0] == 201
    t1 = master.login("carol", BOB_PW)
    t2 = master.login("carol", BOB_PW)
    assert master.call("POST", "/acs/api/v1/auth/logout", token=t1)[0] == 204
    assert master.call("GET", "/acs/api/v1/users", token=t1)[0] == 401
    assert master.call("GET", "/acs/api/v1/users", token=t2)[0] == 200
    # carol may revoke her own tokens; a token of another uid needs manage_iam
    assert master.call("POST", "/acs/api/v1/auth/revoke", {"token": admin}, token=t2)[0] == 403
    assert master.call("POST", "/acs/api/v1/auth/revoke", {"uid": "carol"},
                       token=admin)[0] == 204
    assert master.call("GET", "/acs/api/v1/users", token=t2)[0] == 401
    t3 = master.login("carol", BOB_PW)  # a token issued after the revocation works
    assert master.call("GET", "/acs/api/v1/users", token=t3)[0] == 200
    status, later, _ = master.call("GET", "/acs/api/v1/policy", cert="agent")
    assert later["version"] > policy["version"] and "carol" in later["revoked"]["uids"]
    # deleting a user revokes its tokens
    assert master.call("DELETE", "/acs/api/v1/users/carol", token=admin)[0] == 204
    assert master.call("GET", "/acs/api/v1/users", token=t3)[0] == 401
    assert master.call("DELETE", "/acs/api/v1/users/carol", token=admin)[0] == 404


def test_cli_commands(master: Master, tmp_path: Path) -> None:
    env: dict[str, str | None] = {
        "DCOS_PY_HOME": str(tmp_path / "home"), "DCOS_PY_CONFIG": str(tmp_path / "config.toml"),
        "DCOS_MASTER": f"https://127.0.0.1:{master.port}",
        "DCOS_SSL_VERIFY": str(master.sd.ca_cert), "DCOS_ACS_TOKEN": None,
    }  # fmt: skip

    runner = CliRunner()

    def cli(*args: str, stdin: str = "") -> Result:
        return runner.invoke(cli_app, list(args), input=stdin, env=env)

    out = cli("auth", "login", "-u", "admin", stdin="wrong-password\n")
    assert out.exit_code != 0
    out = cli("auth", "login", "-u", "admin", stdin=ADMIN_PW + "\n")
    assert out.exit_code == 0, out.output
    assert cli("auth", "token").stdout.count(".") == 2  # a JWT
    out = cli("secret", "create", "cli/pw", stdin=SECRET_VALUE)
    assert out.exit_code == 0, out.output
    out = cli("secret", "list", "--json")
    assert out.exit_code == 0 and "cli/pw" in json.loads(out.stdout)
    assert SECRET_VALUE not in out.output
    out = cli("user", "create", "dave", "--service", stdin="dave-pw-123\n")
    assert out.exit_code == 0, out.output
    out = cli("user", "list", "--json")
    assert {"dave": True}.items() <= {u["uid"]: u["is_service"]
                                      for u in json.loads(out.stdout)}.items()
    bad = tmp_path / "acls.json"
    bad.write_text('{"permissive": "maybe"}')
    out = cli("acl", "set", str(bad))
    assert out.exit_code == 4
    assert cli("acl", "get").exit_code == 0
    assert cli("secret", "delete", "cli/pw").exit_code == 0
    assert cli("user", "delete", "dave").exit_code == 0
    assert cli("auth", "logout").exit_code == 0
    out = cli("user", "list")
    assert out.exit_code != 0 and "auth login" in out.output


DCOS = Path(__file__).resolve().parents[2] / ".venv-dcoscli" / "bin" / "dcos"


def test_real_dcos_cli_logs_in(master: Master, tmp_path: Path) -> None:
    """The DC/OS CLI 0.6.1 (.venv-dcoscli, installed by `make test`) lists the providers and
    logs in with a username and password; the token it keeps works."""
    assert DCOS.is_file(), f"{DCOS} is missing: run `make test` (tests/compat/install_dcoscli.sh)"
    dcos_dir = tmp_path / "dcos"
    dcos_dir.mkdir()
    toml = dcos_dir / "dcos.toml"
    toml.write_text(f'[core]\ndcos_url = "https://127.0.0.1:{master.port}"\n'
                    f'ssl_verify = "{master.sd.ca_cert}"\n')  # fmt: skip
    toml.chmod(0o600)
    env = {**os.environ, "DCOS_DIR": str(dcos_dir), "PAGER": "cat"}
    env.pop("DCOS_ACS_TOKEN", None)

    def dcos(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(DCOS), *args], capture_output=True, text=True, env=env,
                              timeout=60)  # fmt: skip

    out = dcos("auth", "list-providers", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["dcos-users"]["authentication-type"] == "dcos-uid-password"
    out = dcos("auth", "login", "--username", "admin", "--password", ADMIN_PW)
    assert out.returncode == 0 and "Login successful" in out.stdout, out.stderr
    token = tomllib.loads(toml.read_text())["core"]["dcos_acs_token"]
    assert master.call("GET", "/acs/api/v1/users", token=token)[0] == 200


def test_policy_long_poll_answers_304_unchanged_and_at_once_on_a_change(master: Master) -> None:
    """A component holding the current version (If-None-Match) waits at most ?wait seconds
    for a change: 304 when nothing changed, the new policy as soon as something does."""
    status, policy, headers = master.call("GET", "/acs/api/v1/policy", cert="agent")
    assert status == 200 and headers["ETag"] == f'"{policy["version"]}"'

    def poll(wait: float) -> tuple[int, Any, float]:
        conn = http.client.HTTPSConnection("127.0.0.1", master.port, timeout=10,
                                           context=client_context(master.sd, "agent"))
        started = time.monotonic()
        try:
            conn.request("GET", f"/acs/api/v1/policy?wait={wait}",
                         headers={"If-None-Match": headers["ETag"]})
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
        return resp.status, (json.loads(body) if body else None), time.monotonic() - started

    status, _, waited = poll(0.3)
    assert status == 304 and waited >= 0.3
    admin = master.login("admin", ADMIN_PW)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(poll, 8.0)
        time.sleep(0.3)
        assert master.call("PUT", "/acs/api/v1/users/dave", {"password": BOB_PW},
                           token=admin)[0] == 201
        assert master.call("POST", "/acs/api/v1/auth/revoke", {"uid": "dave"},
                           token=admin)[0] == 204
        status, changed, waited = pending.result()
    assert status == 200 and changed["version"] > policy["version"] and waited < 8.0
    assert master.call("DELETE", "/acs/api/v1/users/dave", token=admin)[0] == 204
