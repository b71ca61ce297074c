"""Password hashing with scrypt (hashlib.scrypt, a memory-hard KDF).

Called by the master's IAM module: `hash_password` when a user or service account is created
or its password changes, `verify_password` at ``POST /acs/api/v1/auth/login``.

Stored form: ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`` (parameters kept with each hash, so
they can be raised later without breaking old hashes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

N = 2**14  # CPU/memory cost: ~16 MiB and a few tens of ms per hash
R = 8
P = 1
SALT_BYTES = 16
HASH_BYTES = 32
MAX_N = 2**20  # refuse stored parameters that would cost more than this (a corrupt record)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p,
                          maxmem=2 * 128 * r * n + (1 << 20), dklen=HASH_BYTES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str, *, n: int = N, r: int = R, p: int = P) -> str:
    salt = os.urandom(SALT_BYTES)
    digest = _scrypt(password, salt, n, r, p)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def _parse(stored: object) -> tuple[int, int, int, bytes, bytes] | str:
    """(n, r, p, salt, hash) of a stored hash, or what is wrong with it."""
    if not isinstance(stored, str):
        return "expected a string scrypt$<n>$<r>$<p>$<salt>$<hash> (dcos-py install --hash-password)"
    fields = stored.split("$")
    if len(fields) == 6 and fields[0] != "scrypt":
        return f"unknown scheme {fields[0][:20]!r} (expected scrypt)"
    try:
        _, n_s, r_s, p_s, salt_s, hash_s = fields
        n, r, p = int(n_s), int(r_s), int(p_s)
        salt = base64.b64decode(salt_s, validate=True)
        expected = base64.b64decode(hash_s, validate=True)
    except ValueError:
        return "expected scrypt$<n>$<r>$<p>$<salt>$<hash> (dcos-py install --hash-password)"
    if not (1 < n <= MAX_N) or n & (n - 1) or not (0 < r <= 32) or not (0 < p <= 16):
        return f"scrypt parameters out of range (n a power of 2 up to {MAX_N}, r 1..32, p 1..16)"
    if not salt or len(expected) < 16:
        return "salt or hash too short"
    return n, r, p, salt, expected


def hash_problem(stored: object) -> str | None:
    """None when `stored` is a well-formed hash of `hash_password`, else what is wrong (one
    line, never the value). Called by the installer's config check and the IAM's
    bootstrap.json reader (`dcos.iam.keys`)."""
    parsed = _parse(stored)
    return parsed if isinstance(parsed, str) else None


def verify_password(password: str, stored: str) -> bool:
    """True iff `password` matches `stored` (constant-time compare; a malformed `stored` is
    False)."""
    parsed = _parse(stored)
    if isinstance(parsed, str):
        return False
    n, r, p, salt, expected = parsed
    try:
        digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p,
                                maxmem=2 * 128 * r * n + (1 << 20), dklen=len(expected))
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected)
