"""Paths under the agent's work dir built from ids that others chose (pure, no I/O but `lstat`).

Every directory the agent makes for a task is named after ids that a framework picked (task,
executor and framework ids) or that the master handed out (the agent id). Mesos' layout is
``<work_dir>/slaves/<agent>/frameworks/<fw>/executors/<executor>/runs/<container>`` (and
``.../tasks/<task>`` under a task group's executor). An id such as ``../../../../tmp/x`` must
never move a sandbox outside the work dir, whatever the master let through: `sandbox_path`
and `task_sandbox` accept an id only as one plain file name (`check_name`: not empty, not
``.`` or ``..``, no ``/``, no NUL, at most `NAME_MAX` bytes) and check that the joined path,
resolved (symlinks included), stays under the work dir. They raise `UnsafeId` otherwise.

Called by the command executor (`dcos.agent.command_executor.build_config`, for command tasks
and custom executors) and the task groups (`dcos.agent.core.task_groups`) when the core builds
a launch; `UnsafeId` becomes the TASK_FAILED message of the task (the agent never crashes on
it). The files API (`dcos.agent.http.files`) uses `is_under` for its own checks.
"""

from __future__ import annotations

import os
import stat

NAME_MAX = 255  # bytes in one file name (Linux)


class UnsafeId(ValueError):
    """An id cannot name a directory under the work dir; the text says which and why."""


def name_error(value: object) -> str | None:
    """Why `value` cannot be one file name under the work dir (None when it can)."""
    if not isinstance(value, str) or not value:
        return "must not be empty"
    if value in (".", ".."):
        return f"must not be {value!r}"
    if "/" in value or "\x00" in value:
        return "must not contain '/' or NUL"
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return "is not valid Unicode"
    if size > NAME_MAX:
        return f"is longer than {NAME_MAX} bytes ({size})"
    return None


def check_name(kind: str, value: object) -> str:
    """`value` when it is a safe file name; raises `UnsafeId` naming `kind` and the reason."""
    error = name_error(value)
    if error is not None:
        shown = repr(value)[:80] if isinstance(value, str) else type(value).__name__
        raise UnsafeId(f"{kind} {shown} {error}")
    assert isinstance(value, str)
    return value


def is_under(path: str, root: str) -> bool:
    """True when normalised `path` is `root` or below it (both absolute; no I/O)."""
    path, root = os.path.normpath(path), os.path.normpath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def checked_join(root: str, *names: tuple[str, str]) -> str:
    """`root` joined with each ``(kind, name)``: every name a safe file name, and the result
    (resolved: a symlink on the way is followed) still under `root`; raises `UnsafeId`."""
    root = os.path.abspath(root)
    parts = [check_name(kind, name) for kind, name in names]
    path = os.path.join(root, *parts)
    # checked names (no "/", never "." or "..") cannot leave `root`: the normalised path is
    # the joined one; anything else is refused (the last guard)
    if os.path.normpath(path) != path:
        raise UnsafeId(f"{path!r} is outside {root!r}")
    if _symlink_below(root, parts):  # rare: only then resolve the whole path
        try:
            real, real_root = os.path.realpath(path), os.path.realpath(root)
        except OSError as exc:  # a symlink loop or an unreadable link on the way
            raise UnsafeId(f"{path!r} cannot be resolved: {exc.strerror}") from None
        if not is_under(real, real_root):
            raise UnsafeId(f"{path!r} leads outside {root!r} (through a symlink)")
    return path


def _symlink_below(root: str, parts: list[str]) -> bool:
    """True when one of the directories ``root/parts[0]/parts[1]/...`` that exist is a
    symlink (an ``lstat`` per existing level, stopping at the first missing one: a fresh
    sandbox costs a few microseconds, not a full ``realpath``)."""
    path = root.rstrip(os.sep)
    for part in parts:
        path = f"{path}{os.sep}{part}"
        try:
            mode = os.lstat(path).st_mode
        except OSError:  # missing (made later, by the agent) or not ours to look at
            return False
        if stat.S_ISLNK(mode):
            return True
    return False


def sandbox_path(work_dir: str, agent_id: str, framework_id: str, executor_id: str,
                 container_id: str) -> str:  # fmt: skip
    """``<work_dir>/slaves/<agent>/frameworks/<fw>/executors/<executor>/runs/<container>``;
    raises `UnsafeId` for an id that is not a safe file name or a path that leaves
    `work_dir`. Called for every command task, custom executor and task group's executor."""
    return checked_join(
        work_dir, ("directory", "slaves"), ("agent id", agent_id), ("directory", "frameworks"),
        ("framework id", framework_id), ("directory", "executors"), ("executor id", executor_id),
        ("directory", "runs"), ("container id", container_id),
    )  # fmt: skip


def task_sandbox(executor_sandbox: str, task_id: str) -> str:
    """``<executor sandbox>/tasks/<task>`` of a task in a task group; raises `UnsafeId`."""
    return checked_join(executor_sandbox, ("directory", "tasks"), ("task id", task_id))
