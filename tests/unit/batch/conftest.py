"""Fixtures for the batch engine tests: one local[2] SparkContext shared by the session
(its warm worker processes start once)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from frameworks.batch import SparkContext


@pytest.fixture(scope="session")
def local_sc() -> Iterator[SparkContext]:
    sc = SparkContext("local[2]", "batch-unit-tests")
    try:
        yield sc
    finally:
        sc.stop()
