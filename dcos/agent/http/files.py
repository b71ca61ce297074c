"""The agent's files API (Mesos ``/files/*``): browse, read and download sandbox files and
the agent's own log.

`add_routes(app, work_dir, latest_run, log_file)` is called by `dcos.agent.http.app.make_app`;
the endpoints, parameters and answers are Mesos' (`dcos.common.files_routes`, shared with the
master): ``GET /files/browse?path=P``, ``/files/read?path=P&offset=O&length=L``,
``/files/download?path=P`` (also under ``.json`` names, which the old DC/OS CLI uses).

Paths are sandbox paths: the absolute ``directory`` the agent's ``/state`` reports for an
executor (``<work_dir>/slaves/<agent>/frameworks/<fw>/executors/<ex>/runs/<container>``) and
anything under it, or Mesos' virtual ``/frameworks/<fw>/executors/<ex>/runs/latest[/...]``
(``latest``, or a container id); and, as in Mesos, the virtual ``/slave/log``: the agent's
``--log-file`` (404 when it logs to stderr; the DC/OS CLI's ``dcos node log --mesos-id``
reads it). A sandbox is any such run directory on disk, so completed tasks stay readable
until their sandbox is deleted. Security: a path outside the work dir is refused (403) before
anything on disk is looked at (so ``/proc/1/root/...`` is never resolved); inside, the path is
resolved with ``realpath`` (``..``, symlinks) and must land inside a sandbox, else 403 and
nothing is read (the log file is reachable only by its virtual name); only regular files are
read or downloaded (never a FIFO or a device a task made, which would block), never one with
more than one hard link (it may name a file outside the sandbox) and never a secret file
(`dcos.agent.task_secrets.SECRETS_DIR`, however it is reached). Errors are plain
text: a missing file is 404, a path that cannot be resolved or read for lack of permission
403, a bad offset/length or path 400; the files API answers 500 only for an I/O error of the
disk.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

from aiohttp import web

from dcos.agent.core import AgentCore
from dcos.agent.paths import is_under, name_error
from dcos.agent.security import AgentSecurity
from dcos.agent.task_secrets import SECRETS_DIR
from dcos.common import files_routes
from dcos.common.files_api import FilesError, check_path, resolve_attached
from dcos.security.http import identity

RUN_DEPTH = 8  # slaves/<a>/frameworks/<f>/executors/<e>/runs/<c>
LOG_PATH = "/slave/log"  # Mesos' name for the agent's own log in its files API

LatestRun = Callable[[str, str], str | None]  # (framework id, executor id) -> sandbox dir


def _is_run_dir(parts: list[str]) -> bool:
    return (
        len(parts) >= RUN_DEPTH and parts[0] == "slaves" and parts[2] == "frameworks"
        and parts[4] == "executors" and parts[6] == "runs" and parts[7] != "latest"
    )  # fmt: skip


def newest_run(work_dir: str, framework_id: str, executor_id: str) -> str | None:
    """The most recently created run directory of an executor under any agent id."""
    best: tuple[float, str] | None = None
    slaves = os.path.join(work_dir, "slaves")
    try:
        agent_ids = os.listdir(slaves)
    except OSError:
        return None
    for aid in agent_ids:
        runs = os.path.join(slaves, aid, "frameworks", framework_id, "executors", executor_id,
                            "runs")  # fmt: skip
        try:
            names = os.listdir(runs)
        except OSError:
            continue
        for name in names:
            path = os.path.join(runs, name)
            if name == "latest":
                continue
            try:
                st = os.stat(path)
            except OSError:  # removed meanwhile, or not ours to look at
                continue
            if not stat.S_ISDIR(st.st_mode):
                continue
            key = (st.st_ctime, path)
            if best is None or key > best:
                best = key
    return best[1] if best else None


def resolve(path: str, work_dir: str, latest_run: LatestRun | None = None) -> str:
    """The real path of sandbox path `path`; raises `FilesError` (403 outside a sandbox, 404
    missing, 400 malformed). Reads nothing."""
    check_path(path)
    root = os.path.realpath(work_dir)
    parts = [p for p in path.split("/") if p]
    if (
        len(parts) >= 6
        and parts[0] == "frameworks"
        and parts[2] == "executors"
        and parts[4] == "runs"
    ):
        fid, eid, run = parts[1], parts[3], parts[5]
        if any(name_error(name) is not None for name in (fid, eid, run)):
            raise FilesError(404, f"No sandbox at {path}")
        if run == "latest":
            base = (latest_run(fid, eid) if latest_run else None) or newest_run(root, fid, eid)
            if base is None:
                raise FilesError(404, f"No sandbox for executor {eid} of framework {fid}")
        else:
            base = newest_run(root, fid, eid)  # any agent id: find the run by its name
            if base is not None:
                base = os.path.join(os.path.dirname(base), run)
            else:
                raise FilesError(404, f"No sandbox for executor {eid} of framework {fid}")
        candidate = os.path.join(base, *parts[6:])
    elif path.startswith("/"):
        candidate = os.path.normpath(path)
    else:
        raise FilesError(403, f"{path} is not a sandbox path")
    if not (is_under(candidate, root) or is_under(candidate, os.path.abspath(work_dir))):
        raise FilesError(403, f"{path} is outside every sandbox")  # nothing looked at
    try:
        real = os.path.realpath(candidate)
        rel = os.path.relpath(real, root)
    except (OSError, ValueError):  # e.g. a symlink to a link it may not read
        raise FilesError(403, f"{path} cannot be resolved inside a sandbox") from None
    rel_parts = rel.split(os.sep)
    if rel.startswith("..") or not _is_run_dir(rel_parts):
        raise FilesError(403, f"{path} is outside every sandbox")
    if SECRETS_DIR in rel_parts[RUN_DEPTH:]:
        raise FilesError(403, f"{path} is a secret: the files API does not serve secrets")
    if not os.path.exists(real):
        raise FilesError(404, f"{path} does not exist")
    return real


def add_routes(
    app: web.Application,
    work_dir: str,
    latest_run: LatestRun | None = None,
    log_file: str | None = None,
    security: AgentSecurity | None = None,
) -> None:
    """Register the files endpoints; `latest_run` maps (framework, executor) to the sandbox
    of its current run (the agent's view), used before scanning the disk for ``latest``;
    `log_file` is the agent's ``--log-file``, served as ``/slave/log``. With `security`,
    a sandbox's files are served only to callers allowed ``access_sandboxes`` on the user
    that owns the sandbox (its run directory: the task's user, `dcos.agent.task_user`)."""
    attached = {LOG_PATH: log_file}
    root = os.path.realpath(work_dir)

    def resolve_path(path: str) -> str:
        check_path(path)
        return resolve_attached(path, attached) or resolve(path, work_dir, latest_run)

    def authorize(request: web.Request, real: str) -> None:
        assert security is not None
        rel = os.path.relpath(real, root).split(os.sep)
        if not _is_run_dir(rel):  # the agent's own log: any authenticated caller
            return
        try:
            owner = os.stat(os.path.join(root, *rel[:RUN_DEPTH])).st_uid
        except OSError:
            raise FilesError(404, "the sandbox does not exist") from None
        refused = security.may_access_sandbox(identity(request), owner)
        if refused is not None:
            raise FilesError(403, refused)

    files_routes.add_routes(app, resolve_path, authorize if security is not None else None)


def core_latest_run(core: AgentCore) -> LatestRun:
    """A `LatestRun` over the agent core's records: the live task's sandbox of that executor,
    else the most recently completed one (the disk scan covers the rest)."""

    def latest(framework_id: str, executor_id: str) -> str | None:
        marker = f"/frameworks/{framework_id}/executors/{executor_id}/runs/"
        found = None
        for fw in list(core.frameworks.values()) + list(core.completed_frameworks):
            for rec in fw.completed:
                if rec.sandbox and marker in rec.sandbox:
                    found = rec.sandbox
            for rec in fw.tasks.values():
                if rec.sandbox and marker in rec.sandbox:
                    return str(rec.sandbox)
        return found

    return latest
