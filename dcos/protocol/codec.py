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


# orjson reads documents nested up to 1,024 levels but writes at most 254: a value nested
# deeper than that, once kept (a framework's info, a task's labels), would make every later
# state view and registry write of the master fail. Decoders refuse what is nested deeper than
# MAX_DEPTH, which leaves room for the levels our own documents wrap around a kept value.
MAX_DEPTH = 200
_ORJSON_WRITE_DEPTH = 254


def check_depth(obj: Any, size: int) -> None:
    """Raise `DecodeError` when `obj` (decoded from `size` bytes) is nested deeper than
    `MAX_DEPTH`. Called by `loads_json` and `loads_msgpack` for every decoded body; a body too
    short to be that deep costs nothing, others one C-speed orjson pass (the value wrapped in
    the levels orjson would still write)."""
    if size <= MAX_DEPTH:
        return
    for _ in range(_ORJSON_WRITE_DEPTH - MAX_DEPTH):
        obj = [obj]
    try:
        orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)
    except TypeError as exc:  # also bytes or huge ints from msgpack: not our concern here
        if "Recursion" in str(exc):
            raise DecodeError(f"nested deeper than {MAX_DEPTH} levels") from None


def loads_json(data: bytes | str) -> Any:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"invalid JSON: {exc}") from None
    if isinstance(data, str):
        opens = data.count("[") + data.count("{")
    else:
        opens = data.count(b"[") + data.count(b"{")
    if opens > MAX_DEPTH:  # else it cannot be that deep: no second pass
        check_depth(obj, len(data))
    return obj


def dumps_msgpack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def loads_msgpack(data: bytes) -> Any:
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (msgpack.UnpackException, ValueError, TypeError) as exc:
        # ExtraData, FormatError, StackError, OutOfData; TypeError: an unhashable map key
        raise DecodeError(f"invalid msgpack: {exc}") from None
    check_depth(obj, len(data))
    return obj


def dumps(obj: Any, content_type: str) -> bytes:
    return dumps_msgpack(obj) if content_type == MSGPACK else dumps_json(obj)


def loads(data: bytes, content_type: str) -> Any:
    return loads_msgpack(data) if content_type.startswith(MSGPACK) else loads_json(data)
