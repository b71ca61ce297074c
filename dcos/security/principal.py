"""Who made a request: `Principal` (a typed id) and `Identity` (principal, kind, how).

Made by `dcos.security.http.authenticate` (token, Basic, client certificate or anonymous) and
by `dcos.security.tls.peer_identity`; read by every shell's handlers through
`dcos.security.http.identity(request)` and handed to `SecurityContext.allows`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NewType

Principal = NewType("Principal", str)

KINDS = ("component", "agent", "framework", "user", "service")


class Via(StrEnum):
    """How an identity was established."""

    CERT = "cert"
    BASIC = "basic"
    TOKEN = "token"
    NONE = "none"


@dataclass(frozen=True)
class Identity:
    """An authenticated (or anonymous) caller.

    kind: "component" | "agent" | "framework" | "user" | "service" | "anonymous".
    """

    principal: Principal | None
    kind: str
    via: Via
    jti: str | None = None  # the token's id when via is TOKEN (logout revokes it)

    @property
    def authenticated(self) -> bool:
        return self.principal is not None

    def __str__(self) -> str:
        if self.principal is None:
            return "anonymous"
        return f"{self.principal} ({self.kind} via {self.via})"


ANONYMOUS = Identity(principal=None, kind="anonymous", via=Via.NONE)
