"""Sealing secret values at rest: AES-256-GCM with the cluster's secrets.key.

Called by the master's secret store (IAM module): `seal` before writing a value to the
StateStore under ``secrets/<path>``, `open` when an agent resolves a secret for a task. The
secret's path is the associated data, so a sealed value moved to another path does not open.

Sealed form: ``b"\\x01" + nonce (12 random bytes) + ciphertext + tag (16 bytes)``.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = b"\x01"
NONCE_BYTES = 12
KEY_BYTES = 32


class SecretBoxError(ValueError):
    """A sealed value that does not open (wrong key, wrong path, tampered or truncated)."""


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"the secrets key must be {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)

    @classmethod
    def load(cls, path: Path) -> SecretBox:
        """The box keyed by the file at `path` (<security dir>/secrets.key)."""
        return cls(Path(path).read_bytes())

    def seal(self, path: str, value: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return VERSION + nonce + self._aead.encrypt(nonce, value, path.encode())

    def open(self, path: str, sealed: bytes) -> bytes:
        if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[:1] != VERSION:
            raise SecretBoxError(f"secret {path!r}: not a sealed value")
        nonce, body = sealed[1:1 + NONCE_BYTES], sealed[1 + NONCE_BYTES:]
        try:
            return self._aead.decrypt(nonce, body, path.encode())
        except InvalidTag:
            raise SecretBoxError(f"secret {path!r}: does not open (wrong key or path, or "
                                 "tampered)") from None
