"""Real TLS handshakes over loopback with aiohttp: server_context, client_context,
peer_identity, hostname checks, rotation with a live server and CertReloader."""

from __future__ import annotations

import asyncio
import ssl

import aiohttp
import pytest
from cryptography import x509

from dcos.security import ca
from dcos.security.layout import SecurityDir, rotate
from dcos.security.tls import CertReloader, client_context, server_context
from tests.unit.security.tlsutil import https_server, server_cert_der


async def _get(ctx: ssl.SSLContext, url: str, **kwargs: object) -> object:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as session:
        async with session.get(url, **kwargs) as resp:  # type: ignore[arg-type]
            assert resp.status == 200
            return await resp.json()


async def test_mutual_tls_gives_the_client_identity(shared_sd: SecurityDir) -> None:
    server = server_context(shared_sd, "master")
    assert server.verify_mode == ssl.CERT_OPTIONAL
    assert server.minimum_version >= ssl.TLSVersion.TLSv1_2
    async with https_server(server) as port:
        got = await _get(client_context(shared_sd, "agent"), f"https://127.0.0.1:{port}/whoami")
        assert got == {"principal": "agent", "kind": "agent", "via": "cert"}
        got = await _get(client_context(shared_sd, "alice"), f"https://localhost:{port}/whoami")
        assert got == {"principal": "alice", "kind": "user", "via": "cert"}
        # no client certificate: still served (CERT_OPTIONAL), anonymous
        assert await _get(client_context(shared_sd, None),
                          f"https://127.0.0.1:{port}/whoami") is None


async def test_ipv6_loopback(shared_sd: SecurityDir) -> None:
    async with https_server(server_context(shared_sd, "master"), host="::1") as port:
        got = await _get(client_context(shared_sd, "cli"), f"https://[::1]:{port}/whoami")
        assert got == {"principal": "cli", "kind": "component", "via": "cert"}


async def test_client_checks_hostname_and_ca(shared_sd: SecurityDir, tmp_path) -> None:
    async with https_server(server_context(shared_sd, "master")) as port:
        # the hosts given at issue are SANs too
        assert await _get(client_context(shared_sd, None), f"https://127.0.0.1:{port}/whoami",
                          server_hostname="node1.example") is None
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await _get(client_context(shared_sd, None), f"https://127.0.0.1:{port}/whoami",
                       server_hostname="evil.example")
        # a client trusting another CA refuses the server
        other_ca, _ = ca.new_ca("other")
        bundle = tmp_path / "other.crt"
        bundle.write_bytes(ca.cert_pem(other_ca))
        foreign = ssl.create_default_context(cafile=str(bundle))
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await _get(foreign, f"https://127.0.0.1:{port}/whoami")


async def test_server_refuses_a_client_cert_from_another_ca(shared_sd: SecurityDir,
                                                            tmp_path) -> None:
    other_ca, other_key = ca.new_ca("other")
    cert, key = ca.issue(other_ca, other_key, "admin", kind="user")
    (tmp_path / "c.crt").write_bytes(ca.cert_pem(cert))
    (tmp_path / "c.key").write_bytes(ca.key_pem(key))
    client = client_context(shared_sd, None)
    client.load_cert_chain(tmp_path / "c.crt", tmp_path / "c.key")
    async with https_server(server_context(shared_sd, "master")) as port:
        with pytest.raises(aiohttp.ClientError):
            await _get(client, f"https://127.0.0.1:{port}/whoami")


async def test_rotation_with_a_live_server_and_reloaders(sd: SecurityDir) -> None:
    server = server_context(sd, "master")
    client = client_context(sd, "agent")
    server_reloader = CertReloader(sd, "master", [server], interval_s=0.05)
    client_reloader = CertReloader(sd, "agent", [client], interval_s=0.05)
    old_master = ca.load_cert(sd.cert("master").read_bytes())
    async with https_server(server) as port:
        url = f"https://127.0.0.1:{port}/whoami"
        assert x509.load_der_x509_certificate(await server_cert_der(port, client)) == old_master
        # a client that still presents the old certificate while trusting the bundle
        stale = client_context(sd, "agent")
        server_reloader.start()
        client_reloader.start()
        try:
            rotate(sd.root)
            new_master = ca.load_cert(sd.cert("master").read_bytes())
            for _ in range(100):
                if server_reloader.reloads and client_reloader.reloads:
                    break
                await asyncio.sleep(0.02)
            assert server_reloader.reloads >= 1 and client_reloader.reloads >= 1
            der = await server_cert_der(port, client)
            assert x509.load_der_x509_certificate(der) == new_master
            assert await _get(client, url) == {"principal": "agent", "kind": "agent",
                                               "via": "cert"}
            stale.load_verify_locations(cafile=str(sd.ca_cert))  # the bundle: new + old CA
            assert (await _get(stale, url))["principal"] == "agent"  # type: ignore[index]
        finally:
            await server_reloader.stop()
            await client_reloader.stop()


def test_reloader_retries_a_mismatched_pair(sd: SecurityDir) -> None:
    server = server_context(sd, "master")
    reloader = CertReloader(sd, "master", [server])
    assert reloader.check() is False  # nothing changed
    sd.cert("master").write_bytes(sd.cert("agent").read_bytes())  # cert without its key
    assert reloader.check() is False and reloader.reloads == 0
    rotate(sd.root)
    assert reloader.check() is True and reloader.reloads == 1
