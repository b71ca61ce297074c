"""The package service's core: one method per Cosmos RPC, taking the decoded request body and
returning the response body, raising `CosmosError` for a refused request (nothing changed).

Called by: the HTTP shell (dcos/packaging/api.py) for each request, and the unit tests with fake
`Webapp`/`Master` clients and an in-memory StateStore. State: the repository list (in the
StateStore); everything about installed packages is read back from the webapp's app labels.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from dcos.packaging import errors, fields
from dcos.packaging.app_definition import (
    Installed,
    asset_proxy_url,
    installed_instances,
    render,
)
from dcos.packaging.catalog import Catalog, Resolved
from dcos.packaging.clients import Master, Webapp
from dcos.packaging.indexes import IndexCache, LoadedIndex
from dcos.packaging.model import ModelError, PackageRelease
from dcos.packaging.render import merge_options
from dcos.packaging.repositories import (
    Repository,
    RepositoryStore,
    make_repository,
    with_added,
    without,
)
from dcos.packaging.uninstall import Waits, uninstall_instance
from dcos.state.store import VersionConflict

Json = dict[str, Any]
CAPABILITIES = ("PACKAGE_MANAGEMENT",)


@dataclass
class PackageService:
    """Cosmos' RPCs over the configured repositories, the webapp and the master.
    `advertise_url` is this service's URL as agents reach it (asset URIs point there)."""

    repos: RepositoryStore
    indexes: IndexCache
    webapp: Webapp
    master: Master
    advertise_url: str
    waits: Waits = Waits()

    # --- catalog -------------------------------------------------------------------------------
    async def catalog(self) -> Catalog:
        repos, _ = await self.repos.load()
        self.indexes.forget(repos)
        return Catalog(await self.indexes.all(repos))

    async def search(self, body: Any, origin: str | None = None) -> Json:
        """search-response: each package with its `images` loadable by the client (see
        `_image_url`; `origin` is the URL the client reached this service by)."""
        req = fields.body_object(body)
        query = fields.string(req, "query")
        base = origin or self.advertise_url
        return {"packages": (await self.catalog()).search(
            query, lambda index, uri: self._image_url(index, uri, base))}

    def _image_url(self, index: LoadedIndex, uri: str, base: str | None = None) -> str:
        """An image as clients can load it: a repository-held one (relative, file://, or on a
        private repository) through `<base>/package/resource/<file>?url=` (`base`: the client's
        origin, e.g. the gateway the browser uses, as Cosmos answered with the request's host;
        default the advertised URL); a public http(s) one as it is."""
        absolute = index.asset_url(uri)
        public = absolute.startswith(("http://", "https://")) and not (
            index.repo.auth_headers() and _same_host(index.repo, absolute))
        return absolute if public else asset_proxy_url(base or self.advertise_url, absolute)

    async def describe(self, body: Any, version: int = 3, origin: str | None = None) -> Json:
        """describe-response v3 `{"package": <v4 definition>}`; v2: the definition's fields.
        `resource.images` are the URLs a client loads (as search's, Cosmos' rewriteImages)."""
        req = fields.body_object(body)
        name = fields.required_string(req, "packageName")
        wanted = fields.string(req, "packageVersion")
        found = (await self.catalog()).resolve(name, wanted)
        package = found.release.to_index_entry()
        images = found.release.images()
        if images:
            base = origin or self.advertise_url
            package["resource"] = {**package["resource"], "images": {
                key: [self._image_url(found.index, u, base) if isinstance(u, str) else u
                      for u in value] if isinstance(value, list)
                else self._image_url(found.index, value, base) if isinstance(value, str)
                else value
                for key, value in images.items()}}
        if version == 2:
            return {k: v for k, v in package.items() if k != "releaseVersion"}
        return {"package": package}

    async def list_versions(self, body: Any) -> Json:
        req = fields.body_object(body)
        name = fields.required_string(req, "packageName")
        fields.boolean(req, "includePackageVersions")
        return {"results": (await self.catalog()).versions(name)}

    async def render(self, body: Any) -> Json:
        req = fields.body_object(body)
        found, options, app_id = await self._target(req)
        rendered = render(found, options, app_id, self.advertise_url, file_stamp)
        return {"marathonJson": rendered.definition}

    async def _target(self, req: Json) -> tuple[Resolved, Json | None, str | None]:
        name = fields.required_string(req, "packageName")
        version = fields.string(req, "packageVersion")
        options = fields.obj(req, "options")
        app_id = fields.app_id(req)
        return (await self.catalog()).resolve(name, version), options, app_id

    # --- install / list / uninstall -------------------------------------------------------------
    async def install(self, body: Any, version: int = 2) -> Json:
        """Render, refuse an app id in use (PackageAlreadyInstalled), create the app or group."""
        req = fields.body_object(body)
        found, options, app_id = await self._target(req)
        rendered = render(found, options, app_id, self.advertise_url, file_stamp)
        if await self._id_taken(rendered.app_id):
            raise errors.package_already_installed(rendered.app_id)
        await self.webapp.create(rendered.kind, rendered.definition)
        release = found.release
        out: Json = {"packageName": release.name, "packageVersion": release.version,
                     "appId": rendered.app_id}
        if version >= 2 and release.post_install_notes:
            out["postInstallNotes"] = release.post_install_notes
        return out

    async def _id_taken(self, app_id: str) -> bool:
        apps = await self.webapp.apps()
        if any(a.get("id") == app_id or str(a.get("id", "")).startswith(app_id + "/")
               for a in apps):
            return True
        return await self.webapp.group_exists(app_id)  # an app id may not name a group either

    async def installed(self) -> dict[str, tuple[Installed, list[str]]]:
        return installed_instances(await self.webapp.apps())

    async def list_packages(self, body: Any) -> Json:
        req = fields.body_object(body)
        name = fields.string(req, "packageName")
        app_id = fields.app_id(req)
        out = []
        for aid, (inst, _) in (await self.installed()).items():
            if (name is None or inst.name == name) and (app_id is None or aid == app_id):
                out.append({"appId": aid, "packageInformation": inst.package_information()})
        return {"packages": out}

    async def uninstall(self, body: Any) -> Json:
        req = fields.body_object(body)
        name = fields.required_string(req, "packageName")
        app_id = fields.app_id(req)
        everything = fields.boolean(req, "all")
        chosen = [(aid, inst, ids) for aid, (inst, ids) in (await self.installed()).items()
                  if inst.name == name and (app_id is None or aid == app_id)]
        if not chosen:
            if app_id is not None:
                raise errors.uninstall_non_existent(name, app_id)
            raise errors.package_not_installed(name)
        if len(chosen) > 1 and not everything:
            raise errors.ambiguous_app_id(name, [aid for aid, _, _ in chosen])
        results = []
        for aid, inst, ids in chosen:
            await uninstall_instance(self.webapp, self.master, inst, ids, self.waits)
            result: Json = {"packageName": inst.name, "appId": aid,
                            "packageVersion": inst.version}
            notes = (inst.package or {}).get("postUninstallNotes")
            if notes:
                result["postUninstallNotes"] = notes
            results.append(result)
        return {"results": results}

    # --- repositories ---------------------------------------------------------------------------
    async def repository_list(self, body: Any) -> Json:
        fields.body_object(body)
        repos, _ = await self.repos.load()
        return _repo_list(repos)

    async def repository_add(self, body: Any) -> Json:
        """Check the URI, fetch and validate the index, then store the new list (compare and
        set). Any failure leaves the list as it was."""
        req = fields.body_object(body)
        new = make_repository(req.get("name"), req.get("uri"), req.get("token"))
        index = fields.integer(req, "index")
        repos, version = await self.repos.load()
        with_added(repos, new, index)  # refuse a duplicate / bad index before fetching
        await self.indexes.load(new)
        for _ in range(5):
            try:
                updated = with_added(repos, new, index)
                await self.repos.replace(updated, version)
                return _repo_list(updated)
            except VersionConflict:
                repos, version = await self.repos.load()
        raise errors.CosmosError("ConcurrentAccess", "Retry operation. Operation didn't "
                                 "complete due to concurrent access.", status=409)

    async def repository_delete(self, body: Any) -> Json:
        req = fields.body_object(body)
        name = fields.string(req, "name")
        uri = fields.string(req, "uri")
        for _ in range(5):
            repos, version = await self.repos.load()
            updated = without(repos, name, uri)
            try:
                await self.repos.replace(updated, version)
            except VersionConflict:
                continue
            self.indexes.forget(updated)
            return _repo_list(updated)
        raise errors.CosmosError("ConcurrentAccess", "Retry operation. Operation didn't "
                                 "complete due to concurrent access.", status=409)

    # --- services (describe / update) -----------------------------------------------------------
    async def _instance(self, req: Json) -> tuple[Installed, list[str]]:
        app_id = fields.app_id(req, required=True)
        assert app_id is not None
        found = (await self.installed()).get(app_id)
        if found is None:
            raise errors.app_not_found(app_id)
        return found

    async def service_describe(self, body: Any) -> Json:
        req = fields.body_object(body)
        inst, _ = await self._instance(req)
        catalog = await self.catalog()
        current = _installed_release(inst, catalog)
        return {"package": current.to_index_entry(),
                "upgradesTo": catalog.upgrades_to(current),
                "downgradesTo": catalog.downgrades_to(current),
                "resolvedOptions": merge_options(current.config, inst.user_options),
                "userProvidedOptions": inst.user_options}

    async def service_update(self, body: Any) -> Json:
        """Render the instance at `packageVersion` (default: its own) with its stored options
        merged with `options` (`replace`: instead of them) and PUT it to the webapp (a rolling
        deployment)."""
        req = fields.body_object(body)
        inst, _ = await self._instance(req)
        version = fields.string(req, "packageVersion")
        options = fields.obj(req, "options")
        replace = fields.boolean(req, "replace")
        catalog = await self.catalog()
        current = _installed_release(inst, catalog)
        target = catalog.resolve(inst.name, version or inst.version)
        if not catalog.may_change(current, target.release):
            raise errors.version_upgrade_refused(inst.name, inst.version, target.release.version)
        user = dict(options or {}) if replace else _deep_merge(inst.user_options, options or {})
        rendered = render(target, user, inst.app_id, self.advertise_url, file_stamp)
        if rendered.kind != ("group" if inst.group else "app"):
            raise errors.render_failed(inst.name, target.release.version,
                                       "the new version changes an app into a group or back")
        deployment = await self.webapp.update(rendered.kind, rendered.definition)
        return {"package": target.release.to_index_entry(), "resolvedOptions": rendered.options,
                "marathonDeploymentId": deployment or ""}

    async def capabilities(self) -> Json:
        return {"capabilities": [{"name": c} for c in CAPABILITIES]}

    # --- assets ---------------------------------------------------------------------------------
    async def asset(self, url: str) -> tuple[Repository, str]:
        """The repository serving `url` when it is exactly an asset (or image) URL of a package
        in a configured repository; ResourceNotFound otherwise."""
        for index in (await self.catalog()).indexes:
            if url in asset_urls(index):
                return index.repo, url
        raise errors.resource_not_found(url)


def asset_urls(index: LoadedIndex) -> set[str]:
    """Every absolute asset and image URL of an index's packages."""
    out: set[str] = set()
    for release in index.releases:
        out.update(index.asset_url(u) for u in release.asset_uris().values())
        for value in release.images().values():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str):
                    out.add(index.asset_url(item))
    return out


def file_stamp(uri: str) -> str | None:
    """A file:// asset's version for its fetch URL (mtime and size: a rebuilt wheel set gets a
    new URL, so agents do not start tasks from a stale cached copy); None for http(s) assets
    (their URL is the repository's to version) and for a missing file."""
    parts = urlsplit(uri)
    if parts.scheme != "file":
        return None
    try:
        st = os.stat(unquote(parts.path))
    except OSError:
        return None
    return f"{st.st_mtime_ns:x}-{st.st_size:x}"


def _same_host(repo: Repository, url: str) -> bool:
    a, b = urlsplit(repo.fetch_url()), urlsplit(url)
    return (a.hostname, a.port) == (b.hostname, b.port)


def _repo_list(repos: Sequence[Repository]) -> Json:
    return {"repositories": [r.public_json() for r in repos]}


def _installed_release(inst: Installed, catalog: Catalog) -> PackageRelease:
    """The installed release: from the definition stored in its labels, else the catalog."""
    if inst.package is not None:
        try:
            return PackageRelease.from_index_entry(inst.package)
        except ModelError:
            pass
    return catalog.resolve(inst.name, inst.version).release


def _deep_merge(base: Json, over: Json) -> Json:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out

