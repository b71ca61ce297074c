"""dcos.installer.inventory: agents added and removed after the first install, remembered in
genconf/inventory.json and applied to the config by `effective`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dcos.installer import inventory
from dcos.installer.config import ClusterConfig, ConfigInvalid, parse


@pytest.fixture
def cfg(tmp_path: Path) -> ClusterConfig:
    raw = {"cluster_name": "c", "master_list": ["10.0.0.1"], "agent_list": ["10.0.0.21"],
           "public_agent_list": ["10.0.0.31"], "ssh_key_path": "/k"}
    return parse(raw, tmp_path / "cluster.yaml", check_key_file=False)


def test_no_file_is_the_config_itself(cfg: ClusterConfig) -> None:
    assert inventory.read(cfg) == inventory.Inventory()
    assert inventory.effective(cfg) == cfg


def test_added_and_removed_agents_apply(cfg: ClusterConfig) -> None:
    inventory.record_added(cfg, "10.0.0.22", public=False)
    inventory.record_added(cfg, "10.0.0.32", public=True)
    inventory.record_removed(cfg, "10.0.0.21")
    body = json.loads((cfg.genconf_dir / "inventory.json").read_text())
    assert body == {"added": [{"address": "10.0.0.22", "public": False},
                              {"address": "10.0.0.32", "public": True}],
                    "removed": ["10.0.0.21"]}
    now = inventory.effective(cfg)
    assert now.agents == ("10.0.0.22",)
    assert now.public_agents == ("10.0.0.31", "10.0.0.32")
    assert now.masters == cfg.masters


def test_add_after_remove_and_remove_after_add(cfg: ClusterConfig) -> None:
    inventory.record_removed(cfg, "10.0.0.21")
    inventory.record_added(cfg, "10.0.0.21", public=False)
    assert inventory.read(cfg) == inventory.Inventory((("10.0.0.21", False),), ())
    assert inventory.effective(cfg).agents == ("10.0.0.21",)
    inventory.record_added(cfg, "10.0.0.23", public=False)
    inventory.record_removed(cfg, "10.0.0.23")
    assert inventory.read(cfg).removed == ("10.0.0.23",)
    assert inventory.effective(cfg).agents == ("10.0.0.21",)


def test_address_also_written_into_cluster_yaml_keeps_its_role(cfg: ClusterConfig) -> None:
    inventory.record_added(cfg, "10.0.0.31", public=False)  # cluster.yaml: a public agent
    inventory.record_removed(cfg, "10.0.0.1")               # a master: never removed this way
    now = inventory.effective(cfg)
    assert now.public_agents == ("10.0.0.31",) and now.agents == ("10.0.0.21",)
    assert now.masters == ("10.0.0.1",)


def test_damaged_file_is_a_config_problem(cfg: ClusterConfig) -> None:
    path = cfg.genconf_dir / "inventory.json"
    path.parent.mkdir(parents=True)
    for text in ("{", "[]", '{"added": [{"address": "x"}]}', '{"removed": [1]}',
                 '{"added": [{"address": "10.0.0.5", "public": "yes"}]}'):
        path.write_text(text)
        with pytest.raises(ConfigInvalid) as info:
            inventory.effective(cfg)
        assert info.value.problems[0].key == str(path)


def test_write_is_atomic_and_leaves_no_temporary(cfg: ClusterConfig) -> None:
    inventory.write(cfg, inventory.Inventory((("10.0.0.5", True),), ("10.0.0.6",)))
    assert sorted(p.name for p in cfg.genconf_dir.iterdir()) == ["inventory.json"]
    assert inventory.read(cfg) == inventory.Inventory((("10.0.0.5", True),), ("10.0.0.6",))
