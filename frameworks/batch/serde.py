"""Encodings for what travels between driver, executors and stages.

- Closures and stages: cloudpickle (`dumps_closure` / `loads_closure`).
- Records in shuffle and cache blocks: msgpack when every record is plain data (str, bytes,
  int, float, bool, None, lists and str-keyed dicts of those), pickle otherwise; the first byte
  of a block says which (`encode_records` / `decode_records`, `encode_pairs` / `decode_pairs`).
  msgpack turns tuples into lists, so plain blocks are packed with ``strict_types`` and any
  tuple (other than the top-level (key, value) pairs of `encode_pairs`) falls back to pickle:
  records come back with exactly the types they went in with.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from typing import Any

import cloudpickle
import msgpack

_MSGPACK = b"M"
_PICKLE = b"P"
_PAIRS = b"K"  # msgpack of a flat [k0, v0, k1, v1, ...] list


def dumps_closure(obj: Any) -> bytes:
    """Pickle functions, lambdas and RDD chains (by value where needed). Called by the DAG
    scheduler when it builds a stage payload, and for broadcast values."""
    return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def loads_closure(data: bytes) -> Any:
    return pickle.loads(data)


def dumps_value(obj: Any) -> bytes:
    """Pickle a task's result; cloudpickle only if plain pickle cannot (e.g. lambdas)."""
    try:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _packb(obj: Any) -> bytes | None:
    try:
        return msgpack.packb(obj, use_bin_type=True, strict_types=True)
    except (TypeError, ValueError, OverflowError):
        return None


def encode_records(records: list[Any]) -> bytes:
    """Encode a list of records (cache blocks, shuffle blocks of non-pair records)."""
    packed = _packb(records)
    if packed is not None:
        return _MSGPACK + packed
    return _PICKLE + dumps_value(records)


def encode_pairs(pairs: list[tuple[Any, Any]]) -> bytes:
    """Encode a list of (key, value) pairs (shuffle blocks). Called by map tasks."""
    flat: list[Any] = []
    append = flat.append
    for pair in pairs:
        if type(pair) is not tuple or len(pair) != 2:
            return encode_records(pairs)
        append(pair[0])
        append(pair[1])
    packed = _packb(flat)
    if packed is not None:
        return _PAIRS + packed
    return _PICKLE + dumps_value(pairs)


def decode_records(data: bytes) -> list[Any]:
    """Inverse of `encode_records` and `encode_pairs`."""
    kind = data[:1]
    if kind == _PICKLE:
        return pickle.loads(memoryview(data)[1:])
    body = msgpack.unpackb(memoryview(data)[1:], raw=False, strict_map_key=False)
    if kind == _PAIRS:
        it = iter(body)
        return list(zip(it, it, strict=True))
    if kind == _MSGPACK:
        return body
    raise ValueError(f"unknown block encoding {kind!r}")


def iter_decoded(blocks: Iterable[bytes]) -> Iterable[Any]:
    """Records of each block in turn (reduce side of a shuffle)."""
    for block in blocks:
        yield from decode_records(block)
