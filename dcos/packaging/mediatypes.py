"""The vendor media types of the DC/OS package API (Cosmos), verbatim, and how a request's
`Content-Type` / `Accept` headers are matched against them.

Cosmos names every request and response body with a type of the form
`application/vnd.dcos.<namespace>.<kind>+json;charset=utf-8;version=vN`. The package service
(dcos/packaging/api.py) checks each request against `ENDPOINTS` and answers in the type the
client accepts; the CLI (dcos/cli/commands/package.py) sends the same strings. Nothing here does
I/O.
"""

from __future__ import annotations

from dataclasses import dataclass


def vnd_json(namespace: str, kind: str, version: int) -> str:
    """The media type Cosmos wrote as `MediaType.vndJson(namespace)(kind, version)`."""
    return f"application/vnd.dcos.{namespace}.{kind}+json;charset=utf-8;version=v{version}"


def _package(kind: str, version: int = 1) -> str:
    return vnd_json("package", kind, version)


def _service(kind: str, version: int = 1) -> str:
    return vnd_json("service", kind, version)


# --- /package/* --------------------------------------------------------------------------------
SEARCH_REQUEST = _package("search-request")
SEARCH_RESPONSE = _package("search-response")
DESCRIBE_REQUEST = _package("describe-request")
DESCRIBE_RESPONSE_V2 = _package("describe-response", 2)
DESCRIBE_RESPONSE_V3 = _package("describe-response", 3)
LIST_VERSIONS_REQUEST = _package("list-versions-request")
LIST_VERSIONS_RESPONSE = _package("list-versions-response")
RENDER_REQUEST = _package("render-request")
RENDER_RESPONSE = _package("render-response")
INSTALL_REQUEST = _package("install-request")
INSTALL_RESPONSE_V1 = _package("install-response", 1)
INSTALL_RESPONSE_V2 = _package("install-response", 2)
UNINSTALL_REQUEST = _package("uninstall-request")
UNINSTALL_RESPONSE = _package("uninstall-response")
LIST_REQUEST = _package("list-request")
LIST_RESPONSE = _package("list-response")
LIST_RESPONSE_V2 = _package("list-response", 2)
REPOSITORY_LIST_REQUEST = _package("repository.list-request")
REPOSITORY_LIST_RESPONSE = _package("repository.list-response")
REPOSITORY_ADD_REQUEST = _package("repository.add-request")
REPOSITORY_ADD_RESPONSE = _package("repository.add-response")
REPOSITORY_DELETE_REQUEST = _package("repository.delete-request")
REPOSITORY_DELETE_RESPONSE = _package("repository.delete-response")
ERROR = _package("error")

# --- /cosmos/service/* -------------------------------------------------------------------------
SERVICE_DESCRIBE_REQUEST = _service("describe-request")
SERVICE_DESCRIBE_RESPONSE = _service("describe-response")
SERVICE_UPDATE_REQUEST = _service("update-request")
SERVICE_UPDATE_RESPONSE = _service("update-response")

# --- GET /capabilities -------------------------------------------------------------------------
CAPABILITIES_RESPONSE = "application/vnd.dcos.capabilities+json;charset=utf-8;version=v1"

# --- repository index and single package (Universe) --------------------------------------------
UNIVERSE_REPO_V3 = "application/vnd.dcos.universe.repo+json;charset=utf-8;version=v3"
UNIVERSE_REPO_V4 = "application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4"
UNIVERSE_REPO_V5 = "application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5"
UNIVERSE_PACKAGE_V4 = "application/vnd.dcos.universe.package+json;charset=utf-8;version=v4"
# What the service sends as `Accept` when it fetches an index (newest first).
INDEX_ACCEPT = f"{UNIVERSE_REPO_V4},{UNIVERSE_REPO_V3};q=0.9,application/json;q=0.5"

APPLICATION_JSON = "application/json;charset=utf-8"


# --- error type names (the `type` field of an error body: Cosmos' class names) -----------------
class ErrorType:
    """The `type` strings of Cosmos error bodies that this service answers with."""

    PACKAGE_NOT_FOUND = "PackageNotFound"
    VERSION_NOT_FOUND = "VersionNotFound"
    PACKAGE_ALREADY_INSTALLED = "PackageAlreadyInstalled"
    PACKAGE_NOT_INSTALLED = "PackageNotInstalled"
    JSON_SCHEMA_MISMATCH = "JsonSchemaMismatch"
    OPTIONS_NOT_ALLOWED = "OptionsNotAllowed"
    OPTIONS_NOT_STORED = "OptionsNotStored"
    AMBIGUOUS_APP_ID = "AmbiguousAppId"
    APP_ID_CHANGED = "AppIdChanged"
    UNINSTALL_NON_EXISTENT_APP = "UninstallNonExistentAppForPackage"
    MARATHON_APP_NOT_FOUND = "MarathonAppNotFound"
    MARATHON_BAD_RESPONSE = "MarathonBadResponse"
    MARATHON_BAD_GATEWAY = "MarathonBadGateway"
    MARATHON_GENERIC_ERROR = "MarathonGenericError"
    MARATHON_TEMPLATE_MUST_BE_JSON_OBJECT = "MarathonTemplateMustBeJsonObject"
    SERVICE_MARATHON_TEMPLATE_NOT_FOUND = "ServiceMarathonTemplateNotFound"
    SERVICE_UNAVAILABLE = "ServiceUnavailable"
    INCOMPLETE_UNINSTALL = "IncompleteUninstall"
    MULTIPLE_FRAMEWORK_IDS = "MultipleFrameworkIds"
    REPOSITORY_URI_SYNTAX = "RepositoryUriSyntax"
    REPOSITORY_URI_CONNECTION = "RepositoryUriConnection"
    REPOSITORY_ALREADY_PRESENT = "RepositoryAlreadyPresent"
    REPOSITORY_NOT_PRESENT = "RepositoryNotPresent"
    REPOSITORY_ADD_INDEX_OUT_OF_BOUNDS = "RepositoryAddIndexOutOfBounds"
    REPO_NAME_OR_URI_MISSING = "RepoNameOrUriMissing"
    UNSUPPORTED_REPOSITORY_URI = "UnsupportedRepositoryUri"
    UNIVERSE_CLIENT_HTTP_ERROR = "UniverseClientHttpError"
    INDEX_NOT_FOUND = "IndexNotFound"
    UNSUPPORTED_CONTENT_TYPE = "UnsupportedContentType"
    JSON_ERROR = "json_error"
    NOT_PRESENT = "not_present"
    NOT_VALID = "not_valid"
    NOT_PARSED = "not_parsed"
    MULTIPLE_ERRORS = "multiple_errors"
    TIMEOUT_ERROR = "TimeoutError"
    # our own, for GET /package/resource (Cosmos had no equivalent to name)
    RESOURCE_NOT_FOUND = "ResourceNotFound"


# --- parsing and matching ----------------------------------------------------------------------
@dataclass(frozen=True)
class MediaType:
    """A parsed media type: lower-cased `type/subtype` and its parameters (q kept apart)."""

    essence: str
    params: tuple[tuple[str, str], ...]
    q: float = 1.0

    def param(self, name: str) -> str | None:
        return dict(self.params).get(name)

    def matches(self, expected: MediaType) -> bool:
        """Cosmos' rule: same type and subtype, and every parameter of `expected` other than
        charset and q present here with the same value (`version` must agree)."""
        if self.essence != expected.essence:
            return False
        mine = dict(self.params)
        return all(mine.get(k) == v for k, v in expected.params if k != "charset")


def parse(value: str) -> MediaType | None:
    """One media type (`a/b;k=v`), or None when it is not of that form."""
    head, *rest = [p.strip() for p in value.split(";")]
    if head.count("/") != 1 or any(c.isspace() for c in head):
        return None
    params: list[tuple[str, str]] = []
    q = 1.0
    for part in rest:
        if not part:
            continue
        key, sep, val = part.partition("=")
        if not sep:
            return None
        key, val = key.strip().lower(), val.strip().strip('"')
        if key == "q":
            try:
                q = float(val)
            except ValueError:
                return None
        else:
            params.append((key, val))
    return MediaType(head.lower(), tuple(params), q)


def parse_accept(header: str) -> list[MediaType]:
    """The types of an `Accept` header, highest q first (stable for equal q); bad parts dropped."""
    kinds = [t for part in header.split(",") if part.strip() and (t := parse(part)) is not None]
    return sorted(kinds, key=lambda t: -t.q)


def content_type_ok(header: str | None, expected: str) -> bool:
    """Whether a request's `Content-Type` names the `expected` request type."""
    if not header:
        return False
    got = parse(header)
    want = parse(expected)
    return got is not None and want is not None and got.matches(want)


def negotiate(accept: str | None, offered: list[str]) -> str | None:
    """Pick the response type for an `Accept` header among `offered` (best first); None when the
    client accepts none of them. `*/*` and `application/*` take the first offered type."""
    if not accept:
        return None
    wanted = [t for t in parse_accept(accept) if t.q > 0]
    parsed = [(o, parse(o)) for o in offered]
    for want in wanted:
        if want.essence in ("*/*", "application/*"):
            return offered[0]
        for text, mt in parsed:
            if mt is not None and mt.essence == want.essence and _versions_agree(want, mt):
                return text
    return None


def _versions_agree(want: MediaType, offered: MediaType) -> bool:
    version = want.param("version")
    return version is None or version == offered.param("version")


@dataclass(frozen=True)
class Endpoint:
    """An RPC endpoint: the request type it takes and the response types it can answer with
    (preferred first)."""

    request: str | None
    responses: tuple[str, ...]


ENDPOINTS: dict[str, Endpoint] = {
    "/package/search": Endpoint(SEARCH_REQUEST, (SEARCH_RESPONSE,)),
    "/package/describe": Endpoint(DESCRIBE_REQUEST, (DESCRIBE_RESPONSE_V3, DESCRIBE_RESPONSE_V2)),
    "/package/list-versions": Endpoint(LIST_VERSIONS_REQUEST, (LIST_VERSIONS_RESPONSE,)),
    "/package/render": Endpoint(RENDER_REQUEST, (RENDER_RESPONSE,)),
    "/package/install": Endpoint(INSTALL_REQUEST, (INSTALL_RESPONSE_V2, INSTALL_RESPONSE_V1)),
    "/package/uninstall": Endpoint(UNINSTALL_REQUEST, (UNINSTALL_RESPONSE,)),
    "/package/list": Endpoint(LIST_REQUEST, (LIST_RESPONSE,)),
    "/package/repository/list": Endpoint(REPOSITORY_LIST_REQUEST, (REPOSITORY_LIST_RESPONSE,)),
    "/package/repository/add": Endpoint(REPOSITORY_ADD_REQUEST, (REPOSITORY_ADD_RESPONSE,)),
    "/package/repository/delete": Endpoint(REPOSITORY_DELETE_REQUEST,
                                           (REPOSITORY_DELETE_RESPONSE,)),
    "/cosmos/service/describe": Endpoint(SERVICE_DESCRIBE_REQUEST, (SERVICE_DESCRIBE_RESPONSE,)),
    "/cosmos/service/update": Endpoint(SERVICE_UPDATE_REQUEST, (SERVICE_UPDATE_RESPONSE,)),
    "/capabilities": Endpoint(None, (CAPABILITIES_RESPONSE,)),
}
