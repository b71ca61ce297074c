"""The typed model of one package release: a `package.json` (packagingVersion "4.0") together
with its `config.json`, `resource.json` and `marathon.json.mustache`, as one entry of a Universe
v4 index holds them.

Called by: `dcos.packaging.index` (an index entry <-> `PackageRelease`), `dcos.packaging.validate`
(a source folder -> `PackageRelease`), and the package service (search, describe, install,
which read the fields and the template). Construct releases from already-validated JSON: the
constructors here check shapes only as far as they need to build the typed object; schema rules
live in `dcos.packaging.schema`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]

PACKAGING_VERSION = "4.0"
# Every version ("*" in upgradesFrom / downgradesTo).
ANY_VERSION = "*"

# package.json field names in index order; the model's attribute for each is in `_FIELDS`.
_FIELDS: tuple[tuple[str, str], ...] = (
    ("packagingVersion", "packaging_version"),
    ("name", "name"),
    ("version", "version"),
    ("maintainer", "maintainer"),
    ("description", "description"),
    ("tags", "tags"),
    ("scm", "scm"),
    ("website", "website"),
    ("framework", "framework"),
    ("selected", "selected"),
    ("preInstallNotes", "pre_install_notes"),
    ("postInstallNotes", "post_install_notes"),
    ("postUninstallNotes", "post_uninstall_notes"),
    ("licenses", "licenses"),
    ("upgradesFrom", "upgrades_from"),
    ("downgradesTo", "downgrades_to"),
    ("minDcosReleaseVersion", "min_dcos_release_version"),
    ("hasKnownIssues", "has_known_issues"),
    ("lastUpdated", "last_updated"),
)
PACKAGE_JSON_FIELDS: frozenset[str] = frozenset(k for k, _ in _FIELDS)
# Keys an index entry adds to the package.json fields.
INDEX_ONLY_FIELDS: frozenset[str] = frozenset({"releaseVersion", "config", "resource", "marathon"})
TEMPLATE_KEY = "v2AppMustacheTemplate"


class ModelError(ValueError):
    """A JSON document that cannot be made into a `PackageRelease`; the message names the field."""


@dataclass(frozen=True)
class License:
    """One entry of `licenses`: a name and the URL where the license text is."""

    name: str
    url: str

    def to_json(self) -> Json:
        return {"name": self.name, "url": self.url}


@dataclass(frozen=True)
class PackageRelease:
    """One release of one package (`packages/<name>/<release_version>/` in a source repository,
    one entry of an index). `config` is the options' JSON Schema (None: the package takes no
    options), `resource` the resource.json document (None: none), `marathon_template` the text of
    marathon.json.mustache (None: nothing to run, as Universe allows for CLI-only packages).
    `upgrades_from` / `downgrades_to` are None when package.json does not set them (no edge, as an
    empty list). `extra` keeps index keys this model does not know (kept on a round trip)."""

    name: str
    version: str
    release_version: int
    packaging_version: str = PACKAGING_VERSION
    maintainer: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    scm: str | None = None
    website: str | None = None
    framework: bool = False
    selected: bool = False
    pre_install_notes: str | None = None
    post_install_notes: str | None = None
    post_uninstall_notes: str | None = None
    licenses: tuple[License, ...] = ()
    upgrades_from: tuple[str, ...] | None = None
    downgrades_to: tuple[str, ...] | None = None
    min_dcos_release_version: str | None = None
    has_known_issues: bool | None = None
    last_updated: int | None = None
    config: Json | None = None
    resource: Json | None = None
    marathon_template: str | None = None
    extra: Json = field(default_factory=dict)

    # --- derived facts -------------------------------------------------------------------

    def can_upgrade_from(self, version: str) -> bool:
        """Whether an installed `version` may be updated to this release (its upgradesFrom)."""
        edges = self.upgrades_from or ()
        return ANY_VERSION in edges or version in edges

    def can_downgrade_to(self, version: str) -> bool:
        """Whether an installed copy of this release may be changed to `version` (downgradesTo)."""
        edges = self.downgrades_to or ()
        return ANY_VERSION in edges or version in edges

    def asset_uris(self) -> dict[str, str]:
        """`resource.assets.uris` (name -> URI as written: absolute or relative to the index)."""
        assets = (self.resource or {}).get("assets") or {}
        uris = assets.get("uris") or {}
        return {str(k): str(v) for k, v in uris.items()}

    def images(self) -> Json:
        """`resource.images` (icons, screenshots), {} when none; search results carry it."""
        return dict((self.resource or {}).get("images") or {})

    # --- JSON ----------------------------------------------------------------------------

    def package_json(self) -> Json:
        """The package.json fields (what `package describe` shows besides config/resource)."""
        out: Json = {}
        for key, attr in _FIELDS:
            value = getattr(self, attr)
            if value is None:
                continue
            if key == "tags":
                value = list(value)
            elif key == "licenses":
                value = [lic.to_json() for lic in value]
            elif key in ("upgradesFrom", "downgradesTo"):
                value = list(value)
            out[key] = value
        return out

    def to_index_entry(self) -> Json:
        """This release as one entry of a Universe v4 index: package.json fields plus
        `releaseVersion`, `config`, `resource` and `marathon.v2AppMustacheTemplate` (base64).
        Called by the index builder and by the package service (describe's `package`)."""
        out = self.package_json()
        out["releaseVersion"] = self.release_version
        if self.config is not None:
            out["config"] = self.config
        if self.resource is not None:
            out["resource"] = self.resource
        if self.marathon_template is not None:
            encoded = base64.b64encode(self.marathon_template.encode()).decode("ascii")
            out["marathon"] = {TEMPLATE_KEY: encoded}
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    @classmethod
    def from_index_entry(cls, entry: Mapping[str, Any]) -> PackageRelease:
        """Build a release from one index entry (schema-valid: see `dcos.packaging.schema`).
        Raises `ModelError` naming the field when a value has the wrong shape."""
        if not isinstance(entry, Mapping):
            raise ModelError("a package entry must be a JSON object")
        release = entry.get("releaseVersion")
        if not isinstance(release, int) or isinstance(release, bool) or release < 0:
            raise ModelError("releaseVersion: must be an integer >= 0")
        template: str | None = None
        marathon = entry.get("marathon")
        if marathon is not None:
            if not isinstance(marathon, Mapping) or not isinstance(marathon.get(TEMPLATE_KEY), str):
                raise ModelError(f"marathon: must be an object with a string {TEMPLATE_KEY}")
            template = decode_template(marathon[TEMPLATE_KEY])
        extra = {
            k: v for k, v in entry.items()
            if k not in PACKAGE_JSON_FIELDS and k not in INDEX_ONLY_FIELDS
        }
        return from_package_json(
            entry, release_version=release, config=_object_or_none(entry, "config"),
            resource=_object_or_none(entry, "resource"), marathon_template=template, extra=extra,
        )


def from_package_json(
    doc: Mapping[str, Any],
    *,
    release_version: int,
    config: Json | None = None,
    resource: Json | None = None,
    marathon_template: str | None = None,
    extra: Json | None = None,
) -> PackageRelease:
    """Build a release from package.json fields plus the other files' contents. Called by the
    source validator (after the schema check) and by `PackageRelease.from_index_entry`."""
    kwargs: dict[str, Any] = {}
    for key, attr in _FIELDS:
        if key in doc and doc[key] is not None:
            kwargs[attr] = doc[key]
    for key in ("name", "version"):
        if not isinstance(doc.get(key), str) or not doc.get(key):
            raise ModelError(f"{key}: must be a non-empty string")
    for key in ("tags", "upgradesFrom", "downgradesTo"):
        attr = dict(_FIELDS)[key]
        if attr in kwargs:
            value = kwargs[attr]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ModelError(f"{key}: must be an array of strings")
            kwargs[attr] = tuple(value)
    if "licenses" in kwargs:
        kwargs["licenses"] = _licenses(kwargs["licenses"])
    for key in ("framework", "selected"):
        if key in kwargs and not isinstance(kwargs[key], bool):
            raise ModelError(f"{key}: must be a boolean")
    return PackageRelease(
        release_version=release_version, config=config, resource=resource,
        marathon_template=marathon_template, extra=dict(extra or {}), **kwargs,
    )


def decode_template(encoded: str) -> str:
    """The text of a base64 `v2AppMustacheTemplate`; `ModelError` when it is not base64 UTF-8."""
    try:
        return base64.b64decode(encoded.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise ModelError(f"marathon.{TEMPLATE_KEY}: not base64 of UTF-8 text ({exc})") from exc


def _licenses(value: Any) -> tuple[License, ...]:
    if not isinstance(value, list):
        raise ModelError("licenses: must be an array")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) \
                or not isinstance(item.get("url"), str):
            raise ModelError(f"licenses[{i}]: must be an object with string name and url")
        out.append(License(name=item["name"], url=item["url"]))
    return tuple(out)


def _object_or_none(entry: Mapping[str, Any], key: str) -> Json | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ModelError(f"{key}: must be a JSON object")
    return dict(value)
