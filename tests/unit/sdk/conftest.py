"""Fixtures for the SDK tests: fake Mesos masters (see sdk_fakes.py)."""

from __future__ import annotations

import pytest
from sdk_fakes import FakeMaster


@pytest.fixture
async def master():
    m = FakeMaster()
    await m.start()
    yield m
    await m.stop()


@pytest.fixture
async def master2():
    m = FakeMaster()
    await m.start()
    yield m
    await m.stop()
