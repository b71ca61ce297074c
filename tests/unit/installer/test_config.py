"""dcos.installer.config: every problem of a cluster.yaml at once, each named by its key; the
parsed ClusterConfig (hosts, overrides, ZooKeeper URLs); add/remove an agent."""

from __future__ import annotations

import base64
import os
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from dcos.installer import config, config_checks
from dcos.installer.config import ConfigInvalid, ConfigProblem, load, parse

# --- helpers ------------------------------------------------------------------------------


@pytest.fixture
def key(tmp_path: Path) -> Path:
    private = ed25519.Ed25519PrivateKey.generate()
    path = tmp_path / "id_ed25519"
    path.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.OpenSSH,
                                           serialization.NoEncryption()))
    path.chmod(0o600)
    (tmp_path / "id_ed25519.pub").write_bytes(private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH))
    return path


def good(key: Path, **changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "cluster_name": "prod",
        "master_list": ["10.0.0.11", "10.0.0.12", "10.0.0.13"],
        "agent_list": ["10.0.0.21", "10.0.0.22"],
        "public_agent_list": ["10.0.0.31"],
        "ssh_key_path": str(key),
    }
    raw.update(changes)
    return raw


def problems(raw: object, path: Path) -> dict[str, str]:
    with pytest.raises(ConfigInvalid) as info:
        parse(raw, path)
    return {p.key: p.message for p in info.value.problems}


# --- a good config --------------------------------------------------------------------------


def test_minimal_config_gets_the_defaults(key: Path) -> None:
    cfg = parse(good(key), key.parent / "cluster.yaml")
    assert cfg.cluster_name == "prod"
    assert cfg.masters == ("10.0.0.11", "10.0.0.12", "10.0.0.13")
    assert cfg.ssh_user == "root" and cfg.ssh_port == 22 and cfg.ssh_parallelism == 10
    assert cfg.install_dir == PurePosixPath("/opt/dcos-py")
    assert cfg.work_dir == PurePosixPath("/var/lib/dcos-py")
    assert cfg.security == config.SecurityConfig(True, "admin", None)
    assert cfg.zk_external == () and cfg.resolvers == () and cfg.ip_detect is None
    assert cfg.genconf_dir == key.parent / "genconf"
    assert cfg.repositories == () and cfg.packages == ()


def test_hosts_in_order_with_indexes_and_overrides(key: Path) -> None:
    raw = good(key, resources={"cpus": 4, "mem": 8192}, attributes={"rack": "r1"},
               hosts={"10.0.0.22": {"resources": {"cpus": 2}, "attributes": {"rack": "r2"}}})
    cfg = parse(raw, key.parent / "c.yaml")
    hosts = cfg.hosts()
    assert [(h.address, h.role, h.index) for h in hosts] == [
        ("10.0.0.11", "master", 0), ("10.0.0.12", "master", 1), ("10.0.0.13", "master", 2),
        ("10.0.0.21", "agent", 0), ("10.0.0.22", "agent", 1), ("10.0.0.31", "public_agent", 0)]
    assert hosts[0].resources is None and hosts[0].attributes == {}
    assert hosts[3].resources == {"cpus": 4.0, "mem": 8192.0}
    assert hosts[3].attributes == {"rack": "r1"}
    assert hosts[4].resources == {"cpus": 2.0, "mem": 8192.0}
    assert hosts[4].attributes == {"rack": "r2"}
    assert cfg.host("10.0.0.31") == hosts[5]
    assert cfg.host("10.0.0.99") is None


def test_agents_detect_resources_when_none_are_given(key: Path) -> None:
    cfg = parse(good(key), key.parent / "c.yaml")
    assert cfg.host("10.0.0.21").resources is None  # type: ignore[union-attr]


def test_zookeeper_urls_on_masters_and_external(key: Path) -> None:
    cfg = parse(good(key), key.parent / "c.yaml")
    assert cfg.zk_hosts() == ["10.0.0.11:2181", "10.0.0.12:2181", "10.0.0.13:2181"]
    assert cfg.zk_url("/dcos") == "zk://10.0.0.11:2181,10.0.0.12:2181,10.0.0.13:2181/dcos"
    assert cfg.zk_url("dcos-webapp").endswith("/dcos-webapp")
    ext = parse(good(key, zookeeper={"external": ["zk1:2181", "10.1.0.2:2182", "[fd00::1]:2181"]}),
                key.parent / "c.yaml")
    assert ext.zk_url("dcos") == "zk://zk1:2181,10.1.0.2:2182,[fd00::1]:2181/dcos"
    assert not ext.zk_on_masters


def test_ipv6_addresses_are_normalized(key: Path) -> None:
    cfg = parse(good(key, master_list=["FD00:0::1"], agent_list=[], public_agent_list=[]),
                key.parent / "c.yaml")
    assert cfg.masters == ("fd00::1",)
    assert cfg.zk_hosts() == ["[fd00::1]:2181"]
    assert cfg.host("fd00:0:0::1") is not None


def test_key_path_tilde_and_relative(key: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(key.parent))
    cfg = parse(good(key, ssh_key_path="~/id_ed25519"), Path("/elsewhere/c.yaml"))
    assert cfg.ssh_key_path == key
    sub = key.parent / "conf"
    sub.mkdir()
    cfg = parse(good(key, ssh_key_path="../id_ed25519"), sub / "c.yaml")
    assert cfg.ssh_key_path.resolve() == key


def test_security_and_packages(key: Path) -> None:
    from dcos.security.passwords import hash_password

    pw = hash_password("s3cret", n=2)
    raw = good(key, security={"enabled": True, "bootstrap_user": {"uid": "ops",
                                                                   "password_hash": pw}},
               packages={"repositories": [{"name": "Universe", "uri": "https://example/u.json"}],
                         "install": [{"name": "hello-world", "version": "0.1.0",
                                      "options": {"a": 1}}, {"name": "dask"}]},
               resolvers=["8.8.8.8"], ip_detect="hostname -I | cut -d' ' -f1")
    cfg = parse(raw, key.parent / "c.yaml")
    assert cfg.security == config.SecurityConfig(True, "ops", pw)
    assert cfg.repositories == (("Universe", "https://example/u.json"),)
    assert cfg.packages == (config.PackageRequest("hello-world", "0.1.0", {"a": 1}),
                            config.PackageRequest("dask", None, None))
    assert cfg.resolvers == ("8.8.8.8",)
    off = parse(good(key, security={"enabled": False}), key.parent / "c.yaml")
    assert off.security.enabled is False


def test_empty_optional_keys_mean_the_default(key: Path) -> None:
    cfg = parse(good(key, agent_list=None, ssh_user=None, ssh_port=None, resolvers=None),
                key.parent / "c.yaml")
    assert cfg.agents == () and cfg.ssh_user == "root" and cfg.ssh_port == 22


# --- every problem at once ------------------------------------------------------------------


def test_every_problem_is_reported_at_once(key: Path, tmp_path: Path) -> None:
    raw = {
        "cluster_nme": "prod",
        "master_list": ["10.0.0.11", "10.0.0.12"],
        "agent_list": ["10.0.0.21", "10.0.0.11", "not-an-ip"],
        "public_agent_list": ["10.0.0.31", "10.0.0.31"],
        "ssh_port": 70000,
        "ssh_key_path": str(tmp_path / "missing"),
        "ssh_parallelism": 0,
        "install_dir": "opt/dcos",
        "work_dir": "/var/lib/dcos-py",
        "resources": {"cpus": "four", "mem": -1},
        "hosts": {"10.0.0.99": {"resources": {"cpus": 1}}, "10.0.0.21": {"resource": {}}},
        "security": {"enabled": "yes", "bootstrap_user": {"password_hash": "plain"}},
        "packages": {"install": [{"name": "x", "version": 1.0}], "repos": []},
        "zookeeper": {"external": ["zk1"]},
        "resolvers": ["8.8.8.888"],
    }
    found = problems(raw, tmp_path / "c.yaml")
    assert "did you mean 'cluster_name'" in found["cluster_nme"]
    assert found["cluster_name"] == "is required"
    assert "2 masters given: use 1, 3 or 5" in found["master_list"]
    assert "10.0.0.11 is also in master_list[0]" in found["agent_list[1]"]
    assert "not an IPv4 or IPv6 address" in found["agent_list[2]"]
    assert "listed twice" in found["public_agent_list[1]"]
    assert "70000 is out of range" in found["ssh_port"]
    assert "no such file" in found["ssh_key_path"]
    assert "at least 1" in found["ssh_parallelism"]
    assert "absolute" in found["install_dir"]
    assert "must be a number" in found["resources.cpus"]
    assert ">= 0" in found["resources.mem"]
    assert "not in agent_list or public_agent_list" in found["hosts.10.0.0.99"]
    assert "did you mean 'resources'" in found["hosts.10.0.0.21.resource"]
    assert "true or false" in found["security.enabled"]
    assert "--hash-password" in found["security.bootstrap_user.password_hash"]
    assert "quote it" in found["packages.install[0].version"]
    assert "unknown key" in found["packages.repos"]
    assert "host:port" in found["zookeeper.external[0]"]
    assert "not an IPv4" in found["resolvers[0]"]
    assert len(found) == 20


def test_problem_text_is_key_colon_message(key: Path) -> None:
    with pytest.raises(ConfigInvalid) as info:
        parse(good(key, ssh_port="22"), key.parent / "c.yaml")
    assert str(info.value.problems[0]) == "ssh_port: must be an integer, not a string ('22')"
    assert str(info.value) == "ssh_port: must be an integer, not a string ('22')"
    assert str(ConfigProblem("a.b", "m")) == "a.b: m"


@pytest.mark.parametrize("masters, ok", [
    (["10.0.0.1"], True), (["10.0.0.1", "10.0.0.2", "10.0.0.3"], True),
    ([f"10.0.0.{i}" for i in range(1, 6)], True), ([], False),
    (["10.0.0.1", "10.0.0.2"], False), ([f"10.0.0.{i}" for i in range(1, 5)], False),
    ([f"10.0.0.{i}" for i in range(1, 7)], False), ([f"10.0.0.{i}" for i in range(1, 8)], False),
])
def test_master_counts(key: Path, masters: list[str], ok: bool) -> None:
    raw = good(key, master_list=masters)
    if ok:
        assert parse(raw, key.parent / "c.yaml").masters == tuple(masters)
    else:
        assert "master_list" in problems(raw, key.parent / "c.yaml")


def test_missing_master_list_and_key(key: Path) -> None:
    found = problems({"cluster_name": "x"}, key.parent / "c.yaml")
    assert found == {"master_list": "is required: 1, 3 or 5 master addresses",
                     "ssh_key_path": "is required"}


@pytest.mark.parametrize("value, expected", [
    (None, "must be a mapping of keys"), ([1, 2], "must be a mapping of keys"),
    ("text", "must be a mapping of keys"),
])
def test_top_level_must_be_a_mapping(key: Path, value: object, expected: str) -> None:
    found = problems(value, key.parent / "c.yaml")
    assert expected in next(iter(found.values()))


def test_wrong_types_are_named(key: Path) -> None:
    found = problems(good(key, cluster_name=5, master_list="10.0.0.1,10.0.0.2",
                          agent_list={"a": 1}, ssh_user="bad user", ssh_parallelism=True,
                          attributes=["x"], hosts=["10.0.0.21"], resolvers=5,
                          ip_detect=3, zookeeper="local", security="on", packages=[]),
                     key.parent / "c.yaml")
    assert "non-empty string" in found["cluster_name"]
    assert "not an IPv4" in found["master_list[0]"]
    assert "must be a list" in found["agent_list"]
    assert "not valid" in found["ssh_user"]
    assert "must be an integer, not a boolean" in found["ssh_parallelism"]
    assert "must be a mapping" in found["attributes"]
    assert "must be a mapping" in found["hosts"]
    assert "must be a list" in found["resolvers"]
    assert "shell command" in found["ip_detect"]
    assert "'masters' or" in found["zookeeper"]
    assert "must be a mapping" in found["security"]
    assert "must be a mapping" in found["packages"]


@pytest.mark.parametrize("install_dir, work_dir, key_name, text", [
    ("/opt", "/var/lib/dcos-py", "install_dir", "too close to /"),
    ("/", "/var/lib/dcos-py", "install_dir", "too close to /"),
    ("/opt/../etc", "/var/lib/dcos-py", "install_dir", "'..'"),
    ("/opt/dcos-py", "/opt/dcos-py/work", "work_dir", "overlaps install_dir"),
    ("/etc/dcos-py/x", "/var/lib/dcos-py", "install_dir", "/etc/dcos-py"),
    ("/opt/dcos-py", "relative/dir", "work_dir", "absolute"),
])
def test_bad_directories(key: Path, install_dir: str, work_dir: str, key_name: str,
                         text: str) -> None:
    found = problems(good(key, install_dir=install_dir, work_dir=work_dir),
                     key.parent / "c.yaml")
    assert text in found[key_name]


def test_host_overrides_for_a_master_and_bad_values(key: Path) -> None:
    found = problems(good(key, hosts={
        "10.0.0.11": {"resources": {"cpus": 1}},
        "10.0.0.21": {"resources": {"cpus": float("nan"), "bad name": 1},
                      "attributes": {"rack": "a;b", "ok": 3, "flag": True}},
        "nope": {}, "10.0.0.22": None}), key.parent / "c.yaml")
    assert "is a master" in found["hosts.10.0.0.11"]
    assert ">= 0" in found["hosts.10.0.0.21.resources.cpus"]
    assert "resource name" in found["hosts.10.0.0.21.resources.bad name"]
    assert "';'" in found["hosts.10.0.0.21.attributes.rack"]
    assert "text or a number" in found["hosts.10.0.0.21.attributes.flag"]
    assert "hosts.10.0.0.21.attributes.ok" not in found
    assert "not an IPv4" in found["hosts.nope"]
    assert "is empty" in found["hosts.10.0.0.22"]


def test_bad_security_and_packages_shapes(key: Path) -> None:
    found = problems(good(key, security={"enabled": False, "bootstrap_user": {"uid": "-x"},
                                         "tls": 1},
                          packages={"repositories": [{"name": "U", "uri": "ftp://x"},
                                                     {"name": "V", "uri": "https://a"},
                                                     {"name": "V", "uri": "https://b"}, "x"],
                                    "install": [{"version": "1"}, {"name": "a", "options": 3}]}),
                     key.parent / "c.yaml")
    assert "unknown key" in found["security.tls"]
    assert "not valid" in found["security.bootstrap_user.uid"]
    assert "security.enabled is false" in found["security.bootstrap_user"]
    assert "http://, https://" in found["packages.repositories[0].uri"]
    assert "'V' is used twice" in found["packages.repositories"]
    assert "must be a mapping" in found["packages.repositories[3]"]
    assert found["packages.install[0].name"] == "is required"
    assert "must be a mapping" in found["packages.install[1].options"]


def test_zookeeper_external_ports(key: Path) -> None:
    found = problems(good(key, zookeeper={"external": ["zk:0", "zk:99999", "", 5]}),
                     key.parent / "c.yaml")
    assert "out of range" in found["zookeeper.external[0]"]
    assert "out of range" in found["zookeeper.external[1]"]
    assert "host:port" in found["zookeeper.external[2]"]
    assert "must be host:port" in found["zookeeper.external[3]"]
    assert "non-empty list" in problems(good(key, zookeeper={"external": []}),
                                        key.parent / "c.yaml")["zookeeper.external"]


# --- the key file ---------------------------------------------------------------------------


def test_key_file_problems(key: Path, tmp_path: Path) -> None:
    pub = key.with_name("id_ed25519.pub")
    assert "is a public key" in problems(good(key, ssh_key_path=str(pub)),
                                         tmp_path / "c.yaml")["ssh_key_path"]
    junk = tmp_path / "junk"
    junk.write_text("hello\n")
    assert "not a private key" in problems(good(key, ssh_key_path=str(junk)),
                                           tmp_path / "c.yaml")["ssh_key_path"]
    assert "is a directory" in problems(good(key, ssh_key_path=str(tmp_path)),
                                        tmp_path / "c.yaml")["ssh_key_path"]
    if os.geteuid() != 0:  # root reads a 000 file anyway
        locked = tmp_path / "locked"
        locked.write_bytes(key.read_bytes())
        locked.chmod(0)
        assert "cannot be read" in problems(good(key, ssh_key_path=str(locked)),
                                            tmp_path / "c.yaml")["ssh_key_path"]


def test_passphrase_protected_keys_are_refused(tmp_path: Path) -> None:
    blob = b"openssh-key-v1\0" + len(b"aes256-ctr").to_bytes(4, "big") + b"aes256-ctr" + b"\0" * 40
    openssh = tmp_path / "enc_openssh"
    openssh.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n"
                       + base64.b64encode(blob).decode() + "\n-----END OPENSSH PRIVATE KEY-----\n")
    pem = tmp_path / "enc_pem"
    pem.write_text("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: x\n\nAAAA\n"
                   "-----END RSA PRIVATE KEY-----\n")
    pkcs8 = tmp_path / "enc_pkcs8"
    pkcs8.write_text("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE "
                     "KEY-----\n")
    for path in (openssh, pem, pkcs8):
        assert "passphrase" in (config_checks.private_key_problem(path) or ""), path


def test_key_file_check_can_be_skipped(tmp_path: Path) -> None:
    raw = {"cluster_name": "c", "master_list": ["10.0.0.1"], "ssh_key_path": "/nonexistent"}
    cfg = parse(raw, tmp_path / "c.yaml", check_key_file=False)
    assert cfg.ssh_key_path == Path("/nonexistent")


# --- load -----------------------------------------------------------------------------------


def test_load_reads_yaml(key: Path, tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(f"cluster_name: prod\nmaster_list: [10.0.0.11]\nagent_list:\n  - 10.0.0.21\n"
                    f"ssh_key_path: {key.name}\nhosts:\n  10.0.0.21: {{resources: {{cpus: 2}}}}\n")
    cfg = load(path)
    assert cfg.ssh_key_path == key and cfg.config_path == path
    assert cfg.host_overrides == {"10.0.0.21": {"resources": {"cpus": 2.0}}}


def test_load_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigInvalid) as info:
        load(tmp_path / "nope.yaml")
    assert [str(p) for p in info.value.problems] == [
        f"{tmp_path / 'nope.yaml'}: no such file (give --config PATH; "
        "installer/cluster.yaml.example is an example)"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("cluster_name: prod\nmaster_list: [10.0.0.1\nagent_list: []\n")
    with pytest.raises(ConfigInvalid) as info:
        load(bad)
    assert len(info.value.problems) == 1
    assert info.value.problems[0].key == str(bad)
    assert "not valid YAML: line" in info.value.problems[0].message


def test_example_config_is_valid(key: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).parents[3] / "installer" / "cluster.yaml.example"
    if not example.exists():
        pytest.skip("installer/cluster.yaml.example not written yet")
    import yaml

    raw = yaml.safe_load(example.read_text())
    raw["ssh_key_path"] = str(key)
    cfg = parse(raw, example)
    assert cfg.hosts()


# --- add / remove ---------------------------------------------------------------------------


def test_with_agent_and_without_host(key: Path) -> None:
    cfg = parse(good(key, hosts={"10.0.0.22": {"attributes": {"rack": "x"}}}),
                key.parent / "c.yaml")
    more = config.with_agent(cfg, "10.0.0.40", public=False)
    assert more.agents == ("10.0.0.21", "10.0.0.22", "10.0.0.40")
    pub = config.with_agent(cfg, "10.0.0.41", public=True)
    assert pub.host("10.0.0.41").role == "public_agent"  # type: ignore[union-attr]
    with pytest.raises(ConfigInvalid, match="already in the cluster"):
        config.with_agent(cfg, "10.0.0.11", public=False)
    with pytest.raises(ConfigInvalid, match="not an IPv4"):
        config.with_agent(cfg, "host-a", public=False)
    less = config.without_host(cfg, "10.0.0.22")
    assert less.agents == ("10.0.0.21",) and less.host_overrides == {}
    assert config.without_host(cfg, "10.0.0.31").public_agents == ()
    with pytest.raises(ConfigInvalid, match="is a master"):
        config.without_host(cfg, "10.0.0.11")
    with pytest.raises(ConfigInvalid, match="not a host"):
        config.without_host(cfg, "10.0.0.99")
