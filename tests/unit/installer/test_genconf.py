"""`dcos.installer.genconf`: the bundle from a fake wheel builder (what is written where, what a
second run reuses and keeps, what a refusal leaves alone), and one real build of this checkout
(pip wheel; pip's cache keeps it to seconds)."""

from __future__ import annotations

import dataclasses
import json
import stat
import zipfile
from pathlib import Path

import orjson
import pytest

from dcos.installer import bundle, config, genconf
from dcos.installer.bundle import BundleError
from dcos.installer.config import ClusterConfig, SecurityConfig

REQUIRES = ["aiohttp>=3.9", "orjson>=3.9", 'pytest>=8; extra == "test"']


def make_cfg(tmp_path: Path, **extra: object) -> ClusterConfig:
    raw = {"cluster_name": "prod", "master_list": ["10.0.0.11", "10.0.0.12", "10.0.0.13"],
           "agent_list": ["10.0.0.21"], "public_agent_list": ["10.0.0.31"],
           "ssh_key_path": "/nonexistent", **extra}
    return config.parse(raw, tmp_path / "conf" / "cluster.yaml", check_key_file=False)


def write_wheel(path: Path, version: str, requires: list[str], payload: str = "") -> Path:
    meta = [f"Metadata-Version: 2.1\nName: dcos-py\nVersion: {version}"]
    meta += [f"Requires-Dist: {r}" for r in requires]
    with zipfile.ZipFile(path, "w") as zf:  # fixed dates: the same build, the same bytes
        for name, text in ((f"dcos_py-{version}.dist-info/METADATA", "\n".join(meta) + "\n"),
                           ("dcos/__init__.py", payload)):
            zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), text)
    return path


class FakeBuilder:
    """Writes a dcos-py wheel with `requires` (and `payload`: a new build) and one file per
    runtime dependency; counts the dependency builds."""

    python = "cp311"

    def __init__(self) -> None:
        self.version = "0.1.0"
        self.requires = list(REQUIRES)
        self.payload = "build 1"
        self.dep_builds = 0
        self.fail: str | None = None

    def build_dcos(self, source: Path, out_dir: Path) -> Path:
        if self.fail:
            raise BundleError(self.fail)
        name = f"dcos_py-{self.version}-py3-none-any.whl"
        return write_wheel(out_dir / name, self.version, self.requires, self.payload)

    def build_deps(self, dcos_wheel: Path, out_dir: Path) -> list[Path]:
        self.dep_builds += 1
        out = []
        for req in self.requires:
            if "extra" in req:
                continue
            name = req.split(">")[0].split("=")[0]
            path = out_dir / f"{name}-1.0-py3-none-any.whl"
            path.write_bytes(b"wheel " + name.encode())
            out.append(path)
        return out


@pytest.fixture
def source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "dcos" / "web" / "dist").mkdir(parents=True)
    (src / "pyproject.toml").write_text("[project]\nname = 'dcos-py'\n")
    (src / "dcos" / "web" / "dist" / "index.html").write_text("<html></html>")
    build = src / "packages-repo" / "build"
    (build / "assets").mkdir(parents=True)
    (build / ".stamps").mkdir()
    (build / "index.json").write_text('{"packages": []}')
    (build / "assets" / "hello.tar").write_bytes(b"tar")
    (build / ".stamps" / "x").write_text("not bundled")
    return src


@pytest.fixture
def builder() -> FakeBuilder:
    return FakeBuilder()


def run(cfg: ClusterConfig, source: Path, builder: FakeBuilder) -> tuple[bundle.Manifest,
                                                                          list[str]]:
    said: list[str] = []
    manifest = genconf.genconf(cfg, source=source, say=said.append, builder=builder, now=5.0)
    return manifest, said


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_genconf_writes_the_bundle(tmp_path: Path, source: Path, builder: FakeBuilder) -> None:
    cfg = make_cfg(tmp_path)
    manifest, said = run(cfg, source, builder)
    gd = bundle.genconf_dir(cfg)
    assert bundle.read_manifest(gd.serve) == manifest
    assert (manifest.version, manifest.python, manifest.cluster_name, manifest.repo,
            manifest.created) == ("0.1.0", "cp311", "prod", True, 5.0)
    assert manifest.dcos_wheel == "dcos_py-0.1.0-py3-none-any.whl"
    assert len(manifest.build_id) == 16
    assert manifest.cluster_id == gd.cluster_id.read_text().strip()
    assert list(manifest.wheels) == files(gd.wheels) == [
        "aiohttp-1.0-py3-none-any.whl", "dcos_py-0.1.0-py3-none-any.whl",
        "orjson-1.0-py3-none-any.whl"]
    assert files(gd.repo) == ["assets/hello.tar", "index.json"]  # no .stamps
    assert sorted(p.name for p in gd.hosts.iterdir()) == [
        "10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.21", "10.0.0.31"]
    master = files(gd.host_etc("10.0.0.12"))
    assert {"cluster.json", "supervisord.conf", "zookeeper/zoo.cfg", "zookeeper/myid",
            "systemd/dcos-py-master.service", "security/certs/master.key",
            "security/bootstrap.json"} <= set(master)
    assert (gd.host_etc("10.0.0.12") / "zookeeper" / "myid").read_text() == "2\n"
    agent = files(gd.host_etc("10.0.0.21"))
    assert "systemd/dcos-py-agent.service" in agent and not any("zookeeper" in f
                                                                for f in agent)
    assert "security/certs/agent-10.0.0.21.key" in agent
    assert "systemd/dcos-py-lb.service" in files(gd.host_etc("10.0.0.31"))
    doc = json.loads((gd.host_etc("10.0.0.31") / "cluster.json").read_text())
    assert doc == {"cluster_name": "prod", "cluster_id": manifest.cluster_id,
                   "role": "public_agent", "address": "10.0.0.31",
                   "build_id": manifest.build_id, "version": "0.1.0"}
    conf = (gd.host_etc("10.0.0.11") / "supervisord.conf").read_text()
    assert "--security-dir /etc/dcos-py/security" in conf and "--tls-name master" in conf
    assert not [f for f in files(gd.serve) if f.endswith("ca.key")]  # the CA key stays out
    assert (gd.security / "ca.key").is_file()
    assert any("password" in line for line in said)
    assert stat.S_IMODE(gd.admin_password.stat().st_mode) == 0o600


def test_a_second_run_reuses_and_keeps(tmp_path: Path, source: Path,
                                       builder: FakeBuilder) -> None:
    cfg = make_cfg(tmp_path)
    first, _ = run(cfg, source, builder)
    gd = bundle.genconf_dir(cfg)
    ca_key = (gd.security / "ca.key").read_bytes()
    second, said = run(cfg, source, builder)
    assert builder.dep_builds == 1
    assert "genconf: 2 dependency wheels unchanged (reused)" in said
    assert second == first  # same source: same build id, same cluster id
    assert (gd.security / "ca.key").read_bytes() == ca_key
    assert not any("password" in line for line in said)


def test_a_new_build_replaces_the_old_wheel(tmp_path: Path, source: Path,
                                            builder: FakeBuilder) -> None:
    cfg = make_cfg(tmp_path)
    first, _ = run(cfg, source, builder)
    builder.version, builder.payload = "0.2.0", "build 2"
    second, _ = run(cfg, source, builder)
    gd = bundle.genconf_dir(cfg)
    assert second.build_id != first.build_id and second.cluster_id == first.cluster_id
    assert second.dcos_wheel == "dcos_py-0.2.0-py3-none-any.whl"
    assert [w for w in files(gd.wheels) if w.startswith("dcos_py")] == [second.dcos_wheel]
    assert builder.dep_builds == 1  # same requirements: dependency wheels reused
    assert json.loads((gd.host_etc("10.0.0.21") / "cluster.json").read_text())[
        "build_id"] == second.build_id
    # a changed dependency set is rebuilt; a wheel no longer needed goes
    builder.requires = ["aiohttp>=3.10", "msgpack>=1.0"]
    third, _ = run(cfg, source, builder)
    assert builder.dep_builds == 2
    assert files(gd.wheels) == ["aiohttp-1.0-py3-none-any.whl", third.dcos_wheel,
                                "msgpack-1.0-py3-none-any.whl"]


def test_added_and_removed_agents(tmp_path: Path, source: Path, builder: FakeBuilder) -> None:
    cfg = make_cfg(tmp_path)
    run(cfg, source, builder)
    gd = bundle.genconf_dir(cfg)
    master_key = (gd.host_etc("10.0.0.11") / "security/certs/master.key").read_bytes()
    added = config.with_agent(cfg, "10.0.0.22", public=False)
    run(added, source, builder)
    assert (gd.host_etc("10.0.0.22") / "security/certs/agent-10.0.0.22.crt").is_file()
    assert (gd.host_etc("10.0.0.11") / "security/certs/master.key").read_bytes() == master_key
    removed = config.without_host(added, "10.0.0.21")
    run(removed, source, builder)
    assert sorted(p.name for p in gd.hosts.iterdir()) == [
        "10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.22", "10.0.0.31"]


def test_add_agent_keeps_the_build(tmp_path: Path, source: Path,
                                   builder: FakeBuilder) -> None:
    cfg = make_cfg(tmp_path)
    added = config.with_agent(cfg, "10.0.0.22", public=True)
    fresh = genconf.genconf(added, source=source, say=lambda line: None, builder=builder,
                            keep_build=True)  # no bundle yet: it builds
    builder.payload = "a newer checkout"
    said: list[str] = []
    kept = genconf.genconf(config.with_agent(added, "10.0.0.23", public=False), source=source,
                           say=said.append, builder=builder, keep_build=True)
    assert kept.build_id == fresh.build_id and kept.wheels == fresh.wheels
    assert said[0] == f"genconf: keeping build {fresh.build_id} (dcos-py 0.1.0)"
    gd = bundle.genconf_dir(cfg)
    assert (gd.host_etc("10.0.0.23") / "security/certs/agent-10.0.0.23.key").is_file()
    assert json.loads((gd.host_etc("10.0.0.23") / "cluster.json").read_text())[
        "build_id"] == fresh.build_id
    assert builder.dep_builds == 1


def test_security_off(tmp_path: Path, source: Path, builder: FakeBuilder) -> None:
    cfg = dataclasses.replace(make_cfg(tmp_path), security=SecurityConfig(enabled=False))
    run(cfg, source, builder)
    gd = bundle.genconf_dir(cfg)
    assert not gd.security.exists() and not gd.admin_password.exists()
    assert not any(f.startswith("security/") for f in files(gd.host_etc("10.0.0.11")))
    assert "--security-dir" not in (gd.host_etc("10.0.0.11") / "supervisord.conf").read_text()


def test_no_repo_built(tmp_path: Path, source: Path, builder: FakeBuilder) -> None:
    cfg = make_cfg(tmp_path)
    run(cfg, source, builder)
    (source / "packages-repo" / "build" / "index.json").unlink()
    manifest, said = run(cfg, source, builder)
    assert manifest.repo is False and not bundle.genconf_dir(cfg).repo.exists()
    assert any("make repo" in line for line in said)
    assert "--default-repo" not in (bundle.host_etc_dir(cfg, "10.0.0.11")
                                    / "supervisord.conf").read_text()


def test_refusals_change_nothing(tmp_path: Path, source: Path, builder: FakeBuilder) -> None:
    cfg = make_cfg(tmp_path)
    (source / "dcos" / "web" / "dist" / "index.html").unlink()
    with pytest.raises(BundleError, match="run `make web`"):
        run(cfg, source, builder)
    assert not cfg.genconf_dir.exists()
    with pytest.raises(BundleError, match="not a dcos-py source tree"):
        run(cfg, tmp_path / "nowhere", builder)
    (source / "dcos" / "web" / "dist" / "index.html").write_text("<html></html>")
    first, _ = run(cfg, source, builder)
    before = (bundle.serve_dir(cfg) / "manifest.json").read_bytes()
    builder.fail, builder.payload = "building the dcos-py wheel failed (exit 1)", "new"
    with pytest.raises(BundleError, match="exit 1"):
        run(cfg, source, builder)
    assert (bundle.serve_dir(cfg) / "manifest.json").read_bytes() == before


def test_a_damaged_cluster_id_is_refused(tmp_path: Path, source: Path,
                                         builder: FakeBuilder) -> None:
    cfg = make_cfg(tmp_path)
    cfg.genconf_dir.mkdir(parents=True)
    (cfg.genconf_dir / "cluster-id").write_text("not-a-uuid\n")
    with pytest.raises(BundleError, match="does not hold a cluster id"):
        run(cfg, source, builder)


def test_deps_key_ignores_extras() -> None:
    a = genconf.deps_key(["aiohttp>=3.9", 'pytest; extra == "test"'], "cp311")
    assert a == genconf.deps_key(["aiohttp>=3.9"], "cp311")
    assert a != genconf.deps_key(["aiohttp>=3.9"], "cp312")
    assert a != genconf.deps_key(["aiohttp>=3.10"], "cp311")


@pytest.mark.timeout(600)
def test_real_bundle_of_this_checkout(tmp_path: Path) -> None:
    """pip builds dcos-py from this checkout (web UI and stamp inside) and every dependency
    (from pip's cache when warm)."""
    cfg = make_cfg(tmp_path)
    manifest = genconf.genconf(cfg, say=lambda line: None)
    gd = bundle.genconf_dir(cfg)
    wheels = files(gd.wheels)
    assert wheels == sorted(manifest.wheels) and manifest.dcos_wheel in wheels
    assert any(w.startswith("aiohttp-") for w in wheels)
    assert any(w.startswith("supervisor-") for w in wheels)
    assert manifest.python == genconf.python_tag()
    with zipfile.ZipFile(gd.wheels / manifest.dcos_wheel) as zf:
        names = set(zf.namelist())
    assert {"dcos/web/dist/index.html", "dcos/_build_stamp.json",
            "dcos/installer/genconf.py"} <= names
    assert not [n for n in names if "__pycache__" in n or "node_modules" in n]
    by_role = {h.role: h.address for h in cfg.hosts()}
    sec = {role: files(gd.host_etc(addr) / "security") for role, addr in by_role.items()}
    assert "token.key" in sec["master"] and "bootstrap.json" in sec["master"]
    assert sec["agent"] == ["acls.json", "ca.crt", "certs/agent-10.0.0.21.crt",
                            "certs/agent-10.0.0.21.key", "token.pub"]
    assert "certs/lb.key" in sec["public_agent"]
    assert not [f for f in files(gd.serve) if f.endswith("ca.key")]
    assert orjson.loads((gd.serve / "manifest.json").read_bytes())["build_id"] == \
        manifest.build_id
