"""Request bodies of the IAM and secrets APIs -> typed requests (or a `Problem` saying what
is wrong, with the field's name). Pure; called by `dcos.master.http.iam` after decoding JSON.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from dcos.iam.ids import SecretPath, Uid, parse_secret_path, parse_uid
from dcos.iam.problems import Problem, invalid

MAX_PASSWORD = 1024
MIN_PASSWORD = 6
MAX_DESCRIPTION = 512
MAX_SECRET_BYTES = 64 * 1024
MAX_RESOLVE_PATHS = 256


@dataclass(frozen=True)
class LoginRequest:
    uid: Uid
    password: str


@dataclass(frozen=True)
class UserCreate:
    password: str
    description: str
    service: bool


@dataclass(frozen=True)
class UserPatch:
    password: str | None
    description: str | None


@dataclass(frozen=True)
class RevokeRequest:
    """Exactly one of `token` (one token) and `uid` (every token issued to it until now)."""

    token: str | None
    uid: Uid | None


def _object(body: Any) -> dict[str, Any] | Problem:
    if not isinstance(body, dict):
        return invalid("expected a JSON object")
    return body


def _unknown(body: dict[str, Any], known: tuple[str, ...]) -> Problem | None:
    extra = sorted(set(body) - set(known))
    if extra:
        return invalid(f"unknown field(s): {', '.join(extra)} (expected: {', '.join(known)})")
    return None


def _password(value: Any, field: str = "password") -> str | Problem:
    if not isinstance(value, str):
        return invalid(f"{field} must be a string")
    if len(value) < MIN_PASSWORD:
        return invalid(f"{field} must have at least {MIN_PASSWORD} characters")
    if len(value) > MAX_PASSWORD:
        return invalid(f"{field} must have at most {MAX_PASSWORD} characters")
    return value


def _description(value: Any) -> str | Problem:
    if not isinstance(value, str):
        return invalid("description must be a string")
    if len(value) > MAX_DESCRIPTION:
        return invalid(f"description must have at most {MAX_DESCRIPTION} characters")
    return value


def parse_login(body: Any) -> LoginRequest | Problem:
    """``{"uid", "password"}`` (a service-key login, ``{"uid", "token"}``, is refused)."""
    d = _object(body)
    if isinstance(d, Problem):
        return d
    if "token" in d and "password" not in d:
        return invalid("login with a service key (uid + token) is not supported: log in "
                       "with uid and password")  # fmt: skip
    uid = parse_uid(d.get("uid"))
    if isinstance(uid, Problem):
        return uid
    password = d.get("password")
    if not isinstance(password, str) or not password or len(password) > MAX_PASSWORD:
        return invalid("password must be a non-empty string")
    return LoginRequest(uid, password)


def parse_user_create(body: Any) -> UserCreate | Problem:
    """``{"password", "description"?, "service"?: bool}``."""
    d = _object(body)
    if isinstance(d, Problem):
        return d
    bad = _unknown(d, ("password", "description", "service"))
    if bad is not None:
        return bad
    if "password" not in d:
        return invalid("password is required")
    password = _password(d["password"])
    if isinstance(password, Problem):
        return password
    description = _description(d.get("description", ""))
    if isinstance(description, Problem):
        return description
    service = d.get("service", False)
    if not isinstance(service, bool):
        return invalid("service must be true or false")
    return UserCreate(password, description, service)


def parse_user_patch(body: Any) -> UserPatch | Problem:
    """``{"password"?, "description"?}`` (at least one)."""
    d = _object(body)
    if isinstance(d, Problem):
        return d
    bad = _unknown(d, ("password", "description"))
    if bad is not None:
        return bad
    if not d:
        return invalid("nothing to change: give password and/or description")
    password = None if "password" not in d else _password(d["password"])
    if isinstance(password, Problem):
        return password
    description = None if "description" not in d else _description(d["description"])
    if isinstance(description, Problem):
        return description
    return UserPatch(password, description)


def parse_revoke(body: Any) -> RevokeRequest | Problem:
    """``{"token"}`` or ``{"uid"}``."""
    d = _object(body)
    if isinstance(d, Problem):
        return d
    bad = _unknown(d, ("token", "uid"))
    if bad is not None:
        return bad
    if ("token" in d) == ("uid" in d):
        return invalid("give exactly one of token and uid")
    if "token" in d:
        token = d["token"]
        if not isinstance(token, str) or not token or len(token) > 16384:
            return invalid("token must be a non-empty string")
        return RevokeRequest(token, None)
    uid = parse_uid(d["uid"])
    if isinstance(uid, Problem):
        return uid
    return RevokeRequest(None, uid)


def parse_secret_value(body: Any) -> bytes | Problem:
    """``{"value": "<text>"}`` or ``{"value_base64": "<base64>"}`` -> the value's bytes (at
    most 64 KiB)."""
    d = _object(body)
    if isinstance(d, Problem):
        return d
    bad = _unknown(d, ("value", "value_base64"))
    if bad is not None:
        return bad
    if ("value" in d) == ("value_base64" in d):
        return invalid("give exactly one of value and value_base64")
    if "value" in d:
        if not isinstance(d["value"], str):
            return invalid("value must be a string")
        try:
            value = d["value"].encode("utf-8")
        except UnicodeEncodeError:
            return invalid("value is not valid text (use value_base64)")
    else:
        if not isinstance(d["value_base64"], str):
            return invalid("value_base64 must be a base64 string")
        try:
            value = base64.b64decode(d["value_base64"], validate=True)
        except (binascii.Error, ValueError):
            return invalid("value_base64 is not valid base64")
    if len(value) > MAX_SECRET_BYTES:
        return invalid(f"secret value is larger than {MAX_SECRET_BYTES} bytes")
    return value


def parse_resolve(body: Any) -> list[SecretPath] | Problem:
    """``{"paths": [path, ...]}`` (1 to 256 valid paths; duplicates dropped)."""
    d = _object(body)
    if isinstance(d, Problem):
        return d
    paths = d.get("paths")
    if not isinstance(paths, list) or not paths:
        return invalid("paths must be a non-empty list of secret paths")
    if len(paths) > MAX_RESOLVE_PATHS:
        return invalid(f"at most {MAX_RESOLVE_PATHS} paths per call")
    out: list[SecretPath] = []
    for i, p in enumerate(paths):
        path = parse_secret_path(p)
        if isinstance(path, Problem):
            return invalid(f"paths[{i}]: {path.description}")
        if path not in out:
            out.append(path)
    return out
