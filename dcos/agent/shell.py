"""The agent shell: sockets, timers and containers around the sans-IO `AgentCore`.

`AgentShell` feeds the core every event (`_feed`: the master's stream events parsed by
`dcos.agent.master_events`, container outcomes, health verdicts, timers, the executors' calls
through the small methods the ``/api/v1/executor`` endpoint calls) and carries out the actions
it returns through one dispatch table (`_apply`); each (event, actions) pair is recorded in a
`StimulusLog` (served at ``GET /debug/stimuli``). The HTTP side (`dcos.agent.http`) is added
by `dcos.agent.agent.Agent`, the class everyone uses (``python -m dcos.agent``, ``dcos-py
up``, integration tests, benchmarks that run many agents on one loop with a
`FakeContainerizer`).

`start()` recovers from the checkpoint under ``<work_dir>/meta`` (`dcos.agent.checkpoint`,
`dcos.agent.recovery`), so a restarted agent process keeps the tasks of the previous one, then
starts the `MasterSession` (`dcos.agent.master_session`: the subscription to the master its
`dcos.state.detector.MasterDetector` names -- ``config.master`` itself, or the leader that
ZooKeeper names for a ``zk://`` URL --, re-subscribing with jittered backoff or when another
master leads, and the status update sender). `stop()` kills every
container's process group and closes everything; `stop(kill_tasks=False)` (what the agent
process does on SIGTERM) leaves the tasks running for the next agent process.

Before each container starts, `dcos.agent.launch_prep` fetches its URIs and, with security on
(`dcos.agent.security`: ``--security-dir``), runs it as its user (`dcos.agent.task_user`:
sandbox given to that user, unknown user -> the launch fails); a task's secrets
(`dcos.agent.task_secrets`) are resolved from the leading master then, the values going only
into the process environment and 0400 files in the sandbox.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

import aiohttp

from dcos.agent import recovery
from dcos.agent.channel import MasterLink
from dcos.agent.checkpoint import Checkpointer
from dcos.agent.checkpoint_store import CheckpointStore
from dcos.agent.config import AgentConfig
from dcos.agent.containerizer import ContainerConfig, Containerizer, LaunchResult
from dcos.agent.containerizer.setup import make_process_containerizer
from dcos.agent.core import (
    Action,
    AgentCore,
    AgentInfo,
    CheckpointChanges,
    CloseExecutor,
    Destroy,
    Launch,
    Refuse,
    Registered,
    SendToMaster,
    SendUpdates,
    ToExecutor,
    UpdatesDue,
    Wake,
    Watch,
)
from dcos.agent.core import events as ev
from dcos.agent.core.model import TERMINATED, ExecutorKey
from dcos.agent.executor_auth import load_secret
from dcos.agent.executor_streams import ExecutorStream, ExecutorStreams
from dcos.agent.health import HealthCheckError, HealthCheckSpec
from dcos.agent.health_runner import HealthRunner
from dcos.agent.launch_prep import LaunchPrep
from dcos.agent.logs import LogRotator
from dcos.agent.master_session import MasterSession
from dcos.agent.resources import agent_resources, parse_attributes, reserved_role
from dcos.agent.security import AGENT_URL_ENV, AgentSecurity
from dcos.agent.task_env import task_base_env
from dcos.common.addresses import MasterAddress, zk_master
from dcos.common.backoff import Backoff
from dcos.common.clock import Clock, RealClock
from dcos.common.stimulus import StimulusLog
from dcos.protocol.ids import ContainerID
from dcos.protocol.resources import Resources
from dcos.state.detector import MasterDetector, ZooKeeperDetector, master_detector
from dcos.state.zk import parse_zk_url

log = logging.getLogger(__name__)


class AgentShell:
    def __init__(
        self,
        config: AgentConfig,
        containerizer: Containerizer | None = None,
        clock: Clock | None = None,
        session: aiohttp.ClientSession | None = None,
        detector: MasterDetector | None = None,
    ) -> None:
        """Raises ValueError (`ResourceError`) for bad `resources` / `attributes` text.
        `detector`: where the master is (shared by many simulated agents: one ZooKeeper
        session for all; not closed here); default: one made from ``config.master`` at
        `start` (a bad address raises ValueError there), closed at `stop`."""
        self.config = config
        self.clock: Clock = clock or RealClock()
        # security on (`dcos.agent.security`): TLS, auth, tasks as users, secrets
        self.security: AgentSecurity | None = (
            AgentSecurity(config.security_dir, config.tls_name, config.work_dir,
                          config.default_task_user)
            if config.security_dir else None
        )  # fmt: skip
        self.containerizer: Containerizer = containerizer or make_process_containerizer(config)
        if config.detect:
            resources = agent_resources(config.work_dir, config.resources, config.gpu_command)
        else:
            resources = Resources.parse(config.resources or "")
        info = AgentInfo(
            hostname=config.effective_hostname(),
            ip=config.ip,
            port=config.port,
            resources=resources,
            attributes=parse_attributes(config.attributes),
            reserved_role=reserved_role(config.resources),
        )
        self.core = AgentCore(
            info, os.path.abspath(config.work_dir), config.status_update_retry,
            executor_registration_timeout=config.executor_registration_timeout,
            # snapshot once (not a copy of os.environ per task), with the DCOS_* task variables
            base_env={**task_base_env(os.environ, master=config.master,
                                      dns_resolver=config.dns_resolver),
                      **(self.security.task_env() if self.security is not None else {})},
        )  # fmt: skip
        self.executor_streams = ExecutorStreams()  # streams of subscribed custom executors
        self.stimuli = StimulusLog()  # the core's last events and actions (/debug/stimuli)
        self._timers: set[asyncio.Task[Any]] = set()  # `Wake` actions waiting for their time
        updates = self.core.ledger.updates
        updates.max_retry_interval = max(config.max_status_update_retry, updates.retry_interval)
        self.core.ledger.checkpointing = config.checkpoint
        self.checkpointer: Checkpointer | None = (
            Checkpointer(self.core, CheckpointStore(config.work_dir)) if config.checkpoint else None
        )
        # a container's end is acknowledged to the task launcher once checkpointed
        self._ack: Callable[[Iterable[ContainerID]], None] | None = getattr(
            self.containerizer, "acknowledge", None)
        if self._ack is not None and self.checkpointer is not None:
            self.containerizer.deferred_acks = True  # type: ignore[attr-defined]
        self.start_time = time.time()
        self.registered = asyncio.Event()
        self._own_session = session is None
        self._session = session
        self._fetch_session: aiohttp.ClientSession | None = None  # security on: its own CAs
        self._link: MasterLink | None = None
        self._own_detector = detector is None
        self._detector = detector
        self.master: MasterSession | None = None  # made by `start`
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[Any]] = []
        self._stopping = False
        self.recovered = False  # set once `start` has recovered (executor calls wait for it)
        self.errors = 0  # handler bugs caught by the loops (logged with what they handled)
        self.health = HealthRunner(self._health_changed, self._health_failed, self.clock,
                                   wrap=self._check_command)  # fmt: skip
        self.log_rotator = LogRotator(
            config.log_max_size, config.log_max_files, config.log_check_interval
        )
        self.launch_prep = LaunchPrep(
            self.core, self.security, config.fetcher_cache_size, self._leader_url,
            lambda: (self._session, self._fetch_session or self._session),
        )  # fmt: skip

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Serve HTTP (if configured), recover from the checkpoint, then start subscribing
        to the master in the background. Raises `CheckpointError` for an unreadable
        checkpoint (the agent must not start and forget running tasks)."""
        os.makedirs(self.config.work_dir, exist_ok=True)
        if self.checkpointer is not None:  # the executors' tokens outlive a restart
            self.core.site.executor_secret = await asyncio.to_thread(
                load_secret, self.checkpointer.store.root)  # fmt: skip
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=self.security.connector() if self.security is not None
                else aiohttp.TCPConnector(limit=0, force_close=False)
            )  # fmt: skip
        if self.security is not None:
            self._fetch_session = aiohttp.ClientSession(connector=self.security.fetch_connector())
        if self._detector is None:
            self._detector = self._master_detector()
        self._link = MasterLink(  # pointed at the master by the session
            None, self._session,
            ssl=self.security.ctx.client_ssl if self.security is not None else None)
        self.master = MasterSession(
            self._link, self.core, self._feed, self.clock,
            Backoff(self.config.reconnect_min, self.config.reconnect_max), self.registered,
            self.checkpointer.sync if self.checkpointer is not None else None, self._bug,
            self._detector,
        )  # fmt: skip
        await self._start_http()
        if self.core.site.base_env is not None:  # executors find the agent here (scheme too)
            self.core.site.base_env[AGENT_URL_ENV] = self.url
        if self.security is not None:
            self.security.start(self._session, self._leader_url)
        await self._recover()
        self._loops = [
            asyncio.ensure_future(self.master.connection_loop()),
            asyncio.ensure_future(self.master.update_loop()),
        ]
        if self.config.log_max_size > 0:
            self._loops.append(asyncio.ensure_future(self._log_loop()))

    def _master_detector(self) -> MasterDetector:
        """The detector of ``config.master``; with security on, a ``zk://`` URL names
        masters that speak https."""
        zk = zk_master(self.config.master)
        if zk is not None and self.security is not None:
            return ZooKeeperDetector(parse_zk_url(zk), scheme="https")
        return master_detector(zk or self.config.master)

    def _leader_url(self) -> str | None:
        """The base URL of the master the agent talks to now (None before the first try)."""
        address = self.master_address
        return address.url if address is not None else None

    async def _start_http(self) -> None:
        """Serve the HTTP endpoints (`dcos.agent.agent.Agent` does; the bare shell does not)."""

    async def _stop_http(self) -> None:
        """Stop serving HTTP (the counterpart of `_start_http`)."""

    async def _recover(self) -> None:
        """Restore the core from the checkpoint and reattach to the containers it names."""
        cp = None
        if self.checkpointer is not None:
            cp = await asyncio.to_thread(self.checkpointer.store.load)
        now = self.clock.time()
        expected = recovery.restore(self.core, cp, now) if cp is not None else {}
        if cp is not None:
            log.info("recovering agent %s: %d framework(s), %d container(s)", cp.agent_id,
                     len(self.core.frameworks), len(expected))  # fmt: skip
        outcomes = await self.containerizer.recover(expected)
        self._feed(ev.Reattach(expected, outcomes))
        if self.checkpointer is not None:
            await self.checkpointer.sync()
        if self._ack is not None and outcomes:
            self._ack([cid for cid, term in outcomes.items() if term is not None])
        self.recovered = True

    async def stop(self, kill_tasks: bool = True) -> None:
        """Kill every task (SIGTERM, SIGKILL after a capped grace), then close everything.

        With `kill_tasks` False the tasks keep running (checkpointed) for the next agent
        process to recover; only this process's loops, connections and HTTP server end."""
        if self._stopping:
            return
        self._stopping = True
        for loop_task in [*self._loops, *self._timers]:
            loop_task.cancel()
        if self._loops:
            # the loops end at once when cancelled (see `MasterLink.subscribe`); the bound is
            # a safety net only
            _, stuck = await asyncio.wait(self._loops, timeout=1.0)
            if stuck:
                log.warning("%d loop(s) did not end when cancelled; stopping anyway", len(stuck))
        await self.health.close()
        if not kill_tasks:
            for t in list(self._tasks):
                t.cancel()
            await self._close()
            return
        self._feed(ev.KillAll(self.config.stop_grace_cap))  # the destroys start now
        # the destroys, and launches still in flight: let them finish, then destroy what they started
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=self.config.stop_grace_cap + 1)
        for cid in list(self.containerizer.containers()):
            await self.containerizer.destroy(cid, 0)
        for t in list(self._tasks):
            t.cancel()
        await self._send_last_updates()
        await self._close()

    async def _send_last_updates(self) -> None:
        if self.master is not None:
            await self.master.send_last_updates()

    async def _close(self) -> None:
        close = getattr(self.containerizer, "close", None)
        if close is not None:  # drops this agent's cgroup roots when no container is left
            await close()
        if self.checkpointer is not None:
            await self.checkpointer.close()
        self.executor_streams.close_all()
        await self._stop_http()
        if self.security is not None:
            await self.security.stop()
        if self._fetch_session is not None:
            await self._fetch_session.close()
        if self._link is not None:
            self._link.close()
        if self._own_detector and self._detector is not None:
            await self._detector.close()
        if self._own_session and self._session is not None:
            await self._session.close()

    @property
    def url(self) -> str:
        host = self.config.ip
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self.security is not None else 'http'}://{host}:{self.core.info.port}"

    @property
    def master_address(self) -> MasterAddress | None:
        """The master this agent talks to now (the leader; None before the first
        subscription attempt). Read by ``/state`` (``master_hostname``)."""
        return self._link.address if self._link is not None else None

    # -- actions ---------------------------------------------------------------------------

    def _bug(self) -> None:
        self.errors += 1

    def _feed(self, event: ev.Event) -> bool:
        """The one way into the core for the loops: handle `event` now, record it, carry out
        the actions. A bug in the core (an exception) is logged with the event, that event is
        dropped (no actions; False returned) and the loop goes on."""
        now = self.clock.time()
        try:
            actions = self.core.handle(event, now)
        except Exception:
            self.errors += 1
            log.exception("agent bug while handling %s; dropped: %.500r", type(event).__name__,
                          event)  # fmt: skip
            self.stimuli.record(now, event, ())
            return False
        self.stimuli.record(now, event, actions)
        self._apply(actions)
        return True

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _apply(self, actions: Iterable[Action]) -> None:
        """Carry out the core's actions, each through its entry in `_dispatch`."""
        for a in actions:
            self._dispatch[type(a)](self, a)
        if self.checkpointer is not None:
            self.checkpointer.kick()

    def _do_launch(self, a: Launch) -> None:
        self._spawn(self._run_container(a))

    def _do_destroy(self, a: Destroy) -> None:
        self._spawn(self.containerizer.destroy(a.container_id, a.grace))

    def _do_send(self, a: SendToMaster) -> None:
        assert self._link is not None
        self._spawn(self._send_registered(self._link, a.body))

    async def _send_registered(self, link: MasterLink, body: dict[str, Any]) -> None:
        """Post `body` once this agent is registered: the master takes calls only with the
        session secret it hands out at (re-)registration, so a restarted agent's
        EXITED_EXECUTOR for an executor that died while it was down waits for it."""
        await self.registered.wait()
        await link.call(body)

    def _do_send_updates(self, a: SendUpdates) -> None:
        assert self.master is not None
        self.master.send_updates(a)  # sent by the update loop, after the checkpoint is synced

    def _do_updates_due(self, a: UpdatesDue) -> None:
        if self.master is not None:  # None before `start`: due again once registered
            self.master.updates_due(a.at)

    def _do_watch(self, a: Watch) -> None:
        """Reattached after a restart: checked again, watched."""
        self._start_health_check(a.container_id)
        self._spawn(self._watch_container(a.container_id))

    def _do_registered(self, a: Registered) -> None:
        assert self.master is not None
        self.master.on_registered(a)

    def _do_to_executor(self, a: ToExecutor) -> None:
        self.executor_streams.send(a.key, a.event)

    def _do_close_executor(self, a: CloseExecutor) -> None:
        self.executor_streams.close(a.key)

    def _do_wake(self, a: Wake) -> None:
        timer = asyncio.ensure_future(self._tick_at(a.at))
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)

    def _do_refuse(self, a: Refuse) -> None:
        """Answered by the executor call that got it (`executor_call`)."""

    def _do_checkpoint(self, a: CheckpointChanges) -> None:
        if self.checkpointer is not None:
            self.checkpointer.note(a)

    _dispatch: dict[type, Callable[[Any, Any], None]] = {
        Launch: _do_launch,
        Destroy: _do_destroy,
        SendToMaster: _do_send,
        SendUpdates: _do_send_updates,
        UpdatesDue: _do_updates_due,
        Watch: _do_watch,
        Registered: _do_registered,
        ToExecutor: _do_to_executor,
        CloseExecutor: _do_close_executor,
        Wake: _do_wake,
        Refuse: _do_refuse,
        CheckpointChanges: _do_checkpoint,
    }

    # -- executor calls (the ``/api/v1/executor`` endpoint, `dcos.agent.http.executor_api`) --

    def executor_subscribe(self, call: ev.ExecutorSubscribe) -> ExecutorStream | Refuse:
        """SUBSCRIBE: the executor's new stream (SUBSCRIBED and its queued tasks already in
        it), or the refusal (status and why). Raises what a bug in the core raises (a 500)."""
        now = self.clock.time()
        actions = self.core.handle(call, now)
        self.stimuli.record(now, call, actions)
        refused = _refusal(actions)
        if refused is not None:
            self._apply(actions)
            return refused
        stream = ExecutorStream()
        self.executor_streams.attach((call.framework_id, call.executor_id), stream)
        self._apply(actions)
        return stream

    def executor_call(self, call: ev.ExecutorUpdate | ev.ExecutorMessage) -> Refuse | None:
        """UPDATE or MESSAGE: None when taken, else the refusal (status and why)."""
        now = self.clock.time()
        actions = self.core.handle(call, now)
        self.stimuli.record(now, call, actions)
        self._apply(actions)
        return _refusal(actions)

    def executor_stream_ended(self, key: ExecutorKey, stream: ExecutorStream) -> None:
        """The executor's connection ended: unless a newer stream replaced it, the executor
        is no longer subscribed."""
        if self.executor_streams.detach(key, stream):
            self._feed(ev.ExecutorDisconnected(key))

    async def _tick_at(self, at: float) -> None:
        """A `Wake` action: let the core act on its timers (executor timeouts) at `at`."""
        await self.clock.sleep(max(0.0, at - self.clock.time()))
        if not self._stopping:
            self._feed(ev.Tick())

    async def _run_container(self, action: Launch) -> None:
        cid = action.container_id
        prepared: ContainerConfig | LaunchResult = action.config
        try:
            prepared = await self.launch_prep.prepare(action)
            if isinstance(prepared, LaunchResult):
                result = prepared
            else:
                result = await self.containerizer.launch(cid, prepared)
        except Exception as exc:  # a containerizer / fetcher bug: the launch failed
            log.exception("launching container %s failed", cid)
            result = LaunchResult(False, f"Failed to launch: {exc or type(exc).__name__}")
        self._feed(ev.ContainerLaunched(cid, result))
        if not result.ok:
            log.info("task %s failed to launch: %s", action.config.task_id, result.error)
            return
        # the check runs in the task's environment (its secrets' values included)
        self._start_health_check(cid, prepared if isinstance(prepared, ContainerConfig)
                                 else action.config)  # fmt: skip
        await self._watch_container(cid)

    async def _watch_container(self, cid: ContainerID) -> None:
        """Await the container's end (launched now, or recovered: a `Watch` action)."""
        try:
            term = await self.containerizer.wait(cid)
        finally:
            self.health.stop(cid)
        self._feed(ev.ContainerExited(cid, term))
        if self._ack is not None and self.checkpointer is not None:
            # the launcher forgets the end only once the checkpoint holds it
            await self.checkpointer.sync()
            self._ack((cid,))

    def _start_health_check(self, cid: ContainerID, config: ContainerConfig | None = None) -> None:
        """Start checking the task in `cid` if it has a ``health_check``: after its launch
        (with its `config`), or after an agent restart (no config: the environment is rebuilt,
        the grace period still counts from the task's start and its last verdict is kept)."""
        rec = self.core.task_record(cid)  # None for a custom executor's container
        if rec is None:
            return
        try:
            spec = HealthCheckSpec.from_task(rec.task)
        except HealthCheckError:  # build_config refused it already
            return
        if spec is None:
            return
        if config is not None:
            self.health.start(cid, spec, config.sandbox, config.env)
            return
        env = recovery.task_env(self.core, rec)
        started = recovery.running_since(rec)
        self.health.start(cid, spec, rec.sandbox, env, started_at=started, healthy=rec.healthy)

    def _check_command(self, cid: ContainerID, argv: list[str],
                       env: dict[str, str]) -> tuple[list[str], dict[str, str]]:  # fmt: skip
        """A COMMAND health check runs inside its task's container (its cgroups and limits),
        through the containerizer's launch wrapper, where the containerizer has one."""
        inside = getattr(self.containerizer, "exec_command", None)
        return inside(cid, argv, env) if inside is not None else (argv, env)

    def _health_changed(self, container_id: ContainerID, healthy: bool) -> None:
        self._feed(ev.HealthChanged(container_id, healthy))

    def _health_failed(self, container_id: ContainerID, message: str) -> None:
        self._feed(ev.HealthFailed(container_id, message))

    def log_sandboxes(self) -> list[str]:
        """The sandboxes whose stdout/stderr the log loop rotates: those of running tasks
        (command and task-group tasks) and of running custom executors."""
        out = {r.sandbox for r in self.core.live_tasks() if r.sandbox and r.launched}
        out.update(
            ex.sandbox for ex in self.core.executors.values()
            if ex.kind == "custom" and ex.launched and ex.state != TERMINATED and ex.sandbox
        )  # fmt: skip
        return sorted(out)

    async def _log_loop(self) -> None:
        """Rotate the stdout/stderr of running tasks that grew past ``log_max_size``."""
        while True:
            await asyncio.sleep(self.log_rotator.interval)
            try:
                sandboxes = self.log_sandboxes()
                if sandboxes:
                    await asyncio.to_thread(self.log_rotator.rotate_sandboxes, sandboxes)
            except Exception:  # a bug must not end log rotation for good
                self.errors += 1
                log.exception("log rotation failed; trying again next round")

def _refusal(actions: list[Action]) -> Refuse | None:
    for a in actions:
        if isinstance(a, Refuse):
            return a
    return None
