"""`Resources`: the value type for what agents have, offers carry and tasks use.

A `Resources` holds scalars (cpus, mem, disk, gpus ...), ranges (ports) and sets, for one
role. It is immutable: arithmetic returns new values. Scalars are kept to three decimal
places, as Mesos' fixed-point `Value::Scalar` does, so that 0.1 + 0.2 - 0.3 is exactly 0.

Called by: the agent (detected totals), the master (agent totals, offers, task usage),
the allocator (available = total - allocated), the SDK offer helpers and frameworks.

Wire forms:
- Mesos JSON list: ``[{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.0},
  "role": "*"}, {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000,
  "end": 32000}]}}]`` -- `from_mesos` / `to_mesos`.
- Mesos text: ``cpus:4;mem:1024;ports:[31000-32000]`` -- `parse` / `__str__`.
- Mesos /state summary: ``{"cpus": 4.0, "mem": 1024.0, "ports": "[31000-32000]"}`` --
  `to_summary`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

Range = tuple[int, int]
RangeSet = tuple[Range, ...]

_SCALAR_ORDER = ("cpus", "gpus", "mem", "disk")


class ResourceError(ValueError):
    """A resource description that cannot be understood (bad text or bad JSON shape)."""


def _q(value: float) -> float:
    """Quantise a scalar to Mesos' three decimal places."""
    return round(float(value) + 0.0, 3)


def normalize_ranges(ranges: Iterable[Range]) -> RangeSet:
    """Sort and merge overlapping or adjacent inclusive ranges; `ResourceError` for bounds
    that are not integers (an infinite or NaN float from msgpack, a string)."""
    try:
        items = [(int(b), int(e)) for b, e in ranges]
    except (OverflowError, TypeError, ValueError) as exc:
        raise ResourceError(f"bad range bounds: {exc}") from None
    if len(items) <= 1:  # the common case (one port range): nothing to sort or merge
        if items and items[0][1] < items[0][0]:
            raise ResourceError(f"range [{items[0][0]}-{items[0][1]}] ends before it begins")
        return tuple(items)
    items.sort()
    out: list[list[int]] = []
    for b, e in items:
        if e < b:
            raise ResourceError(f"range [{b}-{e}] ends before it begins")
        if out and b <= out[-1][1] + 1:
            if e > out[-1][1]:
                out[-1][1] = e
        else:
            out.append([b, e])
    return tuple((b, e) for b, e in out)


def _ranges_sub(a: RangeSet, b: RangeSet) -> RangeSet:
    out: list[Range] = []
    for lo, hi in a:
        cur = lo
        for blo, bhi in b:
            if bhi < cur or blo > hi:
                continue
            if blo > cur:
                out.append((cur, blo - 1))
            cur = max(cur, bhi + 1)
            if cur > hi:
                break
        if cur <= hi:
            out.append((cur, hi))
    return tuple(out)


def _ranges_contain(a: RangeSet, b: RangeSet) -> bool:
    """True when every range of `b` lies inside some range of `a` (both normalised)."""
    i = 0
    for blo, bhi in b:
        while i < len(a) and a[i][1] < blo:
            i += 1
        if i == len(a) or a[i][0] > blo or a[i][1] < bhi:
            return False
    return True


def ranges_size(r: RangeSet) -> int:
    return sum(e - b + 1 for b, e in r)


def format_ranges(r: RangeSet) -> str:
    """``((31000, 31005), (31010, 31010))`` -> ``"[31000-31005, 31010-31010]"`` (Mesos)."""
    return "[" + ", ".join(f"{b}-{e}" for b, e in r) + "]"


class Resources:
    """An immutable bag of scalar, range and set resources."""

    __slots__ = ("scalars", "ranges", "sets", "_hash", "_summary")

    def __init__(
        self,
        scalars: Mapping[str, float] | None = None,
        ranges: Mapping[str, Iterable[Range]] | None = None,
        sets: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.scalars: dict[str, float] = {}
        for k, v in (scalars or {}).items():
            q = _q(v)
            if q < 0:
                raise ResourceError(f"negative quantity for {k}: {v}")
            if q > 0:
                self.scalars[k] = q
        self.ranges: dict[str, RangeSet] = {}
        for k, rs in (ranges or {}).items():
            n = normalize_ranges(rs)
            if n:
                self.ranges[k] = n
        self.sets: dict[str, frozenset[str]] = {}
        for k, items in (sets or {}).items():
            fs = frozenset(items)
            if fs:
                self.sets[k] = fs
        self._hash: int | None = None
        self._summary: dict[str, Any] | None = None

    # -- constructors ----------------------------------------------------------------

    @classmethod
    def _trusted(
        cls,
        scalars: dict[str, float],
        ranges: dict[str, RangeSet],
        sets: dict[str, frozenset[str]],
    ) -> Resources:
        """Internal constructor for parts that are already in canonical form (scalars
        quantised and > 0, ranges normalised and non-empty, sets non-empty frozensets);
        used by the arithmetic so results are not re-validated. The dicts are owned."""
        r = object.__new__(cls)
        r.scalars, r.ranges, r.sets, r._hash, r._summary = scalars, ranges, sets, None, None
        return r

    @classmethod
    def empty(cls) -> Resources:
        return _EMPTY

    @classmethod
    def total(cls, items: Iterable[Resources]) -> Resources:
        """The sum of `items` in one pass (what a chain of `+` gives, without an object
        per step); one non-empty item is returned as it is. Called by the master's state
        views for the resources a framework or an agent uses."""
        scalars: dict[str, float] = {}
        ranges: dict[str, list[Range]] = {}
        sets: dict[str, set[str]] = {}
        count, last = 0, _EMPTY
        for r in items:
            if not r:
                continue
            count, last = count + 1, r
            for k, v in r.scalars.items():
                scalars[k] = scalars.get(k, 0.0) + v
            for k, rs in r.ranges.items():
                ranges.setdefault(k, []).extend(rs)
            for k, s in r.sets.items():
                sets.setdefault(k, set()).update(s)
        if count <= 1:
            return last
        quantised = {k: _q(v) for k, v in scalars.items()}
        return cls._trusted(
            {k: v for k, v in quantised.items() if v > 0},
            {k: normalize_ranges(v) for k, v in ranges.items()},
            {k: frozenset(v) for k, v in sets.items()},
        )

    @classmethod
    def parse(cls, text: str) -> Resources:
        """Parse Mesos' text form, e.g. ``cpus:24;mem:4096;ports:[31000-32000];zones:{a,b}``."""
        scalars: dict[str, float] = {}
        ranges: dict[str, list[Range]] = {}
        sets: dict[str, list[str]] = {}
        for part in filter(None, (p.strip() for p in text.split(";"))):
            name, sep, value = part.partition(":")
            name = name.strip()
            value = value.strip()
            if not sep or not name or not value:
                raise ResourceError(f"cannot parse resource {part!r}: expected name:value")
            if "(" in name:  # cpus(role):1 -- role suffix; roles are carried separately
                name = name.split("(", 1)[0]
            if value.startswith("["):
                if not value.endswith("]"):
                    raise ResourceError(f"unterminated range in {part!r}")
                for item in filter(None, (x.strip() for x in value[1:-1].split(","))):
                    m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", item)
                    if not m:
                        raise ResourceError(f"bad range {item!r} in {part!r}")
                    ranges.setdefault(name, []).append((int(m[1]), int(m[2])))
            elif value.startswith("{"):
                if not value.endswith("}"):
                    raise ResourceError(f"unterminated set in {part!r}")
                items = [x.strip() for x in value[1:-1].split(",") if x.strip()]
                sets.setdefault(name, []).extend(items)
            else:
                try:
                    q = float(value)
                except ValueError:
                    raise ResourceError(f"bad scalar {value!r} for {name}") from None
                if q != q or q in (float("inf"), float("-inf")) or q < 0:
                    raise ResourceError(f"bad scalar {value!r} for {name}")
                scalars[name] = scalars.get(name, 0.0) + q
        return cls(scalars, ranges, sets)

    @classmethod
    def parse_reserved(cls, text: str) -> tuple[Resources, str | None]:
        """Parse ``--resources`` text whose items may carry a role (``cpus(R):2``): the
        resources and the one role they are reserved to (None: unreserved; ``(*)`` is
        unreserved). dcos-py reserves a whole agent to one role: items of different roles,
        or reserved items next to unreserved ones, raise `ResourceError`."""
        roles: set[str | None] = set()
        for part in filter(None, (p.strip() for p in text.split(";"))):
            name = part.partition(":")[0].strip()
            role: str | None = None
            if "(" in name:
                inner = name.split("(", 1)[1]
                if not inner.endswith(")") or not inner[:-1].strip():
                    raise ResourceError(f"bad role in {part!r}: expected name(role):value")
                role = inner[:-1].strip()
                role = None if role == "*" else role
            roles.add(role)
        resources = cls.parse(text)
        if len(roles) > 1:
            named = sorted(r or "*" for r in roles)
            raise ResourceError(
                f"resources of several roles {named}: dcos-py reserves a whole agent to one "
                "role (give every item the same role, or none)"
            )
        return resources, next(iter(roles), None)

    @classmethod
    def from_mesos(cls, items: Any) -> Resources:
        """Build from a Mesos JSON resource list; raises `ResourceError` on a bad shape.

        Unknown keys (role, reservations, allocation_info, ...) are tolerated and ignored.
        """
        if items is None:
            return _EMPTY
        if not isinstance(items, list):
            raise ResourceError("resources must be a list")
        scalars: dict[str, float] = {}
        ranges: dict[str, list[Range]] = {}
        sets: dict[str, list[str]] = {}
        for r in items:
            if not isinstance(r, dict) or not isinstance(r.get("name"), str) or not r["name"]:
                raise ResourceError("each resource needs a string 'name'")
            name = r["name"]
            kind = r.get("type", "SCALAR")
            try:
                if kind == "SCALAR":
                    v = float(r["scalar"]["value"])
                    if v != v or v < 0 or v == float("inf"):
                        raise ResourceError(f"bad scalar value for {name}")
                    scalars[name] = scalars.get(name, 0.0) + v
                elif kind == "RANGES":
                    for rg in r["ranges"].get("range", []):
                        b, e = int(rg["begin"]), int(rg["end"])
                        if b < 0 or e < b:
                            raise ResourceError(f"bad range [{b}-{e}] for {name}")
                        ranges.setdefault(name, []).append((b, e))
                elif kind == "SET":
                    sets.setdefault(name, []).extend(str(x) for x in r["set"].get("item", []))
                else:
                    raise ResourceError(f"unknown resource type {kind!r} for {name}")
            except (KeyError, TypeError, AttributeError, ValueError) as exc:
                if isinstance(exc, ResourceError):
                    raise
                raise ResourceError(f"malformed {kind} resource {name!r}") from None
        return cls(scalars, ranges, sets)

    # -- wire forms --------------------------------------------------------------------

    def to_mesos(self, role: str = "*", allocation_role: str | None = None) -> list[dict[str, Any]]:
        """The Mesos JSON list; `allocation_role` adds ``allocation_info`` (offers, tasks).
        A `role` other than ``*`` marks the items statically reserved to it, in both Mesos
        1.x forms: ``"role": R`` and ``"reservations": [{"type": "STATIC", "role": R}]``."""
        out: list[dict[str, Any]] = []
        extra: dict[str, Any] = {"role": role}
        if role != "*":
            extra["reservations"] = [{"type": "STATIC", "role": role}]
        if allocation_role is not None:
            extra["allocation_info"] = {"role": allocation_role}
        for name in self._scalar_names():
            out.append(
                {"name": name, "type": "SCALAR", "scalar": {"value": self.scalars[name]}, **extra}
            )
        for name, rs in sorted(self.ranges.items()):
            out.append(
                {
                    "name": name,
                    "type": "RANGES",
                    "ranges": {"range": [{"begin": b, "end": e} for b, e in rs]},
                    **extra,
                }
            )
        for name, items in sorted(self.sets.items()):
            out.append({"name": name, "type": "SET", "set": {"item": sorted(items)}, **extra})
        return out

    def to_summary(self) -> dict[str, Any]:
        """Mesos' /state form: scalars as numbers, ranges and sets as text.

        cpus, mem, disk and gpus are always present (0 when absent), as Mesos reports them.
        Made once per (immutable) value and copied: the master's state views ask for the
        same task and agent resources at every build.
        """
        summary = self._summary
        if summary is None:
            summary = {k: 0.0 for k in _SCALAR_ORDER}
            summary.update(self.scalars)
            for name, rs in self.ranges.items():
                summary[name] = format_ranges(rs)
            for name, items in self.sets.items():
                summary[name] = "{" + ", ".join(sorted(items)) + "}"
            self._summary = summary
        return dict(summary)

    def to_dict(self) -> dict[str, Any]:
        """A plain-data form for msgpack/JSON between our own components (`from_dict`)."""
        d: dict[str, Any] = {}
        if self.scalars:
            d["s"] = dict(self.scalars)
        if self.ranges:
            d["r"] = {k: [list(x) for x in v] for k, v in self.ranges.items()}
        if self.sets:
            d["t"] = {k: sorted(v) for k, v in self.sets.items()}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Resources:
        if not d:
            return _EMPTY
        return cls(
            d.get("s"),
            {k: [tuple(x) for x in v] for k, v in (d.get("r") or {}).items()},
            d.get("t"),
        )

    def __str__(self) -> str:
        parts = [f"{n}:{self.scalars[n]:g}" for n in self._scalar_names()]
        parts += [f"{n}:{format_ranges(r)}" for n, r in sorted(self.ranges.items())]
        parts += [
            f"{n}:{{{','.join(sorted(s))}}}" for n, s in sorted(self.sets.items())
        ]
        return ";".join(parts)

    def __repr__(self) -> str:
        return f"Resources({str(self)!r})"

    # -- queries -------------------------------------------------------------------------

    def _scalar_names(self) -> list[str]:
        known = [n for n in _SCALAR_ORDER if n in self.scalars]
        return known + sorted(n for n in self.scalars if n not in _SCALAR_ORDER)

    def scalar(self, name: str) -> float:
        return self.scalars.get(name, 0.0)

    def is_empty(self) -> bool:
        return not (self.scalars or self.ranges or self.sets)

    def __bool__(self) -> bool:
        return not self.is_empty()

    def contains(self, other: Resources) -> bool:
        """True when `other` fits inside this (every scalar, range and set item)."""
        for k, v in other.scalars.items():
            if self.scalars.get(k, 0.0) + 1e-9 < v:
                return False
        for k, rs in other.ranges.items():
            if not _ranges_contain(self.ranges.get(k, ()), rs):
                return False
        for k, s in other.sets.items():
            if not s <= self.sets.get(k, frozenset()):
                return False
        return True

    def __ge__(self, other: Resources) -> bool:
        return self.contains(other)

    def __le__(self, other: Resources) -> bool:
        return other.contains(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Resources):
            return NotImplemented
        return (
            self.scalars == other.scalars
            and self.ranges == other.ranges
            and self.sets == other.sets
        )

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(
                (
                    frozenset(self.scalars.items()),
                    frozenset(self.ranges.items()),
                    frozenset(self.sets.items()),
                )
            )
        return self._hash

    # -- arithmetic ----------------------------------------------------------------------

    def __add__(self, other: Resources) -> Resources:
        if not other:
            return self
        if not self:
            return other
        # both sides are canonical: only keys present on both sides need work
        scalars = dict(self.scalars)
        for k, v in other.scalars.items():
            cur = scalars.get(k)
            scalars[k] = v if cur is None else _q(cur + v)
        ranges = dict(self.ranges)
        for k, rs in other.ranges.items():
            cur_r = ranges.get(k)
            ranges[k] = rs if cur_r is None else normalize_ranges(cur_r + rs)
        sets = dict(self.sets)
        for k, s in other.sets.items():
            cur_s = sets.get(k)
            sets[k] = s if cur_s is None else cur_s | s
        return Resources._trusted(scalars, ranges, sets)

    def __sub__(self, other: Resources) -> Resources:
        """Remove `other`; quantities never go below zero (missing parts are ignored)."""
        if not other or not self:
            return self
        # both sides are canonical; what is left of a part is canonical too (a difference
        # of normalised range sets is normalised), so only empty parts are dropped
        scalars = dict(self.scalars)
        for k, v in other.scalars.items():
            cur = scalars.get(k)
            if cur is not None:
                q = _q(cur - v)
                if q > 0:
                    scalars[k] = q
                else:
                    del scalars[k]
        ranges = dict(self.ranges)
        for k, rs in other.ranges.items():
            cur_r = ranges.get(k)
            if cur_r is not None:
                left = _ranges_sub(cur_r, rs)
                if left:
                    ranges[k] = left
                else:
                    del ranges[k]
        sets = dict(self.sets)
        for k, s in other.sets.items():
            cur_s = sets.get(k)
            if cur_s is not None:
                left_s = cur_s - s
                if left_s:
                    sets[k] = left_s
                else:
                    del sets[k]
        return Resources._trusted(scalars, ranges, sets)

    def scalars_only(self) -> dict[str, float]:
        """The scalar quantities (what DRF shares are computed from)."""
        return dict(self.scalars)


_EMPTY = Resources()
