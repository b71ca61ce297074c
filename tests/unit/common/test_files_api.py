"""The shared sans-IO part of the files API: parameters, virtual paths, errors."""

from __future__ import annotations

import pytest

from dcos.common.files_api import FilesError, attached_name, int_param, resolve_attached


@pytest.mark.parametrize("path,name", [("/master/log", "/master/log"), ("//master//log/", "/master/log"),
                                       ("master/log", "/master/log"), ("/master/../log", "/master/../log"),
                                       ("/", "/")])  # fmt: skip
def test_attached_name_drops_empty_components_only(path, name):
    assert attached_name(path) == name


def test_resolve_attached(tmp_path):
    log = tmp_path / "m.log"
    log.write_text("x")
    assert resolve_attached("/master/log", {"/master/log": str(log)}) == str(log)
    assert resolve_attached("/master/log/..", {"/master/log": str(log)}) is None
    assert resolve_attached("/etc/passwd", {"/master/log": str(log)}) is None
    for attached in ({"/master/log": None}, {"/master/log": str(tmp_path / "missing")}):
        with pytest.raises(FilesError) as err:
            resolve_attached("/master/log", attached)
        assert err.value.status == 404


@pytest.mark.parametrize("text,value", [(None, -1), ("", -1), ("-1", -1), ("0", 0), ("42", 42)])
def test_int_param(text, value):
    assert int_param({} if text is None else {"offset": text}, "offset", -1) == value


@pytest.mark.parametrize("text", ["x", "1.5", "-2", str(2**63)])
def test_int_param_rejects(text):
    with pytest.raises(FilesError) as err:
        int_param({"offset": text}, "offset", -1)
    assert err.value.status == 400
