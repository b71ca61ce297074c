"""Fixtures for the SDK tests: fake Mesos masters (see sdk_fakes.py)."""

from __future__ import annotations

import pytest
from sdk_fakes import FakeMaster


async def _fake_master():
    """A started FakeMaster, stopped after the test."""
    m = FakeMaster()
    await m.start()
    yield m
    await m.stop()


# Two independent masters (failover tests use both).
master = pytest.fixture(_fake_master, name="master")
master2 = pytest.fixture(_fake_master, name="master2")
