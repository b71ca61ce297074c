"""DNS names for Marathon app ids (Mesos-DNS's rules, RFC 1123 labels).

Called by: `dcos.dns.records` when it builds the record table, and by anyone who needs to know
the name an app gets (`app_label("/shop/web") == "web-shop"`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re

MAX_LABEL = 63
MAX_NAME = 253
_INVALID = re.compile(r"[^a-z0-9-]+")
_DASHES = re.compile(r"-{2,}")


def sanitize_label(text: str) -> str:
    """One RFC 1123 label from any text: lowercase, letters/digits/dashes only (anything else
    becomes a dash), no leading or trailing dash, at most 63 characters. A label that had to be
    cut keeps a short hash of the whole text so two long names do not collide. "" when nothing
    usable is left."""
    label = _DASHES.sub("-", _INVALID.sub("-", text.lower())).strip("-")
    if len(label) <= MAX_LABEL:
        return label
    digest = hashlib.sha1(label.encode()).hexdigest()[:6]
    return label[: MAX_LABEL - 7].rstrip("-") + "-" + digest


def app_label(app_id: str) -> str:
    """The DNS label of a Marathon app id: its path segments reversed and joined with dashes
    (`/shop/web` -> `web-shop`, `/a/b/c` -> `c-b-a`), then sanitised (`sanitize_label`)."""
    parts = [p for p in app_id.split("/") if p]
    return sanitize_label("-".join(reversed(parts)))


def host_label(host: str) -> str:
    """A label for an agent host (hostname or IP): `10.0.0.5` -> `10-0-0-5`,
    `node-a.example.com` -> `node-a-example-com`."""
    return sanitize_label(host.replace(".", "-").replace(":", "-"))


def is_ip(text: str) -> bool:
    """True for an IPv4 literal (A records carry IPv4 only)."""
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv4Address)
    except ValueError:
        return False


def normalize(name: str) -> str:
    """A query name as the table keys it: lowercase, no trailing dot."""
    return name.strip().rstrip(".").lower()
