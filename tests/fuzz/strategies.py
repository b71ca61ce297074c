"""Hypothesis strategies for bad requests: wrong values for any JSON position, one-field
mutations of a valid document, garbage bodies, hostile headers and paths.

`encode_json` writes a document with `Raw` pieces spliced in verbatim, so a body can hold what
no JSON encoder writes (NaN, 1e400, 10,000-deep nesting, lone surrogates): the servers must
refuse all of it with a 4xx.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import msgpack
from hypothesis import strategies as st

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Raw:
    """JSON text spliced into a body verbatim (`encode_json`); msgpack gets `mp`."""

    text: bytes
    mp: Any = None


def deep_json(depth: int, kind: str = "list") -> Raw:
    if kind == "list":
        return Raw(b"[" * depth + b"]" * depth, None)
    return Raw(b'{"a":' * depth + b"1" + b"}" * depth, None)


def encode_json(obj: Any) -> bytes:
    """JSON for `obj` (dicts, lists, scalars, `Raw`), with no depth limit on `Raw` pieces."""
    if isinstance(obj, Raw):
        return obj.text
    if isinstance(obj, dict):
        items = [json.dumps(str(k)).encode() + b":" + encode_json(v) for k, v in obj.items()]
        return b"{" + b",".join(items) + b"}"
    if isinstance(obj, list | tuple):
        return b"[" + b",".join(encode_json(v) for v in obj) + b"]"
    if isinstance(obj, bytes):
        return json.dumps(obj.decode("latin-1")).encode()
    return json.dumps(obj, allow_nan=True).encode("utf-8", "surrogatepass")


def _mp(obj: Any) -> Any:
    if isinstance(obj, Raw):
        return obj.mp
    if isinstance(obj, dict):
        return {k: _mp(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_mp(v) for v in obj]
    if isinstance(obj, int) and not -(2**63) <= obj < 2**64:
        return float(obj)
    if isinstance(obj, str):
        return obj.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return obj


def encode_msgpack(obj: Any) -> bytes:
    return msgpack.packb(_mp(obj), use_bin_type=True)


SPECIAL_NUMBERS = [
    0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, -(2**63), 2**64, 10**30, -(10**30),
    1e308, -1e308, 5e-324, 0.5, -0.0, 1e-9,
    Raw(b"NaN", float("nan")), Raw(b"Infinity", float("inf")), Raw(b"-Infinity", float("-inf")),
    Raw(b"1e400", float("inf")), Raw(b"-1e400", float("-inf")),
    Raw(b"123456789012345678901234567890123456789", 1.2e38), Raw(b"1E+2", 100.0),
]  # fmt: skip
SPECIAL_STRINGS = [
    "", " ", ".", "..", "/", "//", "../../../../tmp/x", "a/b", "\x00", "a\x00b", "é", "日本",
    "\ud800", "\u202e", "x" * 300, "x" * 70_000, "%00", "%2e%2e", "\n", "\r\nX-Injected: 1",
    "NaN", "null", "true", "0", "-1", "1e308", "*", "$(id)", "/proc/1/root/etc/passwd",
    "¹", "١٢", "１２", "Ⅻ", " 1", "1\n", "0x10", "1_000", "+1", "00",
]  # fmt: skip
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
    st.text(max_size=12), st.sampled_from(SPECIAL_NUMBERS), st.sampled_from(SPECIAL_STRINGS),
)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),  # fmt: skip
    max_leaves=12,
)
DEEP = [deep_json(d, k) for d in (64, 300, 1_000, 20_000) for k in ("list", "dict")]
bad_values = st.one_of(
    scalars, json_values, st.sampled_from(DEEP),
    st.sampled_from([[], {}, [None], {"": None}, {"value": None}, {"value": 7}, [{}] * 3]),
)  # fmt: skip


def paths(doc: Any, prefix: Path = ()) -> list[Path]:
    """Every position in `doc` (keys of objects, indexes of lists), parents first."""
    out: list[Path] = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.append((*prefix, k))
            out += paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.append((*prefix, i))
            out += paths(v, (*prefix, i))
    return out


def _set(doc: Any, path: Path, value: Any, delete: bool = False) -> Any:
    doc = copy.deepcopy(doc)
    node = doc
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


@st.composite
def mutations(draw: st.DrawFn, doc: Any, values: st.SearchStrategy[Any] = bad_values) -> Any:
    """`doc` with one change: a position's value replaced by a bad one, or deleted, or an
    unknown key added to an object, or the whole document replaced."""
    ps = paths(doc)
    how = draw(st.sampled_from(["replace"] * 6 + ["delete", "add", "whole"]))
    if how == "whole" or not ps:
        return draw(values)
    path = draw(st.sampled_from(ps))
    if how == "delete":
        return _set(doc, path, None, delete=True)
    if how == "add":
        objects = [p for p in [(), *ps] if isinstance(_get(doc, p), dict)]
        p = draw(st.sampled_from(objects))
        key = draw(st.sampled_from(["unknown", "", "\x00", "é", "type", "value"]))
        return _set(doc, (*p, key), draw(values))
    return _set(doc, path, draw(values))


def _get(doc: Any, path: Path) -> Any:
    for key in path:
        doc = doc[key]
    return doc


garbage_bodies = st.one_of(
    st.binary(max_size=64),
    st.sampled_from([
        b"", b"{", b"[", b"}", b"null", b"0", b"\"x\"", b"[]", b"{}", b"\xff\xfe", b"\x00" * 8,
        b'{"type":', b'{"type": null}', b'{"type": 7}', b'{"type": "NOPE"}', b'{"type": ""}',
        b'{"type": "\xff"}', b'{"a":1,"a":2}', b"NaN", b"1e400", b"\xef\xbb\xbf{}",
        b"\x80", b"\xc1", b"\x91" * 100_000, b"\xdc\xff\xff", b"\xdf\xff\xff\xff\xff",
        b"\xc7\xff\x01", b"\x81\xc0\xc0", b"\x81\x90\xc0", b"\x92\x01",
    ]),
    st.sampled_from([d.text for d in DEEP]),
)  # fmt: skip


def body_of(doc: Any, fmt: str = "json") -> bytes:
    return encode_msgpack(doc) if fmt == "msgpack" else encode_json(doc)


CONTENT_TYPES = [
    "application/json", "application/json; charset=utf-8", "application/x-msgpack",
    "application/x-protobuf", "text/plain", "", "application/jsoné", "application/json; é=1",
    "日本/語", "*/*", "application/json\x00", "multipart/form-data; boundary=x",
]  # fmt: skip
header_values = st.one_of(
    st.sampled_from(["", "é", "日本", "x" * 8000, "\x00", "\x7f", "a\tb", "1", "-1", "nan"]),
    st.text(max_size=20).filter(lambda s: "\r" not in s and "\n" not in s),
    st.binary(max_size=20).filter(lambda b: b"\r" not in b and b"\n" not in b),
)


def query_values() -> st.SearchStrategy[str]:
    """A query parameter value, percent-encoded or raw (non-UTF-8 escapes, NUL, huge numbers)."""
    return st.one_of(
        st.sampled_from(["", "-1", "0", "1", "99999999999999999999999", "1e400", "nan", "abc",
                         "%00", "%ff%fe", "%2e%2e%2f", "true", "True", "x" * 5000, "%", "%zz",
                         "1.5", "-0", "é", "a;b", "a&b=c"]),
        st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126,
                                       exclude_characters="#?&"), max_size=15),
        st.text(max_size=4).map(lambda t: quote(t.encode("utf-8", "surrogatepass"), safe="")),
    )  # fmt: skip


def quoted(text: str, safe: str = "") -> str:
    """`text` percent-encoded as UTF-8 (lone surrogates too, as the bytes they would be)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe=safe)
