"""stdout/stderr rotation by size (copytruncate), and a real chatty task (`yes`) whose logs
stay bounded while it keeps writing."""

from __future__ import annotations

import asyncio
import os
import subprocess

import pytest

from dcos.agent.logs import LogRotator, parse_size


def test_parse_size():
    assert parse_size("10MB") == 10 * 1024**2
    assert parse_size("512kb") == 512 * 1024
    assert parse_size("1024") == 1024
    for bad in ("", "MB", "10XB", "0"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_small_file_is_left_alone(tmp_path):
    f = tmp_path / "stdout"
    f.write_bytes(b"x" * 10)
    assert LogRotator(max_size=10).rotate_file(str(f)) is False
    assert f.read_bytes() == b"x" * 10


def test_rotation_shifts_and_keeps_max_files(tmp_path):
    f = tmp_path / "stdout"
    r = LogRotator(max_size=3, max_files=3)
    for gen in "abcd":
        f.write_bytes(gen.encode() * 5)
        assert r.rotate_file(str(f))
        assert f.read_bytes() == b""
    # live + 2 rotated copies, newest first
    assert (tmp_path / "stdout.1").read_bytes() == b"ddddd"
    assert (tmp_path / "stdout.2").read_bytes() == b"ccccc"
    assert not (tmp_path / "stdout.3").exists()


def test_max_files_one_only_truncates(tmp_path):
    f = tmp_path / "stderr"
    f.write_bytes(b"x" * 100)
    LogRotator(max_size=10, max_files=1).rotate_file(str(f))
    assert f.read_bytes() == b"" and sorted(os.listdir(tmp_path)) == ["stderr"]


def test_rotate_sandboxes_ignores_missing_files(tmp_path):
    (tmp_path / "stdout").write_bytes(b"y" * 50)
    assert LogRotator(max_size=10).rotate_sandboxes([str(tmp_path), str(tmp_path / "gone")]) == 1


async def test_chatty_task_stays_bounded(tmp_path):
    """`yes` writes as fast as it can through an O_APPEND descriptor, as the containerizer
    opens it; after rotations the live file restarts small and no sparse hole appears."""
    out = open(tmp_path / "stdout", "ab")
    proc = subprocess.Popen(["yes"], stdout=out, stderr=subprocess.DEVNULL)
    out.close()
    r = LogRotator(max_size=64 * 1024, max_files=3)
    try:
        rotations = 0
        for _ in range(400):
            rotations += r.rotate_sandboxes([str(tmp_path)])
            if rotations >= 3:
                break
            await asyncio.sleep(0.005)
        assert rotations >= 3
    finally:
        proc.kill()
        proc.wait()
    names = sorted(os.listdir(tmp_path))
    assert names == ["stdout", "stdout.1", "stdout.2"]
    st = os.stat(tmp_path / "stdout")
    # O_APPEND: the writer continued at the new end, so the file is not sparse
    assert st.st_blocks * 512 >= st.st_size - 4096
    assert (tmp_path / "stdout.1").read_bytes()[:2] == b"y\n"
    # the copy stops at the size seen when checking: it never chases the writer
    assert os.path.getsize(tmp_path / "stdout.1") < 256 * 1024 * 1024


def test_copy_prefix_copies_exactly_size_bytes(tmp_path):
    from dcos.agent.logs import copy_prefix

    (tmp_path / "src").write_bytes(b"0123456789")
    copy_prefix(str(tmp_path / "src"), str(tmp_path / "dst"), 4)
    assert (tmp_path / "dst").read_bytes() == b"0123"
