"""The fetcher: download a task's ``CommandInfo.uris`` into its sandbox before it starts.

Called by the agent shell (`dcos.agent.agent.Agent`) before the containerizer launches a
command task, and by the custom-executor launch for an ``ExecutorInfo.command``:
``await fetch(uris, sandbox, cache_dir)`` returns a `FetchResult`; a failure is a result (the
agent turns it into TASK_FAILED / REASON_CONTAINER_LAUNCH_FAILED with `FetchResult.error`).

Each URI is a Mesos ``CommandInfo.URI`` JSON object: ``value`` (``http(s)://...``,
``file:///path`` or an absolute path), ``executable`` (chmod +x, never extracted),
``extract`` (default true: ``.tar``, ``.tar.gz``/``.tgz``, ``.tar.bz2``, ``.tar.xz``, ``.zip``
are unpacked into the sandbox; the archive is kept), ``cache`` (keep a copy in the per-agent
cache keyed by URI and reuse it next time) and ``output_file`` (a name relative to the
sandbox). Extraction is safe: an archive member that would land outside the sandbox (``../``,
an absolute name, a link pointing out, a device) fails the fetch and nothing of it is
written. HTTP downloads are streamed to disk with a size and time limit. Blocking file work
(copy, extract, chmod) runs in a worker thread, so the event loop never waits on the disk and
several tasks fetch at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

import aiohttp

from dcos.agent.fetcher_archive import ArchiveError, check_tar, check_zip
from dcos.agent.task_user import TaskUser, readable_by

log = logging.getLogger(__name__)

MAX_DOWNLOAD_BYTES = 2 * 1024**3
DOWNLOAD_TIMEOUT = 600.0
CACHE_MAX_BYTES = 2 * 1024**3
CHUNK = 256 * 1024
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".zip")

_cache_locks: dict[str, asyncio.Lock] = {}


class FetchError(Exception):
    """One URI could not be fetched; the text is the cause."""


@dataclass
class FetchResult:
    """`ok`, or not with `error` (``Failed to fetch '<uri>': <cause>``). `files`: the sandbox
    paths written (one per URI); `cache_hits`: URIs served from the cache."""

    ok: bool
    error: str = ""
    files: list[str] = field(default_factory=list)
    cache_hits: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int = MAX_DOWNLOAD_BYTES
    timeout: float = DOWNLOAD_TIMEOUT
    cache_max_bytes: int = CACHE_MAX_BYTES


def _inside(base: str, path: str) -> bool:
    base = os.path.realpath(base)
    return os.path.commonpath([base, os.path.realpath(path)]) == base


def output_name(uri: dict[str, Any]) -> str:
    """The file name in the sandbox: ``output_file``, else the URI's last path segment."""
    out = uri.get("output_file")
    if isinstance(out, str) and out:
        return out
    value = str(uri.get("value", ""))
    name = os.path.basename(unquote(urlparse(value).path).rstrip("/"))
    if not name:
        raise FetchError("cannot name the file: the URI has no file name (give output_file)")
    return name


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def _local_path(value: str) -> str | None:
    if value.startswith("file://"):
        return unquote(urlparse(value).path)
    if value.startswith("/"):
        return value
    return None


# -- blocking helpers (run in a worker thread) ------------------------------------------------


def _copy_file(src: str, dest: str) -> None:
    if not os.path.exists(src):
        raise FetchError(f"{src}: no such file")
    if os.path.isdir(src):
        raise FetchError(f"{src} is a directory")
    tmp = dest + ".fetching"
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    except OSError as exc:
        raise FetchError(f"{exc.strerror or exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def extract(archive: str, dest: str) -> None:
    """Unpack `archive` into `dest`, refusing (before writing anything) any member that would
    escape it (`dcos.agent.fetcher_archive`: ``..``, absolute names, links pointing out or
    written through, devices). Called in a worker thread by `fetch`; raises `FetchError`."""
    try:
        if archive.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                infos = zf.infolist()
                check_zip(infos, zf.read)
                zf.extractall(dest)  # a symlink entry is written as a file holding its target
            return
        with tarfile.open(archive) as tf:
            check_tar(tf.getmembers())
            tf.extractall(dest, filter="data")
    except ArchiveError as exc:
        raise FetchError(str(exc)) from None
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise FetchError(f"cannot extract {os.path.basename(archive)}: {exc}") from None


def _cache_trim(cache_dir: str, max_bytes: int, keep: str) -> None:
    """Drop least recently used cache entries until the cache fits in `max_bytes`."""
    entries = []
    for name in os.listdir(cache_dir):
        path = os.path.join(cache_dir, name)
        if name.endswith(".fetching") or not os.path.isfile(path):
            continue
        st = os.stat(path)
        entries.append((st.st_mtime, st.st_size, path))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= max_bytes:
            break
        if path != keep:
            os.unlink(path)
            total -= size


def _finish(path: str, uri: dict[str, Any], sandbox: str) -> None:
    if uri.get("executable"):
        mode = os.stat(path).st_mode
        os.chmod(path, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    elif uri.get("extract", True) and is_archive(path):
        extract(path, sandbox)


# -- downloads -------------------------------------------------------------------------------


async def _download(
    url: str, dest: str, session: aiohttp.ClientSession, limits: FetchLimits
) -> None:
    """Stream `url` into `dest` (via a temporary file); raises `FetchError`."""
    tmp = dest + ".fetching"
    try:
        timeout = aiohttp.ClientTimeout(total=limits.timeout)
        async with session.get(url, timeout=timeout) as resp:
            if resp.status != 200:
                raise FetchError(f"HTTP {resp.status} {resp.reason or ''}".rstrip())
            size = 0
            with open(tmp, "wb") as f:
                async for chunk in resp.content.iter_chunked(CHUNK):
                    size += len(chunk)
                    if size > limits.max_bytes:
                        raise FetchError(f"larger than the {limits.max_bytes} byte limit")
                    f.write(chunk)
        os.replace(tmp, dest)
    except TimeoutError:
        raise FetchError(f"timed out after {limits.timeout:g}s") from None
    except aiohttp.ClientError as exc:
        inner = getattr(exc, "os_error", None)
        raise FetchError(str(getattr(inner, "strerror", None) or exc)) from None
    except OSError as exc:
        raise FetchError(str(exc.strerror or exc)) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


async def _get(
    value: str, dest: str, session: aiohttp.ClientSession | None, limits: FetchLimits
) -> aiohttp.ClientSession | None:
    """Fetch `value` to `dest`; returns the session it opened (if any) for reuse."""
    local = _local_path(value)
    if local is not None:
        await asyncio.to_thread(_copy_file, local, dest)
        return session
    scheme = urlparse(value).scheme
    if scheme not in ("http", "https"):
        raise FetchError(f"unsupported URI scheme {scheme or '(none)'!r}")
    if session is None:
        session = aiohttp.ClientSession()
    await _download(value, dest, session, limits)
    return session


def cache_key(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def _fetch_one(
    uri: dict[str, Any],
    sandbox: str,
    cache_dir: str | None,
    session: aiohttp.ClientSession | None,
    limits: FetchLimits,
    result: FetchResult,
    user: TaskUser | None = None,
) -> aiohttp.ClientSession | None:
    value = uri.get("value")
    if not isinstance(value, str) or not value:
        raise FetchError("the URI has no value")
    local = _local_path(value)
    if local is not None and user is not None and not readable_by(local, user):
        # the fetcher runs as the agent: a task must not get a copy of what its user
        # could not read itself (file:///etc/shadow)
        raise FetchError(f"{local}: permission denied for user '{user.name}'")
    name = output_name(uri)
    dest = os.path.join(sandbox, name)
    if os.path.isabs(name) or not _inside(sandbox, dest):
        raise FetchError(f"output_file {name!r} is outside the sandbox")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if uri.get("cache") and cache_dir:
        os.makedirs(cache_dir, exist_ok=True)
        entry = os.path.join(cache_dir, cache_key(value))
        lock = _cache_locks.setdefault(entry, asyncio.Lock())
        async with lock:  # one download per URI even when several tasks ask at once
            if os.path.isfile(entry):
                result.cache_hits.append(value)
                os.utime(entry)  # LRU order
            else:
                session = await _get(value, entry, session, limits)
                await asyncio.to_thread(_cache_trim, cache_dir, limits.cache_max_bytes, entry)
            await asyncio.to_thread(_copy_file, entry, dest)
    else:
        session = await _get(value, dest, session, limits)
    await asyncio.to_thread(_finish, dest, uri, sandbox)
    result.files.append(dest)
    return session


async def fetch(
    uris: list[dict[str, Any]],
    sandbox: str,
    cache_dir: str | None = None,
    *,
    session: aiohttp.ClientSession | None = None,
    limits: FetchLimits | None = None,
    user: TaskUser | None = None,
) -> FetchResult:
    """Fetch every URI into `sandbox` (created if missing), in order; stop at the first
    failure. `cache_dir` (``<work_dir>/fetcher-cache``) is used for URIs with ``cache``.
    `user`: the task's user when tasks run as users (security on): a local file it could
    not read is refused."""
    limits = limits or FetchLimits()
    result = FetchResult(ok=True)
    own = None
    os.makedirs(sandbox, exist_ok=True)
    try:
        for uri in uris:
            if not isinstance(uri, dict):
                return FetchResult(False, f"Failed to fetch {uri!r}: not a URI object")
            try:
                got = await _fetch_one(uri, sandbox, cache_dir, session or own, limits, result,
                                       user)
                if session is None:
                    own = got
            except (FetchError, OSError) as exc:
                cause = exc.strerror or exc if isinstance(exc, OSError) else exc
                error = f"Failed to fetch '{uri.get('value')}': {cause}"
                return FetchResult(False, error, result.files, result.cache_hits)
    finally:
        if own is not None:
            await own.close()
    return result
