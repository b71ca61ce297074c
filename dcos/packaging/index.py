"""A repository index in Universe v4 JSON (`{"packages": [entry, ...]}`): reading one (as a
repository URL serves it) into typed releases, and writing one.

Called by: the package service (`read_index` on what a repository URI answers, when a repository
is added and on each refresh) and the index builder (`dump_index`). `read_index` either returns
a whole index or raises `InvalidIndex`: a bad repository never half-loads.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dcos.packaging.model import ModelError, PackageRelease
from dcos.packaging.schema import index_entry_problems

# What `package build` serves and what the Universe server answered for a v4 repository.
INDEX_MEDIA_TYPE = "application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4"
# At most this many problems are listed in one InvalidIndex message.
MAX_LISTED_PROBLEMS = 20
# Indexes kept parsed, by the sha256 of their bytes: checking every entry against the schema costs
# about 1 ms per entry, and a repository refreshed with unchanged content is then free.
PARSED_CACHE_SIZE = 8
_parsed: OrderedDict[str, RepositoryIndex] = OrderedDict()


class InvalidIndex(ValueError):
    """An index that is not a Universe v4 repository; `problems` lists each fault (entry, field,
    rule) and the message names the source and the first ones."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        shown = problems[:MAX_LISTED_PROBLEMS]
        more = len(problems) - len(shown)
        text = "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
        super().__init__(f"invalid package index {source}: {text}")


@dataclass(frozen=True)
class RepositoryIndex:
    """The releases of one repository, sorted by name then release version."""

    packages: tuple[PackageRelease, ...]

    def names(self) -> list[str]:
        """Package names, sorted, each once."""
        return sorted({p.name for p in self.packages})

    def releases(self, name: str) -> list[PackageRelease]:
        """Every release of `name`, oldest (release 0) first; [] when the package is absent."""
        return [p for p in self.packages if p.name == name]

    def latest(self, name: str) -> PackageRelease | None:
        """The release of `name` with the highest releaseVersion, None when absent."""
        found = self.releases(name)
        return found[-1] if found else None

    def find(self, name: str, version: str) -> PackageRelease | None:
        """The newest release of `name` whose version is `version`, None when there is none."""
        for release in reversed(self.releases(name)):
            if release.version == version:
                return release
        return None


def read_index(data: bytes | str | Mapping[str, Any], source: str = "index") -> RepositoryIndex:
    """Parse and check an index (raw bytes or text as served, or already-decoded JSON). Raises
    `InvalidIndex` naming `source` (the repository URI) and every faulty entry and field. The
    same bytes read again give the same (immutable) result from a small cache."""
    if isinstance(data, bytes | str):
        raw = data.encode() if isinstance(data, str) else data
        key = hashlib.sha256(raw).hexdigest()
        cached = _parsed.get(key)
        if cached is not None:
            _parsed.move_to_end(key)
            return cached
        index = _read(data, source)
        _parsed[key] = index
        while len(_parsed) > PARSED_CACHE_SIZE:
            _parsed.popitem(last=False)
        return index
    return _read(data, source)


def _read(data: bytes | str | Mapping[str, Any], source: str) -> RepositoryIndex:
    doc: Any = data
    if isinstance(data, bytes | str):
        try:
            doc = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidIndex(source, [f"not JSON ({exc})"]) from exc
    if not isinstance(doc, Mapping):
        raise InvalidIndex(source, ['not a JSON object with "packages"'])
    entries = doc.get("packages")
    if not isinstance(entries, list):
        raise InvalidIndex(source, ['"packages" must be an array of package entries'])
    problems: list[str] = []
    releases: list[PackageRelease] = []
    seen: dict[tuple[str, int], int] = {}
    for i, entry in enumerate(entries):
        label = _entry_label(i, entry)
        found = index_entry_problems(entry)
        if found:
            problems.extend(f"{label} {p}" for p in found)
            continue
        try:
            release = PackageRelease.from_index_entry(entry)
        except ModelError as exc:
            problems.append(f"{label} {exc}")
            continue
        key = (release.name, release.release_version)
        if key in seen:
            problems.append(f"{label} duplicates packages[{seen[key]}]"
                            f" (same name and releaseVersion {release.release_version})")
            continue
        seen[key] = i
        releases.append(release)
    if problems:
        raise InvalidIndex(source, problems)
    return RepositoryIndex(packages=tuple(sorted(releases, key=_order)))


def index_document(releases: Iterable[PackageRelease]) -> dict[str, Any]:
    """The v4 index JSON of `releases`, entries sorted by name then releaseVersion."""
    return {"packages": [r.to_index_entry() for r in sorted(releases, key=_order)]}


def dump_index(releases: Iterable[PackageRelease]) -> bytes:
    """`index_document` as UTF-8 JSON bytes (indented, stable key order: diffs stay readable)."""
    return (json.dumps(index_document(releases), indent=2, ensure_ascii=False) + "\n").encode()


def _order(release: PackageRelease) -> tuple[str, int]:
    return (release.name, release.release_version)


def _entry_label(i: int, entry: Any) -> str:
    if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
        return f"packages[{i}] ({entry['name']}):"
    return f"packages[{i}]:"
