"""Fixtures shared by every test directory."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from dcos.common.clock import SimClock


@pytest.fixture
async def autojump_clock() -> AsyncIterator[SimClock]:
    """A `SimClock` in autojump mode: time jumps to the next timer whenever every task on the
    loop waits, so ``await clock.sleep(s)`` lets everything settle and then `s` simulated
    seconds pass. Its watcher task ends with the test."""
    clock = SimClock(autojump=True)
    yield clock
    clock.stop_autojump()
