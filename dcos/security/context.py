"""What a component's shell holds when security is on: `SecurityContext`.

Made once at startup by `load_context` (through `dcos.security.options.context_from_args`);
the shell then serves HTTPS with `server_ssl`, makes outgoing calls with `client_kwargs()`,
starts `reloader` (certificate rotation) and a `dcos.security.http.PolicyFeed` (which replaces
`acls` and updates `revoked` from the leading master), installs
`dcos.security.http.auth_middleware`, and asks `allows(identity, action, obj)` before each
change or view an ACL governs.

`RevocationList` (sans-IO) holds revoked token ids (until they expire) and per-uid cut-off
times (tokens issued before are revoked); the master's IAM module owns the authoritative one
and serves it in ``GET /acs/api/v1/policy``.
"""

from __future__ import annotations

import json
import logging
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcos.security.acls import Acls, Action
from dcos.security.credentials import Credentials
from dcos.security.layout import SecurityDir
from dcos.security.principal import Identity
from dcos.security.tls import CertReloader, client_context, server_context
from dcos.security.tokens import Claims, TokenVerifier

log = logging.getLogger(__name__)


class RevocationList:
    """Revoked tokens: by jti (kept until the token's exp) and by uid (issued before a time)."""

    def __init__(self) -> None:
        self.tokens: dict[str, float] = {}  # jti -> exp
        self.uids: dict[str, float] = {}  # uid -> tokens issued before this are revoked

    def revoke(self, jti: str, exp: float) -> None:
        self.tokens[jti] = float(exp)

    def revoke_uid(self, uid: str, before: float) -> None:
        """Revoke every token of `uid` issued strictly before `before` (logout everywhere,
        password change, deletion); a token issued at or after it stays valid."""
        self.uids[uid] = max(float(before), self.uids.get(uid, 0.0))

    def is_revoked(self, claims: Claims) -> bool:
        if claims.jti in self.tokens:
            return True
        before = self.uids.get(claims.uid)
        return before is not None and claims.iat < before

    def prune(self, now: float) -> None:
        """Forget token ids that have expired anyway."""
        self.tokens = {j: e for j, e in self.tokens.items() if e > now}

    def to_json(self) -> dict[str, Any]:
        return {"tokens": dict(self.tokens), "uids": dict(self.uids)}

    def update_json(self, doc: Any) -> None:
        """Replace the contents with `doc` (the leader's list, from to_json); ValueError if
        malformed (the contents are then unchanged)."""
        if not isinstance(doc, dict):
            raise ValueError("revocation list: expected an object")
        tokens = {str(k): float(v) for k, v in dict(doc.get("tokens", {})).items()}
        uids = {str(k): float(v) for k, v in dict(doc.get("uids", {})).items()}
        self.tokens, self.uids = tokens, uids

    @classmethod
    def from_json(cls, doc: Any) -> RevocationList:
        out = cls()
        out.update_json(doc)
        return out


@dataclass
class SecurityContext:
    dir: SecurityDir
    name: str  # this component's own principal (its certificate's name)
    server_ssl: ssl.SSLContext
    client_ssl: ssl.SSLContext
    verifier: TokenVerifier
    credentials: Credentials
    acls: Acls
    revoked: RevocationList = field(default_factory=RevocationList)
    reloader: CertReloader | None = None
    policy_version: Any = None  # set by PolicyFeed (the version of the leader's policy)

    @property
    def scheme(self) -> str:
        return "https"

    @property
    def ca_file(self) -> Path:
        """The CA bundle (the agent hands it to executors as DCOS_CA_FILE)."""
        return self.dir.ca_cert

    def url(self, host: str, port: int) -> str:
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host
        return f"https://{host}:{port}"

    def connector(self, **kwargs: Any) -> Any:
        """An aiohttp TCPConnector speaking mutual TLS (call inside the event loop)."""
        import aiohttp

        return aiohttp.TCPConnector(ssl=self.client_ssl, **kwargs)

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``aiohttp.ClientSession(**ctx.client_kwargs())``."""
        return {"connector": self.connector()}

    def allows(self, identity: Identity, action: Action | str, obj: str | None) -> bool:
        """The ACL decision for `identity` doing `action` on `obj`; a denial is logged."""
        ok = self.acls.allows(action, identity.principal, obj)
        if not ok:
            log.warning("denied principal=%s action=%s object=%s",
                        identity.principal or "anonymous", str(action), obj)
        return ok


def load_context(sd_path: Path, name: str) -> SecurityContext:
    """The SecurityContext of principal `name` from the security directory at `sd_path`;
    FileNotFoundError naming what is missing, ValueError (AclError) for a bad acls.json."""
    sd = SecurityDir(Path(sd_path))
    sd.check(name)
    server = server_context(sd, name)
    client = client_context(sd, name)
    acls = (Acls.from_json(json.loads(sd.acls.read_text())) if sd.acls.is_file()
            else Acls(permissive=False))
    return SecurityContext(dir=sd, name=name, server_ssl=server, client_ssl=client,
                           verifier=TokenVerifier.load(sd.token_pub),
                           credentials=Credentials.load(sd.credentials), acls=acls,
                           reloader=CertReloader(sd, name, [server, client]))
