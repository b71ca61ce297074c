"""Framework credentials: the Mesos ``--credentials`` file (principal + secret).

Loaded by `dcos.security.context.load_context` from <dir>/credentials.json; checked by
`dcos.security.http.authenticate` when a request carries ``Authorization: Basic ...`` (a
framework's principal and secret, as Mesos' ``--authenticate_frameworks``).

Formats accepted (as Mesos): JSON ``{"credentials": [{"principal": "p", "secret": "s"}]}``,
or text lines ``principal secret``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dcos.security.principal import Principal


class Credentials:
    """principal -> secret; `check` compares in constant time."""

    def __init__(self, secrets: Mapping[str, str] | None = None) -> None:
        self._secrets: dict[str, str] = dict(secrets or {})

    @classmethod
    def from_json(cls, doc: Any) -> Credentials:
        if not isinstance(doc, Mapping) or not isinstance(doc.get("credentials", []), list):
            raise ValueError('credentials: expected {"credentials": [{"principal", "secret"}]}')
        out: dict[str, str] = {}
        for i, item in enumerate(doc.get("credentials", [])):
            if (not isinstance(item, Mapping) or not isinstance(item.get("principal"), str)
                    or not isinstance(item.get("secret", ""), str) or not item["principal"]):
                raise ValueError(f"credentials[{i}]: needs a principal and a secret (strings)")
            out[item["principal"]] = item.get("secret", "")
        return cls(out)

    @classmethod
    def parse(cls, text: str) -> Credentials:
        stripped = text.strip()
        if stripped.startswith("{"):
            return cls.from_json(json.loads(stripped))
        out: dict[str, str] = {}
        for line in stripped.splitlines():
            parts = line.split(None, 1)
            if len(parts) == 2:
                out[parts[0]] = parts[1].strip()
        return cls(out)

    @classmethod
    def load(cls, path: Path) -> Credentials:
        """The file at `path`; empty when it does not exist."""
        p = Path(path)
        return cls.parse(p.read_text()) if p.is_file() else cls()

    def to_json(self) -> dict[str, Any]:
        return {"credentials": [{"principal": p, "secret": s}
                                for p, s in sorted(self._secrets.items())]}

    def principals(self) -> list[Principal]:
        return [Principal(p) for p in sorted(self._secrets)]

    def check(self, principal: str, secret: str) -> bool:
        expected = self._secrets.get(principal)
        if expected is None:
            hmac.compare_digest(secret.encode(), secret.encode())  # same work either way
            return False
        return hmac.compare_digest(expected.encode(), secret.encode())
