"""Cosmos errors: the exception the package service raises for every refused request, and one
constructor per error type with Cosmos' message, `data` and HTTP status.

Raised by: the service core (dcos/packaging/service.py and its helpers); turned into the error
body `{"type", "message", "data"}` with media type `mediatypes.ERROR` by dcos/packaging/api.py.
Statuses follow Cosmos' sources: 400 unless the error says otherwise (409 for an app id already
taken, 502/503 when the webapp or master cannot be reached).
"""

from __future__ import annotations

from typing import Any

from dcos.packaging.mediatypes import ErrorType

Json = dict[str, Any]


class CosmosError(Exception):
    """A refused request: `type` (Cosmos' error name), `message`, optional `data`, `status`."""

    def __init__(self, type_: str, message: str, data: Json | None = None,
                 status: int = 400) -> None:
        super().__init__(message)
        self.type = type_
        self.message = message
        self.data = data
        self.status = status

    def body(self) -> Json:
        """The error body as Cosmos wrote it (`data` left out when there is none)."""
        out: Json = {"type": self.type, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


def package_not_found(name: str) -> CosmosError:
    return CosmosError(ErrorType.PACKAGE_NOT_FOUND, f"Package [{name}] not found",
                       {"packageName": name})


def version_not_found(name: str, version: str) -> CosmosError:
    return CosmosError(ErrorType.VERSION_NOT_FOUND,
                       f"Version [{version}] of package [{name}] not found",
                       {"packageName": name, "packageVersion": version})


def package_already_installed(app_id: str) -> CosmosError:
    """Cosmos sent no data here; we add the app id so clients can say which one."""
    return CosmosError(ErrorType.PACKAGE_ALREADY_INSTALLED, "Package is already installed",
                       {"appId": app_id}, status=409)


def json_schema_mismatch(errors: list[Json]) -> CosmosError:
    """`errors`: one object per failing option (`path`, `message`, `instance.pointer`)."""
    return CosmosError(ErrorType.JSON_SCHEMA_MISMATCH, "Options JSON failed validation",
                       {"errors": errors})


def options_not_allowed() -> CosmosError:
    return CosmosError(ErrorType.OPTIONS_NOT_ALLOWED,
                       "No schema available to validate the provided options")


def package_not_installed(name: str) -> CosmosError:
    return CosmosError(ErrorType.PACKAGE_NOT_INSTALLED, f"Package [{name}] is not installed",
                       {"packageName": name})


def uninstall_non_existent(name: str, app_id: str) -> CosmosError:
    return CosmosError(ErrorType.UNINSTALL_NON_EXISTENT_APP,
                       f"Package [{name}] with id [{app_id}] is not installed",
                       {"packageName": name, "appId": app_id})


def ambiguous_app_id(name: str, app_ids: list[str]) -> CosmosError:
    return CosmosError(ErrorType.AMBIGUOUS_APP_ID,
                       f"Multiple apps named [{name}] are installed: [{', '.join(app_ids)}]",
                       {"packageName": name, "appIds": app_ids})


def app_not_found(app_id: str) -> CosmosError:
    return CosmosError(ErrorType.MARATHON_APP_NOT_FOUND,
                       f"Unable to locate service with marathon appId: '{app_id}'",
                       {"appId": app_id})


def template_not_found(name: str, version: str) -> CosmosError:
    return CosmosError(ErrorType.SERVICE_MARATHON_TEMPLATE_NOT_FOUND,
                       f"Package: [{name}] version: [{version}] does not have a Marathon "
                       "template defined and can not be rendered",
                       {"packageName": name, "packageVersion": version})


def render_failed(name: str, version: str, reason: str) -> CosmosError:
    """The package's template did not render into an app or group (a package fault)."""
    return CosmosError(ErrorType.MARATHON_TEMPLATE_MUST_BE_JSON_OBJECT,
                       f"Package [{name}] version [{version}]: {reason}",
                       {"packageName": name, "packageVersion": version, "reason": reason})


def version_upgrade_refused(name: str, installed: str, wanted: str) -> CosmosError:
    """Neither `upgradesFrom` of the new release nor `downgradesTo` of the installed one
    allows the change (Cosmos had no open-source update; the name is ours)."""
    return CosmosError("VersionUpgradeNotSupported",
                       f"Package [{name}] cannot change from version [{installed}] to "
                       f"[{wanted}]: not in upgradesFrom/downgradesTo",
                       {"packageName": name, "currentVersion": installed,
                        "packageVersion": wanted})


def webapp_refused(status: int, body: Any) -> CosmosError:
    """The webapp answered a create/update with a 4xx (Marathon error body in `data`)."""
    data: Json = {"status": status}
    if isinstance(body, dict):
        data["message"] = body.get("message")
        if body.get("details") is not None:
            data["errors"] = body.get("details")
    message = (body.get("message") if isinstance(body, dict) else None) or "refused"
    return CosmosError(ErrorType.MARATHON_BAD_RESPONSE, f"The webapp refused: {message}", data)


def webapp_unavailable(reason: str) -> CosmosError:
    return CosmosError(ErrorType.SERVICE_UNAVAILABLE,
                       f"Unable to complete request due to service [webapp] unavailability: "
                       f"{reason}", {"serviceName": "webapp"}, status=503)


def webapp_bad_gateway(status: int) -> CosmosError:
    return CosmosError(ErrorType.MARATHON_BAD_GATEWAY,
                       f"Received response status code {status} from the webapp",
                       {"marathonStatus": status}, status=502)


def master_unavailable(reason: str) -> CosmosError:
    return CosmosError(ErrorType.SERVICE_UNAVAILABLE,
                       f"Unable to complete request due to service [mesos] unavailability: "
                       f"{reason}", {"serviceName": "mesos"}, status=503)


def incomplete_uninstall(name: str, reason: str) -> CosmosError:
    return CosmosError(ErrorType.INCOMPLETE_UNINSTALL,
                       f"Incomplete uninstall of package [{name}]: {reason}",
                       {"packageName": name, "reason": reason}, status=503)


def repository_uri_syntax(name: str, uri: str, cause: str) -> CosmosError:
    return CosmosError(ErrorType.REPOSITORY_URI_SYNTAX,
                       f"URI for repository [{name}] has invalid syntax: {uri}",
                       {"repository": {"name": name, "uri": uri}, "cause": cause})


def unsupported_repository_uri(uri: str) -> CosmosError:
    return CosmosError(ErrorType.UNSUPPORTED_REPOSITORY_URI,
                       f"Repository URI [{uri}] uses an unsupported scheme. Only http, https "
                       "and file are supported", {"uri": uri})


def repository_uri_connection(name: str, uri: str, cause: str) -> CosmosError:
    return CosmosError(ErrorType.REPOSITORY_URI_CONNECTION,
                       f"Could not access data at URI for repository [{name}]: {uri}",
                       {"repository": {"name": name, "uri": uri}, "cause": cause})


def universe_client_http_error(name: str, uri: str, status: int) -> CosmosError:
    return CosmosError(ErrorType.UNIVERSE_CLIENT_HTTP_ERROR,
                       f"Unexpected upstream http error while fetching repository '{name}' "
                       f"at {uri}: GET {status}",
                       {"repository": {"name": name, "uri": uri}, "method": "GET",
                        "clientStatus": status})


def index_not_found(name: str, uri: str, reason: str) -> CosmosError:
    return CosmosError(ErrorType.INDEX_NOT_FOUND,
                       f"Index file missing or invalid for repo [{name}] at {uri}: {reason}",
                       {"repository": {"name": name, "uri": uri}, "reason": reason})


def repository_already_present(name: str | None, uri: str | None) -> CosmosError:
    if name and uri:
        message = f"Repository name [{name}] and URI [{uri}] are both already present in the list"
    elif name:
        message = f"Repository name [{name}] is already present in the list"
    else:
        message = f"Repository URI [{uri}] is already present in the list"
    return CosmosError(ErrorType.REPOSITORY_ALREADY_PRESENT, message,
                       {"name": name, "uri": uri})


def repository_not_present(name: str | None, uri: str | None) -> CosmosError:
    if name and uri:
        message = f"Neither repository name [{name}] nor URI [{uri}] are present in the list"
    elif name:
        message = f"Repository name [{name}] is not present in the list"
    else:
        message = f"Repository URI [{uri}] is not present in the list"
    return CosmosError(ErrorType.REPOSITORY_NOT_PRESENT, message, {"name": name, "uri": uri})


def repository_index_out_of_bounds(attempted: int, max_index: int) -> CosmosError:
    hint = "can be at most 0" if max_index == 0 else f"must be between 0 and {max_index} inclusive."
    return CosmosError(ErrorType.REPOSITORY_ADD_INDEX_OUT_OF_BOUNDS,
                       f"Index ({attempted}) is out of range. Index value {hint}",
                       {"attempted": attempted, "max": max_index})


def repo_name_or_uri_missing() -> CosmosError:
    return CosmosError(ErrorType.REPO_NAME_OR_URI_MISSING,
                       "Must specify either the name or URI of the repository")


def decoding_failure(path: str, reason: str) -> CosmosError:
    """A request body of the wrong shape: Cosmos' circe decoding failure."""
    return CosmosError(ErrorType.JSON_ERROR, f"Json decoding failure '{reason}' at: {path}",
                       {"type": "decode", "reason": reason, "path": path})


def parsing_failure(reason: str) -> CosmosError:
    return CosmosError(ErrorType.JSON_ERROR, f"Json parsing failure '{reason}'",
                       {"type": "parse", "reason": reason})


def resource_not_found(url: str) -> CosmosError:
    """GET /package/resource of a URL that no configured repository's package lists."""
    return CosmosError(ErrorType.RESOURCE_NOT_FOUND,
                       f"[{url}] is not an asset of any package in the configured repositories",
                       {"url": url}, status=404)
