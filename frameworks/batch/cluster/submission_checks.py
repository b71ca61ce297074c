"""Which submissions the batch dispatcher accepts (sans-IO but for `os.path.realpath`).

Called by: `frameworks.batch.cluster.dispatcher.Dispatcher` for every ``POST /v1/submissions``,
before anything is stored or launched.

A driver is code run on the cluster, so the dispatcher runs only code the submission ships:
``{"script": "job.py", "script_content": "<the program>"}`` (what ``dcos-py batch submit``
sends; `script` is then a bare file name). A submission may instead name a script on the
dispatcher's host by absolute path only when that path lies in a file or directory the
dispatcher was started with (``--allow-scripts DIR[:FILE...]``; symbolic links are resolved
first): anything else, ``/etc/passwd`` included, is refused with 403 before the path is even
looked at, so the API tells nothing about the host's files. Other bad fields are 400. An
optional ``user`` names the user the driver task runs as (security on: the submitter needs
``run_tasks`` for it, and the master checks the dispatcher's own ``run_tasks``).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_NAME = 255  # a file name (and a submission name) fits one path component
MAX_SCRIPT_BYTES = 4 * 1024 * 1024
MAX_ARGS = 10_000
USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$")  # the driver task's user (optional)


@dataclass(frozen=True)
class Refusal:
    """Why a submission is refused, and the HTTP status that says it (400 or 403)."""

    status: int
    message: str


@dataclass(frozen=True)
class ScriptPolicy:
    """The host scripts a submission may name: files, or anything under directories."""

    allowed: tuple[Path, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> ScriptPolicy:
        """``--allow-scripts`` (paths separated by ``:``; empty: none) -> a policy."""
        return cls.of(p for p in (text or "").split(os.pathsep) if p.strip())

    @classmethod
    def of(cls, paths: Iterable[str | Path]) -> ScriptPolicy:
        return cls(tuple(Path(os.path.realpath(Path(p).expanduser())) for p in paths))

    def allows(self, script: str) -> bool:
        """Whether the absolute host path `script` (resolved) is one allowed or under one."""
        real = Path(os.path.realpath(script))
        return any(real == a or a in real.parents for a in self.allowed)


def _bad_name(name: Any) -> str | None:
    if not isinstance(name, str) or not name:
        return "script must be a file name"
    if "/" in name or "\0" in name or name in (".", "..") or len(name.encode()) > MAX_NAME:
        return f"script {name[:80]!r} must be a plain file name (no '/', at most {MAX_NAME} bytes)"
    return None


def _check_script(body: dict[str, Any], policy: ScriptPolicy) -> Refusal | None:
    script, content = body.get("script"), body.get("script_content")
    if content is not None:
        if not isinstance(content, str):
            return Refusal(400, "script_content must be the script's text")
        if len(content.encode("utf-8", "surrogatepass")) > MAX_SCRIPT_BYTES:
            return Refusal(400, f"script_content is over {MAX_SCRIPT_BYTES} bytes")
        why = _bad_name(script)
        return Refusal(400, why) if why else None
    if not isinstance(script, str) or not script or "\0" in script:
        return Refusal(400, "script must be a file name (with script_content) or a path")
    if not os.path.isabs(script) or not policy.allows(script):
        return Refusal(403, f"script {script[:200]} is not allowed: send its content "
                       "(script_content, as `dcos-py batch submit` does) or start the "
                       "dispatcher with --allow-scripts covering it")
    if not os.path.isfile(script):
        return Refusal(400, f"script {script[:200]} does not exist")
    return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_submission(body: Any, policy: ScriptPolicy) -> Refusal | None:
    """Why the body of ``POST /v1/submissions`` is refused, or None when it is acceptable."""
    if not isinstance(body, dict):
        return Refusal(400, "the body must be a JSON object")
    refused = _check_script(body, policy)
    if refused is not None:
        return refused
    args = body.get("args", [])
    if not isinstance(args, list) or len(args) > MAX_ARGS or not all(
            isinstance(a, str) or _number(a) for a in args):
        return Refusal(400, "args must be a list of strings")
    conf = body.get("conf", {})
    if not isinstance(conf, dict) or not all(
            isinstance(v, str | bool) or _number(v) for v in conf.values()):
        return Refusal(400, "conf must be an object of spark.* settings")
    for key in ("driver_cpus", "driver_mem"):
        if key in body and not (_number(body[key]) and body[key] > 0):
            return Refusal(400, f"{key} must be a positive number")
    name = body.get("name")
    if name is not None and not (isinstance(name, str) and len(name) <= MAX_NAME):
        return Refusal(400, f"name must be a string of at most {MAX_NAME} characters")
    user = body.get("user")
    if user is not None and not (isinstance(user, str) and (not user or USER.match(user))):
        return Refusal(400, "user must be a user name (letters, digits, '_', '-', '.')")
    return None
