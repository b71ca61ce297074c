"""Bearer tokens: RS256 JWTs (PyJWT) signed with token.key, verified with token.pub.

`TokenIssuer` is held by the leading master's IAM module (``POST /acs/api/v1/auth/login``);
`TokenVerifier` by every component's `SecurityContext` (`dcos.security.http.authenticate`
calls `verify` per request that carries ``Authorization: token=<jwt>`` or ``Bearer <jwt>``).
Sans-IO: both take `now` (seconds since the epoch); revocation is checked separately
(`dcos.security.context.RevocationList`).

Claims: ``uid`` (the principal), ``kind`` ("user" or "service"), ``iat``, ``exp`` (seconds),
``jti`` (a random id; logout and revoke name it). ``iat`` and ``exp`` are floats (sub-second).
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ALGORITHM = "RS256"
DEFAULT_TTL_S = 5 * 86400  # DC/OS' default token lifetime
LEEWAY_S = 5.0  # clock skew tolerated on iat
CACHE_SIZE = 4096  # verified signatures remembered (a token is sent with every request)


class InvalidToken(Exception):
    """A token that is malformed, badly signed, expired or revoked; `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Claims:
    uid: str
    kind: str
    iat: float
    exp: float
    jti: str

    def to_json(self) -> dict[str, Any]:
        return {"uid": self.uid, "kind": self.kind, "iat": self.iat, "exp": self.exp,
                "jti": self.jti}


class TokenIssuer:
    """Signs tokens with the RS256 private key (PEM)."""

    def __init__(self, private_pem: bytes) -> None:
        # parsed once: loading (and checking) an RSA private key costs ~90 ms
        key = serialization.load_pem_private_key(private_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the token signing key must be an RSA private key")
        self._key = key

    @classmethod
    def load(cls, path: Path) -> TokenIssuer:
        return cls(Path(path).read_bytes())

    def issue(self, uid: str, *, kind: str = "user", ttl_s: float = DEFAULT_TTL_S,
              now: float) -> str:
        # iat keeps sub-second precision (a float NumericDate, RFC 7519) so that a token issued
        # just after RevocationList.revoke_uid(uid, before=now) is valid
        claims = {"uid": uid, "kind": kind, "iat": float(now), "exp": float(now + ttl_s),
                  "jti": secrets.token_hex(16)}
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)


class TokenVerifier:
    """Verifies tokens with the RS256 public key (PEM); `verify` raises InvalidToken."""

    def __init__(self, public_pem: bytes) -> None:
        key = serialization.load_pem_public_key(public_pem)
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("the token verification key must be an RSA public key")
        self._key = key
        self._verified: OrderedDict[str, Claims] = OrderedDict()

    @classmethod
    def load(cls, path: Path) -> TokenVerifier:
        return cls(Path(path).read_bytes())

    def verify(self, token: str, *, now: float) -> Claims:
        claims = self._verified.get(token)
        if claims is not None:
            self._verified.move_to_end(token)
        else:
            claims = self._decode(token)
            self._verified[token] = claims
            if len(self._verified) > CACHE_SIZE:
                self._verified.popitem(last=False)
        if now >= claims.exp:
            raise InvalidToken("token expired")
        if claims.iat > now + LEEWAY_S:
            raise InvalidToken("token issued in the future")
        return claims

    def _decode(self, token: str) -> Claims:
        """Signature and claim shapes (time-independent, so the result is cached)."""
        try:
            doc = jwt.decode(token, self._key, algorithms=[ALGORITHM],
                             options={"verify_exp": False, "verify_iat": False,
                                      "verify_nbf": False, "require": ["uid", "exp", "jti"]})
        except jwt.InvalidSignatureError:
            raise InvalidToken("bad signature") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"missing claim {exc.claim!r}") from None
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token ({exc})") from None
        try:
            claims = Claims(uid=str(doc["uid"]), kind=str(doc.get("kind", "user")),
                            iat=float(doc.get("iat", 0)), exp=float(doc["exp"]),
                            jti=str(doc["jti"]))
        except (TypeError, ValueError):
            raise InvalidToken("malformed claims") from None
        if not claims.uid:
            raise InvalidToken("empty uid")
        return claims
