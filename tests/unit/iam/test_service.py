"""`IamService` on a MemoryStateStore: bootstrap, login, revocation, users, ACLs, secrets."""

from __future__ import annotations

import asyncio

import orjson

from dcos.iam import IamKeys, IamService, Problem, SecretPath, Uid
from dcos.iam.model import ACLS_KEY, BOOTSTRAP_KEY, secret_key, user_key
from dcos.iam.requests import LoginRequest, UserCreate, UserPatch
from dcos.security.acls import Acls
from dcos.security.context import RevocationList
from dcos.security.tokens import TokenVerifier
from dcos.state import MemoryStateStore

from .conftest import ADMIN_PASSWORD

NOW = 2000.0


async def test_bootstrap_seeds_admin_and_acls_once(store: MemoryStateStore, keys: IamKeys,
                                                   verifier: TokenVerifier) -> None:
    svc = IamService(store, keys)
    assert await svc.bootstrap(now=1.0, fallback_acls={}) == ["acls", "admin"]
    assert orjson.loads((await store.get(ACLS_KEY)).value) == keys.acls_doc
    assert await store.get(BOOTSTRAP_KEY) is not None
    token = await svc.login(LoginRequest(Uid("admin"), ADMIN_PASSWORD), NOW)
    assert isinstance(token, str)
    assert verifier.verify(token, now=NOW).uid == "admin"
    # a deleted admin is not made again by a later start (another master, a restart)
    assert await svc.delete_user(Uid("admin"), NOW) is None
    assert await IamService(store, keys).bootstrap(now=3.0, fallback_acls={}) == []
    assert await svc.get_user(Uid("admin")) is None


async def test_bootstrap_without_files_keeps_the_masters_acls(store: MemoryStateStore,
                                                              keys: IamKeys) -> None:
    bare = IamKeys(keys.issuer, keys.box, None, {"permissive": "no"})  # an invalid acls.json
    svc = IamService(store, bare)
    assert await svc.bootstrap(now=1.0, fallback_acls={"permissive": False}) == ["acls"]
    assert await svc.get_acls() == {"permissive": False}
    assert await svc.list_users() == []


async def test_login(svc: IamService, verifier: TokenVerifier) -> None:
    created = await svc.create_user(Uid("bot"), UserCreate("botpass1", "a bot", True), NOW)
    assert not isinstance(created, Problem)
    stored = (await svc.store.get(user_key(Uid("bot")))).value
    assert b"botpass1" not in stored and b"scrypt$" in stored
    token = await svc.login(LoginRequest(Uid("bot"), "botpass1"), NOW)
    assert isinstance(token, str)
    claims = verifier.verify(token, now=NOW)
    assert (claims.uid, claims.kind) == ("bot", "service")
    for uid, pw in [("bot", "wrong-pw"), ("nobody-here", "botpass1")]:
        refused = await svc.login(LoginRequest(Uid(uid), pw), NOW)
        assert isinstance(refused, Problem) and refused.status == 401
        assert refused.description == "invalid uid or password"


async def test_revocations(svc: IamService, verifier: TokenVerifier) -> None:
    t1 = await svc.login(LoginRequest(Uid("admin"), ADMIN_PASSWORD), NOW)
    t2 = await svc.login(LoginRequest(Uid("admin"), ADMIN_PASSWORD), NOW)
    assert isinstance(t1, str) and isinstance(t2, str)
    c1, c2 = verifier.verify(t1, now=NOW), verifier.verify(t2, now=NOW)
    v0 = (await svc.policy()).version
    assert await svc.revoke_token(c1.jti, c1.exp, NOW) is None
    p = await svc.policy()
    assert p.version > v0
    rl = RevocationList.from_json(p.revoked)
    assert rl.is_revoked(c1) and not rl.is_revoked(c2)
    # revoking the uid revokes every token issued until now, and a login in the same
    # second still gets a token that is not revoked
    assert await svc.revoke_uid(Uid("admin"), NOW + 0.5) is None
    t3 = await svc.login(LoginRequest(Uid("admin"), ADMIN_PASSWORD), NOW + 0.7)
    assert isinstance(t3, str)
    c3 = verifier.verify(t3, now=NOW + 1.0)
    rl = RevocationList.from_json((await svc.policy()).revoked)
    assert rl.is_revoked(c2) and not rl.is_revoked(c3)


async def test_users_crud(svc: IamService, verifier: TokenVerifier) -> None:
    assert not isinstance(await svc.create_user(Uid("bob"), UserCreate("bobpass1", "", False),
                                                NOW), Problem)
    again = await svc.create_user(Uid("bob"), UserCreate("other-pw", "", False), NOW)
    assert isinstance(again, Problem) and (again.status, again.code) == (409, "ERR_USER_EXISTS")
    assert sorted(u.uid for u in await svc.list_users()) == ["admin", "bob"]
    old = await svc.login(LoginRequest(Uid("bob"), "bobpass1"), NOW)
    assert isinstance(old, str)
    rec = await svc.update_user(Uid("bob"), UserPatch("newpass1", "Bob"), NOW + 1)
    assert not isinstance(rec, Problem) and rec.description == "Bob"
    assert isinstance(await svc.login(LoginRequest(Uid("bob"), "bobpass1"), NOW + 2), Problem)
    assert isinstance(await svc.login(LoginRequest(Uid("bob"), "newpass1"), NOW + 2), str)
    rl = RevocationList.from_json((await svc.policy()).revoked)
    assert rl.is_revoked(verifier.verify(old, now=NOW + 2))  # a new password ends old tokens
    missing = await svc.update_user(Uid("eve"), UserPatch(None, "x"), NOW)
    assert isinstance(missing, Problem) and missing.status == 404
    assert await svc.delete_user(Uid("bob"), NOW + 3) is None
    gone = await svc.delete_user(Uid("bob"), NOW + 3)
    assert isinstance(gone, Problem) and gone.code == "ERR_UNKNOWN_USER_ID"
    assert [u.uid for u in await svc.list_users()] == ["admin"]


async def test_concurrent_creates_one_wins(svc: IamService) -> None:
    results = await asyncio.gather(*[
        svc.create_user(Uid("race"), UserCreate(f"password{i}", "", False), NOW)
        for i in range(4)
    ])  # fmt: skip
    assert sum(not isinstance(r, Problem) for r in results) == 1


async def test_concurrent_revocations_all_kept(svc: IamService) -> None:
    await asyncio.gather(*[svc.revoke_token(f"jti{i}", NOW + 100, NOW) for i in range(10)])
    assert len((await svc.policy()).revoked["tokens"]) == 10


async def test_expired_revocations_are_pruned(svc: IamService) -> None:
    await svc.revoke_token("old", NOW + 1, NOW)
    await svc.revoke_token("new", NOW + 100, NOW + 50)
    assert set((await svc.policy()).revoked["tokens"]) == {"new"}


async def test_acls_put_validates_and_changes_nothing_on_error(svc: IamService) -> None:
    before = await svc.get_acls()
    version = (await svc.policy()).version
    bad = {"permissive": False, "run_tasks": [{"principals": {"type": "ANY"}}]}
    p = await svc.put_acls(bad)
    assert isinstance(p, Problem) and p.status == 400 and p.extra["path"] == "run_tasks[0]"
    assert "run_tasks[0]" in p.description
    assert await svc.get_acls() == before and (await svc.policy()).version == version
    good = {"permissive": False, "manage_secrets": [
        {"principals": {"values": ["bob"]}, "secrets": {"values": ["team"]}}]}
    acls = await svc.put_acls(good)
    assert isinstance(acls, Acls) and acls.allows("manage_secrets", "bob", "team/db")
    assert await svc.get_acls() == good
    assert (await svc.policy()).version == version + 1


async def test_secrets(svc: IamService, store: MemoryStateStore) -> None:
    path = SecretPath("team/db")
    rec = await svc.create_secret(path, b"hunter2", NOW)
    assert not isinstance(rec, Problem) and rec.meta_json()["path"] == "team/db"
    assert "value" not in rec.meta_json()
    raw = (await store.get(secret_key(path))).value
    assert b"hunter2" not in raw and b"aHVudGVyMg" not in raw  # sealed, not base64 of clear
    dup = await svc.create_secret(path, b"x", NOW)
    assert isinstance(dup, Problem) and dup.status == 409
    await svc.create_secret(SecretPath("team/sub/api"), b"k", NOW)
    await svc.create_secret(SecretPath("other"), b"o", NOW)
    assert await svc.list_secrets() == ["other", "team/db", "team/sub/api"]
    assert await svc.list_secrets(SecretPath("team")) == ["team/db", "team/sub/api"]
    assert await svc.resolve([path]) == {path: b"hunter2"}
    assert await svc.update_secret(path, b"changed", NOW + 1) is None
    assert await svc.resolve([path]) == {path: b"changed"}
    meta = await svc.get_secret(path)
    assert meta is not None and meta.created == NOW and meta.updated == NOW + 1
    missing = await svc.resolve([path, SecretPath("nope"), SecretPath("nope2")])
    assert isinstance(missing, Problem) and missing.status == 404
    assert missing.extra["missing"] == ["nope", "nope2"]
    assert await svc.delete_secret(path) is None
    gone = await svc.delete_secret(path)
    assert isinstance(gone, Problem) and gone.code == "ERR_UNKNOWN_SECRET"
    upd = await svc.update_secret(path, b"x", NOW)
    assert isinstance(upd, Problem) and upd.status == 404


async def test_sealed_value_moved_to_another_path_does_not_open(svc: IamService,
                                                               store: MemoryStateStore) -> None:
    await svc.create_secret(SecretPath("a"), b"value-a", NOW)
    await svc.create_secret(SecretPath("b"), b"value-b", NOW)
    a = await store.get(secret_key(SecretPath("a")))
    b = await store.get(secret_key(SecretPath("b")))
    moved = orjson.loads(a.value)
    moved["path"] = "b"
    await store.put(secret_key(SecretPath("b")), orjson.dumps(moved), b.version)
    out = await svc.resolve([SecretPath("b")])
    assert isinstance(out, Problem) and out.status == 500


async def test_policy_version_grows(svc: IamService) -> None:
    versions = [(await svc.policy()).version]
    for i in range(3):
        await svc.revoke_uid(Uid(f"u{i}"), NOW)
        await svc.put_acls({"permissive": i % 2 == 0})
        versions.append((await svc.policy()).version)
    assert versions == sorted(set(versions))
