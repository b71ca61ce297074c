"""`Problem`: a refused IAM or secrets request, in the DC/OS IAM error format.

Made by every operation of `dcos.iam` that can be refused (bad input, unknown user, wrong
password, a path that exists...) and returned, never raised; `dcos.master.http.iam` turns it
into the HTTP answer ``{"title", "description", "code"}`` with its status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any


@dataclass(frozen=True)
class Problem:
    """`status` (HTTP), `code` (DC/OS style ``ERR_...``), `description` (one line for people),
    `extra` (more keys of the body, e.g. ``missing``)."""

    status: int
    code: str
    description: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        try:
            return HTTPStatus(self.status).phrase
        except ValueError:
            return "Error"

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "description": self.description, "code": self.code,
                **self.extra}  # fmt: skip


def invalid(description: str) -> Problem:
    """400: the request's data is not what the endpoint takes."""
    return Problem(400, "ERR_INVALID_DATA", description)


def unauthorized(description: str, code: str = "ERR_INVALID_CREDENTIALS") -> Problem:
    return Problem(401, code, description)


def forbidden(description: str) -> Problem:
    return Problem(403, "ERR_FORBIDDEN", description)


def not_found(description: str, code: str) -> Problem:
    return Problem(404, code, description)


def conflict(description: str, code: str) -> Problem:
    return Problem(409, code, description)


def too_large(description: str) -> Problem:
    return Problem(413, "ERR_REQUEST_TOO_LARGE", description)


def unavailable(description: str) -> Problem:
    return Problem(503, "ERR_SERVICE_UNAVAILABLE", description)
