"""What the IAM keeps in the master's `StateStore`, and where.

Keys (flat, as the master registry's ``master/registry``):

- ``iam/users/<uid>``: a `UserRecord` (JSON; the password as a scrypt hash, never in clear)
- ``iam/acls``: the Mesos-style ACL document (`dcos.security.acls`)
- ``iam/revoked``: the revocation list (`dcos.security.context.RevocationList.to_json`)
- ``iam/bootstrap``: written once the first start seeded the store (admin, ACLs)
- ``secrets/<path>``: a `SecretRecord` (the value sealed with AES-256-GCM, AAD = its path)

Read and written by `dcos.iam.service.IamService` only.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from dcos.iam.ids import SecretPath, Uid

USERS_PREFIX = "iam/users/"
ACLS_KEY = "iam/acls"
REVOKED_KEY = "iam/revoked"
BOOTSTRAP_KEY = "iam/bootstrap"
SECRETS_PREFIX = "secrets/"
USERS_URL = "/acs/api/v1/users/"


def user_key(uid: Uid) -> str:
    return USERS_PREFIX + uid


def secret_key(path: SecretPath) -> str:
    return SECRETS_PREFIX + path


def iso_time(t: float) -> str:
    """``2026-12-06T17:40:00.123Z`` (Marathon's and DC/OS's timestamps)."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class UserRecord:
    """A user (``is_service`` False) or a service account (True)."""

    uid: Uid
    description: str
    is_service: bool
    password_hash: str
    created: float
    updated: float

    def to_bytes(self) -> bytes:
        return orjson.dumps({
            "uid": self.uid, "description": self.description, "is_service": self.is_service,
            "password_hash": self.password_hash, "created": self.created,
            "updated": self.updated,
        })  # fmt: skip

    @classmethod
    def from_bytes(cls, data: bytes) -> UserRecord:
        d = orjson.loads(data)
        return cls(Uid(d["uid"]), d.get("description", ""), bool(d.get("is_service")),
                   d["password_hash"], float(d.get("created", 0.0)),
                   float(d.get("updated", d.get("created", 0.0))))  # fmt: skip

    def public_json(self) -> dict[str, Any]:
        """What the users API shows (DC/OS' shape; never the hash)."""
        return {"uid": self.uid, "description": self.description,
                "is_service": self.is_service, "url": USERS_URL + self.uid}  # fmt: skip


@dataclass(frozen=True)
class SecretRecord:
    """A secret: its path, the sealed value (nonce + ciphertext + tag), when it was made and
    last changed."""

    path: SecretPath
    sealed: bytes
    created: float
    updated: float

    def to_bytes(self) -> bytes:
        return orjson.dumps({
            "path": self.path, "sealed": base64.b64encode(self.sealed).decode("ascii"),
            "created": self.created, "updated": self.updated,
        })  # fmt: skip

    @classmethod
    def from_bytes(cls, data: bytes) -> SecretRecord:
        d = orjson.loads(data)
        return cls(SecretPath(d["path"]), base64.b64decode(d["sealed"]),
                   float(d["created"]), float(d["updated"]))  # fmt: skip

    def meta_json(self) -> dict[str, Any]:
        """What the secrets API shows: never the value."""
        return {"path": self.path, "created": iso_time(self.created),
                "updated": iso_time(self.updated)}  # fmt: skip
