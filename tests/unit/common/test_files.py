"""dcos.common.files.atomic_write."""

import os
import stat

import pytest

from dcos.common.files import atomic_write


def test_writes_and_replaces(tmp_path):
    p = tmp_path / "f"
    atomic_write(p, b"one")
    atomic_write(str(p), b"two", fsync=False)
    assert p.read_bytes() == b"two"
    assert os.listdir(tmp_path) == ["f"]


def test_mode(tmp_path):
    p = tmp_path / "secret"
    atomic_write(p, b"x", mode=0o600)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600


def test_failure_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    p = tmp_path / "f"
    p.write_bytes(b"old")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write(p, b"new")
    assert p.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f"]


def test_missing_directory_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "no" / "f", b"x")


def test_large_payload(tmp_path):
    data = os.urandom(3 << 20)
    atomic_write(tmp_path / "big", data)
    assert (tmp_path / "big").read_bytes() == data
