"""`dcos-py ca rotate` on the running secure cluster (issue 13): a new CA and new
certificates, picked up by every component without a restart; a task started before keeps
running, and the components keep talking (a new app is launched through webapp -> master ->
agent over the new certificates). Runs last in tests/security (it changes the CA)."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import uuid

from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.e2e.up_process import cli
from tests.security.conftest import SecureCluster
from tests.security.test_attacks import app_body, remove_app, running_tasks


def issuer_of(port: int, ca: str) -> str:
    """The issuer CN of the certificate the server on `port` presents now."""
    ctx = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        der = s.getpeercert(binary_form=True)
    assert der is not None
    name = x509.load_der_x509_certificate(der).issuer
    return str(name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def test_rotate_while_running_keeps_tasks_and_traffic(secure_cluster: SecureCluster) -> None:
    c = secure_cluster
    before_id = "/rot/before-" + uuid.uuid4().hex[:6]
    assert c.admin.post(c.webapp + "/v2/apps", json=app_body(before_id, "sleep 1000"),
                        timeout=10).status_code == 201
    after_id = "/rot/after-" + uuid.uuid4().hex[:6]
    try:
        task = c.wait_for("a task before the rotation", lambda: running_tasks(c, before_id),
                          30)[0]
        env = {**os.environ, "DCOS_PY_HOME": str(c.home)}
        done = subprocess.run([*cli(), "ca", "rotate", "--work-dir", str(c.work), "--json"],
                              capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        new_ca = x509.load_pem_x509_certificates(c.ca.read_bytes())[0]
        new_cn = str(new_ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
        ports = {"master": c.ports.master, "agent-0": c.ports.agent,
                 "agent-1": c.ports.agent + 1, "webapp": c.ports.webapp,
                 "package": c.ports.package, "gateway": c.ports.gateway,
                 "dns": c.ports.dns_http}
        for name, port in ports.items():
            c.wait_for(f"{name} to present a certificate of the new CA",
                       lambda port=port: issuer_of(port, str(c.ca)) == new_cn, 15)  # type: ignore[misc]
        # the components talk over the new certificates: a new app goes all the way
        assert c.admin.post(c.webapp + "/v2/apps", json=app_body(after_id, "sleep 1000"),
                            timeout=10).status_code == 201
        c.wait_for("a task launched after the rotation", lambda: running_tasks(c, after_id), 30)
        assert [t["id"] for t in running_tasks(c, before_id)] == [task["id"]]
        # the CLI (the cluster up saved: ssl_verify = ca.crt) follows as well
        nodes = subprocess.run([*cli(), "node", "list", "--json"], capture_output=True,
                               text=True, env=env, timeout=30)
        assert nodes.returncode == 0, nodes.stderr
    finally:
        remove_app(c, before_id)
        remove_app(c, after_id)
