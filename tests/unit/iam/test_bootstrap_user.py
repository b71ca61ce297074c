"""The bootstrap superuser from a password hash (bootstrap.json, written by the installer's
genconf) beside the plain admin.password of ``up --secure``: `load_keys` and
`IamService.bootstrap`."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from dcos.iam import IamKeys, IamService, Problem, Uid, load_keys
from dcos.iam.keys import parse_bootstrap
from dcos.iam.model import user_key
from dcos.iam.requests import LoginRequest
from dcos.security import layout
from dcos.security.passwords import hash_password, hash_problem
from dcos.security.tokens import TokenVerifier
from dcos.state import MemoryStateStore

NOW = 2000.0
# cheap scrypt parameters: a hash is checked with the parameters stored in it
FAST_HASH = hash_password("ops-secret-1", n=2**4)


async def test_bootstrap_from_a_hash_makes_that_uid(store: MemoryStateStore, keys: IamKeys,
                                                    verifier: TokenVerifier) -> None:
    boot = replace(keys, admin_password=None, bootstrap_uid=Uid("ops"),
                   bootstrap_password_hash=FAST_HASH)
    svc = IamService(store, boot)
    assert await svc.bootstrap(now=1.0, fallback_acls={}) == ["acls", "ops"]
    stored = json.loads((await store.get(user_key(Uid("ops")))).value)
    assert stored["password_hash"] == FAST_HASH  # stored as given, never re-hashed
    token = await svc.login(LoginRequest(Uid("ops"), "ops-secret-1"), NOW)
    assert isinstance(token, str) and verifier.verify(token, now=NOW).uid == "ops"
    wrong = await svc.login(LoginRequest(Uid("ops"), "admin-pw-123"), NOW)
    assert isinstance(wrong, Problem) and wrong.status == 401
    assert await svc.get_user(Uid("admin")) is None


async def test_the_hash_wins_over_admin_password(store: MemoryStateStore,
                                                 keys: IamKeys) -> None:
    both = replace(keys, bootstrap_password_hash=FAST_HASH)  # uid defaults to admin
    svc = IamService(store, both)
    assert await svc.bootstrap(now=1.0, fallback_acls={}) == ["acls", "admin"]
    assert isinstance(await svc.login(LoginRequest(Uid("admin"), "ops-secret-1"), NOW), str)
    refused = await svc.login(LoginRequest(Uid("admin"), keys.admin_password or ""), NOW)
    assert isinstance(refused, Problem)


def _security_dir(tmp_path: Path, **kwargs: object) -> layout.SecurityDir:
    return layout.init_security_dir(tmp_path / "sec", names={"master": "component"},
                                    **kwargs)  # type: ignore[arg-type]


def test_load_keys_reads_bootstrap_json(tmp_path: Path) -> None:
    sd = _security_dir(tmp_path, make_admin_password=False, admins=["ops"])
    assert not sd.admin_password.exists()
    assert json.loads(sd.acls.read_text())["run_tasks"][0]["principals"] == {"values": ["ops"]}
    plain = load_keys(sd)
    assert plain.admin_password is None and plain.bootstrap_password_hash is None
    sd.bootstrap_user.write_text(json.dumps({"uid": "ops", "password_hash": FAST_HASH}))
    keys = load_keys(sd)
    assert (keys.bootstrap_uid, keys.bootstrap_password_hash) == ("ops", FAST_HASH)


def test_bootstrap_json_wins_over_admin_password(tmp_path: Path) -> None:
    sd = _security_dir(tmp_path, admin_password="plain-pw-1")
    assert load_keys(sd).admin_password == "plain-pw-1"  # up --secure: unchanged
    sd.bootstrap_user.write_text(json.dumps({"password_hash": FAST_HASH}))
    keys = load_keys(sd)
    assert keys.admin_password is None
    assert (keys.bootstrap_uid, keys.bootstrap_password_hash) == ("admin", FAST_HASH)


@pytest.mark.parametrize(("text", "says"), [
    ("{not json", "cannot read the bootstrap user file"),
    ('["ops"]', 'expected {"uid"'),
    (json.dumps({"uid": "no spaces", "password_hash": FAST_HASH}), "uid: invalid uid"),
    ('{"uid": "ops"}', "password_hash: expected a string"),
    ('{"uid": "ops", "password_hash": "hunter2"}', "password_hash: expected scrypt$"),
    ('{"uid": "ops", "password_hash": "bcrypt$1$2$3$4$5"}', "unknown scheme 'bcrypt'"),
    (json.dumps({"uid": "ops", "password_hash": "scrypt$3$8$1$c2FsdHNhbHQ=$" + "A" * 44}),
     "parameters out of range"),
])  # fmt: skip
def test_a_bad_bootstrap_json_stops_the_master(tmp_path: Path, text: str, says: str) -> None:
    sd = _security_dir(tmp_path)
    sd.bootstrap_user.write_text(text)
    with pytest.raises(ValueError) as err:
        load_keys(sd)
    assert says in str(err.value) and str(sd.bootstrap_user) in str(err.value)
    assert "hunter2" not in str(err.value)  # never the value


def test_hash_problem_accepts_what_hash_password_makes() -> None:
    assert hash_problem(hash_password("x", n=2**4)) is None
    assert hash_problem(None) is not None
    with pytest.raises(ValueError):
        parse_bootstrap({"uid": "", "password_hash": FAST_HASH})
