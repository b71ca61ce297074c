"""The packages of every configured repository, as one catalog: search, resolve a name (and
version) to a release, list versions, and the upgrade edges between releases. No I/O.

Called by: the service core (dcos/packaging/service.py) with the indexes of the configured
repositories in priority order (`IndexCache.all`). As in Cosmos, a package is taken from the
first repository (highest priority) that has it; a named version from the first that has that
version.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dcos.packaging import errors
from dcos.packaging.indexes import LoadedIndex
from dcos.packaging.model import PackageRelease


@dataclass(frozen=True)
class Resolved:
    """A release and the repository index it came from."""

    index: LoadedIndex
    release: PackageRelease


class Catalog:
    def __init__(self, indexes: Sequence[LoadedIndex]) -> None:
        self.indexes = list(indexes)

    def releases_of(self, name: str) -> list[Resolved]:
        """Every release named `name` of the first repository that has the package, newest
        (highest releaseVersion) first."""
        for index in self.indexes:
            found = index.by_name.get(name)
            if found:
                return [Resolved(index, r) for r in found]
        return []

    def resolve(self, name: str, version: str | None = None) -> Resolved:
        """The release to use: the newest of `name`, or its `version` from the first repository
        listing it. Raises PackageNotFound / VersionNotFound."""
        if version is None:
            found = self.releases_of(name)
            if not found:
                raise errors.package_not_found(name)
            return found[0]
        known = False
        for index in self.indexes:
            for release in sorted(index.releases, key=lambda r: -r.release_version):
                if release.name == name:
                    known = True
                    if release.version == version:
                        return Resolved(index, release)
        if not known:
            raise errors.package_not_found(name)
        raise errors.version_not_found(name, version)

    def versions(self, name: str) -> dict[str, str]:
        """version -> releaseVersion (as a string, as Cosmos' list-versions answered), across
        every repository (the first repository's wins for a version listed twice)."""
        out: dict[str, str] = {}
        for index in self.indexes:
            for release in sorted(index.releases, key=lambda r: r.release_version):
                if release.name == name:
                    out.setdefault(release.version, str(release.release_version))
        if not out:
            raise errors.package_not_found(name)
        return out

    def search(self, query: str | None,
               image_url: Callable[[LoadedIndex, str], str] | None = None,
               ) -> list[dict[str, Any]]:
        """Cosmos' search results: one per package name (from its first repository) whose name,
        description or a tag contains `query` (case-insensitive; `*` wildcards allowed),
        selected packages first, then by name. `image_url` rewrites each image URL (the
        service points repository-held images at its resource endpoint)."""
        q = (query or "").strip().lower()
        seen: set[str] = set()
        results = []
        for index in self.indexes:
            for name, releases in index.by_name.items():
                if name in seen:
                    continue
                seen.add(name)
                if _matches(index.search_text[name], q):
                    results.append(search_result(releases, index, image_url))
        results.sort(key=lambda p: (not p.get("selected", False), p["name"].lower()))
        return results

    def upgrades_to(self, current: PackageRelease) -> list[str]:
        """Versions newer than the installed `current` whose upgradesFrom accept its version."""
        return [x.release.version for x in self.releases_of(current.name)
                if x.release.release_version > current.release_version
                and x.release.can_upgrade_from(current.version)]

    def downgrades_to(self, current: PackageRelease) -> list[str]:
        """Older versions that the installed `current`'s downgradesTo allows."""
        return [x.release.version for x in self.releases_of(current.name)
                if x.release.release_version < current.release_version
                and current.can_downgrade_to(x.release.version)]

    def may_change(self, installed: PackageRelease, target: PackageRelease) -> bool:
        """Whether an instance of `installed` may be updated to `target` (same version: an
        options change; newer: target.upgradesFrom; older: installed.downgradesTo)."""
        if target.version == installed.version:
            return True
        if target.release_version > installed.release_version:
            return target.can_upgrade_from(installed.version)
        return installed.can_downgrade_to(target.version)


def _matches(fields: tuple[str, ...], q: str) -> bool:
    """Whether a lower-cased field contains `q` (`*` in `q`: a glob over the whole field)."""
    if not q:
        return True
    if "*" not in q:
        return any(q in f for f in fields)
    return any(fnmatch.fnmatchcase(f, q) for f in fields)


def search_result(releases: Sequence[PackageRelease], index: LoadedIndex | None = None,
                  image_url: Callable[[LoadedIndex, str], str] | None = None,
                  ) -> dict[str, Any]:
    """One entry of search-response: the newest release's fields, every version."""
    newest = releases[0]
    out: dict[str, Any] = {
        "name": newest.name,
        "currentVersion": newest.version,
        "versions": {r.version: str(r.release_version) for r in reversed(releases)},
        "description": newest.description,
        "framework": newest.framework,
        "tags": list(newest.tags),
        "selected": newest.selected,
    }
    images = newest.images()
    if images and index is not None and image_url is not None:
        images = {k: ([image_url(index, u) for u in v] if isinstance(v, list)
                      else image_url(index, v) if isinstance(v, str) else v)
                  for k, v in images.items()}
    if images:
        out["images"] = images
    return out
