from __future__ import annotations

import os

import pytest

from dcos.security.layout import SecurityDir
from dcos.security.passwords import hash_password, verify_password
from dcos.security.secretbox import SecretBox, SecretBoxError


def test_password_hash_round_trip_and_salted() -> None:
    stored = hash_password("correct horse", n=2**10)
    assert stored.startswith("scrypt$1024$8$1$")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsE", stored)
    assert hash_password("correct horse", n=2**10) != stored  # a fresh salt each time
    assert verify_password("pw", hash_password("pw"))  # the default parameters


@pytest.mark.parametrize("stored", ["", "plain", "scrypt$x$8$1$AA==$AA==",
                                    "bcrypt$1024$8$1$AA==$AA==", "scrypt$1000$8$1$AA==$AA==",
                                    "scrypt$4194304$8$1$AA==$AA=="])
def test_malformed_hashes_never_verify(stored: str) -> None:
    assert verify_password("pw", stored) is False


def test_secretbox_binds_value_to_path(shared_sd: SecurityDir) -> None:
    box = SecretBox.load(shared_sd.secrets_key)
    sealed = box.seal("team/db", b"hunter2")
    assert b"hunter2" not in sealed
    assert box.open("team/db", sealed) == b"hunter2"
    assert box.seal("team/db", b"hunter2") != sealed  # random nonce
    with pytest.raises(SecretBoxError):
        box.open("team/other", sealed)
    with pytest.raises(SecretBoxError):
        box.open("team/db", sealed[:-1] + bytes([sealed[-1] ^ 1]))
    with pytest.raises(SecretBoxError):
        SecretBox(os.urandom(32)).open("team/db", sealed)
    with pytest.raises(SecretBoxError):
        box.open("team/db", b"short")
    with pytest.raises(ValueError):
        SecretBox(b"short key")
