"""Fixtures for the security unit tests: one security directory made per session (the RSA
token key costs ~0.1 s), copied for tests that change it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dcos.security.layout import SecurityDir, init_security_dir

NAMES = {"master": "component", "agent": "agent", "webapp": "component", "cli": "component",
         "alice": "user"}


@pytest.fixture(scope="session")
def shared_sd(tmp_path_factory: pytest.TempPathFactory) -> SecurityDir:
    root = tmp_path_factory.mktemp("security") / "sec"
    return init_security_dir(root, names=NAMES, hosts=["node1.example"],
                             admin_password="s3cret", task_users=["nobody"])


@pytest.fixture
def sd(shared_sd: SecurityDir, tmp_path: Path) -> SecurityDir:
    """A private copy of the shared directory (tests may rotate or edit it)."""
    root = tmp_path / "sec"
    shutil.copytree(shared_sd.root, root)
    return SecurityDir(root)
