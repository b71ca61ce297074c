"""Reading the fields of a Cosmos request body, with Cosmos' decoding errors (`json_error`,
naming the field) for a missing or mistyped one.

Called by: the service core (dcos/packaging/service.py) on every request body.
"""

from __future__ import annotations

from typing import Any

from dcos.packaging import errors

Json = dict[str, Any]
_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")


def body_object(body: Any) -> Json:
    """The request body, which must be a JSON object."""
    if not isinstance(body, dict):
        raise errors.decoding_failure("", "JsonObject")
    return body


def string(body: Json, key: str, *, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise errors.decoding_failure(key, "Attempt to decode value on failed cursor")
        return None
    if not isinstance(value, str) or (required and not value):
        raise errors.decoding_failure(key, "String")
    return value


def required_string(body: Json, key: str) -> str:
    """A field that must be a non-empty string."""
    value = string(body, key, required=True)
    assert value is not None  # `string` raises for a missing one
    return value


def boolean(body: Json, key: str, default: bool = False) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise errors.decoding_failure(key, "Boolean")
    return value


def obj(body: Json, key: str) -> Json | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise errors.decoding_failure(key, "JsonObject")
    return value


def integer(body: Json, key: str) -> int | None:
    """An optional integer field. As Cosmos' decoder (circe), a string holding a decimal integer
    counts too: the DC/OS CLI sends `repo add --index=0` as ``"index": "0"``."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool):
        raise errors.decoding_failure(key, "Int")
    return value


def app_id(body: Json, key: str = "appId", *, required: bool = False) -> str | None:
    """An app id: non-empty, absolute or relative (made absolute), of path segments Marathon
    accepts (lower-case letters, digits, '-', '.')."""
    value = string(body, key, required=required)
    if value is None:
        return None
    segments = value.strip().strip("/").split("/")
    if not value.strip("/ ") or any(not _segment_ok(s) for s in segments):
        raise errors.decoding_failure(key, f"invalid app id {value!r}: path segments of "
                                           "lower-case letters, digits, '-' and '.'")
    return "/" + "/".join(segments)


def _segment_ok(segment: str) -> bool:
    if not segment or segment in (".", ".."):
        return False
    return all(c in _ALLOWED for c in segment) \
        and segment[0] not in "-." and segment[-1] not in "-."
