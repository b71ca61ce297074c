"""dcos.common.durations: Mesos and Spark/Go duration strings, one parser."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dcos.common.durations import UNITS, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5secs", 5.0), ("10mins", 600.0), ("2hrs", 7200.0), ("1days", 86400.0),
        ("1weeks", 604800.0), ("500ms", 0.5), ("250us", 250e-6), ("100ns", 100e-9),
        ("120s", 120.0), ("5min", 300.0), ("2m", 120.0), ("1h", 3600.0), ("1d", 86400.0),
        ("0.5", 0.5), ("30", 30.0), (" 3 s ", 3.0), ("1.5h", 5400.0), ("3S", 3.0),
        (7, 7.0), (2.5, 2.5), (".5s", 0.5),
    ],
)  # fmt: skip
def test_accepts_mesos_and_spark_units(text, seconds):
    assert math.isclose(parse_duration(text), seconds)


@pytest.mark.parametrize(
    "text", ["", "abc", "5 parsecs", "-1s", "1e999s", "nan", "s", "1.2.3s", True]
)
def test_rejects_with_a_clear_message(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False), st.sampled_from(sorted(UNITS)))
def test_number_and_unit_round_trip(value, unit):
    text = f"{value!r}{unit}"
    assert math.isclose(parse_duration(text), value * UNITS[unit], rel_tol=1e-9, abs_tol=1e-12)
