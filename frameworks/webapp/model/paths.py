"""Marathon path ids (apps and groups): resolution and validation (pure).

Called by the app and group models (`frameworks.webapp.model.app.normalize`,
`frameworks.webapp.model.group.flatten_group`) for ids in request bodies, and by the API
routers for ids in URL paths (`url_id_errors`). As in Marathon, each segment must match
`SEGMENT` (lowercase letters, digits, dashes, dots; a letter or digit at both ends). Unlike
Marathon, ``.`` and ``..`` are refused in ids wherever they are taken (``PUT
/v2/apps/../../etc/passwd`` must not create ``/etc/passwd``); dependencies, which name other
apps, may still be relative (``../db``). An id is at most `MAX_ID_LENGTH` characters: task ids
(``<id with _>.<uuid>``) and the agent's sandbox directory names are built from it and a file
name has at most 255 bytes.
"""

from __future__ import annotations

import re

SEGMENT = re.compile(r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$")
# task id = id without its leading slash, "/" -> "_", + "." + a 36-character uuid <= 255 bytes
MAX_ID_LENGTH = 200


def absolute(path: str, base: str = "/") -> str:
    """A Marathon path made absolute against `base`; doubled slashes and a trailing one go,
    ``.`` and ``..`` are resolved (used for dependencies and look-ups; ids are checked with
    `id_errors` first, which refuses them)."""
    if not path.startswith("/"):
        path = base.rstrip("/") + "/" + path
    parts: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts:
                parts.pop()
            continue
        parts.append(seg)
    return "/" + "/".join(parts)


def path_errors(path: str) -> list[str]:
    """Why `path` (as given: absolute or relative, not resolved) is not a valid Marathon id;
    [] when it is."""
    segs = [s for s in path.split("/") if s]
    if not segs:
        return ["path must not be empty or the root group"]
    dots = [s for s in segs if s in (".", "..")]
    if dots:
        return [f"'{dots[0]}' is not allowed in an id: name the app or group by its own path"]
    bad = [s for s in segs if not SEGMENT.match(s)]
    if bad:
        shown = bad[0] if len(bad[0]) <= 64 else bad[0][:64] + "..."
        return [
            f"'{shown}' is not a valid path segment: use lowercase letters, digits, dashes "
            "and dots; start and end with a letter or digit"
        ]
    return []


def id_errors(raw: str, base: str = "/") -> tuple[str, list[str]]:
    """(`raw` made absolute against `base`, why it is not a valid app or group id)."""
    errs = path_errors(raw)
    resolved = absolute(raw, base)
    if not errs and len(resolved) > MAX_ID_LENGTH:
        errs = [f"id is {len(resolved)} characters long; at most {MAX_ID_LENGTH} are allowed "
                "(task ids and sandbox directory names are built from it)"]
    return resolved, errs


def url_id_errors(segments: list[str]) -> list[str]:
    """Why the id named by a URL's path segments cannot be created or changed ([] when it
    can): ``.`` and ``..`` (which would name another path), or an invalid id."""
    if not segments:
        return []
    return id_errors("/" + "/".join(segments))[1]
