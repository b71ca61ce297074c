"""`IamKeys`: what the IAM signs and seals with, and what the first start seeds the store with.

`load_keys(sd)` is called once by `dcos.master.http.iam.add_routes` (the master's shell, at
startup): it reads token.key (signs bearer tokens), secrets.key (32 bytes, the secret store's
AES-256-GCM key), acls.json and admin.password from the security directory. A missing or bad
token.key or secrets.key stops the master with a clear message; acls.json and admin.password
are optional (without them the bootstrap keeps the master's current ACLs and makes no admin).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dcos.security.layout import SecurityDir
from dcos.security.secretbox import SecretBox
from dcos.security.tokens import TokenIssuer

SECRETS_KEY_BYTES = 32


@dataclass(frozen=True)
class IamKeys:
    issuer: TokenIssuer
    box: SecretBox
    admin_password: str | None = None  # bootstrap: user admin's password at the first start
    acls_doc: dict[str, Any] | None = None  # bootstrap: the ACL document of the first start


def load_keys(sd: SecurityDir) -> IamKeys:
    """Read the keys (and the bootstrap inputs) from `sd`; `ValueError` naming the file when
    a key is missing or malformed."""
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
    acls: dict[str, Any] | None = None
    if sd.acls.is_file():
        try:
            doc = json.loads(sd.acls.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read the ACL file {sd.acls}: {exc}") from None
        acls = doc if isinstance(doc, dict) else None
    return IamKeys(TokenIssuer(token_pem), SecretBox(secrets_key), admin, acls)
