"""`IamKeys`: what the IAM signs and seals with, and what the first start seeds the store with.

`load_keys(sd)` is called once by `dcos.master.http.iam.add_routes` (the master's shell, at
startup): it reads token.key (signs bearer tokens), secrets.key (32 bytes, the secret store's
AES-256-GCM key), acls.json and the bootstrap superuser from the security directory. A missing
or bad token.key or secrets.key stops the master with a clear message; acls.json and the
bootstrap user are optional (without them the bootstrap keeps the master's current ACLs and
makes no superuser).

The bootstrap superuser comes from one of two files:

- ``bootstrap.json`` ``{"uid": "ops", "password_hash": "scrypt$..."}``: written by the
  installer's genconf (`dcos.installer.genconf`) into each master's security directory, so no
  plain password ever reaches a host (the hash is ``dcos-py install --hash-password``'s). When
  present it wins; a malformed one stops the master (ValueError naming the file).
- ``admin.password``: user ``admin``'s plain password, made by ``dcos-py up --secure``
  (`dcos.security.layout.init_security_dir`); the IAM hashes it at the bootstrap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dcos.iam.ids import Uid, parse_uid
from dcos.iam.problems import Problem
from dcos.security.layout import ADMIN, SecurityDir
from dcos.security.passwords import hash_problem
from dcos.security.secretbox import SecretBox
from dcos.security.tokens import TokenIssuer

SECRETS_KEY_BYTES = 32


@dataclass(frozen=True)
class IamKeys:
    issuer: TokenIssuer
    box: SecretBox
    admin_password: str | None = None  # bootstrap: user admin's password at the first start
    acls_doc: dict[str, Any] | None = None  # bootstrap: the ACL document of the first start
    # bootstrap from bootstrap.json: the superuser's uid and scrypt hash (wins over
    # admin_password when set)
    bootstrap_uid: Uid = Uid(ADMIN)
    bootstrap_password_hash: str | None = None


def parse_bootstrap(doc: Any) -> tuple[Uid, str]:
    """(uid, password_hash) of a bootstrap.json document; ValueError saying what is wrong."""
    if not isinstance(doc, dict):
        raise ValueError('expected {"uid": ..., "password_hash": ...}')
    uid = parse_uid(doc.get("uid", ADMIN))
    if isinstance(uid, Problem):
        raise ValueError(f"uid: {uid.description}")
    stored = doc.get("password_hash")
    problem = hash_problem(stored)
    if problem is not None:
        raise ValueError(f"password_hash: {problem}")
    assert isinstance(stored, str)
    return uid, stored


def _read_bootstrap(sd: SecurityDir) -> tuple[Uid, str] | None:
    path = sd.bootstrap_user
    if not path.is_file():
        return None
    try:
        return parse_bootstrap(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"cannot read the bootstrap user file {path}: {exc}") from None


def load_keys(sd: SecurityDir) -> IamKeys:
    """Read the keys (and the bootstrap inputs) from `sd`; `ValueError` naming the file when
    a key or bootstrap.json is missing or malformed."""
    try:
        token_pem = sd.token_key.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the token signing key {sd.token_key}: {exc.strerror}") \
            from None
    try:
        secrets_key = sd.secrets_key.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the secret store key {sd.secrets_key}: {exc.strerror}") \
            from None
    if len(secrets_key) != SECRETS_KEY_BYTES:
        raise ValueError(f"{sd.secrets_key} must hold {SECRETS_KEY_BYTES} bytes, "
                         f"not {len(secrets_key)}")  # fmt: skip
    admin: str | None = None
    if sd.admin_password.is_file():
        admin = sd.admin_password.read_text(encoding="utf-8").strip() or None
    boot = _read_bootstrap(sd)
    acls: dict[str, Any] | None = None
    if sd.acls.is_file():
        try:
            doc = json.loads(sd.acls.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read the ACL file {sd.acls}: {exc}") from None
        acls = doc if isinstance(doc, dict) else None
    keys = IamKeys(TokenIssuer(token_pem), SecretBox(secrets_key), admin, acls)
    if boot is not None:
        keys = IamKeys(keys.issuer, keys.box, None, acls, boot[0], boot[1])
    return keys
