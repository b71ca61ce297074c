"""`dcos.installer.host_security`: the cluster's security dir in genconf (certificates with each
name's own SANs, ACLs naming every component and the bootstrap user, bootstrap.json from a
hash or a generated password) and the files each role gets, which the components load."""

from __future__ import annotations

import dataclasses
import json
import stat
from pathlib import Path

import pytest

from dcos.iam import load_keys
from dcos.installer import config, host_security
from dcos.installer.config import ClusterConfig, HostSpec, SecurityConfig
from dcos.security import ca
from dcos.security.context import load_context
from dcos.security.layout import SecurityDir
from dcos.security.passwords import hash_password, verify_password

MASTERS = ["10.0.0.11", "10.0.0.12", "10.0.0.13"]
FAST_HASH = hash_password("chosen-pw-1", n=2**4)


def make_cfg(tmp_path: Path, **extra: object) -> ClusterConfig:
    raw = {"cluster_name": "prod", "master_list": MASTERS, "agent_list": ["10.0.0.21"],
           "public_agent_list": ["10.0.0.31"], "ssh_key_path": "/nonexistent", **extra}
    return config.parse(raw, tmp_path / "cluster.yaml", check_key_file=False)


@pytest.fixture
def cfg(tmp_path: Path) -> ClusterConfig:
    return make_cfg(tmp_path)


def prepare(cfg: ClusterConfig) -> tuple[SecurityDir, list[str]]:
    said: list[str] = []
    sd = host_security.prepare(cfg, cfg.genconf_dir / "security", say=said.append)
    return sd, said


def info(sd: SecurityDir, name: str) -> ca.CertInfo:
    return ca.describe(ca.load_cert(sd.cert(name).read_bytes()))


def test_certificates_have_their_own_sans(cfg: ClusterConfig) -> None:
    sd, _ = prepare(cfg)
    local = set(ca.DEFAULT_HOSTS)
    for name in ("master", "webapp", "package", "dns", "gateway"):
        got = info(sd, name)
        assert (got.kind, set(got.hosts)) == ("component", local | set(MASTERS))
    agent = info(sd, "agent-10.0.0.21")
    assert (agent.kind, set(agent.hosts)) == ("agent", local | {"10.0.0.21"})
    assert set(info(sd, "agent-10.0.0.31").hosts) == local | {"10.0.0.31"}
    assert set(info(sd, "lb").hosts) == local | {"10.0.0.31"}
    assert info(sd, "installer").kind == "component"
    assert sd.names() == sorted(["master", "webapp", "package", "dns", "gateway", "lb",
                                 "installer", "agent-10.0.0.21", "agent-10.0.0.31"])


def test_acls_name_every_component_and_the_bootstrap_user(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, security={"bootstrap_user": {"uid": "ops",
                                                         "password_hash": FAST_HASH}})
    sd, _ = prepare(cfg)
    acls = json.loads(sd.acls.read_text())
    rules = acls["register_frameworks"]
    assert rules[0]["principals"] == {"values": ["ops"]}
    assert set(rules[1]["principals"]["values"]) == {
        "master", "webapp", "package", "dns", "gateway", "lb", "installer",
        "agent-10.0.0.21", "agent-10.0.0.31"}
    assert acls["run_tasks"][1]["users"] == {"values": ["nobody"]}
    assert not sd.admin_password.exists()  # up --secure's file: never made here
    assert json.loads(sd.bootstrap_user.read_text()) == {"uid": "ops",
                                                        "password_hash": FAST_HASH}
    assert not (cfg.genconf_dir / "admin.password").exists()


def test_without_a_hash_a_password_is_generated_and_said_once(cfg: ClusterConfig) -> None:
    sd, said = prepare(cfg)
    password_file = cfg.genconf_dir / "admin.password"
    password = password_file.read_text().strip()
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(sd.bootstrap_user.stat().st_mode) == 0o600
    assert [line for line in said if password in line] and "'admin'" in said[-1]
    doc = json.loads(sd.bootstrap_user.read_text())
    assert doc["uid"] == "admin" and verify_password(password, doc["password_hash"])
    # a second genconf keeps it and says nothing about it
    again, said2 = prepare(cfg)
    assert password_file.read_text().strip() == password
    assert json.loads(again.bootstrap_user.read_text()) == doc
    assert not any(password in line for line in said2)
    # a hash given later replaces the generated user
    chosen = dataclasses.replace(cfg, security=SecurityConfig(bootstrap_password_hash=FAST_HASH))
    sd3, _ = prepare(chosen)
    assert json.loads(sd3.bootstrap_user.read_text()) == {"uid": "admin",
                                                         "password_hash": FAST_HASH}


def test_second_prepare_keeps_everything(cfg: ClusterConfig) -> None:
    sd, _ = prepare(cfg)
    before = {p: p.read_bytes() for p in sd.root.rglob("*") if p.is_file()}
    _, said = prepare(cfg)
    after = {p: p.read_bytes() for p in sd.root.rglob("*") if p.is_file()}
    assert after == before
    assert not any("certificates issued" in line for line in said)


def test_an_added_agent_gets_a_certificate_and_the_rest_is_kept(cfg: ClusterConfig) -> None:
    sd, _ = prepare(cfg)
    before = {p: p.read_bytes() for p in sd.root.rglob("*") if p.is_file()}
    bigger = config.with_agent(config.with_agent(cfg, "10.0.0.22", False), "10.0.0.32", True)
    _, said = prepare(bigger)
    assert said == ["genconf: certificates issued: agent-10.0.0.22, agent-10.0.0.32, lb"]
    assert set(info(sd, "lb").hosts) >= {"10.0.0.31", "10.0.0.32"}
    changed = {p.name for p, data in before.items() if p.read_bytes() != data}
    assert changed == {"lb.crt", "lb.key"}  # the CA, keys, ACLs and other certs stay


def roles(cfg: ClusterConfig) -> dict[str, HostSpec]:
    return {h.role: h for h in cfg.hosts()}


EXPECTED = {
    "master": ["acls.json", "bootstrap.json", "ca.crt", "certs/dns.crt", "certs/dns.key",
               "certs/gateway.crt", "certs/gateway.key", "certs/master.crt",
               "certs/master.key", "certs/package.crt", "certs/package.key",
               "certs/webapp.crt", "certs/webapp.key", "credentials.json", "secrets.key",
               "token.key", "token.pub"],
    "agent": ["acls.json", "ca.crt", "certs/agent-10.0.0.21.crt",
              "certs/agent-10.0.0.21.key", "token.pub"],
    "public_agent": ["acls.json", "ca.crt", "certs/agent-10.0.0.31.crt",
                     "certs/agent-10.0.0.31.key", "certs/lb.crt", "certs/lb.key",
                     "token.pub"],
}  # fmt: skip


@pytest.mark.parametrize("role", ["master", "agent", "public_agent"])
def test_each_role_gets_its_files_only(cfg: ClusterConfig, tmp_path: Path, role: str) -> None:
    sd, _ = prepare(cfg)
    host = roles(cfg)[role]
    dest = tmp_path / "etc" / "security"
    (dest / "stale").mkdir(parents=True)
    written = host_security.write_host_security(sd, host, dest)
    on_disk = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert written == on_disk == EXPECTED[role]
    assert not (dest / "stale").exists() and not (dest / "ca.key").exists()
    for rel in on_disk:
        mode = stat.S_IMODE((dest / rel).stat().st_mode)
        public = rel.endswith(".crt") or rel in ("ca.crt", "token.pub", "acls.json")
        assert mode == (0o644 if public else 0o600), rel
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700


def test_the_components_load_their_host_dir(cfg: ClusterConfig, tmp_path: Path) -> None:
    """What each host gets is enough for its components: load_context per --tls-name, and
    the master's IAM keys with the bootstrap user from bootstrap.json."""
    sd, _ = prepare(cfg)
    for role, host in roles(cfg).items():
        dest = tmp_path / role
        host_security.write_host_security(sd, host, dest)
        for name in config_names(host):
            assert load_context(dest, name).name == name
        if role == "master":
            keys = load_keys(SecurityDir(dest))
            assert keys.bootstrap_uid == "admin" and keys.admin_password is None
            assert keys.bootstrap_password_hash is not None
            assert "generated" not in json.loads((dest / "bootstrap.json").read_text())


def config_names(host: HostSpec) -> list[str]:
    from dcos.installer.roles import cert_names

    return cert_names(host.role, host.address)


def test_a_missing_file_is_a_clear_error(cfg: ClusterConfig, tmp_path: Path) -> None:
    sd, _ = prepare(cfg)
    sd.secrets_key.unlink()
    with pytest.raises(host_security.BundleError, match="secrets.key is missing"):
        host_security.write_host_security(sd, roles(cfg)["master"], tmp_path / "m")
