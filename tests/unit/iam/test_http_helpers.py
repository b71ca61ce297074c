"""Pure pieces of the IAM routes: paths, the error body, the failed-login buckets."""

from __future__ import annotations

import orjson

from dcos.iam.limits import FailureBuckets
from dcos.master.http.iam import OPEN_PATHS, PROVIDERS_DOC, error_response, is_iam_path


def test_paths() -> None:
    assert is_iam_path("/acs/api/v1/users") and is_iam_path("/secrets/v1/secret/default/x")
    assert not is_iam_path("/master/state") and not is_iam_path("/acs")
    assert OPEN_PATHS == {"/acs/api/v1/auth/login", "/acs/api/v1/auth/providers"}


def test_error_body() -> None:
    resp = error_response(401, "authentication required")
    assert resp.status == 401 and resp.content_type == "application/json"
    assert resp.body is not None
    assert orjson.loads(resp.body) == {"title": "Unauthorized", "code": "ERR_MISSING_AUTH_HEADER",
                                      "description": "authentication required"}  # fmt: skip


def test_providers_offer_username_password() -> None:
    # what the DC/OS CLI 0.6.1 reads (dcos/auth.py, dcoscli/auth/main.py)
    p = PROVIDERS_DOC["dcos-users"]
    assert p["authentication-type"] == "dcos-uid-password"
    assert p["client-method"] == "dcos-usercredential-post-receive-authtoken"


def test_failed_login_buckets() -> None:
    b = FailureBuckets(rate=1.0, burst=3)
    for _ in range(3):
        assert b.available("bob", 0.0)
        b.consume("bob", 0.0)
    assert not b.available("bob", 0.5) and b.available("alice", 0.5)
    assert b.available("bob", 1.0)
    b.consume("bob", 1.0)
    assert not b.available("bob", 1.5)
    assert b.available("bob", 100.0)
