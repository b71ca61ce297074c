"""Agents added or removed after the first install (`--add-agent`, `--remove-agent`), kept in
``genconf/inventory.json`` so later runs (upgrade, preflight, uninstall) see the cluster as it
is, while `cluster.yaml` stays as the operator wrote it.

File: ``{"added": [{"address": "10.0.0.24", "public": false}], "removed": ["10.0.0.22"]}``,
written atomically (temporary file + rename). An address is in at most one of the two lists:
adding an address forgets an earlier removal and the other way round.

Called by: `dcos.installer.main.run` -- `effective(cfg)` right after the config is loaded (every
step), `record_added` after a successful ``--add-agent``, `record_removed` after a successful
``--remove-agent``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from dcos.installer.config import (
    ClusterConfig,
    ConfigInvalid,
    ConfigProblem,
    normalize_address,
    with_agent,
    without_host,
)

FILE_NAME = "inventory.json"


@dataclass(frozen=True)
class Inventory:
    """`added`: (address, public) in the order they were added; `removed`: addresses."""

    added: tuple[tuple[str, bool], ...] = ()
    removed: tuple[str, ...] = ()


def inventory_path(cfg: ClusterConfig) -> Path:
    return cfg.genconf_dir / FILE_NAME


def read(cfg: ClusterConfig) -> Inventory:
    """The inventory of `cfg`'s genconf dir (empty when there is none); a damaged file is a
    `ConfigInvalid` named by the file (nothing is guessed)."""
    path = inventory_path(cfg)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Inventory()
    except (OSError, ValueError) as exc:
        raise ConfigInvalid([ConfigProblem(str(path), f"cannot be read: {exc}")]) from None
    return _parse(raw, path)


def _parse(raw: object, path: Path) -> Inventory:
    def bad(message: str) -> ConfigInvalid:
        return ConfigInvalid([ConfigProblem(str(path), message + " (fix or delete the file)")])

    if not isinstance(raw, dict):
        raise bad("must be a JSON object {\"added\": [...], \"removed\": [...]}")
    added: list[tuple[str, bool]] = []
    for item in raw.get("added", []):
        if not isinstance(item, dict) or not isinstance(item.get("public", False), bool):
            raise bad(f"added: {item!r} is not {{\"address\": ..., \"public\": true|false}}")
        address = normalize_address(str(item.get("address", "")))
        if address is None:
            raise bad(f"added: {item.get('address')!r} is not an IP address")
        added.append((address, bool(item.get("public", False))))
    removed: list[str] = []
    for item in raw.get("removed", []):
        address = normalize_address(item) if isinstance(item, str) else None
        if address is None:
            raise bad(f"removed: {item!r} is not an IP address")
        removed.append(address)
    return Inventory(tuple(added), tuple(removed))


def write(cfg: ClusterConfig, inventory: Inventory) -> None:
    """Write `inventory` atomically (the genconf dir is made if missing)."""
    path = inventory_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"added": [{"address": a, "public": p} for a, p in inventory.added],
            "removed": list(inventory.removed)}
    tmp = path.with_name(f".{FILE_NAME}.tmp")
    tmp.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def record_added(cfg: ClusterConfig, address: str, public: bool) -> None:
    """Remember that `address` joined as an agent (public: a public agent)."""
    normal = normalize_address(address) or address
    inv = read(cfg)
    added = tuple((a, p) for a, p in inv.added if a != normal) + ((normal, public),)
    write(cfg, Inventory(added, tuple(a for a in inv.removed if a != normal)))


def record_removed(cfg: ClusterConfig, address: str) -> None:
    """Remember that `address` left the cluster."""
    normal = normalize_address(address) or address
    inv = read(cfg)
    removed = tuple(a for a in inv.removed if a != normal) + (normal,)
    write(cfg, Inventory(tuple((a, p) for a, p in inv.added if a != normal), removed))


def apply(cfg: ClusterConfig, inventory: Inventory) -> ClusterConfig:
    """`cfg` with `inventory` applied: removed agents dropped, added agents appended. An added
    address already in `cfg` (the operator also wrote it into cluster.yaml) keeps the role
    cluster.yaml gives it; a removed address that is not an agent there is ignored."""
    out = cfg
    for address in inventory.removed:
        host = out.host(address)
        if host is not None and host.role != "master":
            out = without_host(out, address)
    for address, public in inventory.added:
        if out.host(address) is None:
            out = with_agent(out, address, public)
    return out


def effective(cfg: ClusterConfig) -> ClusterConfig:
    """The cluster as it is now: `cfg` (from cluster.yaml) with genconf/inventory.json applied."""
    return apply(cfg, read(cfg))
