"""Which archive members the fetcher may unpack into a sandbox (pure checks, no I/O).

Called by `dcos.agent.fetcher.extract` before anything of an archive is written: a ``.tar``
(any compression) through `check_tar`, a ``.zip`` through `check_zip`. Either raises
`ArchiveError` naming the first member that would let a task's archive reach outside its
sandbox; then the fetch fails (TASK_FAILED with that message) and nothing is unpacked.

Refused, with security on or off (a fetched archive is the task's input, not the agent's):

- a member name that is absolute (``/etc/x``), or has a ``..`` component anywhere (even one
  that would stay inside: Mesos' fetcher refuses those too, and they make the checks below
  needlessly subtle);
- a member that would be written through an earlier symbolic link member (``link/x`` where
  ``link`` is a symlink: the link could point anywhere the file system lets it, including
  to a directory swapped in later), or that replaces an earlier symlink member;
- a symbolic link whose target is absolute, or that leaves the archive's root once ``..``
  and the archive's own earlier links are followed (``a -> b``, ``b -> ../..``);
- a hard link to anything but an earlier regular-file member of the same archive (a hard
  link names an existing inode: ``/etc/shadow``, or a file the sandbox already holds);
- anything else that is not a regular file or a directory (devices, FIFOs, sockets).

Zip files have no hard links; a zip entry whose Unix mode says symlink (``zip -y``) is checked
like a tar symlink (its target is the entry's data, read through `read_link`). Owners, modes
with set-id bits and the like are the extractor's business (`tarfile`'s ``data`` filter).
"""

from __future__ import annotations

import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterable

MAX_LINK_HOPS = 40  # as the kernel's ELOOP limit
MAX_LINK_TARGET = 4096


class ArchiveError(ValueError):
    """A member that must not be unpacked; the text names it and says why."""


def _parts(name: str) -> list[str]:
    return [p for p in name.split("/") if p not in ("", ".")]


def check_name(name: str) -> list[str]:
    """The components of member `name` (``./a//b/`` -> ``[a, b]``); raises `ArchiveError`
    for an absolute name, a ``..`` component, a NUL or an empty name."""
    if not name or "\x00" in name:
        raise ArchiveError(f"archive member {name!r} has an invalid name")
    if name.startswith("/") or name.startswith("\\"):
        raise ArchiveError(f"archive member {name!r} has an absolute path: it would be "
                           "written outside the sandbox")
    parts = _parts(name)
    if ".." in parts:
        raise ArchiveError(f"archive member {name!r} contains '..': it would be written "
                           "outside the sandbox")
    return parts


def resolve_virtual(parts: list[str], links: dict[str, str], hops: int = 0) -> list[str] | None:
    """`parts` (relative to the archive root) with ``..`` and the archive's symlinks
    (`links`: member path -> target, as written so far) followed; None when the path leaves
    the root, hits an absolute target or loops."""
    out: list[str] = []
    for part in parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not out:
                return None
            out.pop()
            continue
        out.append(part)
        target = links.get("/".join(out))
        if target is None:
            continue
        if target.startswith("/") or hops >= MAX_LINK_HOPS:
            return None
        resolved = resolve_virtual(out[:-1] + target.split("/"), links, hops + 1)
        if resolved is None:
            return None
        out = resolved
    return out


class _Tree:
    """What the archive has written so far: its symlinks and its regular files."""

    def __init__(self) -> None:
        self.links: dict[str, str] = {}
        self.files: set[str] = set()

    def place(self, name: str) -> str:
        """The member's normalised path, checked for where it is written; not recorded."""
        parts = check_name(name)
        if not parts:  # "." or "./": the root itself (a directory entry)
            return ""
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in self.links:
                raise ArchiveError(
                    f"archive member {name!r} would be written through the symbolic link "
                    f"{'/'.join(parts[:i])!r}"
                )
        path = "/".join(parts)
        if path in self.links:
            raise ArchiveError(f"archive member {name!r} replaces a symbolic link")
        return path

    def symlink(self, name: str, path: str, target: str) -> None:
        if not target or "\x00" in target or len(target) > MAX_LINK_TARGET:
            raise ArchiveError(f"archive member {name!r} is a symbolic link with a bad target")
        if target.startswith("/"):
            raise ArchiveError(
                f"archive member {name!r} links outside the sandbox: a symbolic link to an "
                f"absolute path ({target!r})"
            )
        trial = dict(self.links)
        trial[path] = target
        parent = path.split("/")[:-1]
        if resolve_virtual(parent + target.split("/"), trial) is None:
            raise ArchiveError(
                f"archive member {name!r} links outside the sandbox: a symbolic link to "
                f"{target!r}"
            )
        self.links[path] = target
        self.files.discard(path)

    def hardlink(self, name: str, target: str) -> None:
        try:
            target_path = "/".join(check_name(target))
        except ArchiveError:
            raise ArchiveError(
                f"archive member {name!r} links outside the sandbox: a hard link to {target!r}"
            ) from None
        if target_path not in self.files:
            raise ArchiveError(
                f"archive member {name!r} is a hard link to {target!r}, which is not a "
                "regular file of this archive"
            )


def check_tar(members: Iterable[tarfile.TarInfo]) -> None:
    """Check every member of a tar archive, in order; raises `ArchiveError`."""
    tree = _Tree()
    for m in members:
        path = tree.place(m.name)
        if m.issym():
            tree.symlink(m.name, path, m.linkname)
        elif m.islnk():
            tree.hardlink(m.name, m.linkname)
            tree.files.add(path)
        elif m.isfile():
            tree.files.add(path)
        elif not m.isdir():
            raise ArchiveError(f"archive member {m.name!r} is not a file, a directory or a link")
        elif path in tree.files:
            raise ArchiveError(f"archive member {m.name!r} replaces a file with a directory")


def zip_is_symlink(info: zipfile.ZipInfo) -> bool:
    """Whether a zip entry carries a Unix symlink mode (as ``zip -y`` stores links)."""
    return stat.S_ISLNK(info.external_attr >> 16)


def check_zip(infos: Iterable[zipfile.ZipInfo], read_link: Callable[[zipfile.ZipInfo], bytes]
              ) -> None:  # fmt: skip
    """Check every entry of a zip archive, in order; `read_link(info)` gives a symlink
    entry's data (its target). Raises `ArchiveError`."""
    tree = _Tree()
    for info in infos:
        path = tree.place(info.filename)
        if zip_is_symlink(info):
            if info.file_size > MAX_LINK_TARGET:
                raise ArchiveError(f"archive member {info.filename!r} is a symbolic link with "
                                   "a bad target")  # fmt: skip
            target = read_link(info).decode("utf-8", "replace")
            tree.symlink(info.filename, path, target)
        elif not info.is_dir():
            mode = info.external_attr >> 16
            if mode and stat.S_IFMT(mode) and not stat.S_ISREG(mode):
                raise ArchiveError(f"archive member {info.filename!r} is not a file or a "
                                   "directory")  # fmt: skip
            tree.files.add(path)
