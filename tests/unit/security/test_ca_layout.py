from __future__ import annotations

import json
import stat

from cryptography import x509

from dcos.security import ca
from dcos.security.acls import Acls, Action
from dcos.security.layout import SecurityDir, init_security_dir, read_admin_password, rotate


def test_issue_names_kind_and_sans() -> None:
    ca_cert, ca_key = ca.new_ca("test CA")
    cert, key = ca.issue(ca_cert, ca_key, "agent", kind="agent", hosts=["10.0.0.5", "n1"])
    info = ca.describe(cert)
    assert (info.common_name, info.kind, info.issuer) == ("agent", "agent", "test CA")
    assert set(info.hosts) == {"127.0.0.1", "::1", "localhost", "10.0.0.5", "n1"}
    cert.verify_directly_issued_by(ca_cert)
    assert ca.load_cert(ca.cert_pem(cert)) == cert
    assert ca.key_pem(ca.load_key(ca.key_pem(key))) == ca.key_pem(key)


def test_init_makes_every_file_private_keys_0600(shared_sd: SecurityDir) -> None:
    sd = shared_sd
    for path in (sd.ca_key, sd.key("master"), sd.token_key, sd.secrets_key, sd.admin_password):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert len(sd.secrets_key.read_bytes()) == 32
    assert read_admin_password(sd) == "s3cret"
    assert sd.names() == ["agent", "alice", "cli", "master", "webapp"]
    assert ca.describe(ca.load_cert(sd.cert("agent").read_bytes())).kind == "agent"
    creds = json.loads(sd.credentials.read_text())["credentials"]
    assert [c["principal"] for c in creds] == ["batch-driver"] and len(creds[0]["secret"]) >= 24
    assert stat.S_IMODE(sd.credentials.stat().st_mode) == 0o600
    acls = Acls.from_json(json.loads(sd.acls.read_text()))
    assert acls.allows(Action.RUN_TASKS, "admin", "root")
    assert acls.allows(Action.RUN_TASKS, "webapp", "nobody")
    assert not acls.allows(Action.RUN_TASKS, "webapp", "root")
    assert acls.allows(Action.KILL_TASKS, "agent", "x")
    assert not acls.allows(Action.KILL_TASKS, "alice", "x")
    assert acls.allows(Action.REGISTER_FRAMEWORKS, "batch-driver", "*")
    assert acls.allows(Action.RUN_TASKS, "batch-driver", "nobody")
    assert not acls.allows(Action.RUN_TASKS, "batch-driver", "root")
    assert acls.allows(Action.KILL_TASKS, "batch-driver", "batch-driver")
    assert not acls.allows(Action.KILL_TASKS, "batch-driver", "webapp")
    assert not acls.allows(Action.VIEW_TASKS, "batch-driver", "nobody")


def test_init_is_idempotent_and_adds_missing_names(sd: SecurityDir) -> None:
    before = {p.name: p.read_bytes() for p in (sd.ca_cert, sd.token_key, sd.cert("master"))}
    init_security_dir(sd.root, names={"master": "component", "dns": "component"})
    after = {p.name: p.read_bytes() for p in (sd.ca_cert, sd.token_key, sd.cert("master"))}
    assert before == after
    assert "dns" in sd.names()


def test_rotate_bundles_new_and_previous_ca_and_reissues(sd: SecurityDir) -> None:
    old_ca = ca.load_certs(sd.ca_cert.read_bytes())[0]
    old_agent = ca.load_cert(sd.cert("agent").read_bytes())
    names = rotate(sd.root, hosts=["10.1.1.1"])
    assert names == sd.names()
    bundle = ca.load_certs(sd.ca_cert.read_bytes())
    assert len(bundle) == 2 and bundle[1] == old_ca and bundle[0] != old_ca
    agent = ca.load_cert(sd.cert("agent").read_bytes())
    agent.verify_directly_issued_by(bundle[0])
    info = ca.describe(agent)
    assert info.kind == "agent" and {"node1.example", "10.1.1.1"} <= set(info.hosts)
    assert agent.serial_number != old_agent.serial_number
    assert stat.S_IMODE(sd.key("agent").stat().st_mode) == 0o600
    assert not list(sd.certs.glob(".*tmp"))
    rotate(sd.root)  # a second rotation keeps only new + previous
    bundle2 = ca.load_certs(sd.ca_cert.read_bytes())
    assert len(bundle2) == 2 and bundle2[1] == bundle[0]
    assert isinstance(bundle2[0], x509.Certificate)
