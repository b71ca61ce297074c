"""`IamRuntime` (the master side of the IAM): one service per term of leadership, bootstrap
and the master's own policy loaded at each new term, nothing while not leading."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcos.iam import IamService, load_keys
from dcos.master.http.iam import IamRuntime
from dcos.master.registry_queue import NotLeading
from dcos.security.context import SecurityContext, load_context
from dcos.security.layout import init_security_dir
from dcos.state import MemoryStateStore, Registrar


class Host:
    """Stands in for the master shell: what `IamHost` reads."""

    def __init__(self, security: SecurityContext) -> None:
        self.security: SecurityContext | None = security
        self.registrar: Registrar | None = None
        self.t = 100.0

    def now(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def security_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sec") / "security"
    init_security_dir(root, names={"master": "component"}, admin_password="admin-pw-1")
    return root


async def test_terms(security_root: Path) -> None:
    host = Host(load_context(security_root, "master"))
    rt = IamRuntime(host, load_keys(host.security.dir))  # type: ignore[arg-type, union-attr]
    with pytest.raises(NotLeading):
        await rt.service()  # standby: no store
    store = MemoryStateStore()
    host.registrar = Registrar(store)
    svc = await rt.service()
    assert await rt.service() is svc  # the same term, the same service
    assert await svc.get_user("admin") is not None  # type: ignore[arg-type]
    ctx = host.security
    assert ctx is not None and not ctx.acls.permissive
    assert ctx.acls.allows("manage_iam", "admin", "bob")

    # another master led meanwhile and changed the ACLs and revoked a uid
    other = IamService(store, rt.keys)
    await other.put_acls({"permissive": True})
    await other.revoke_uid("bob", 50.0)  # type: ignore[arg-type]
    assert not ctx.acls.permissive  # not seen before our next term
    host.registrar = Registrar(store)  # elected again: a new term
    svc2 = await rt.service()
    assert svc2 is not svc and ctx.acls.permissive and ctx.revoked.uids == {"bob": 50.0}
    assert await svc2.bootstrap(now=1.0, fallback_acls={}) == []  # bootstrapped once only
    host.registrar = None
    with pytest.raises(NotLeading):
        await rt.service()
