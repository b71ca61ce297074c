"""Fetching and reading repository indexes (Universe v4 JSON), with a small cache.

Called by: the service core, for every request that needs the packages (`IndexCache.get`), and
by repository/add to check a new repository before it is stored (`IndexCache.load`, no cache).
`http(s)://` indexes are fetched with the repository's credentials and kept for `ttl_s`;
`file://` indexes are re-read when the file changes (its mtime and size).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp

from dcos.packaging import errors
from dcos.packaging.index import MAX_LISTED_PROBLEMS, InvalidIndex, read_index
from dcos.packaging.mediatypes import INDEX_ACCEPT
from dcos.packaging.model import PackageRelease
from dcos.packaging.repositories import Repository

log = logging.getLogger(__name__)
MAX_INDEX_BYTES = 256 * 1024 * 1024
FETCH_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class LoadedIndex:
    """A repository with the releases its index lists, in index order."""

    repo: Repository
    releases: tuple[PackageRelease, ...]

    @functools.cached_property
    def by_name(self) -> dict[str, list[PackageRelease]]:
        """Releases by package name (names in index order), newest release first."""
        out: dict[str, list[PackageRelease]] = {}
        for release in self.releases:
            out.setdefault(release.name, []).append(release)
        for releases in out.values():
            releases.sort(key=lambda r: -r.release_version)
        return out

    @functools.cached_property
    def search_text(self) -> dict[str, tuple[str, ...]]:
        """Per package name, the lower-cased name, description and tags of its newest release
        (what search matches)."""
        return {name: tuple(f.lower() for f in (rs[0].name, rs[0].description, *rs[0].tags))
                for name, rs in self.by_name.items()}

    def asset_url(self, uri: str) -> str:
        """An asset URI of this repository's index made absolute (a relative one is resolved
        against the index URL, without credentials)."""
        return urljoin(self.repo.fetch_url(), uri)


def parse_index(repo: Repository, raw: bytes) -> tuple[PackageRelease, ...]:
    """The releases of an index document (`dcos.packaging.index.read_index`); IndexNotFound
    naming every problem when it is not a valid Universe v4 index."""
    try:
        return read_index(raw, source=repo.public_uri).packages
    except InvalidIndex as exc:
        reason = "; ".join(exc.problems[:MAX_LISTED_PROBLEMS])
        raise errors.index_not_found(repo.name, repo.public_uri, reason) from None


async def fetch_raw(repo: Repository, session: aiohttp.ClientSession,
                    timeout: float = FETCH_TIMEOUT_S) -> bytes:
    """The bytes of `repo`'s index. RepositoryUriConnection when it cannot be read,
    UniverseClientHttpError for an HTTP status other than 200."""
    parts = urlsplit(repo.uri)
    if parts.scheme == "file":
        return await asyncio.to_thread(_read_file, repo, unquote(parts.path))
    headers = {"Accept": INDEX_ACCEPT, **repo.auth_headers()}
    try:
        async with session.get(repo.fetch_url(), headers=headers,
                               timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            if resp.status != 200:
                raise errors.universe_client_http_error(repo.name, repo.public_uri, resp.status)
            body = await resp.content.read(MAX_INDEX_BYTES + 1)
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        raise errors.repository_uri_connection(repo.name, repo.public_uri,
                                               str(exc) or type(exc).__name__) from None
    if len(body) > MAX_INDEX_BYTES:
        raise errors.index_not_found(repo.name, repo.public_uri, "index larger than 256 MiB")
    return body


def _read_file(repo: Repository, path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(MAX_INDEX_BYTES + 1)
    except OSError as exc:
        raise errors.repository_uri_connection(repo.name, repo.public_uri,
                                               exc.strerror or str(exc)) from None


def _file_stamp(repo: Repository) -> tuple[int, int] | None:
    parts = urlsplit(repo.uri)
    if parts.scheme != "file":
        return None
    try:
        st = os.stat(unquote(parts.path))
    except OSError:
        return (-1, -1)
    return (st.st_mtime_ns, st.st_size)


@dataclass
class _Entry:
    index: LoadedIndex
    at: float
    stamp: tuple[int, int] | None


class IndexCache:
    """Loaded indexes by repository (name, URI, token). `get` answers from the cache while an
    http(s) entry is younger than `ttl_s` or a file's stamp is unchanged; a repository whose
    refresh fails keeps serving its last good index (a build in progress, a server restart)."""

    def __init__(self, session: aiohttp.ClientSession, ttl_s: float = 10.0) -> None:
        self.session = session
        self.ttl_s = ttl_s
        self._entries: dict[Repository, _Entry] = {}
        self._locks: dict[Repository, asyncio.Lock] = {}

    async def load(self, repo: Repository) -> LoadedIndex:
        """Fetch and parse `repo`'s index now (raises the Cosmos errors of `fetch_raw` and
        `parse_index`); the result is cached."""
        stamp = _file_stamp(repo)
        raw = await fetch_raw(repo, self.session)
        index = LoadedIndex(repo, await asyncio.to_thread(parse_index, repo, raw))
        self._entries[repo] = _Entry(index, time.monotonic(), stamp)
        return index

    async def get(self, repo: Repository) -> LoadedIndex:
        entry = self._entries.get(repo)
        if entry is not None and self._fresh(repo, entry):
            return entry.index
        lock = self._locks.setdefault(repo, asyncio.Lock())
        async with lock:
            entry = self._entries.get(repo)
            if entry is not None and self._fresh(repo, entry):
                return entry.index
            try:
                return await self.load(repo)
            except errors.CosmosError as exc:
                if entry is None:
                    raise
                # a repository that answered before keeps serving its last good index
                log.warning("repository %s: %s; using its last good index", repo.name,
                            exc.message)
                entry.at = time.monotonic()
                return entry.index

    def _fresh(self, repo: Repository, entry: _Entry) -> bool:
        if entry.stamp is not None:
            return _file_stamp(repo) == entry.stamp
        return time.monotonic() - entry.at < self.ttl_s

    async def all(self, repos: Sequence[Repository]) -> list[LoadedIndex]:
        """Every repository's index, in priority order; a repository that cannot be read
        raises (Cosmos answered with that repository's error too)."""
        return list(await asyncio.gather(*(self.get(r) for r in repos)))

    def forget(self, keep: Sequence[Any]) -> None:
        """Drop cached indexes of repositories no longer configured."""
        for repo in [r for r in self._entries if r not in keep]:
            self._entries.pop(repo, None)
            self._locks.pop(repo, None)
