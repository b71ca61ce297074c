from __future__ import annotations

import jwt
import pytest

from dcos.security.context import RevocationList
from dcos.security.layout import SecurityDir
from dcos.security.tokens import InvalidToken, TokenIssuer, TokenVerifier

NOW = 1_800_000_000.0


def _pair(sd: SecurityDir) -> tuple[TokenIssuer, TokenVerifier]:
    return TokenIssuer.load(sd.token_key), TokenVerifier.load(sd.token_pub)


def test_issue_verify_claims(shared_sd: SecurityDir) -> None:
    issuer, verifier = _pair(shared_sd)
    token = issuer.issue("alice", kind="service", ttl_s=60, now=NOW + 0.25)
    claims = verifier.verify(token, now=NOW + 59)
    assert (claims.uid, claims.kind, claims.iat, claims.exp) == (
        "alice", "service", NOW + 0.25, NOW + 60.25)
    assert len(claims.jti) == 32


def test_expired_and_future_tokens(shared_sd: SecurityDir) -> None:
    issuer, verifier = _pair(shared_sd)
    token = issuer.issue("alice", ttl_s=60, now=NOW)
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(token, now=NOW + 60)
    with pytest.raises(InvalidToken, match="future"):
        verifier.verify(token, now=NOW - 100)


def test_forged_and_alg_none_tokens_refused(shared_sd: SecurityDir) -> None:
    _, verifier = _pair(shared_sd)
    forged = jwt.encode({"uid": "admin", "exp": NOW + 60, "jti": "x"}, "k" * 40,
                        algorithm="HS256")
    with pytest.raises(InvalidToken):
        verifier.verify(forged, now=NOW)
    none = jwt.encode({"uid": "admin", "exp": NOW + 60, "jti": "x"}, None, algorithm="none")
    with pytest.raises(InvalidToken):
        verifier.verify(none, now=NOW)
    with pytest.raises(InvalidToken):
        verifier.verify("garbage", now=NOW)


def test_revocation_by_jti_and_uid() -> None:
    from dcos.security.tokens import Claims

    revoked = RevocationList()
    a = Claims(uid="alice", kind="user", iat=NOW, exp=NOW + 60, jti="a1")
    b = Claims(uid="alice", kind="user", iat=NOW + 10, exp=NOW + 70, jti="b1")
    revoked.revoke("a1", a.exp)
    assert revoked.is_revoked(a) and not revoked.is_revoked(b)
    revoked.revoke_uid("alice", before=NOW + 10)
    assert not revoked.is_revoked(b)  # issued at the cut-off: valid
    revoked.revoke_uid("alice", before=NOW + 10.001)
    assert revoked.is_revoked(b)
    copy = RevocationList.from_json(revoked.to_json())
    assert copy.is_revoked(a) and copy.is_revoked(b)
    revoked.prune(NOW + 61)
    assert "a1" not in revoked.tokens
