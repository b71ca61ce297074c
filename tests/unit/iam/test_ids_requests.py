"""Validation of uids, secret paths and request bodies (pure)."""

from __future__ import annotations

import base64

import pytest

from dcos.iam import Problem, parse_secret_path, parse_uid
from dcos.iam.ids import parse_secret_prefix
from dcos.iam.requests import (
    LoginRequest,
    RevokeRequest,
    UserPatch,
    parse_login,
    parse_resolve,
    parse_revoke,
    parse_secret_value,
    parse_user_create,
    parse_user_patch,
)


@pytest.mark.parametrize("uid", ["admin", "a", "bob.smith", "svc-1", "x_y@corp"])
def test_good_uids(uid: str) -> None:
    assert parse_uid(uid) == uid


@pytest.mark.parametrize("uid", ["", "-bob", "a/b", "a b", "ü", "..", "x" * 97, 7, None])
def test_bad_uids(uid: object) -> None:
    p = parse_uid(uid)
    assert isinstance(p, Problem) and p.status == 400 and p.code == "ERR_INVALID_DATA"


@pytest.mark.parametrize("path", ["db", "team/db", "team/sub/db.pw", "a-b_c.d/e"])
def test_good_secret_paths(path: str) -> None:
    assert parse_secret_path(path) == path


@pytest.mark.parametrize("path", ["", "/db", "db/", "team//db", "team/../db", "..", "./db",
                                  "team/.", "a b", "team%2Fdb", "x\\y", "é", "a" * 257, None])
def test_bad_secret_paths(path: object) -> None:
    p = parse_secret_path(path)
    assert isinstance(p, Problem) and p.status == 400


def test_secret_prefix() -> None:
    assert parse_secret_prefix("") is None
    assert parse_secret_prefix("/") is None
    assert parse_secret_prefix("team/") == "team"
    assert parse_secret_prefix("team") == "team"
    assert isinstance(parse_secret_prefix("../"), Problem)


def test_login_body() -> None:
    assert parse_login({"uid": "bob", "password": "pw"}) == LoginRequest("bob", "pw")
    for bad in [None, [], {"uid": "bob"}, {"password": "x"}, {"uid": "bob", "password": ""},
                {"uid": "bob", "token": "jwt"}, {"uid": "../x", "password": "pw"}]:
        assert isinstance(parse_login(bad), Problem), bad


def test_user_bodies() -> None:
    created = parse_user_create({"password": "secret1", "description": "Bob", "service": True})
    assert not isinstance(created, Problem) and created.service and created.description == "Bob"
    for bad in [{}, {"password": "short"}, {"password": 123456}, {"password": "secret1",
                "service": "yes"}, {"password": "secret1", "extra": 1},
                {"password": "secret1", "description": 5}]:
        assert isinstance(parse_user_create(bad), Problem), bad
    assert parse_user_patch({"description": "x"}) == UserPatch(None, "x")
    assert isinstance(parse_user_patch({}), Problem)
    assert isinstance(parse_user_patch({"password": "a"}), Problem)


def test_revoke_body() -> None:
    assert parse_revoke({"uid": "bob"}) == RevokeRequest(None, "bob")
    assert parse_revoke({"token": "abc"}) == RevokeRequest("abc", None)
    for bad in [{}, {"uid": "bob", "token": "t"}, {"token": ""}, {"uid": "a/b"}, "x"]:
        assert isinstance(parse_revoke(bad), Problem), bad


def test_secret_value_body() -> None:
    assert parse_secret_value({"value": "pässword"}) == "pässword".encode()
    raw = bytes(range(256))
    assert parse_secret_value({"value_base64": base64.b64encode(raw).decode()}) == raw
    for bad in [{}, {"value": 1}, {"value": "a", "value_base64": "YQ=="},
                {"value_base64": "!!"}, {"value": "x" * (64 * 1024 + 1)}, {"val": "x"}]:
        assert isinstance(parse_secret_value(bad), Problem), bad


def test_resolve_body() -> None:
    assert parse_resolve({"paths": ["a", "b/c", "a"]}) == ["a", "b/c"]
    for bad in [{}, {"paths": []}, {"paths": "a"}, {"paths": ["../etc"]},
                {"paths": ["x"] * 257}]:
        assert isinstance(parse_resolve(bad), Problem), bad
