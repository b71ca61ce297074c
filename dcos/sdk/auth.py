"""How a driver authenticates itself: `Credentials` (principal and secret), sent as HTTP
basic authentication, as Mesos' HTTP framework and executor authentication expects
(``Authorization: Basic base64(principal:secret)`` on SUBSCRIBE and on every call).

Pass ``credentials=Credentials("my-principal", "s3cret")`` to `SchedulerDriver` or
`ExecutorDriver`; with it the scheduler driver also sets ``framework_info.principal`` when the
FrameworkInfo has none. TLS: pass ``ssl=`` an `ssl.SSLContext` (or ``False`` to skip
verification) and use an ``https://`` master address (with an `SSLContext`, ``host:port`` and
``zk://`` masters are https too); or pass your own aiohttp ``session``. A context holding a
client certificate (``dcos.security.tls.client_context(security_dir, name)``) authenticates
the framework by that certificate instead (mutual TLS; no credentials needed): the master
takes the certificate's name as the principal. An `ExecutorDriver` speaks https to its agent
when the agent's environment names the cluster CA (``DCOS_CA_FILE``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Credentials:
    principal: str
    secret: str = field(repr=False)

    def authorization(self) -> str:
        """The ``Authorization`` header value."""
        raw = f"{self.principal}:{self.secret}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def auth_headers(credentials: Credentials | None) -> dict[str, str]:
    """``{"Authorization": ...}`` for `credentials`, or nothing; called by both drivers when
    they build a request's headers."""
    if credentials is None:
        return {}
    return {"Authorization": credentials.authorization()}
