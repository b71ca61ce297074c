"""`dcos.installer.bundle`: the genconf layout, the manifest's JSON (written, read back, refused
when missing or damaged) and the installer's identity."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import pytest

from dcos.installer import bundle, config
from dcos.installer.bundle import BundleError, Manifest
from dcos.installer.config import ClusterConfig, SecurityConfig


def make_cfg(tmp_path: Path, **extra: object) -> ClusterConfig:
    raw = {"cluster_name": "prod", "master_list": ["10.0.0.11"], "agent_list": ["10.0.0.21"],
           "public_agent_list": ["10.0.0.31"], "ssh_key_path": "/nonexistent", **extra}
    return config.parse(raw, tmp_path / "cluster.yaml", check_key_file=False)


MANIFEST = Manifest(version="0.1.0", build_id="0123456789abcdef", python="cp311",
                    cluster_name="prod", cluster_id="c0ffee00-0000-4000-8000-000000000000",
                    dcos_wheel="dcos_py-0.1.0-py3-none-any.whl", repo=True, created=12.5,
                    wheels=("aiohttp-3.9-cp311.whl", "dcos_py-0.1.0-py3-none-any.whl"))


def test_paths_follow_the_genconf_dir(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)
    assert bundle.serve_dir(cfg) == tmp_path / "genconf" / "serve"
    assert bundle.host_etc_dir(cfg, "10.0.0.21") == tmp_path / "genconf/serve/hosts/10.0.0.21/etc"
    moved = dataclasses.replace(cfg, genconf_override=tmp_path / "elsewhere")
    assert bundle.serve_dir(moved) == tmp_path / "elsewhere" / "serve"
    gd = bundle.genconf_dir(cfg)
    assert gd.manifest == gd.serve / "manifest.json" and gd.wheels == gd.serve / "wheels"
    assert gd.security == tmp_path / "genconf" / "security"


def test_manifest_round_trip(tmp_path: Path) -> None:
    bundle.write_manifest(tmp_path, MANIFEST)
    doc = orjson.loads((tmp_path / "manifest.json").read_bytes())
    assert set(doc) == {"version", "build_id", "python", "cluster_name", "cluster_id",
                        "created", "wheels", "dcos_wheel", "repo"}
    assert doc["wheels"] == list(MANIFEST.wheels)
    assert bundle.read_manifest(tmp_path) == MANIFEST


def test_no_manifest_says_run_genconf(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="run `dcos-py install --genconf` first"):
        bundle.read_manifest(tmp_path)


@pytest.mark.parametrize(("body", "says"), [
    (b"{not json", "damaged"),
    (b"[]", "expected a JSON object"),
    (orjson.dumps({**MANIFEST.to_json(), "build_id": ""}), "build_id: expected a non-empty"),
    (orjson.dumps({**MANIFEST.to_json(), "wheels": "x.whl"}), "wheels: expected a list"),
    (orjson.dumps({**MANIFEST.to_json(), "repo": "yes"}), "repo: expected true or false"),
    (orjson.dumps({**MANIFEST.to_json(), "created": True}), "created: expected a number"),
])  # fmt: skip
def test_a_damaged_manifest_is_refused(tmp_path: Path, body: bytes, says: str) -> None:
    (tmp_path / "manifest.json").write_bytes(body)
    with pytest.raises(BundleError) as err:
        bundle.read_manifest(tmp_path)
    assert says in str(err.value) and "--genconf" in str(err.value)


def test_cluster_json(tmp_path: Path) -> None:
    doc = orjson.loads(bundle.cluster_json(make_cfg(tmp_path), MANIFEST, "agent", "10.0.0.21"))
    assert doc == {"cluster_name": "prod", "cluster_id": MANIFEST.cluster_id, "role": "agent",
                   "address": "10.0.0.21", "build_id": MANIFEST.build_id, "version": "0.1.0"}


def test_installer_identity(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)
    off = dataclasses.replace(cfg, security=SecurityConfig(enabled=False))
    assert bundle.installer_identity(off) is None
    with pytest.raises(BundleError, match="installer.crt"):
        bundle.installer_identity(cfg)
    sec = tmp_path / "genconf" / "security"
    (sec / "certs").mkdir(parents=True)
    for path in (sec / "ca.crt", sec / "certs/installer.crt", sec / "certs/installer.key"):
        path.write_text("x")
    assert bundle.installer_identity(cfg) == (sec / "ca.crt", sec / "certs/installer.crt",
                                              sec / "certs/installer.key")
