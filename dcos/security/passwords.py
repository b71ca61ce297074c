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


def verify_password(password: str, stored: str) -> bool:
    """True iff `password` matches `stored` (constant-time compare; a malformed `stored` is
    False)."""
    try:
        scheme, n_s, r_s, p_s, salt_s, hash_s = stored.split("$")
        n, r, p = int(n_s), int(r_s), int(p_s)
        salt, expected = base64.b64decode(salt_s), base64.b64decode(hash_s)
    except (ValueError, AttributeError):
        return False
    if scheme != "scrypt" or not (1 < n <= MAX_N) or n & (n - 1) or not (0 < r <= 32) \
            or not (0 < p <= 16):
        return False
    try:
        digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p,
                                maxmem=2 * 128 * r * n + (1 << 20), dklen=len(expected))
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected)
