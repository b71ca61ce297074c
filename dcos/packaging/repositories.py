"""The package repositories: their typed form, the rules of the list (names and URIs unique,
priority = position), and the list persisted in a `StateStore`.

A repository is a name and a URI (`http://`, `https://` or `file://`) of a Universe index.
Private repositories: basic auth embedded in the URI (`https://user:pass@host/index.json`, the
DC/OS way) and/or a bearer `token` (our extension of the add request). Secrets are used only
when fetching (dcos/packaging/indexes.py, dcos/packaging/resource.py); `public_json()` -- what
repository/list answers -- shows the URI with the password masked and never the token.

Called by: the service core (repository list/add/delete) and `__main__` (seeding
`--default-repo` once, when the store holds no list yet).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import orjson

from dcos.packaging import errors
from dcos.state.store import StateStore, VersionConflict

STORE_KEY = "packaging-repositories"
SCHEMES = ("http", "https", "file")
MASK = "****"


@dataclass(frozen=True)
class Repository:
    """One configured repository. `uri` is as given (credentials included); `token` an
    optional bearer token sent as `Authorization: Bearer <token>`."""

    name: str
    uri: str
    token: str | None = None

    @property
    def public_uri(self) -> str:
        """`uri` with the password replaced by `MASK` (what lists and errors show)."""
        return mask_uri(self.uri)

    def public_json(self) -> dict[str, Any]:
        """The repository as repository/list shows it: `{name, uri}` (no secret)."""
        return {"name": self.name, "uri": self.public_uri}

    def stored_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "uri": self.uri}
        if self.token:
            out["token"] = self.token
        return out

    def fetch_url(self) -> str:
        """The URI without its user info (credentials travel in the Authorization header)."""
        parts = urlsplit(self.uri)
        if parts.username is None:
            return self.uri
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = host + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    def auth_headers(self) -> dict[str, str]:
        """The Authorization header of a fetch from this repository ({} for a public one)."""
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        parts = urlsplit(self.uri)
        if parts.username is None:
            return {}
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}


def mask_uri(uri: str) -> str:
    """`uri` with any password in its user info replaced by `MASK`."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri
    if parts.password is None:
        return uri
    userinfo, _, hostpart = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit((parts.scheme, f"{user}:{MASK}@{hostpart}", parts.path, parts.query,
                       parts.fragment))


def make_repository(name: Any, uri: Any, token: Any = None) -> Repository:
    """A repository from request values: name non-empty, URI http(s):// with a host or file://
    with an absolute path. Raises RepositoryUriSyntax / UnsupportedRepositoryUri / json_error."""
    if not isinstance(name, str) or not name.strip():
        raise errors.decoding_failure("name", "Attempt to decode value on failed cursor")
    if not isinstance(uri, str):
        raise errors.decoding_failure("uri", "Attempt to decode value on failed cursor")
    if token is not None and (not isinstance(token, str) or not token):
        raise errors.decoding_failure("token", "String")
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 -- raises ValueError for a bad port
    except ValueError as exc:
        raise errors.repository_uri_syntax(name, mask_uri(uri), str(exc)) from None
    if not parts.scheme or any(c.isspace() for c in uri):
        raise errors.repository_uri_syntax(name, mask_uri(uri), "not an absolute URI")
    if parts.scheme not in SCHEMES:
        raise errors.unsupported_repository_uri(mask_uri(uri))
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise errors.repository_uri_syntax(name, uri, "file URIs are file:///absolute/path")
    elif not parts.hostname:
        raise errors.repository_uri_syntax(name, mask_uri(uri), "no host")
    return Repository(name=name.strip(), uri=uri, token=token)


def same_uri(repo: Repository, uri: str) -> bool:
    """Whether `uri` names `repo` (as given, or as listed with the password masked)."""
    return uri in (repo.uri, repo.public_uri)


def with_added(repos: Sequence[Repository], new: Repository,
               index: int | None) -> list[Repository]:
    """The list with `new` inserted at `index` (None: last). Raises RepositoryAlreadyPresent
    (name or URI taken) or RepositoryAddIndexOutOfBounds."""
    name_taken = any(r.name == new.name for r in repos)
    uri_taken = any(r.uri == new.uri for r in repos)
    if name_taken or uri_taken:
        raise errors.repository_already_present(new.name if name_taken else None,
                                                new.public_uri if uri_taken else None)
    at = len(repos) if index is None else index
    if not 0 <= at <= len(repos):
        raise errors.repository_index_out_of_bounds(at, len(repos))
    out = list(repos)
    out.insert(at, new)
    return out


def without(repos: Sequence[Repository], name: str | None,
            uri: str | None) -> list[Repository]:
    """The list without the repository named `name` and/or at `uri` (both given: it must
    match both). Raises RepoNameOrUriMissing or RepositoryNotPresent."""
    if not name and not uri:
        raise errors.repo_name_or_uri_missing()
    keep = [r for r in repos
            if not ((name is None or r.name == name) and (uri is None or same_uri(r, uri)))]
    if len(keep) == len(repos):
        raise errors.repository_not_present(name, mask_uri(uri) if uri else None)
    return keep


def encode(repos: Sequence[Repository]) -> bytes:
    return orjson.dumps({"repositories": [r.stored_json() for r in repos]})


def decode(data: bytes) -> list[Repository]:
    doc = orjson.loads(data)
    return [Repository(r["name"], r["uri"], r.get("token")) for r in doc["repositories"]]


class RepositoryStore:
    """The repository list in a `StateStore` under `STORE_KEY` (one JSON value, written with
    compare-and-set so two writers cannot lose each other's change)."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    async def load(self) -> tuple[list[Repository], int]:
        """The list and its version (0: never written)."""
        got = await self.store.get(STORE_KEY)
        if got is None:
            return [], 0
        return decode(got.value), got.version

    async def seed(self, defaults: Sequence[Repository]) -> list[Repository]:
        """Write `defaults` when no list was ever stored; the list in effect either way. With
        no defaults nothing is written (a later start that has one, e.g. once the catalog is
        built, still seeds it); a list the user emptied stays empty."""
        repos, version = await self.load()
        if version == 0 and defaults:
            try:
                await self.store.put(STORE_KEY, encode(defaults), 0)
            except VersionConflict:
                return (await self.load())[0]
            return list(defaults)
        return repos

    async def replace(self, repos: Sequence[Repository], version: int) -> None:
        """Store `repos` if the list is still at `version` (raises `VersionConflict`)."""
        await self.store.put(STORE_KEY, encode(repos), version)
