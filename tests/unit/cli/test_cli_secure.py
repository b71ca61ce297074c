"""The CLI's security settings (issue 13): `core.ssl_verify` and the bearer token
(`dcos.cli.config`), sent on every request and verified over TLS (`dcos.cli.http`), a 401
turned into "not logged in", and `dcos-py up --secure`'s command lines (`dcos.cli.up`)."""

from __future__ import annotations

import os
import ssl
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from dcos.cli import clusters, config, http, main, up_secure
from dcos.cli.errors import CliError, Rejected
from dcos.cli.up import UpOptions, build_components, cli_cluster, wiring
from dcos.security import layout, tls


class _Handler(BaseHTTPRequestHandler):
    seen: list[str | None] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        auth = self.headers.get("Authorization")
        type(self).seen.append(auth)
        status, body = (200, b'{"ok": true}') if auth == "token=good" else (
            401, b'{"message": "missing or invalid token"}')
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def security(tmp_path_factory: pytest.TempPathFactory) -> layout.SecurityDir:
    return layout.init_security_dir(tmp_path_factory.mktemp("sec") / "security",
                                    names=up_secure.CERT_NAMES)


@pytest.fixture
def tls_server(security: layout.SecurityDir) -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.socket = tls.server_context(security, "master").wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    _Handler.seen = []
    try:
        yield f"https://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        http.use_transport(None)


def test_core_settings_env_over_cluster_file_over_config_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[core]\nssl_verify = false\ndcos_acs_token = "from-config"\n')
    monkeypatch.setenv("DCOS_PY_CONFIG", str(cfg))
    assert config.core_settings() == config.CoreSettings(False, "from-config")
    path = config.store_token("from-cluster")
    assert path == clusters.clusters_dir() / "local" / "core.toml"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    config.store_ssl_verify("/some/ca.crt")
    assert config.core_settings() == config.CoreSettings("/some/ca.crt", "from-cluster")
    monkeypatch.setenv("DCOS_ACS_TOKEN", "from-env")
    monkeypatch.setenv("DCOS_SSL_VERIFY", "true")
    assert config.core_settings() == config.CoreSettings(True, "from-env")
    monkeypatch.delenv("DCOS_ACS_TOKEN")
    assert config.remove_token() and not config.remove_token()
    assert config.core_settings().token == "from-config"


def test_core_settings_follow_the_attached_cluster() -> None:
    clusters.save(clusters.Cluster("c1", "https://10.0.0.1:5050", "https://10.0.0.1:8080",
                                   "https://10.0.0.1:7070"))
    config.store_token("t1", "c1")
    assert config.core_settings().token is None  # "local" is current
    clusters.attach("c1")
    assert config.current_cluster_name() == "c1" and config.core_settings().token == "t1"


@pytest.mark.parametrize("text", ['[core]\nssl_verify = 3\n', '[core]\nnope = "x"\n',
                                  'core = "x"\n'])
def test_a_bad_core_table_is_one_line(text: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(text)
    monkeypatch.setenv("DCOS_PY_CONFIG", str(cfg))
    with pytest.raises(CliError, match="config.toml"):
        config.core_settings()


def test_token_sent_and_ca_verified(tls_server: str, security: layout.SecurityDir,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DCOS_SSL_VERIFY", str(security.ca_cert))
    monkeypatch.setenv("DCOS_ACS_TOKEN", "good")
    assert http.get_json(tls_server, "/x") == {"ok": True}
    assert _Handler.seen == ["token=good"]


def test_401_says_run_auth_login_exit_1(tls_server: str, security: layout.SecurityDir,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DCOS_SSL_VERIFY", str(security.ca_cert))
    with pytest.raises(http.NotLoggedIn) as info:
        http.get_json(tls_server, "/x")
    assert info.value.message == "not logged in: run `dcos-py auth login`"
    assert info.value.exit_code == 1 and _Handler.seen == [None]
    with pytest.raises(Rejected) as plain:
        http.request("GET", tls_server + "/x", login_hint=False)
    assert plain.value.status == 401


def test_an_unknown_ca_is_refused_with_a_hint(tls_server: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DCOS_ACS_TOKEN", "good")
    with pytest.raises(CliError, match="cannot verify .*core.ssl_verify"):
        http.get_json(tls_server, "/x")
    monkeypatch.setenv("DCOS_SSL_VERIFY", "false")
    assert http.get_json(tls_server, "/x") == {"ok": True}


def test_up_transport_presents_the_cli_certificate(tls_server: str,
                                                   security: layout.SecurityDir) -> None:
    transport = up_secure.SecureTransport(security.root)
    http.use_transport(transport.current)
    assert http.get_status(tls_server + "/x") == 401  # TLS fine, no token
    assert transport.current().ssl_context is transport.context


def flag(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def test_up_secure_gives_every_component_the_security_dir_and_https(tmp_path: Path) -> None:
    opts = UpOptions(agents=2, work_dir=tmp_path, secure=True, lb=True, haproxy="/bin/true")
    comps = build_components(opts)
    names = {c.name for c in comps}
    assert {"master", "agent-0", "agent-1", "webapp", "dns", "batch", "package", "lb",
            "gateway"} <= names
    expected = {"master": "master", "agent-0": "agent", "agent-1": "agent", "webapp": "webapp",
                "dns": "dns", "batch": "batch", "package": "package", "lb": "lb",
                "gateway": "gateway"}
    for c in comps:
        argv = list(c.argv)
        assert flag(argv, "--security-dir") == str(tmp_path.resolve() / "security"), c.name
        assert flag(argv, "--tls-name") == expected[c.name]
        if c.name != "lb":  # HAProxy's own stats page and virtual hosts stay plain HTTP
            assert c.url is None or c.url.startswith(("https://", "dns://")), c.url
        for f in ("--webapp", "--master", "--package", "--dns-http"):
            value = flag(argv, f)
            assert value is None or "http://" not in value, (c.name, f, value)
    assert wiring(opts).master_urls == [f"https://127.0.0.1:{opts.master_port}"]
    cluster = cli_cluster(opts, wiring(opts))
    assert cluster.master.startswith("https://") and cluster.dispatcher is not None


def test_up_secure_ha_masters_get_it_too(tmp_path: Path) -> None:
    opts = UpOptions(agents=1, work_dir=tmp_path, secure=True, ha=True, lb=False)
    comps = build_components(opts)
    masters = [c for c in comps if c.name.startswith("master-")]
    assert len(masters) == 3
    assert all(flag(list(c.argv), "--tls-name") == "master" for c in masters)
    assert all(c.url and c.url.startswith("https://") for c in masters)
    assert cli_cluster(opts, wiring(opts)).master.startswith("zk://")


def test_plain_up_has_no_security_flags(tmp_path: Path) -> None:
    for c in build_components(UpOptions(agents=1, work_dir=tmp_path, lb=False)):
        assert "--security-dir" not in c.argv
        assert c.url is None or not c.url.startswith("https")


def test_prepare_keeps_the_directory_and_shows_the_password_once(tmp_path: Path) -> None:
    first = up_secure.prepare(tmp_path)
    assert first.first_password and stat.S_IMODE(
        os.stat(first.admin_password_file).st_mode) == 0o600
    ca = first.ca_cert.read_bytes()
    again = up_secure.prepare(tmp_path)
    assert again.first_password is None and again.ca_cert.read_bytes() == ca
    assert first.admin_password_file.read_text().strip() == first.first_password


def test_setup_cli_saves_attaches_and_logs_lines(tmp_path: Path) -> None:
    cluster = clusters.Cluster("up-5050", "https://127.0.0.1:5050", "https://127.0.0.1:8080",
                               "https://127.0.0.1:7070")
    assert up_secure.setup_cli(cluster, tmp_path / "ca.crt", "tok")
    assert config.core_settings() == config.CoreSettings(str(tmp_path / "ca.crt"), "tok")
    lines = up_secure.cli_lines("up-5050", True, "pw", tmp_path / "admin.password")
    assert "pw" in lines[0] and "attached" in lines[1]


def test_ca_show_and_rotate(tmp_path: Path) -> None:
    up_secure.prepare(tmp_path)
    runner = CliRunner()
    shown = runner.invoke(main.app, ["ca", "show", "--work-dir", str(tmp_path), "--json"])
    assert shown.exit_code == 0, shown.output
    before = orjson.loads(shown.output)
    assert len(before["cas"]) == 1 and {c["name"] for c in before["certificates"]} == set(
        up_secure.CERT_NAMES)
    rotated = runner.invoke(main.app, ["ca", "rotate", "--work-dir", str(tmp_path), "--grace",
                                       "0", "--json"])
    assert rotated.exit_code == 0, rotated.output
    after = orjson.loads(runner.invoke(
        main.app, ["ca", "show", "--work-dir", str(tmp_path), "--json"]).output)
    assert len(after["cas"]) == 2
    assert after["cas"][1]["fingerprint_sha256"] == before["cas"][0]["fingerprint_sha256"]
    assert all(c["issuer"] == after["cas"][0]["subject"] for c in after["certificates"])


def test_ca_without_a_secure_work_dir_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main.app, ["ca", "show", "--work-dir", str(tmp_path)])
    assert result.exit_code == 1 and "no cluster CA" in result.output


def test_ssl_context_for_modes(security: layout.SecurityDir) -> None:
    assert http.ssl_context_for(True) is None
    off = http.ssl_context_for(False)
    assert off is not None and off.verify_mode == ssl.CERT_NONE
    with pytest.raises(CliError, match="cannot load"):
        http.ssl_context_for("/nonexistent/ca.crt")


def test_announce_names_the_saved_cluster_when_secure(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from dcos.cli.up import announce

    opts = UpOptions(agents=1, work_dir=tmp_path, secure=True, lb=False, master_port=6050)
    comps = build_components(opts)
    buf = io.StringIO()
    announce(opts, comps, {}, wiring(opts), "https://127.0.0.1:6050",
             Console(file=buf, width=200))
    text = buf.getvalue()
    assert "Web UI and API: https://127.0.0.1:8000" in text
    assert "cluster up-6050" in text and "cluster ready: master https://127.0.0.1:6050" in text


def test_cluster_setup_of_a_secure_master(tls_server: str,
                                          security: layout.SecurityDir) -> None:
    unknown_ca = CliRunner().invoke(main.app, ["cluster", "setup", tls_server, "--name", "x"])
    assert unknown_ca.exit_code == 1 and "core.ssl_verify" in unknown_ca.output
    result = CliRunner().invoke(main.app, ["cluster", "setup", tls_server, "--name", "sec",
                                           "--ssl-verify", str(security.ca_cert), "--json"])
    assert result.exit_code == 0, result.output
    saved = orjson.loads(result.output)
    assert saved["secure"] and saved["webapp"].startswith("https://127.0.0.1:8080")
    assert saved["package"].startswith("https://")
    assert config.core_settings() == config.CoreSettings(str(security.ca_cert), None)


def test_iam_error_bodies_give_their_description() -> None:
    line = http.error_line("PUT", "https://m/acs/api/v1/acls", 400, orjson.dumps({
        "title": "Bad Request", "description": "run_tasks[0].users: expected values",
        "code": "ERR_INVALID_DATA"}))
    assert line.endswith("answered 400: run_tasks[0].users: expected values")
