"""JSON (orjson) and msgpack codecs used on every wire.

Public APIs speak JSON (Mesos v1 shapes); the internal master <-> agent channel speaks
msgpack. Both decoders raise `DecodeError` (a `ValueError`) for any malformed input so that
HTTP shells can turn it into a 400 without catching library-specific exceptions.
"""

from __future__ import annotations

from typing import Any

import msgpack
import orjson

JSON = "application/json"
MSGPACK = "application/x-msgpack"


class DecodeError(ValueError):
    """The body could not be decoded."""


def dumps_json(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


def loads_json(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"invalid JSON: {exc}") from None


def dumps_msgpack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def loads_msgpack(data: bytes) -> Any:
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (msgpack.UnpackException, ValueError, TypeError) as exc:
        # ExtraData, FormatError, StackError, OutOfData; TypeError: an unhashable map key
        raise DecodeError(f"invalid msgpack: {exc}") from None


def dumps(obj: Any, content_type: str) -> bytes:
    return dumps_msgpack(obj) if content_type == MSGPACK else dumps_json(obj)


def loads(data: bytes, content_type: str) -> Any:
    return loads_msgpack(data) if content_type.startswith(MSGPACK) else loads_json(data)
