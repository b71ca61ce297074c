"""The cluster CA and its certificates, in memory (pure `cryptography`, no files).

Called by `dcos.security.layout` (``init_security_dir`` and ``rotate``) to make the CA and the
certificates of masters, agents, frameworks and services; the CLI's ``dcos-py ca show`` reads
certificates back with `load_certs` and `describe`.

Certificates: ECDSA P-256 keys (fast to make and to verify), subject ``CN=<name>, OU=<kind>``
(`dcos.security.tls.peer_identity` reads both back as the principal and its kind), SANs
127.0.0.1, ::1, localhost and the given hosts, usable for both server and client auth.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

DEFAULT_HOSTS = ("127.0.0.1", "::1", "localhost")
CA_DAYS = 3650
CERT_DAYS = 825


def _now(now: float | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC)
    return dt.datetime.fromtimestamp(now, dt.UTC)


def new_key() -> ec.EllipticCurvePrivateKey:
    """A fresh P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def new_ca(common_name: str, *, days: int = CA_DAYS,
           now: float | None = None) -> tuple[x509.Certificate, PrivateKey]:
    """A self-signed CA certificate (path length 0) and its key."""
    key = new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dcos-py")])
    start = _now(now) - dt.timedelta(minutes=5)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def san_entries(hosts: Sequence[str]) -> list[x509.GeneralName]:
    """SubjectAlternativeName entries for DEFAULT_HOSTS + `hosts` (IPs as IP, others as DNS)."""
    out: list[x509.GeneralName] = []
    seen: set[str] = set()
    for host in (*DEFAULT_HOSTS, *hosts):
        host = host.strip().strip("[]")
        if not host or host in seen:
            continue
        seen.add(host)
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            out.append(x509.DNSName(host))
    return out


def issue(ca_cert: x509.Certificate, ca_key: PrivateKey, name: str, *, kind: str,
          hosts: Sequence[str] = (), days: int = CERT_DAYS,
          now: float | None = None) -> tuple[x509.Certificate, PrivateKey]:
    """A certificate for principal `name` of `kind`, signed by the CA, and its new key."""
    if not name or "/" in name:
        raise ValueError(f"bad certificate name {name!r}")
    key = new_key()
    start = _now(now) - dt.timedelta(minutes=5)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, kind),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dcos-py")])
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=True, key_cert_sign=False, crl_sign=False,
                                         encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName(san_entries(hosts)), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert, key


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: PrivateKey) -> bytes:
    """PKCS#8 PEM, unencrypted (the file's mode 0600 protects it)."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_cert(pem: bytes) -> x509.Certificate:
    """The first certificate in `pem`."""
    return x509.load_pem_x509_certificate(pem)


def load_certs(pem: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, in order."""
    return x509.load_pem_x509_certificates(pem)


def load_key(pem: bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"unsupported key type {type(key).__name__}")
    return key


@dataclass(frozen=True)
class CertInfo:
    """What `describe` reads from a certificate (``dcos-py ca show`` prints it)."""

    common_name: str
    kind: str
    hosts: tuple[str, ...]
    not_before: dt.datetime
    not_after: dt.datetime
    serial: int
    issuer: str
    fingerprint_sha256: str


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def describe(cert: x509.Certificate) -> CertInfo:
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        hosts = tuple([str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
                      + list(sans.get_values_for_type(x509.DNSName)))
    except x509.ExtensionNotFound:
        hosts = ()
    return CertInfo(common_name=_attr(cert.subject, NameOID.COMMON_NAME),
                    kind=_attr(cert.subject, NameOID.ORGANIZATIONAL_UNIT_NAME),
                    hosts=hosts, not_before=cert.not_valid_before_utc,
                    not_after=cert.not_valid_after_utc, serial=cert.serial_number,
                    issuer=_attr(cert.issuer, NameOID.COMMON_NAME),
                    fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex())
