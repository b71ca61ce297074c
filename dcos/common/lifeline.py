"""Child processes that stop when their parent dies: Linux's parent-death signal.

Called by: `dcos.cli.supervisor` (every component `dcos-py up` starts) and by any process that
owns a child which must not outlive it (the load balancer's HAProxy): pass
``preexec_fn=die_with_parent()`` to `subprocess.Popen` or ``asyncio.create_subprocess_exec``.

The child asks the kernel (``prctl(PR_SET_PDEATHSIG)``) for `sig` when the thread that forked it
ends, which happens however the parent ends, ``kill -9`` included. The setting survives
``execve`` (also HAProxy's re-exec on reload) and is not inherited by the child's own children,
so an agent's tasks are not touched by it. Should the parent already be gone when the child
sets it, the child signals itself at once. Elsewhere than Linux it does nothing.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1
_prctl: Callable[..., int] | None = None
if sys.platform.startswith("linux"):
    try:
        _prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here, not in the child
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        _prctl = None


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn`` (runs in the child between fork and exec) that makes the child get
    `sig` when this process (the one calling `die_with_parent`) dies."""
    parent = os.getpid()

    def set_parent_death_signal() -> None:
        if _prctl is None:
            return
        if _prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), sig)

    return set_parent_death_signal


def supported() -> bool:
    """Whether `die_with_parent` has an effect on this system (tests skip otherwise)."""
    return _prctl is not None
