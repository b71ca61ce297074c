"""From a package release and the user's options to the webapp app or group definition that
install creates: merged and validated options, the rendering context (asset URIs pointing at the
package service), the `DCOS_PACKAGE_*` labels, and the app id override. No I/O.

Called by: the service core for render, install and service/update; `installed_info` reads the
labels back for list, uninstall and service/describe.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import orjson

from dcos.packaging import errors
from dcos.packaging.catalog import Resolved
from dcos.packaging.mediatypes import UNIVERSE_PACKAGE_V4
from dcos.packaging.model import PackageRelease
from dcos.packaging.render import (
    RenderError,
    definition_kind,
    merge_options,
    render_template,
    validate_options,
)

Json = dict[str, Any]

NAME = "DCOS_PACKAGE_NAME"
VERSION = "DCOS_PACKAGE_VERSION"
RELEASE = "DCOS_PACKAGE_RELEASE"
SOURCE = "DCOS_PACKAGE_SOURCE"
OPTIONS = "DCOS_PACKAGE_OPTIONS"
DEFINITION = "DCOS_PACKAGE_DEFINITION"
FRAMEWORK_NAME = "DCOS_PACKAGE_FRAMEWORK_NAME"
GROUP_ID = "DCOS_PACKAGE_GROUP_ID"  # our extension: the apps of a group template


@dataclass(frozen=True)
class Rendered:
    """What install creates: `definition` (an app, or a group with its apps labelled),
    `kind` ("app"/"group"), `app_id` (the app's or the group's id) and the merged options."""

    definition: Json
    kind: str
    app_id: str
    options: Json


def check_options(release: PackageRelease, user_options: Mapping[str, Any] | None) -> Json:
    """The user's options merged over the schema's defaults, validated. Raises
    OptionsNotAllowed (options for a package without a schema) or JsonSchemaMismatch listing
    every failing path."""
    if release.config is None:
        if user_options:
            raise errors.options_not_allowed()
        return {}
    merged = merge_options(release.config, user_options or {})
    try:
        problems = validate_options(release.config, merged)
    except RenderError as exc:
        raise errors.render_failed(release.name, release.version, exc.reason) from None
    if problems:
        raise errors.json_schema_mismatch([
            {**p.report, "path": p.path, "message": p.message, "level": "error"}
            for p in problems
        ])
    return merged


def asset_proxy_url(advertise_url: str, absolute_uri: str, stamp: str | None = None) -> str:
    """Where agents fetch an asset: the package service's resource endpoint for it. The path
    ends with the asset's file name (`/package/resource/<name>?url=...`) because the agent's
    fetcher names the sandbox file, and decides whether to extract it, by the URL path.
    `stamp` (the asset file's version, see `Stamp`) becomes `&v=`: the fetcher caches by URI,
    so a rebuilt asset must get a new one."""
    name = asset_name(absolute_uri)
    url = (f"{advertise_url.rstrip('/')}/package/resource/{quote(name, safe='')}"
           f"?url={quote(absolute_uri, safe='')}")
    return url + (f"&v={quote(stamp, safe='')}" if stamp else "")


def asset_name(absolute_uri: str) -> str:
    """The file name an asset URI ends with ("asset" when its path has none)."""
    path = unquote(urlsplit(absolute_uri).path).rstrip("/")
    return path.rsplit("/", 1)[-1] or "asset"


Stamp = Callable[[str], "str | None"]


def resource_context(resolved: Resolved, advertise_url: str, stamp: Stamp | None = None) -> Json:
    """The release's resource.json with each `assets.uris` value replaced by the package
    service's URL for it (so any agent can fetch it, credentials staying in the service);
    `stamp(absolute_uri)` versions each one (None: no version)."""
    resource: Json = orjson.loads(orjson.dumps(resolved.release.resource or {}))
    uris = resolved.release.asset_uris()
    if uris:
        assets = resource.setdefault("assets", {})
        absolute = {name: resolved.index.asset_url(uri) for name, uri in uris.items()}
        assets["uris"] = {name: asset_proxy_url(advertise_url, url, stamp(url) if stamp else None)
                          for name, url in absolute.items()}
    return resource


def render(resolved: Resolved, user_options: Mapping[str, Any] | None, app_id: str | None,
           advertise_url: str, stamp: Stamp | None = None) -> Rendered:
    """Validate, render and label a release for install/render/update. Raises the Cosmos
    errors of `check_options`, ServiceMarathonTemplateNotFound, and
    MarathonTemplateMustBeJsonObject when the template does not render."""
    release = resolved.release
    merged = check_options(release, user_options)
    if release.marathon_template is None:
        raise errors.template_not_found(release.name, release.version)
    try:
        doc = render_template(release.marathon_template, merged,
                              resource_context(resolved, advertise_url, stamp))
        kind = definition_kind(doc)
    except RenderError as exc:
        raise errors.render_failed(release.name, release.version, exc.reason) from None
    if app_id is not None:
        doc = _with_id(doc, kind, normalize_id(app_id))
    the_id = normalize_id(str(doc.get("id") or ""))
    if not the_id.strip("/"):
        raise errors.render_failed(release.name, release.version, "the group has no id")
    doc["id"] = the_id
    labels = package_labels(resolved, user_options or {})
    if kind == "app":
        doc["labels"] = {**_labels_of(doc), **labels}
    else:
        _label_group(doc, the_id, {**labels, GROUP_ID: the_id})
    return Rendered(definition=doc, kind=kind, app_id=the_id, options=merged)


def normalize_id(app_id: str) -> str:
    """`app_id` absolute, without a trailing slash ("hello" -> "/hello")."""
    return "/" + app_id.strip().strip("/")


def _labels_of(doc: Mapping[str, Any]) -> dict[str, str]:
    labels = doc.get("labels")
    return dict(labels) if isinstance(labels, Mapping) else {}


def _with_id(doc: Json, kind: str, new_id: str) -> Json:
    """The definition with its id replaced; in a group, absolute ids under the old group id
    move under the new one."""
    old = normalize_id(str(doc.get("id") or ""))
    if kind == "app":
        return {**doc, "id": new_id}
    return _moved(doc, old, new_id)


def _moved(group: Json, old: str, new: str) -> Json:
    out = dict(group)
    gid = str(group.get("id") or "")
    if gid.startswith("/") and (normalize_id(gid) == old or gid.startswith(old + "/")):
        out["id"] = new + normalize_id(gid)[len(old):]
    elif not gid.startswith("/") or not out.get("id"):
        out["id"] = new if normalize_id(gid) == old or not gid else gid
    apps = []
    for app in group.get("apps") or []:
        aid = str(app.get("id") or "")
        if aid.startswith(old + "/"):
            app = {**app, "id": new + aid[len(old):]}
        apps.append(app)
    if "apps" in group:
        out["apps"] = apps
    if "groups" in group:
        out["groups"] = [_moved(g, old, new) for g in group.get("groups") or []]
    return out


def _label_group(group: Json, root_id: str, labels: Mapping[str, str]) -> None:
    for app in group.get("apps") or []:
        if isinstance(app, dict):
            app["labels"] = {**_labels_of(app), **labels}
    for sub in group.get("groups") or []:
        if isinstance(sub, dict):
            _label_group(sub, root_id, labels)


def package_labels(resolved: Resolved, user_options: Mapping[str, Any]) -> dict[str, str]:
    """The labels Cosmos put on an installed app (they override the template's)."""
    release = resolved.release
    return {
        NAME: release.name,
        VERSION: release.version,
        RELEASE: str(release.release_version),
        SOURCE: resolved.index.repo.public_uri,
        OPTIONS: b64_json(dict(user_options)),
        DEFINITION: b64_json(storage_envelope(release.to_index_entry())),
    }


def b64_json(value: Any) -> str:
    return base64.b64encode(orjson.dumps(value)).decode("ascii")


def storage_envelope(package: Json) -> Json:
    """Cosmos' StorageEnvelope of a v4 package: its media type, gzip, base64 data."""
    data = gzip.compress(orjson.dumps(package), mtime=0)
    return {"metadata": {"Content-Type": UNIVERSE_PACKAGE_V4, "Content-Encoding": "gzip"},
            "data": base64.b64encode(data).decode("ascii")}


def open_envelope(envelope: Any) -> Json | None:
    """The package JSON of a storage envelope (None when it is not one)."""
    try:
        data = base64.b64decode(envelope["data"])
        if envelope.get("metadata", {}).get("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        out = orjson.loads(data)
    except (KeyError, TypeError, ValueError, OSError, AttributeError):
        return None
    return out if isinstance(out, dict) else None


def decode_b64_json(text: Any) -> Any:
    """The JSON value of a base64 label (None when it is not one)."""
    try:
        return orjson.loads(base64.b64decode(str(text)))
    except (ValueError, TypeError):
        return None


@dataclass(frozen=True)
class Installed:
    """One installed package instance, read from app labels: `app_id` is the app's id, or
    the group's for a group template."""

    app_id: str
    name: str
    version: str
    release: int | None
    source: str
    user_options: Json
    package: Json | None
    framework_name: str | None
    group: bool

    def package_information(self) -> Json:
        """`packageInformation` of list-response: the package definition's fields (Cosmos'
        v1 InstalledPackageInformation: packageDefinition + resourceDefinition)."""
        pkg = dict(self.package or {"name": self.name, "version": self.version})
        resource = pkg.pop("resource", None)
        for key in ("config", "marathon"):
            pkg.pop(key, None)
        out: Json = {"packageDefinition": {k: v for k, v in pkg.items() if k != "releaseVersion"}}
        if resource:
            out["resourceDefinition"] = resource
        return out


def installed_info(app: Mapping[str, Any]) -> Installed | None:
    """The package instance an app belongs to (None: not installed by the package service)."""
    labels = _labels_of(app)
    name = labels.get(NAME)
    if not name:
        return None
    group = labels.get(GROUP_ID)
    envelope = decode_b64_json(labels.get(DEFINITION))
    options = decode_b64_json(labels.get(OPTIONS))
    release = labels.get(RELEASE)
    return Installed(
        app_id=group or str(app.get("id")), name=name, version=labels.get(VERSION, ""),
        release=int(release) if release and release.isdigit() else None,
        source=labels.get(SOURCE, ""),
        user_options=options if isinstance(options, dict) else {},
        package=open_envelope(envelope) if envelope is not None else None,
        framework_name=labels.get(FRAMEWORK_NAME), group=bool(group),
    )


def installed_instances(apps: Sequence[Mapping[str, Any]]) -> dict[str, tuple[Installed, list[str]]]:
    """Installed instances by app id (the group's id for group packages), each with the ids of
    its webapp apps; in app id order."""
    out: dict[str, tuple[Installed, list[str]]] = {}
    for app in apps:
        info = installed_info(app)
        if info is None:
            continue
        entry = out.setdefault(info.app_id, (info, []))
        entry[1].append(str(app.get("id")))
    return dict(sorted(out.items()))


def framework_names(apps: Sequence[Mapping[str, Any]]) -> list[str]:
    """The DCOS_PACKAGE_FRAMEWORK_NAME labels of `apps` (each once)."""
    names: list[str] = []
    for app in apps:
        name = _labels_of(app).get(FRAMEWORK_NAME)
        if name and name not in names:
            names.append(name)
    return names
