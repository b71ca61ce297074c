"""The sans-IO half of Mesos' files API (``/files/read``, ``/files/browse``, ``/files/download``),
shared by the agent (sandboxes and its own log, `dcos.agent.http.files`) and the master (its
log, `dcos.master.http.files`); `dcos.common.files_routes` puts it on HTTP.

What is shared: checking the ``path`` parameter (`check_path`), parsing ``offset``/``length``
(`int_param`), virtual paths such as ``/master/log`` (`attached_name`, `resolve_attached`), the
``read`` and ``browse`` answers (`read`, `browse`: plain file reads in the caller's worker
thread), errors as `FilesError` (status + plain-text message) and `os_error`, and the download's
``Content-Disposition`` (`content_disposition`). Which paths a process serves is its own
business: it hands `files_routes.add_routes` a resolver from request path to real file path.

Reads and downloads open the file once (`open_checked`) and refuse directories, FIFOs and
devices (400), files with more than one hard link (403) and files that moved while they were
opened (403).

Read semantics (Mesos'): ``offset`` missing or -1 gives ``{"data": "", "offset": <size>}``
(clients use it to find the end of a log); ``length`` missing or -1 reads to the end; a read
returns at most `MAX_READ` bytes; an offset past the end gives no data. Data is UTF-8 text (bad
bytes replaced; a multi-byte character is never split at the end of a chunk).
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

MAX_READ = 16 * 4096  # Mesos caps a read at 16 pages
MAX_PATH = 4096  # PATH_MAX: a longer path names nothing
MAX_OFFSET = 2**63 - 1  # off_t
OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class FilesError(Exception):
    """An answer other than 200: `status` and a plain-text `message`."""

    status: int
    message: str


def check_path(path: str) -> None:
    """Raise `FilesError` 400 for a missing, NUL-carrying or over-long ``path`` parameter."""
    if not path:
        raise FilesError(400, "Expecting 'path=value' in query")
    if "\x00" in path:
        raise FilesError(400, "Bad path: it contains a NUL byte")
    if len(path) > MAX_PATH:
        raise FilesError(400, f"Bad path: longer than {MAX_PATH} characters")


def int_param(query: Mapping[str, str], name: str, default: int) -> int:
    """``offset`` or ``length`` from the query: -1 or more; missing or empty gives `default`."""
    text = query.get(name)
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


def attached_name(path: str) -> str:
    """`path` with empty components dropped (``//master/log/`` -> ``/master/log``), the form
    virtual paths are matched in; ``.`` and ``..`` are kept, so they never match one."""
    return "/" + "/".join(p for p in path.split("/") if p)


def resolve_attached(path: str, attached: Mapping[str, str | None]) -> str | None:
    """The real path of the file attached at virtual path `path` (Mesos attaches a process's
    own log as ``/master/log`` or ``/slave/log``), or None when `path` names no attached file.
    `attached` maps virtual path -> file (None: the process has none, e.g. it logs to
    stderr). Raises `FilesError` 404 when there is no such file. The file is the operator's
    choice (``--log-file``), so a symlink to it is followed."""
    name = attached_name(path)
    if name not in attached:
        return None
    target = attached[name]
    if not target:
        raise FilesError(404, f"No file attached at {name}: this process runs without --log-file")
    try:
        real = os.path.realpath(target)
    except (OSError, ValueError):
        raise FilesError(404, f"No file attached at {name}: {target} cannot be resolved") from None
    if not os.path.exists(real):
        raise FilesError(404, f"{name} does not exist yet ({target})")
    return real


def os_error(exc: OSError, what: str) -> FilesError:
    """The answer for an `OSError` met while reading a resolved path."""
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


def _name(table: Callable[[int], object], number: int) -> str:
    try:
        return str(table(number)[0])  # type: ignore[index]
    except (KeyError, OSError):
        return str(number)


def entry_json(shown: str, st: os.stat_result) -> dict[str, object]:
    """One browse entry: ``{path, nlink, size, mtime, mode, uid, gid}`` (``mode`` like
    ``-rw-r--r--``, owners by name)."""
    return {
        "path": shown,
        "nlink": st.st_nlink,
        "size": st.st_size,
        "mtime": int(st.st_mtime),
        "mode": stat.filemode(st.st_mode),
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


def open_checked(real: str, verb: str = "read") -> tuple[int, os.stat_result]:
    """Open resolved path `real` for `verb` (read, download): the descriptor and its stat.
    Raises `FilesError` (and closes it) for a directory or anything but a regular file (400),
    a file with more than one hard link (403: a task may hard-link a file it cannot read,
    such as ``/etc/shadow``, into its sandbox, and a link names the same inode wherever it
    is), or a file that is no longer at `real` once open (403: a directory on the way was
    swapped for a symlink after the path was resolved); `OSError` else. Runs in a worker
    thread."""
    fd = os.open(real, OPEN_FLAGS)  # no blocking open of a FIFO, no symlink swapped in
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise FilesError(400, f"Cannot {verb} a directory")
        if not stat.S_ISREG(st.st_mode):
            raise FilesError(400, f"Cannot {verb}: not a regular file")
        if st.st_nlink > 1:
            raise FilesError(403, f"Cannot {verb} {os.path.basename(real)}: it has "
                             f"{st.st_nlink} hard links, and a hard link may name a file "
                             "outside the sandbox")  # fmt: skip
        if _opened_path(fd) not in (None, real):
            raise FilesError(403, f"Cannot {verb} {os.path.basename(real)}: the path changed "
                             "while it was opened")  # fmt: skip
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def _opened_path(fd: int) -> str | None:
    """Where the kernel says descriptor `fd` is open (None where /proc cannot tell)."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def read(real: str, offset: int, length: int) -> dict[str, object]:
    """``{"data", "offset"}`` as Mesos answers (see the module doc). Runs in a worker thread;
    raises `FilesError` for what `open_checked` refuses, `OSError` else."""
    fd, st = open_checked(real, "read")
    try:
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


def content_disposition(name: str) -> str:
    """``attachment`` with the file's name: an ASCII fallback (no quote, backslash or control
    character, which would break the header) and the exact name as RFC 6266 ``filename*``."""
    ascii_name = "".join(c if " " <= c < "\x7f" and c not in '"\\' else "_" for c in name)
    exact = quote(os.fsencode(name), safe="")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{exact}"
