"""The fetcher refuses archives (tar and zip) and local files that would reach outside the
sandbox: `dcos.agent.fetcher_archive` checks and `dcos.agent.fetcher.fetch` end to end."""

from __future__ import annotations

import io
import os
import pathlib
import shutil
import stat
import tarfile
import tempfile
import zipfile

import pytest

from dcos.agent.fetcher import extract, fetch
from dcos.agent.fetcher_archive import ArchiveError, check_tar, check_zip, resolve_virtual
from dcos.agent.task_user import lookup


def _tar(members: list[tuple[str, str, str | bytes]]) -> bytes:
    """members: (name, kind f|d|s|h|fifo, data or link target)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            if kind == "f":
                raw = data if isinstance(data, bytes) else data.encode()
                info.size = len(raw)
                tf.addfile(info, io.BytesIO(raw))
                continue
            info.type = {"d": tarfile.DIRTYPE, "s": tarfile.SYMTYPE, "h": tarfile.LNKTYPE,
                         "fifo": tarfile.FIFOTYPE}[kind]  # fmt: skip
            if kind in ("s", "h"):
                info.linkname = str(data)
            tf.addfile(info)
    return buf.getvalue()


def _members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return tf.getmembers()


def _zip(entries: list[tuple[str, bytes, int | None]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            if mode is not None:
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return buf.getvalue()


def _check_zip(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        check_zip(zf.infolist(), zf.read)


@pytest.mark.parametrize("members, why", [
    ([("../x", "f", "evil")], "contains '..'"),
    ([("a/../../x", "f", "evil")], "contains '..'"),
    ([("a/b/../c", "f", "inside but refused")], "contains '..'"),
    ([("/etc/cron.d/x", "f", "evil")], "absolute path"),
    ([("l", "s", "/etc")], "links outside the sandbox"),
    ([("l", "s", "../..")], "links outside the sandbox"),
    ([("d/l", "s", "../../x")], "links outside the sandbox"),
    ([("a", "s", "b"), ("b", "s", "..")], "links outside the sandbox"),  # a chain
    ([("sub", "d", ""), ("sub/up", "s", ".."), ("x", "s", "sub/up/..")],
     "links outside the sandbox"),  # a link that climbs through another link
    ([("l", "s", "d"), ("l/x", "f", "through the link")], "through the symbolic link"),
    ([("l", "s", "x"), ("l", "f", "replaces it")], "replaces a symbolic link"),
    ([("h", "h", "/etc/shadow")], "links outside the sandbox"),
    ([("h", "h", "../shadow")], "links outside the sandbox"),
    ([("h", "h", "not-in-archive")], "not a regular file of this archive"),
    ([("l", "s", "x"), ("h", "h", "l")], "not a regular file of this archive"),
    ([("p", "fifo", "")], "not a file, a directory or a link"),
])  # fmt: skip
def test_tar_members_refused(members, why):
    with pytest.raises(ArchiveError, match=why):
        check_tar(_members(_tar(members)))


def test_tar_members_allowed():
    check_tar(_members(_tar([
        ("./dir/", "d", ""), ("dir/a", "f", "a"), ("dir/link", "s", "a"), ("up", "s", "dir/../dir"),
        ("dir/hard", "h", "dir/a"), ("dot", "s", "."),
    ])))  # fmt: skip


def test_resolve_virtual_follows_links_and_detects_loops():
    assert resolve_virtual(["a", "b"], {"a": "x/y"}) == ["x", "y", "b"]
    assert resolve_virtual(["a"], {"a": "b", "b": "a"}) is None
    assert resolve_virtual([".."], {}) is None


@pytest.mark.parametrize("entries, why", [
    ([("../x", b"evil", None)], "contains '..'"),
    ([("/abs", b"evil", None)], "absolute path"),
    ([("l", b"/etc/passwd", stat.S_IFLNK | 0o777)], "links outside the sandbox"),
    ([("l", b"../../x", stat.S_IFLNK | 0o777)], "links outside the sandbox"),
    ([("l", b"sub", stat.S_IFLNK | 0o777), ("l/x", b"through", None)],
     "through the symbolic link"),
    ([("dev", b"", stat.S_IFCHR | 0o666)], "not a file or a directory"),
])  # fmt: skip
def test_zip_entries_refused(entries, why):
    with pytest.raises(ArchiveError, match=why):
        _check_zip(_zip(entries))


def test_zip_inner_symlink_allowed_and_written_as_a_file(tmp_path):
    data = _zip([("a.txt", b"hello", None), ("l", b"a.txt", stat.S_IFLNK | 0o777)])
    _check_zip(data)
    archive = tmp_path / "ok.zip"
    archive.write_bytes(data)
    (tmp_path / "sb").mkdir()
    extract(str(archive), str(tmp_path / "sb"))
    assert not os.path.islink(tmp_path / "sb" / "l")


@pytest.mark.parametrize("kind", ["tar", "zip"])
async def test_fetch_refuses_a_link_out_and_writes_nothing(tmp_path, kind):
    if kind == "tar":
        data, name = _tar([("ok.txt", "f", "fine"), ("l", "s", "/etc"), ("x", "f", "")]), "a.tar"
    else:
        data, name = _zip([("ok.txt", b"fine", None),
                           ("l", b"../../etc", stat.S_IFLNK | 0o777)]), "a.zip"  # fmt: skip
    src = tmp_path / name
    src.write_bytes(data)
    sandbox = tmp_path / "sb"
    result = await fetch([{"value": f"file://{src}"}], str(sandbox))
    assert not result.ok and "links outside the sandbox" in result.error
    assert sorted(os.listdir(sandbox)) == [name]  # the archive only: nothing unpacked


async def test_fetch_refuses_a_local_file_the_task_user_cannot_read(tmp_path):
    shared = tempfile.mkdtemp(prefix="dcos-fetch-test-")  # pytest's tmp dirs are 0700
    os.chmod(shared, 0o755)
    try:
        await _fetch_as_nobody(pathlib.Path(shared), tmp_path)
    finally:
        shutil.rmtree(shared)


async def _fetch_as_nobody(shared: pathlib.Path, tmp_path: pathlib.Path) -> None:
    secret = shared / "root-only"
    secret.write_text("top secret")
    secret.chmod(0o600)
    os.chown(secret, 0, 0)
    nobody = lookup("nobody")
    result = await fetch([{"value": f"file://{secret}"}], str(tmp_path / "sb"), user=nobody)
    assert not result.ok and "permission denied for user 'nobody'" in result.error
    assert not (tmp_path / "sb" / "root-only").exists()
    secret.chmod(0o644)  # readable by everyone: fetched
    result = await fetch([{"value": str(secret)}], str(tmp_path / "sb"), user=nobody)
    assert result.ok, result.error
