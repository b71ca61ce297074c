"""The shared cluster of the OpenAPI fuzz modules: one `dcos-py up --agents 1` on quiet ports,
security off, started on first use and stopped when tests/fuzz/openapi is done."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fuzz.openapi.harness import COUNTS, STATUSES, Cluster, start_cluster


@pytest.fixture(scope="package")
def up_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cluster = start_cluster(tmp_path_factory.mktemp("openapi-fuzz"))
    try:
        yield cluster
    finally:
        cluster.up.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not COUNTS:
        return
    terminalreporter.section("openapi fuzz: operations and requests per API")
    for api, ops in COUNTS.items():
        by = ", ".join(f"{s}: {n}" for s, n in sorted(STATUSES.get(api, {}).items()))
        terminalreporter.write_line(f"{api}: {len(ops)} operations, {sum(ops.values())} "
                                    f"requests ({by})")
