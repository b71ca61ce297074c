"""The one error type the CLI turns into a one-line message and exit code 1.

Raised by: `config` (bad master address), `http` (unreachable master, non-200 answer, bad JSON),
`up` (port in use, start-up failure). Caught by: `main.main`, which prints `message` on stderr
and exits 1 -- never a traceback.
"""

from __future__ import annotations


class CliError(Exception):
    """A failure the operator must see as one clear line (`message`) and exit code 1."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
