"""The CLI's errors and exit codes: every failure is one line on stderr and a distinct code.

Raised by: `config` (bad addresses, bad config file), `http` (unreachable, rejected, timed
out, bad answers), the commands (a failed deployment or job) and `up`. Caught by:
`commands._common.one_line_errors` and `main.main`, which print ``dcos-py: <message>`` on
stderr and exit with `exit_code` -- never a traceback.

Exit codes (also shown at the end of ``dcos-py --help``):

====  ==========================================================================
0     success
1     failed: the operation failed (a deployment or job failed, a server error,
      an unexpected answer, bad input such as an unreadable JSON file)
2     usage: unknown command or option, bad option value (typer/click)
3     unreachable: the master, agent, webapp or dispatcher could not be reached
4     rejected: the server refused the request (HTTP 4xx: invalid, not found,
      conflict)
5     timed out: a request or a ``--wait`` ran out of time
====  ==========================================================================
"""

from __future__ import annotations

OK = 0
FAILED = 1
USAGE = 2
UNREACHABLE = 3
REJECTED = 4
TIMED_OUT = 5

EXIT_CODES_HELP = (
    "Exit codes: 0 success, 1 failed, 2 usage error, 3 unreachable, "
    "4 rejected by the server (HTTP 4xx), 5 timed out."
)


class CliError(Exception):
    """A failure the operator must see as one clear line (`message`); exit code 1 (failed)."""

    exit_code = FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unreachable(CliError):
    """Nothing answered at the address (refused, unknown host, reset): exit code 3."""

    exit_code = UNREACHABLE


class Rejected(CliError):
    """The server answered 4xx (`status`): exit code 4."""

    exit_code = REJECTED

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class TimedOut(CliError):
    """A request or a wait ran out of time: exit code 5."""

    exit_code = TIMED_OUT
