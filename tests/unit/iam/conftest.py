"""Fixtures of the IAM core's tests: keys made in memory, a MemoryStateStore."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dcos.iam import IamKeys, IamService
from dcos.security.acls import default_acls
from dcos.security.secretbox import SecretBox
from dcos.security.tokens import TokenIssuer, TokenVerifier
from dcos.state import MemoryStateStore

ADMIN_PASSWORD = "admin-pw-123"


@pytest.fixture(scope="session")
def rsa_pems() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


@pytest.fixture
def verifier(rsa_pems: tuple[bytes, bytes]) -> TokenVerifier:
    return TokenVerifier(rsa_pems[1])


@pytest.fixture
def keys(rsa_pems: tuple[bytes, bytes]) -> IamKeys:
    acls = default_acls(admins=["admin"], components=["master", "webapp"], task_users=["nobody"])
    return IamKeys(TokenIssuer(rsa_pems[0]), SecretBox(os.urandom(32)), ADMIN_PASSWORD, acls)


@pytest.fixture
def store() -> MemoryStateStore:
    return MemoryStateStore()


@pytest.fixture
async def svc(store: MemoryStateStore, keys: IamKeys) -> IamService:
    s = IamService(store, keys)
    await s.bootstrap(now=1000.0, fallback_acls={"permissive": False})
    return s
