"""Atomic file replacement: readers see the old or the new content, never a partial file.

Called by: the agent's container runtime records, the load balancer's HAProxy config, the
CLI's pid file, the batch framework's block and output writers. (The agent's checkpoint store
batches many writes under one journal fsync and keeps its own loop.)
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading

_counter = itertools.count()


def _tmp_name(path: str) -> str:
    head, tail = os.path.split(path)
    return os.path.join(head, f".{tail}.{os.getpid()}.{threading.get_ident()}.{next(_counter)}.tmp")


def fsync_dir(path: str) -> None:
    """fsync directory `path` so a rename in it survives a crash; errors are ignored."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(
    path: str | os.PathLike[str], data: bytes, *, fsync: bool = True, mode: int | None = None
) -> None:
    """Write `data` to `path` via a unique temp file in the same directory and `os.replace`.

    `fsync` True: sync the file before the rename and the directory after it (survives a
    crash); False: atomic for readers only (scratch data such as shuffle blocks). `mode`: the
    new file's permission bits (default: 0o666 less the umask, as ``open()`` would). The
    directory must exist. Raises `OSError`; the temp file is removed on failure.
    """
    target = os.fspath(path)
    tmp = _tmp_name(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if mode is None else mode)
    try:
        try:
            if mode is not None:
                os.fchmod(fd, mode)  # not narrowed by the umask
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if fsync:
        fsync_dir(os.path.dirname(target) or ".")
