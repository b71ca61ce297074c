"""Typed ids of the IAM: `Uid` (a user's or service account's id) and `SecretPath` (a
secret's path in the store), each made only by its parser, which refuses what it must.

Called by `dcos.iam.requests` and the HTTP routes (`dcos.master.http.iam`) on every id taken
from a URL or a body, before anything is read or written.
"""

from __future__ import annotations

import re
from typing import NewType

from dcos.iam.problems import Problem, invalid

Uid = NewType("Uid", str)
SecretPath = NewType("SecretPath", str)

MAX_UID = 96
MAX_SECRET_PATH = 256
_UID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*\Z")
_SECRET_CHARS = re.compile(r"[A-Za-z0-9._/-]+\Z")


def parse_uid(text: object) -> Uid | Problem:
    """A uid: 1 to 96 characters of ``A-Z a-z 0-9 . _ @ -``, starting with a letter or digit."""
    if not isinstance(text, str) or not text:
        return invalid("uid must be a non-empty string")
    if len(text) > MAX_UID:
        return invalid(f"uid is longer than {MAX_UID} characters")
    if not _UID.match(text):
        return invalid(f"invalid uid {text[:MAX_UID]!r}: use letters, digits, '.', '_', '@' "
                       "and '-', starting with a letter or digit")  # fmt: skip
    return Uid(text)


def parse_secret_path(text: object) -> SecretPath | Problem:
    """A secret path such as ``team/db``: segments of ``A-Z a-z 0-9 . _ -`` separated by single
    ``/``; no empty segment (so no leading or trailing ``/``), no ``.`` or ``..`` segment, at
    most 256 characters."""
    if not isinstance(text, str) or not text:
        return invalid("secret path must be a non-empty string")
    if len(text) > MAX_SECRET_PATH:
        return invalid(f"secret path is longer than {MAX_SECRET_PATH} characters")
    shown = text[:MAX_SECRET_PATH]
    if not _SECRET_CHARS.match(text):
        return invalid(f"invalid secret path {shown!r}: use letters, digits, '.', '_', '-' "
                       "and '/' between segments")  # fmt: skip
    for segment in text.split("/"):
        if segment == "":
            return invalid(f"invalid secret path {shown!r}: empty segment (leading, trailing "
                           "or double '/')")  # fmt: skip
        if segment in (".", ".."):
            return invalid(f"invalid secret path {shown!r}: '{segment}' segment")
    return SecretPath(text)


def parse_secret_prefix(text: str) -> SecretPath | None | Problem:
    """The folder of a secrets listing (``team/`` or ``team``): None for the root (empty or
    ``/``), else a valid path without its trailing ``/``."""
    stripped = text[:-1] if text.endswith("/") else text
    if stripped == "":
        return None
    return parse_secret_path(stripped)
