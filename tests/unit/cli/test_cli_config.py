"""Master address resolution: --master, then DCOS_MASTER, then 127.0.0.1:5050."""

from __future__ import annotations

import pytest

from dcos.cli.config import normalize_master_url, resolve_master
from dcos.cli.errors import CliError


def test_flag_wins_over_env() -> None:
    assert resolve_master("10.0.0.1:6000", {"DCOS_MASTER": "10.0.0.2:7000"}) == "http://10.0.0.1:6000"


def test_env_used_when_no_flag() -> None:
    assert resolve_master(None, {"DCOS_MASTER": "http://10.0.0.2:7000"}) == "http://10.0.0.2:7000"


def test_default_when_neither() -> None:
    assert resolve_master(None, {}) == "http://127.0.0.1:5050"


def test_empty_env_counts_as_unset() -> None:
    assert resolve_master(None, {"DCOS_MASTER": "  "}) == "http://127.0.0.1:5050"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("master.local:5050", "http://master.local:5050"),
        ("master.local", "http://master.local:5050"),
        ("http://master.local:8080/", "http://master.local:8080"),
        ("https://m:443", "https://m:443"),
        (" 127.0.0.1:5050 ", "http://127.0.0.1:5050"),
        ("[::1]:5050", "http://[::1]:5050"),
    ],
)
def test_accepted_forms(given: str, expected: str) -> None:
    assert normalize_master_url(given) == expected


@pytest.mark.parametrize("bad", ["", "host:notaport", "ftp://host:21", "http://host:5050/mesos",
                                 "http://:5050", "host:99999"])
def test_bad_addresses_are_one_clear_error(bad: str) -> None:
    with pytest.raises(CliError) as info:
        normalize_master_url(bad)
    assert "\n" not in info.value.message
