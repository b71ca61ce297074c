"""`IamService`: the IAM and secrets operations on the master's `StateStore`.

Made by `dcos.master.http.iam` once per term of leadership (on the term's store: in HA it is
the ZooKeeper store fenced by this master's election znode, so a deposed master's write fails
with `dcos.state.Fenced`, which propagates) and called by its handlers, one method per
request. No sockets, no files, no clock: every method that needs the time takes `now`.

Every change is a read-modify-write with compare-and-set (`_modify`): a conflict (another
request, or another master) re-reads and retries a few times, so concurrent changes are never
lost. Expected refusals (bad input, unknown or existing user or secret, wrong password) are
returned as a `Problem`, never raised. Password hashing and checking (scrypt, tens of
milliseconds) run in a worker thread so the master's event loop keeps serving.

Secret values: sealed with `SecretBox` (AES-256-GCM, AAD = the path, so a sealed value moved
to another path does not open) before they are stored; opened only by `resolve` (the agents'
internal endpoint). Nothing here logs a value or a password.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from dcos.iam.ids import SecretPath, Uid
from dcos.iam.keys import IamKeys
from dcos.iam.model import (
    ACLS_KEY,
    BOOTSTRAP_KEY,
    REVOKED_KEY,
    SECRETS_PREFIX,
    USERS_PREFIX,
    SecretRecord,
    UserRecord,
    secret_key,
    user_key,
)
from dcos.iam.problems import Problem, conflict, not_found, unauthorized, unavailable
from dcos.iam.requests import LoginRequest, UserCreate, UserPatch
from dcos.security.acls import AclError, Acls
from dcos.security.context import RevocationList
from dcos.security.layout import ADMIN
from dcos.security.passwords import hash_password, verify_password
from dcos.security.secretbox import SecretBoxError
from dcos.security.tokens import DEFAULT_TTL_S
from dcos.state import Fenced, StateStore, VersionConflict

log = logging.getLogger(__name__)

CAS_RETRIES = 8
Change = Callable[[bytes | None], "bytes | None | Problem"]
_DELETE = b"\x00delete"  # what a change returns to delete the key


@dataclass(frozen=True)
class Policy:
    """What ``GET /acs/api/v1/policy`` serves: the ACL document (None before the bootstrap),
    the revocation list, and a version that grows with every change of either."""

    version: int
    acls: dict[str, Any] | None
    revoked: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "acls": self.acls, "revoked": self.revoked}


class IamService:
    def __init__(self, store: StateStore, keys: IamKeys, *,
                 token_ttl_s: float = DEFAULT_TTL_S) -> None:  # fmt: skip
        self.store = store
        self.keys = keys
        self.token_ttl_s = token_ttl_s
        self._dummy_hash: str | None = None  # checked for unknown uids (same time as a miss)

    # -- compare-and-set ------------------------------------------------------------------------

    async def _modify(self, key: str, change: Change) -> int | Problem:
        """Apply `change` (current bytes or None -> new bytes, `_DELETE`, or a Problem) with
        compare-and-set, re-reading on a conflict. The new version (0 once deleted)."""
        for _ in range(CAS_RETRIES):
            cur = await self.store.get(key)
            out = change(None if cur is None else cur.value)
            if isinstance(out, Problem):
                return out
            version = 0 if cur is None else cur.version
            try:
                if out is _DELETE:
                    if cur is not None:
                        await self.store.delete(key, version)
                    return 0
                assert out is not None
                return await self.store.put(key, out, version)
            except Fenced:
                raise
            except VersionConflict:
                continue
        return unavailable(f"{key} kept changing under concurrent writes; retry")

    async def _create(self, key: str, value: bytes) -> bool:
        """Write `value` unless `key` exists (False then). `Fenced` propagates."""
        try:
            await self.store.put(key, value, 0)
        except Fenced:
            raise
        except VersionConflict:
            return False
        return True

    # -- bootstrap and policy -------------------------------------------------------------------

    async def bootstrap(self, *, now: float, fallback_acls: dict[str, Any]) -> list[str]:
        """At the first start of a secure cluster (no ``iam/bootstrap`` key yet): store the
        ACL document (acls.json, else `fallback_acls`: what the master runs with) and create
        the bootstrap superuser: from bootstrap.json's uid and password hash when given
        (the installer), else user ``admin`` from admin.password (``up --secure``); then mark
        the store bootstrapped, so a deleted superuser or a changed acls.json never comes
        back. Idempotent across masters. Returns what it did ("acls", then the superuser's
        uid, e.g. "admin")."""
        if await self.store.get(BOOTSTRAP_KEY) is not None:
            return []
        done: list[str] = []
        doc = self.keys.acls_doc
        if doc is not None:
            try:
                Acls.from_json(doc)
            except AclError as exc:
                log.error("acls.json is not valid (%s): keeping the master's ACLs", exc)
                doc = None
        if await self._create(ACLS_KEY, orjson.dumps(doc or fallback_acls)):
            done.append("acls")
        hashed = self.keys.bootstrap_password_hash
        uid = self.keys.bootstrap_uid
        if hashed is None and self.keys.admin_password:
            hashed = await asyncio.to_thread(hash_password, self.keys.admin_password)
            uid = Uid(ADMIN)
        if hashed is not None:
            rec = UserRecord(uid, "bootstrap superuser", False, hashed, now, now)
            if await self._create(user_key(rec.uid), rec.to_bytes()):
                done.append(rec.uid)
        await self._create(BOOTSTRAP_KEY, orjson.dumps({"time": now, "done": done}))
        if done:
            log.info("IAM bootstrap: %s", ", ".join(done))
        return done

    async def policy(self) -> Policy:
        acls = await self.store.get(ACLS_KEY)
        revoked = await self.store.get(REVOKED_KEY)
        return Policy(
            (acls.version if acls else 0) + (revoked.version if revoked else 0),
            orjson.loads(acls.value) if acls else None,
            orjson.loads(revoked.value) if revoked else RevocationList().to_json(),
        )

    # -- login and revocation -------------------------------------------------------------------

    async def _revocations(self) -> RevocationList:
        got = await self.store.get(REVOKED_KEY)
        return RevocationList.from_json(orjson.loads(got.value)) if got else RevocationList()

    async def login(self, req: LoginRequest, now: float) -> str | Problem:
        """A bearer token for `req.uid` when its password matches (kind "service" for a
        service account); 401 otherwise, the same for an unknown uid and a wrong password."""
        rec = await self.get_user(req.uid)
        if rec is None:
            if self._dummy_hash is None:
                self._dummy_hash = await asyncio.to_thread(hash_password, "no such user")
            await asyncio.to_thread(verify_password, req.password, self._dummy_hash)
            return unauthorized("invalid uid or password")
        if not await asyncio.to_thread(verify_password, req.password, rec.password_hash):
            return unauthorized("invalid uid or password")
        # a token issued at or after a revocation of its uid is valid (iat < cut-off is
        # revoked): another master's clock may be ahead, so never issue before the cut-off
        cutoff = (await self._revocations()).uids.get(rec.uid)
        issued = now if cutoff is None else max(now, cutoff)
        kind = "service" if rec.is_service else "user"
        return self.keys.issuer.issue(rec.uid, kind=kind, ttl_s=self.token_ttl_s, now=issued)

    async def revoke_token(self, jti: str, exp: float, now: float) -> Problem | None:
        def change(cur: bytes | None) -> bytes:
            rl = RevocationList.from_json(orjson.loads(cur)) if cur else RevocationList()
            rl.prune(now)
            rl.revoke(jti, exp)
            return orjson.dumps(rl.to_json())

        out = await self._modify(REVOKED_KEY, change)
        return out if isinstance(out, Problem) else None

    async def revoke_uid(self, uid: Uid, now: float) -> Problem | None:
        """Every token issued to `uid` until `now` is revoked."""

        def change(cur: bytes | None) -> bytes:
            rl = RevocationList.from_json(orjson.loads(cur)) if cur else RevocationList()
            rl.prune(now)
            rl.revoke_uid(uid, now)
            return orjson.dumps(rl.to_json())

        out = await self._modify(REVOKED_KEY, change)
        return out if isinstance(out, Problem) else None

    # -- users and service accounts -------------------------------------------------------------

    async def get_user(self, uid: Uid) -> UserRecord | None:
        got = await self.store.get(user_key(uid))
        return UserRecord.from_bytes(got.value) if got else None

    async def list_users(self) -> list[UserRecord]:
        out = []
        for key in await self.store.list(USERS_PREFIX):
            got = await self.store.get(key)
            if got is not None:
                out.append(UserRecord.from_bytes(got.value))
        return out

    async def create_user(self, uid: Uid, req: UserCreate, now: float) -> UserRecord | Problem:
        hashed = await asyncio.to_thread(hash_password, req.password)
        rec = UserRecord(uid, req.description, req.service, hashed, now, now)

        def change(cur: bytes | None) -> bytes | Problem:
            if cur is not None:
                return conflict(f"user {uid!r} already exists", "ERR_USER_EXISTS")
            return rec.to_bytes()

        out = await self._modify(user_key(uid), change)
        return out if isinstance(out, Problem) else rec

    async def update_user(self, uid: Uid, req: UserPatch, now: float) -> UserRecord | Problem:
        """Change the password and/or description; a new password revokes the uid's tokens."""
        hashed = None
        if req.password is not None:
            hashed = await asyncio.to_thread(hash_password, req.password)
        result: list[UserRecord] = []

        def change(cur: bytes | None) -> bytes | Problem:
            if cur is None:
                return not_found(f"user {uid!r} does not exist", "ERR_UNKNOWN_USER_ID")
            old = UserRecord.from_bytes(cur)
            new = UserRecord(
                uid, old.description if req.description is None else req.description,
                old.is_service, old.password_hash if hashed is None else hashed, old.created,
                now,
            )  # fmt: skip
            result[:] = [new]
            return new.to_bytes()

        out = await self._modify(user_key(uid), change)
        if isinstance(out, Problem):
            return out
        if hashed is not None:
            revoked = await self.revoke_uid(uid, now)
            if revoked is not None:
                return revoked
        return result[0]

    async def delete_user(self, uid: Uid, now: float) -> Problem | None:
        """Remove the user and revoke every token issued to it."""

        def change(cur: bytes | None) -> bytes | Problem:
            if cur is None:
                return not_found(f"user {uid!r} does not exist", "ERR_UNKNOWN_USER_ID")
            return _DELETE

        out = await self._modify(user_key(uid), change)
        if isinstance(out, Problem):
            return out
        return await self.revoke_uid(uid, now)

    # -- the ACL document -----------------------------------------------------------------------

    async def get_acls(self) -> dict[str, Any] | None:
        got = await self.store.get(ACLS_KEY)
        return orjson.loads(got.value) if got else None

    async def put_acls(self, doc: Any) -> Acls | Problem:
        """Validate `doc` (`Acls.from_json`) and store it; 400 naming where it is wrong, the
        stored document unchanged."""
        try:
            acls = Acls.from_json(doc)
        except AclError as exc:
            where = f"{exc.path}: " if exc.path else ""
            return Problem(400, "ERR_INVALID_DATA", f"invalid ACLs: {where}{exc.message}",
                           {"path": exc.path})  # fmt: skip
        data = orjson.dumps(doc)
        out = await self._modify(ACLS_KEY, lambda cur: data)
        return out if isinstance(out, Problem) else acls

    # -- secrets --------------------------------------------------------------------------------

    async def get_secret(self, path: SecretPath) -> SecretRecord | None:
        got = await self.store.get(secret_key(path))
        return SecretRecord.from_bytes(got.value) if got else None

    async def list_secrets(self, folder: SecretPath | None = None) -> list[SecretPath]:
        """Every secret path (under `folder`), sorted."""
        prefix = SECRETS_PREFIX + (folder + "/" if folder else "")
        return [SecretPath(k[len(SECRETS_PREFIX):]) for k in await self.store.list(prefix)]

    async def create_secret(self, path: SecretPath, value: bytes,
                            now: float) -> SecretRecord | Problem:  # fmt: skip
        rec = SecretRecord(path, self.keys.box.seal(path, value), now, now)

        def change(cur: bytes | None) -> bytes | Problem:
            if cur is not None:
                return conflict(f"secret {path!r} already exists", "ERR_SECRET_EXISTS")
            return rec.to_bytes()

        out = await self._modify(secret_key(path), change)
        return out if isinstance(out, Problem) else rec

    async def update_secret(self, path: SecretPath, value: bytes, now: float) -> Problem | None:
        sealed = self.keys.box.seal(path, value)

        def change(cur: bytes | None) -> bytes | Problem:
            if cur is None:
                return _unknown_secret([path])
            old = SecretRecord.from_bytes(cur)
            return SecretRecord(path, sealed, old.created, now).to_bytes()

        out = await self._modify(secret_key(path), change)
        return out if isinstance(out, Problem) else None

    async def delete_secret(self, path: SecretPath) -> Problem | None:
        def change(cur: bytes | None) -> bytes | Problem:
            return _unknown_secret([path]) if cur is None else _DELETE

        out = await self._modify(secret_key(path), change)
        return out if isinstance(out, Problem) else None

    async def resolve(self, paths: list[SecretPath]) -> dict[SecretPath, bytes] | Problem:
        """The values of `paths` (the agents' internal endpoint only); 404 naming every
        unknown path when one is missing."""
        values: dict[SecretPath, bytes] = {}
        missing: list[SecretPath] = []
        for path in paths:
            rec = await self.get_secret(path)
            if rec is None:
                missing.append(path)
                continue
            try:
                values[path] = self.keys.box.open(path, rec.sealed)
            except SecretBoxError:  # a value that does not open: say so, no detail
                log.error("secret %s does not open with the secret store key", path)
                return Problem(500, "ERR_SECRET_UNREADABLE",
                               f"secret {path!r} cannot be opened with the store's key")
        if missing:
            return _unknown_secret(missing)
        return values


def _unknown_secret(paths: list[SecretPath]) -> Problem:
    return Problem(404, "ERR_UNKNOWN_SECRET", "unknown secret(s): " + ", ".join(paths),
                   {"missing": list(paths)})  # fmt: skip

