"""The agent's files API (Mesos ``/files/*``): browse, read and download sandbox files.

`add_routes(app, work_dir, latest_run)` is called by `dcos.agent.http.app.make_app`. Endpoints
(also under ``.json`` names, which the old DC/OS CLI uses):

- ``GET /files/browse?path=P``: a JSON list of ``{path, nlink, size, mtime, mode, uid, gid}``
  (``mode`` like ``-rw-r--r--``) for the entries of directory P (for a file: that file);
- ``GET /files/read?path=P&offset=O&length=L``: ``{"data", "offset"}``; without ``offset``
  (or ``offset=-1``) the answer is ``{"data": "", "offset": <file size>}``, which clients use to
  find the end of a log; ``length`` missing or -1 reads to the end; a read returns at most
  `MAX_READ` bytes; an offset past the end gives no data. Data is UTF-8 text (bad bytes
  replaced; a multi-byte character is never split at the end of a chunk);
- ``GET /files/download?path=P``: the file, streamed, as an attachment.

Paths are sandbox paths: the absolute ``directory`` the agent's ``/state`` reports for an
executor (``<work_dir>/slaves/<agent>/frameworks/<fw>/executors/<ex>/runs/<container>``) and
anything under it, or Mesos' virtual ``/frameworks/<fw>/executors/<ex>/runs/latest[/...]``
(``latest``, or a container id). A sandbox is any such run directory on disk, so completed
tasks stay readable until their sandbox is deleted. Security: a path outside the work dir
is refused (403) before anything on disk is looked at (so ``/proc/1/root/...`` is never
resolved); inside, the path is resolved with ``realpath`` (``..``, symlinks) and must land
inside a sandbox, else 403 and nothing is read; only regular files are read or downloaded
(never a FIFO or a device a task made, which would block). Errors are plain text: a missing
file is 404, a path that cannot be resolved or read for lack of permission 403, a bad
offset/length or path 400; the files API answers 500 only for an I/O error of the disk.
"""

from __future__ import annotations

import asyncio
import errno
import grp
import os
import pwd
import stat
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web

from dcos.agent.core import AgentCore
from dcos.agent.paths import is_under, name_error
from dcos.protocol.codec import dumps_json

MAX_READ = 16 * 4096  # Mesos caps a read at 16 pages
RUN_DEPTH = 8  # slaves/<a>/frameworks/<f>/executors/<e>/runs/<c>
MAX_PATH = 4096  # PATH_MAX: a longer path names nothing
MAX_OFFSET = 2**63 - 1  # off_t
OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC

LatestRun = Callable[[str, str], str | None]  # (framework id, executor id) -> sandbox dir


@dataclass(frozen=True)
class FilesError(Exception):
    status: int
    message: str


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
    if not path:
        raise FilesError(400, "Expecting 'path=value' in query")
    if "\x00" in path:
        raise FilesError(400, "Bad path: it contains a NUL byte")
    if len(path) > MAX_PATH:
        raise FilesError(400, f"Bad path: longer than {MAX_PATH} characters")
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
    if not os.path.exists(real):
        raise FilesError(404, f"{path} does not exist")
    return real


def os_error(exc: OSError, what: str) -> FilesError:
    """The answer for an `OSError` met while reading a resolved sandbox path."""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return FilesError(404, f"{what}: no such file")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return FilesError(403, f"{what}: permission denied")
    if exc.errno in (errno.ELOOP, errno.ENAMETOOLONG, errno.EINVAL, errno.ENXIO):
        return FilesError(400, f"{what}: {reason}")
    return FilesError(500, f"{what}: {reason}")


def shown_name(name: str) -> str:
    """A file name as JSON can carry it (a name that is not UTF-8, which a task may create,
    has its bad bytes replaced)."""
    return os.fsencode(name).decode("utf-8", "replace")


def mode_string(mode: int) -> str:
    return stat.filemode(mode)


def _name(table: Callable[[int], object], number: int) -> str:
    try:
        return str(table(number)[0])  # type: ignore[index]
    except (KeyError, OSError):
        return str(number)


def entry_json(shown: str, st: os.stat_result) -> dict[str, object]:
    return {
        "path": shown,
        "nlink": st.st_nlink,
        "size": st.st_size,
        "mtime": int(st.st_mtime),
        "mode": mode_string(st.st_mode),
        "uid": _name(pwd.getpwuid, st.st_uid),
        "gid": _name(grp.getgrgid, st.st_gid),
    }


def browse(real: str, shown: str) -> list[dict[str, object]]:
    """Entries of directory `real` (shown under the request's path `shown`), sorted by name;
    for a file, that file alone. Runs in a worker thread."""
    if not os.path.isdir(real):
        return [entry_json(shown, os.stat(real))]
    out = []
    for name in sorted(os.listdir(real)):
        try:
            st = os.lstat(os.path.join(real, name))
        except OSError:
            continue
        out.append(entry_json(shown.rstrip("/") + "/" + shown_name(name), st))
    return out


def _utf8_cut(data: bytes) -> int:
    """Length of `data` without a trailing incomplete UTF-8 sequence."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # a lead byte or ASCII
            need = 1 if byte < 0x80 else 2 if byte >> 5 == 6 else 3 if byte >> 4 == 14 else 4
            return len(data) - back if need > back else len(data)
    return len(data)


def read(real: str, offset: int, length: int) -> dict[str, object]:
    """``{"data", "offset"}`` as Mesos answers (see the module doc). Runs in a worker thread;
    raises `FilesError` for a directory or anything but a regular file, `OSError` else."""
    fd = os.open(real, OPEN_FLAGS)  # no blocking open of a FIFO, no symlink swapped in
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise FilesError(400, "Cannot read a directory")
        if not stat.S_ISREG(st.st_mode):
            raise FilesError(400, "Cannot read: not a regular file")
        size = st.st_size
        if offset == -1:
            return {"data": "", "offset": size}
        if offset >= size:
            return {"data": "", "offset": offset}
        want = MAX_READ if length == -1 else min(length, MAX_READ)
        data = os.pread(fd, want, offset)
    finally:
        os.close(fd)
    if offset + len(data) < size and len(data) > 1:
        data = data[: _utf8_cut(data)] or data
    return {"data": data.decode("utf-8", "replace"), "offset": offset}


def _int_param(request: web.Request, name: str, default: int) -> int:
    text = request.query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise FilesError(400, f"Failed to parse {name}: '{text}' is not a number") from None
    if value < -1:
        raise FilesError(400, f"Negative {name} provided: {value}")
    if value > MAX_OFFSET:
        raise FilesError(400, f"{name} {value} is too large")
    return value


def content_disposition(name: str) -> str:
    """``attachment`` with the file's name: an ASCII fallback (no quote, backslash or control
    character, which would break the header) and the exact name as RFC 6266 ``filename*``."""
    ascii_name = "".join(c if " " <= c < "\x7f" and c not in '"\\' else "_" for c in name)
    exact = quote(os.fsencode(name), safe="")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{exact}"


def _error(exc: FilesError) -> web.Response:
    return web.Response(status=exc.status, text=exc.message + "\n")


def add_routes(app: web.Application, work_dir: str, latest_run: LatestRun | None = None) -> None:
    """Register the files endpoints; `latest_run` maps (framework, executor) to the sandbox
    of its current run (the agent's view), used before scanning the disk for ``latest``."""

    def target(request: web.Request) -> tuple[str, str]:
        path = request.query.get("path", "")
        return path, resolve(path, work_dir, latest_run)

    async def browse_handler(request: web.Request) -> web.Response:
        try:
            path, real = target(request)
            entries = await asyncio.to_thread(browse, real, path)
        except FilesError as exc:
            return _error(exc)
        except OSError as exc:
            return _error(os_error(exc, f"Cannot browse {request.query.get('path', '')}"))
        return web.Response(body=dumps_json(entries), content_type="application/json")

    async def read_handler(request: web.Request) -> web.Response:
        try:
            offset = _int_param(request, "offset", -1)
            length = _int_param(request, "length", -1)
            _, real = target(request)
            body = await asyncio.to_thread(read, real, offset, length)
        except FilesError as exc:
            return _error(exc)
        except OSError as exc:
            return _error(os_error(exc, f"Cannot read {request.query.get('path', '')}"))
        return web.Response(body=dumps_json(body), content_type="application/json")

    async def download_handler(request: web.Request) -> web.StreamResponse:
        try:
            path, real = target(request)
            st = os.stat(real)
        except FilesError as exc:
            return _error(exc)
        except OSError as exc:
            return _error(os_error(exc, f"Cannot download {path}"))
        if stat.S_ISDIR(st.st_mode):
            return web.Response(status=400, text="Cannot download a directory\n")
        if not stat.S_ISREG(st.st_mode):
            return web.Response(status=400, text="Cannot download: not a regular file\n")
        return web.FileResponse(real, headers={
            "Content-Disposition": content_disposition(os.path.basename(real)),
            "Content-Type": "application/octet-stream",
        })  # fmt: skip

    for suffix in ("", ".json"):
        app.router.add_get(f"/files/browse{suffix}", browse_handler)
        app.router.add_get(f"/files/read{suffix}", read_handler)
    app.router.add_get("/files/download", download_handler)
    app.router.add_get("/files/download.json", download_handler)


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
