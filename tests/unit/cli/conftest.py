"""Fixtures for the CLI tests (defined in `cli_fakes`, a uniquely named helper module)."""

from cli_fakes import fake_master

__all__ = ["fake_master"]
