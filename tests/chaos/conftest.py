"""Fixtures of the chaos tests (tests/chaos): `report`, which prints a measured figure (the
failover time, the most live tasks seen) on the terminal even when pytest captures output, so
``make test`` shows them."""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture
def report(capsys: pytest.CaptureFixture[str]) -> Callable[[str], None]:
    """``report("failover: ...")`` prints one ``[chaos]`` line past the capture."""

    def emit(line: str) -> None:
        with capsys.disabled():
            print(f"\n[chaos] {line}", flush=True)

    return emit
