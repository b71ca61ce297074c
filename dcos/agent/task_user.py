"""Tasks as users: which user a task runs as, and what running as that user takes.

Used by the agent shell (`dcos.agent.shell.AgentShell._prepare_launch`) when the agent runs
with security on (``--security-dir``): before a container starts, `task_user_name` picks the
user (the TaskInfo's or ExecutorInfo's ``command.user``, else the FrameworkInfo's ``user``,
else the agent's ``--default-task-user``, ``nobody`` by default), `lookup` finds its uid, gid
and supplementary groups in the host's user database (an unknown user fails the task with
`UnknownUser`'s message), `chown_tree` gives the sandbox to it, and the containerizer
(`dcos.agent.containerizer.process`) starts the process through `run_as_argv`:
``setpriv --reuid --regid --groups -- argv`` (util-linux; a tiny exec wrapper, so the task
is spawned on the fast ``posix_spawn`` path -- no ``preexec_fn`` -- and its exit status stays
its own). With security off nothing here is used: tasks run as the agent's user, as before.

`readable_by` answers whether a user may read a file the fetcher is asked to copy from the
agent's host (a ``file://`` URI), since the fetcher itself runs as the agent.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dcos.agent.launcher.spawn import direct_shell

DEFAULT_TASK_USER = "nobody"
SETPRIV = "setpriv"
LOOKUP_TTL_S = 30.0  # a user added, changed or removed on the host is seen within this time
LOOKUP_CACHE_SIZE = 1024


class UnknownUser(ValueError):
    """The task's user does not exist on this agent (the text says so)."""


@dataclass(frozen=True)
class TaskUser:
    """A user a task runs as: `name` and its numeric ids."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...] = ()

    def run_as(self) -> list[int]:
        """``[uid, gid, *groups]``: how a container's launch record keeps it."""
        return [self.uid, self.gid, *self.groups]


def task_user_name(command: Mapping[str, Any] | None, framework_info: Mapping[str, Any] | None,
                   default: str) -> str:  # fmt: skip
    """The user a task (or executor) runs as: its ``command.user``, else the framework's
    ``user``, else `default` (Mesos' order)."""
    for source in (command, framework_info):
        user = source.get("user") if isinstance(source, Mapping) else None
        if isinstance(user, str) and user.strip():
            return user.strip()
    return default


_found: dict[str, tuple[float, TaskUser]] = {}  # name -> (when looked up, the user)


def lookup(name: str, *, now: float | None = None) -> TaskUser:
    """The user `name` from the host's user database (a numeric name is taken as a uid);
    raises `UnknownUser`. Found users are remembered for `LOOKUP_TTL_S` (the user database
    costs about 0.3 ms per look-up, at every launch); unknown ones are looked up again."""
    at = time.monotonic() if now is None else now
    cached = _found.get(name)
    if cached is not None and at - cached[0] < LOOKUP_TTL_S:
        return cached[1]
    user = _lookup(name)
    if len(_found) >= LOOKUP_CACHE_SIZE:
        _found.clear()
    _found[name] = (at, user)
    return user


def _lookup(name: str) -> TaskUser:
    try:
        entry = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except (KeyError, ValueError, OverflowError):
        raise UnknownUser(f"user '{name}' does not exist on this agent") from None
    try:
        groups = os.getgrouplist(entry.pw_name, entry.pw_gid)
    except OSError:
        groups = [entry.pw_gid]
    extra = tuple(sorted({g for g in groups if g != entry.pw_gid}))
    return TaskUser(entry.pw_name, entry.pw_uid, entry.pw_gid, extra)


def run_as_argv(argv: list[str], run_as: list[int] | None) -> list[str]:
    """`argv` started as the user `run_as` (``[uid, gid, *groups]``; None: unchanged) through
    ``setpriv``. Raises `UnknownUser` when setpriv is not installed (util-linux)."""
    if not run_as:
        return argv
    setpriv = shutil.which(SETPRIV, path=os.defpath + ":/usr/bin:/bin")
    if setpriv is None:
        raise UnknownUser("cannot run tasks as other users: setpriv (util-linux) is not installed")
    uid, gid, *groups = run_as
    group_flag = f"--groups={','.join(str(g) for g in groups)}" if groups else "--clear-groups"
    return [setpriv, f"--reuid={uid}", f"--regid={gid}", group_flag, "--",
            *direct_shell(argv)]  # fmt: skip


def chown_tree(root: str, user: TaskUser) -> None:
    """Give `root` and everything under it to `user` (links themselves, never what they point
    to: a task's symlink to ``/etc/shadow`` must not hand that file over). Blocking."""
    os.chown(root, user.uid, user.gid, follow_symlinks=False)
    for top, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            os.chown(os.path.join(top, name), user.uid, user.gid, follow_symlinks=False)


def readable_by(path: str, user: TaskUser) -> bool:
    """Whether `user` could open `path` for reading: every directory on the way searchable
    and the file readable by it (owner, group or other bits; root reads everything)."""
    return accessible(path, user, execute=False)


def accessible(path: str, user: TaskUser, *, execute: bool) -> bool:
    """Whether `user` could read (or, with `execute`, execute / enter) `path`: every
    directory on the way searchable and `path` itself readable (executable) by it."""
    if user.uid == 0:
        return True
    real = os.path.realpath(path)
    groups = {user.gid, *user.groups}

    def allowed(st: os.stat_result, owner: int, group: int, other: int) -> bool:
        if st.st_uid == user.uid:
            return bool(st.st_mode & owner)
        if st.st_gid in groups:
            return bool(st.st_mode & group)
        return bool(st.st_mode & other)

    try:
        parent = os.path.dirname(real)
        while True:
            if not allowed(os.stat(parent), stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH):
                return False
            if parent == "/":
                break
            parent = os.path.dirname(parent)
        if execute:
            return allowed(os.stat(real), stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH)
        return allowed(os.stat(real), stat.S_IRUSR, stat.S_IRGRP, stat.S_IROTH)
    except OSError:
        return False


def setup_problems(user_name: str, work_dir: str, python: str) -> list[str]:
    """What keeps tasks of the default user `user_name` from working on this host: the user
    missing, the work dir (its sandboxes) or the agent's interpreter (``$DCOS_PYTHON``) out
    of its reach. Called once by the agent at start (security on); each is logged."""
    try:
        user = lookup(user_name)
    except UnknownUser as exc:
        return [f"the default task user: {exc}; tasks without a user will fail"]
    out = []
    existing = work_dir
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)  # made at start: its nearest existing parent
    if not accessible(existing, user, execute=True):
        out.append(f"user '{user_name}' cannot reach the work dir {work_dir} (a directory on the "
                   "way is not searchable by it): its tasks cannot use MESOS_SANDBOX paths")
    if not accessible(python, user, execute=True):
        out.append(f"user '{user_name}' cannot execute {os.path.realpath(python)} "
                   "($DCOS_PYTHON): its Python tasks and executors will fail; give such "
                   "tasks a user that can, or install Python where every user can run it")
    return out
