"""What the OpenAPI fuzz modules share: the cluster they attack (`start_cluster`), loading an
API's description from its process (`load`), the bounded hypothesis settings (`SETTINGS`) and
the per-request check (`check`).

Every module does the same: ``fuzz(load(up_cluster.webapp, exclude=[...]), session)``, then
`alive`. (schemathesis' pytest plugin is not used: its lazy ``from_fixture`` schemas fail on
pytest 9, and the descriptions are only known once the cluster runs.)
"""

from __future__ import annotations

import contextlib
import os
import queue
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import GenerationConfig
from schemathesis.generation.modes import GenerationMode

from tests.e2e.up_process import UpProcess, up_ports

TIMEOUT_S = 5.0  # no answer by then: a hang
EXAMPLES = int(os.environ.get("DCOS_OPENAPI_EXAMPLES", "5"))  # per operation and mode
# schemathesis' coverage cases per operation (boundary values, missing or mistyped fields);
# -1: all of them (a few thousand for the master and the webapp)
COVERAGE = int(os.environ.get("DCOS_OPENAPI_COVERAGE", "4"))
UP_TIMEOUT_S = 90.0
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]  # fmt: skip

SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=timedelta(seconds=3 * TIMEOUT_S),
    phases=(Phase.explicit, Phase.generate),  # no shrinking: a failure names its request
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


@dataclass
class Cluster:
    """The running `dcos-py up` and its components' base URLs."""

    up: UpProcess
    master: str
    agent: str
    webapp: str
    package: str
    gateway: str
    batch: str
    dns_http: str
    session: requests.Session
    pids: dict[str, int]  # the components' pids once ready (a restart changes one)


def start_cluster(work: Path) -> Cluster:
    """`dcos-py up --agents 1` in `work` on quiet ports, ready ("cluster ready")."""
    ports = up_ports(1)
    # task ports of its own, apart from any other local cluster's (as tests/packages)
    os.environ["DCOS_UP_TASK_PORTS_BASE"] = str(random.randrange(61000, 62500))
    try:
        up = UpProcess(ports.args(), work)
    finally:
        os.environ.pop("DCOS_UP_TASK_PORTS_BASE", None)
    try:
        up.wait_for("cluster ready", timeout=UP_TIMEOUT_S)
    except BaseException:
        up.cleanup()
        raise
    url = ports.url
    return Cluster(up=up, master=url(ports.master), agent=url(ports.agent),
                   webapp=url(ports.webapp), package=url(ports.package),
                   gateway=url(ports.gateway), batch=url(ports.batch),
                   dns_http=url(ports.dns_http), session=requests.Session(),
                   pids=up.pids())  # fmt: skip


def _streaming_call(case: Any) -> bool:
    calls = case.operation.definition.raw.get("x-dcos-streaming-calls", [])
    return isinstance(case.body, dict) and case.body.get("type") in calls


def load(base_url: str, *, exclude: Iterable[tuple[str, str]] = ()) -> list[Any]:
    """The operations of the description served at `base_url`/openapi.json, minus the
    streaming ones (``x-dcos-streaming``) and the (method, path) pairs in `exclude`."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", timeout=TIMEOUT_S)
    skipped = {(m.upper(), p) for m, p in exclude}
    ops = []
    for result in schema.get_all_operations():
        op = cast(Any, result).ok()  # an Err (a broken description) raises here
        if op.definition.raw.get("x-dcos-streaming") or (op.method.upper(), op.path) in skipped:
            continue
        ops.append(op)
    return ops


def _coverage_cases(op: Any, limit: int) -> list[Any]:
    """Up to `limit` of schemathesis' coverage cases of `op` (boundary values, missing and
    wrongly typed fields, positive and negative), spread evenly over all of them; -1: all."""
    cases = [c for c in op.schema.iter_coverage_cases(
        op, generation_modes=list(GenerationMode), generation_config=GenerationConfig())
        if not _streaming_call(c)]  # fmt: skip
    if limit < 0 or len(cases) <= limit:
        return cases
    step = len(cases) / limit
    return [cases[int(i * step)] for i in range(limit)]


def fuzz(api: str, ops: Iterable[Any], session: requests.Session, examples: int = EXAMPLES,
         prepare: Callable[[Any], Any] | None = None) -> None:
    """For each operation, `examples` positive and `examples` negative generated requests
    (never a body whose ``type`` is one of the operation's ``x-dcos-streaming-calls``), each
    checked by `check` (after `prepare(case)`, which may make a request harmless: the
    webapp's app bodies get ``instances: 0``); fails with every failing operation's first
    failure."""
    failures: list[str] = []
    counts = COUNTS.setdefault(api, {})
    for op in ops:
        for case in _coverage_cases(op, COVERAGE):
            try:
                _send(api, counts, op, prepare(case) if prepare else case, session)
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - reported below
                failures.append(f"{op.method.upper()} {op.path} (coverage): {_describe(exc)}")
                break
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz_one(api, counts, op, mode, session, examples, prepare)
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                continue
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - reported below
                failures.append(f"{op.method.upper()} {op.path} ({mode.value}): {_describe(exc)}")
    assert not failures, f"{len(failures)} failing operations:\n\n" + "\n\n".join(failures)


COUNTS: dict[str, dict[str, int]] = {}  # API -> operation -> requests sent (the summary)
STATUSES: dict[str, Counter[int]] = {}  # API -> answers by status


def _describe(exc: BaseException) -> str:
    """A failure in a few lines: each of a group's failures, cut short."""
    parts = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
    notes = "\n".join(getattr(exc, "__notes__", []))
    return "\n  ".join(f"{type(e).__name__}: {str(e)[:1200]}" for e in parts) + "\n" + notes


def _fuzz_one(api: str, counts: dict[str, int], op: Any, mode: GenerationMode, session: requests.Session,
              examples: int, prepare: Callable[[Any], Any] | None) -> None:  # fmt: skip
    strategy = op.as_strategy(mode).filter(lambda c: not _streaming_call(c))
    if prepare is not None:
        strategy = strategy.map(prepare)

    @settings(SETTINGS, max_examples=examples)
    @given(case=strategy)
    def run(case: Any) -> None:
        _send(api, counts, op, case, session)

    run()


def _send(api: str, counts: dict[str, int], op: Any, case: Any,
          session: requests.Session) -> None:  # fmt: skip
    counts[op.label] = counts.get(op.label, 0) + 1
    status = check(case, session)
    STATUSES.setdefault(api, Counter())[status] += 1


def check(case: Any, session: requests.Session | None = None) -> int:
    """Send `case` and apply `CHECKS`; a request without an answer in `TIMEOUT_S` raises. An
    empty answer with a status the operation lists in ``x-dcos-empty-answers`` (the Mesos
    operator writes: 200 and no body, where the reads answer JSON) gets the status checks
    only. A failure carries the request and the answer (status, type, start of the body)."""
    response = case.call(session=session, timeout=TIMEOUT_S)
    empty_ok = case.operation.definition.raw.get("x-dcos-empty-answers", [])
    checks = CHECKS if response.content or response.status_code not in empty_ok else CHECKS[:2]
    try:
        case.validate_response(response, checks=checks)
    except BaseException as exc:
        ctype = next((v for k, v in response.headers.items() if k.lower() == "content-type"), None)
        exc.add_note(f"request: {case.method} {response.request.url} "
                     f"body={str(case.body)[:300]}\nanswer: {response.status_code} {ctype} "
                     f"{response.text[:300]!r}")
        raise
    return int(response.status_code)


def alive(cluster: Cluster, url: str) -> None:
    """After a module's requests: the process at `url` still answers, and no component of the
    cluster exited since it started (`dcos-py up` restarts a crashed one: its pid changes,
    and up prints "<name> exited with code N")."""
    resp = requests.get(f"{url}/openapi.json", timeout=TIMEOUT_S)
    assert resp.status_code == 200, f"{url}: {resp.status_code}"
    cluster.up.note_family()
    exits = [line for line in _printed(cluster.up) if " exited with code " in line]
    assert not exits, "components exited:\n" + "".join(exits)
    changed = {k: v for k, v in cluster.up.pids().items() if cluster.pids.get(k) != v}
    assert not changed, f"components restarted (new pids): {changed}"


def _printed(up: UpProcess) -> list[str]:
    """What `up` printed since it was last read (without waiting)."""
    lines = []
    with contextlib.suppress(queue.Empty):
        while (line := up._lines.get_nowait()) is not None:
            lines.append(line)
    up.seen += lines
    return lines
