"""Fixtures shared by the master's tests."""

from __future__ import annotations

import aiohttp
import pytest

from dcos.testing.master import master


@pytest.fixture
async def env(tmp_path):
    """A master serving on a loopback port, and a client session: ``(master, session)``."""
    m = await master(tmp_path)
    async with aiohttp.ClientSession() as s:
        yield m, s
    await m.stop()
