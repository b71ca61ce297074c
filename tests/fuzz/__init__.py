"""Bounded fuzz of every HTTP API of dcos-py (part of ``make test``; about 20 s).

Each API gets a few hundred generated bad requests (hypothesis, derandomized: the same
requests every run) against the real server running in-process on loopback: the master
(scheduler, operator, internal agent channel, GETs), the agent (executor API as a stranger and
with a real executor's token, files, GETs), the webapp (/v2 apps, groups, tasks, deployments,
queue, event subscriptions ...), the DNS HTTP API, the batch dispatcher, an executor's shuffle
server and a driver's job page. A test fails on any 5xx, on a request not answered within
5 s (hang), on a dropped connection or a server that stops accepting them (crash), when a
refused request changed what the test protects, or when the server no longer serves a normal
request afterwards. ``tests/fuzz/test_regressions.py`` holds the reproductions of the defects
the fuzz found.

``tests/fuzz/openapi`` is the other half: schemathesis against each API's own OpenAPI
description (``GET /openapi.json``) on one real `dcos-py up` cluster (about 50 s); longer runs
there: ``DCOS_OPENAPI_EXAMPLES=50 DCOS_OPENAPI_COVERAGE=-1``.

Longer runs: ``DCOS_FUZZ_SCALE=10`` (ten times the requests), ``DCOS_FUZZ_EXPLORE=1`` (new
requests each run instead of the fixed ones). A failure names the request, the answer and the
server's traceback; hypothesis shrinks it to a small failing request.
"""
