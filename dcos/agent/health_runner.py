"""The asyncio shell of health checks: runs each task's probes and feeds `HealthChecker`.

`HealthRunner` is owned by the agent shell (`dcos.agent.agent.Agent`): it calls `start` when a
task with a ``health_check`` reaches TASK_RUNNING and `stop` when its container ends; `close`
when the agent stops. Each task gets one asyncio task that sleeps (on the agent's `Clock`)
until its next check, runs the probe, and hands the decisions to two callbacks given by the
agent: ``on_changed(container_id, healthy)`` and ``on_kill(container_id, message)``.

Probes never block the event loop and never outlive their timeout: a COMMAND check runs
``/bin/sh -c`` in the task's sandbox with the task's environment, in its own process group
that is SIGKILLed at the timeout, inside the task's container when the agent gives a `wrap`
(the containerizer's launch wrapper: the task's cgroups and limits); HTTP uses aiohttp to ``127.0.0.1:port`` (certificates are
not verified, as Mesos' curl -k); TCP opens and closes a connection. A timeout is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from typing import Any

import aiohttp

from dcos.agent.health import COMMAND, HTTP, HealthChanged, HealthChecker, HealthCheckSpec
from dcos.common.clock import Clock, RealClock
from dcos.protocol.ids import ContainerID

log = logging.getLogger(__name__)


def _os_reason(exc: BaseException) -> str:
    inner = getattr(exc, "os_error", None) or exc
    number = getattr(inner, "errno", None)
    if isinstance(number, int) and number > 0:
        return os.strerror(number)
    text = getattr(inner, "strerror", None) or str(inner) or type(inner).__name__
    return str(text).splitlines()[0]


def _timeout_text(seconds: float) -> str:
    return f"timed out after {seconds:g}s"


Wrap = Callable[[ContainerID, list[str], dict[str, str]], tuple[list[str], dict[str, str]]]


async def probe_command(
    spec: HealthCheckSpec,
    sandbox: str,
    env: dict[str, str],
    wrap: Callable[[list[str], dict[str, str]], tuple[list[str], dict[str, str]]] | None = None,
) -> tuple[bool, str]:
    """Run the check command; (ok, detail). Its whole process group dies at the timeout.
    `wrap` turns (argv, env) into what runs it inside the task's container."""
    value = str(spec.command.get("value"))
    shell = spec.command.get("shell", True)
    argv = (
        ["/bin/sh", "-c", value]
        if shell is None or shell
        else [value] + [str(a) for a in (spec.command.get("arguments") or [])[1:]]
    )
    check_env = dict(env)
    for var in ((spec.command.get("environment") or {}).get("variables")) or []:
        if isinstance(var, dict) and isinstance(var.get("name"), str):
            check_env[var["name"]] = str(var.get("value", ""))
    if wrap is not None:
        argv, check_env = wrap(argv, check_env)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, cwd=sandbox if os.path.isdir(sandbox) else None,
            env=check_env, start_new_session=True,
        )  # fmt: skip
    except OSError as exc:
        return False, f"could not start: {_os_reason(exc)}"
    try:
        code = await asyncio.wait_for(proc.wait(), spec.timeout)
    except (TimeoutError, asyncio.CancelledError) as exc:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            await asyncio.shield(proc.wait())
        if isinstance(exc, asyncio.CancelledError):
            raise
        return False, _timeout_text(spec.timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # whatever the check left running
    if code == 0:
        return True, "exited with status 0"
    if code < 0:
        return False, f"terminated by signal {-code}"
    return False, f"exited with status {code}"


async def probe_http(spec: HealthCheckSpec, session: aiohttp.ClientSession) -> tuple[bool, str]:
    url = f"{spec.scheme}://127.0.0.1:{spec.port}{spec.path}"
    try:
        async with asyncio.timeout(spec.timeout):
            async with session.get(url, ssl=False, allow_redirects=False) as resp:
                status = resp.status
                await resp.read()
    except TimeoutError:
        return False, _timeout_text(spec.timeout)
    except (aiohttp.ClientError, OSError) as exc:
        return False, f"failed: {_os_reason(exc)}"
    return spec.http_ok(status), f"returned {status}"


async def probe_tcp(spec: HealthCheckSpec) -> tuple[bool, str]:
    try:
        async with asyncio.timeout(spec.timeout):
            _, writer = await asyncio.open_connection("127.0.0.1", spec.port)
    except TimeoutError:
        return False, _timeout_text(spec.timeout)
    except OSError as exc:
        return False, f"failed: {_os_reason(exc)}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, "connected"


class HealthRunner:
    def __init__(
        self,
        on_changed: Callable[[ContainerID, bool], None],
        on_kill: Callable[[ContainerID, str], None],
        clock: Clock | None = None,
        wrap: Wrap | None = None,
    ) -> None:
        """`wrap(container_id, argv, env)`: how a COMMAND check runs inside its container."""
        self.wrap = wrap
        self.on_changed = on_changed
        self.on_kill = on_kill
        self.clock: Clock = clock or RealClock()
        self.checkers: dict[ContainerID, HealthChecker] = {}
        self._loops: dict[ContainerID, asyncio.Task[Any]] = {}
        self._session: aiohttp.ClientSession | None = None

    def start(
        self,
        container_id: ContainerID,
        spec: HealthCheckSpec,
        sandbox: str,
        env: dict[str, str],
        started_at: float | None = None,
        healthy: bool | None = None,
    ) -> HealthChecker:
        """Begin checking a running task (``started_at`` defaults to now). `healthy`: the
        verdict already reported (a task recovered after an agent restart), not repeated."""
        self.stop(container_id)
        checker = HealthChecker(spec, self.clock.time() if started_at is None else started_at)
        if healthy is not None:
            checker.healthy = healthy
            checker.ever_healthy = checker.ever_healthy or healthy
        self.checkers[container_id] = checker
        self._loops[container_id] = asyncio.ensure_future(
            self._loop(container_id, checker, sandbox, env)
        )
        return checker

    def stop(self, container_id: ContainerID) -> None:
        """Stop checking (the task ended); idempotent."""
        self.checkers.pop(container_id, None)
        loop_task = self._loops.pop(container_id, None)
        if loop_task is not None:
            loop_task.cancel()

    async def close(self) -> None:
        loops = list(self._loops.values())
        for cid in list(self._loops):
            self.stop(cid)
        await asyncio.gather(*loops, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def probe(
        self, spec: HealthCheckSpec, sandbox: str, env: dict[str, str],
        container_id: ContainerID | None = None,
    ) -> tuple[bool, str]:  # fmt: skip
        if spec.kind == COMMAND:
            outer = self.wrap
            if outer is None or container_id is None:
                return await probe_command(spec, sandbox, env)
            cid = container_id
            return await probe_command(spec, sandbox, env, lambda a, e: outer(cid, a, e))
        if spec.kind == HTTP:
            if self._session is None:
                self._session = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(force_close=True, limit=0)
                )
            return await probe_http(spec, self._session)
        return await probe_tcp(spec)

    async def _loop(
        self, cid: ContainerID, checker: HealthChecker, sandbox: str, env: dict[str, str]
    ) -> None:
        await self.clock.sleep(max(0.0, checker.first_check_at() - self.clock.time()))
        while True:
            try:
                ok, detail = await self.probe(checker.spec, sandbox, env, cid)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug in a probe must not stop the agent
                log.exception("health check of %s failed to run", cid)
                ok, detail = False, f"could not run: {exc}"
            now = self.clock.time()
            if self._decide(cid, checker, now, ok, detail):
                return
            await self.clock.sleep(max(0.0, checker.next_check_at(now) - now))

    def _decide(self, cid: ContainerID, checker: HealthChecker, now: float, ok: bool,
                detail: str) -> bool:  # fmt: skip
        """Hand one result's decisions to the agent; True once the task is to be killed.
        A bug in a callback is logged and that decision dropped: checking goes on."""
        for decision in checker.result(now, ok, detail):
            try:
                if isinstance(decision, HealthChanged):
                    self.on_changed(cid, decision.healthy)
                else:
                    log.info("container %s: %s", cid, decision.message)
                    self.on_kill(cid, decision.message)
                    return True
            except Exception:
                log.exception("health decision %r for %s could not be applied", decision, cid)
        return False
