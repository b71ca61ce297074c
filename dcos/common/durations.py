"""Duration strings -> seconds: the one parser for flags, environment and framework settings.

Called by: the agent (``--executor-registration-timeout`` style flags, ``MESOS_*`` values it
hands executors), the SDK's executor (``MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD`` ...), the batch
framework's Spark-style settings (``spark.locality.wait=3s``) and the shared daemon flags.

Accepts the union of the Mesos units (``ns us ms secs mins hrs days weeks``) and the Spark/Go
style ones (``s m min h d w``), case-insensitively, with optional blanks between number and
unit; a plain number (or an ``int``/``float``) is seconds. Anything else, a negative or a
non-finite value raises `ValueError` naming the text and the accepted units.
"""

from __future__ import annotations

import math
import re

_SECOND = 1.0
_MINUTE = 60.0
_HOUR = 3600.0
_DAY = 86400.0

UNITS: dict[str, float] = {
    "ns": 1e-9, "nanosecond": 1e-9, "nanoseconds": 1e-9,
    "us": 1e-6, "microsecond": 1e-6, "microseconds": 1e-6,
    "ms": 1e-3, "millisecond": 1e-3, "milliseconds": 1e-3,
    "s": _SECOND, "sec": _SECOND, "secs": _SECOND, "second": _SECOND, "seconds": _SECOND,
    "m": _MINUTE, "min": _MINUTE, "mins": _MINUTE, "minute": _MINUTE, "minutes": _MINUTE,
    "h": _HOUR, "hr": _HOUR, "hrs": _HOUR, "hour": _HOUR, "hours": _HOUR,
    "d": _DAY, "day": _DAY, "days": _DAY,
    "w": 7 * _DAY, "week": 7 * _DAY, "weeks": 7 * _DAY,
}  # fmt: skip

_PATTERN = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([a-zA-Z]*)\s*")


def parse_duration(text: str | float | int) -> float:
    """Seconds in `text`: ``"5secs"``, ``"10mins"``, ``"120s"``, ``"1.5h"``, ``"200ms"``, ``30``.

    Raises `ValueError` for an unknown unit, a malformed or negative value, NaN or infinity.
    """
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        return _checked(float(text), text)
    m = _PATTERN.fullmatch(str(text))
    if not m:
        raise ValueError(
            f"not a duration: {text!r} (expected a number and a unit, e.g. 5secs, 120s, 10mins)"
        )
    number, unit = m.group(1), m.group(2).lower()
    scale = UNITS.get(unit or "s")
    if scale is None:
        raise ValueError(
            f"unknown duration unit {m.group(2)!r} in {text!r} (use one of ns, us, ms, s, secs, "
            "m, min, mins, h, hrs, d, days, w, weeks)"
        )
    return _checked(float(number) * scale, text)


def _checked(value: float, text: object) -> float:
    if not math.isfinite(value):
        raise ValueError(f"not a finite duration: {text!r}")
    if value < 0:
        raise ValueError(f"negative duration: {text!r}")
    return value
