"""`ClusterBackend`: runs the batch engine's tasks on executors started on a dcos-py (or Mesos)
cluster -- the driver side of Spark-on-Mesos coarse-grained mode.

Created by `SparkContext("mesos://host:5050", app)` (or Spark's ``mesos://zk://h:2181/dcos``:
the SDK driver then follows the leading master through ZooKeeper); every method runs on the driver loop (see
`frameworks.batch.backend`). Pieces:

- a Mesos framework (`MesosSide`, the SDK's framework layer) that takes offers and launches
  executors (`python -m frameworks.batch.cluster.executor ...` as Mesos tasks), declines
  surplus, suppresses, revives and releases idle executors (`ExecutorPolicy`);
- a TCP server executors connect back to (`wire`: msgpack frames, batched launches and
  results);
- the task scheduler core (`TaskScheduler`: locality, delay scheduling, retries);
- the job page and its JSON (`webui`, fed by `page_snapshot`), linked as the framework's
  ``webui_url``.

Time comes from the injected `Clock` (``clock=``; real time by default): delay scheduling's
wake-ups, idle-executor release, the waiting-for-executors warnings and the start timeout all
run on it, so tests drive them with `SimClock`. Imports run one way: backend -> mesos, webui,
executor_policy, task_scheduler.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import os
import socket
from collections.abc import Sequence
from typing import Any, Protocol, cast

import aiohttp
from aiohttp import web

from dcos.common.clock import Clock, RealClock, wait_for
from dcos.sdk.util import parse_master
from dcos.state.zk import is_zk_url, parse_zk_url
from frameworks.batch.backend import (
    BackendEvents,
    ExecutorInfo,
    FetchFailed,
    Task,
    TaskResult,
)
from frameworks.batch.cluster import wire
from frameworks.batch.cluster.conf import ClusterConf
from frameworks.batch.cluster.executor_policy import ExecutorPolicy
from frameworks.batch.cluster.jobs import JobTracker
from frameworks.batch.cluster.mesos import MesosSide
from frameworks.batch.cluster.security import driver_tls
from frameworks.batch.cluster.task_scheduler import TaskEntry, TaskScheduler
from frameworks.batch.cluster.webui import start_webui

log = logging.getLogger(__name__)


def master_target(url: str, default_scheme: str = "http") -> tuple[str, str]:
    """(what the SDK driver is given, a host on the masters' network) for a master URL:
    ``mesos://host:port``, ``host:port``, ``http(s)://...`` -> (its base URL, its host);
    ``zk://h1:2181,h2:2181/dcos`` or Spark's ``mesos://zk://...`` -> (the ``zk://`` URL, the
    first ZooKeeper host; the driver finds the leader there). Raises ValueError for a bad URL.
    Called by `ClusterBackend.start` and the dispatcher's `main` (`route_to` the host gives
    the address executors and drivers can reach back). `default_scheme` is the scheme of an
    address given without one (``https`` when the cluster's CA is known: security on)."""
    text = url.strip()
    if text.lower().startswith("mesos://zk://"):
        text = text[len("mesos://") :]
    if is_zk_url(text):
        zk = parse_zk_url(text)
        first = zk.hosts.split(",")[0].strip()
        host = first.rpartition("]")[0].lstrip("[") if first.startswith("[") \
            else first.partition(":")[0]
        return str(zk), host
    address = parse_master(text, default_scheme)  # mesos://, http(s)://, host:port, [v6]:port
    return address.url, address.host


def route_to(host: str) -> str:
    """The local address that reaches `host` (where executors can reach the driver)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((host, 9))
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"


class FrameWriter(Protocol):
    """Where frames to one executor go (its connection's `asyncio.StreamWriter`)."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


@dataclasses.dataclass(slots=True)
class _Conn:
    """A registered executor's connection and what the driver knows of it."""

    info: ExecutorInfo
    writer: FrameWriter
    pid: int
    payloads: wire.PayloadLRU
    launched_at: float


class ClusterBackend:
    """The engine's `Backend` for ``mesos://`` masters."""

    def __init__(
        self, master_url: str, app_name: str, conf: Any = None, *, clock: Clock | None = None
    ) -> None:
        self.master_url = master_url
        self.app_name = app_name
        self.conf = ClusterConf.parse(conf)
        self.clock: Clock = clock or RealClock()
        self.app_id = f"{_slug(app_name)}-{os.getpid()}-{int(self.clock.time()) % 100000}"
        self.task_scheduler = TaskScheduler(
            self.conf.locality_wait, self.conf.max_failures, self.conf.queue_depth
        )
        self.executor_policy = ExecutorPolicy(self.conf.spec, self.app_id)
        self.jobs = JobTracker(app_name)
        self.listener = self.jobs  # a BatchListener the SparkContext may register
        self.conns: dict[str, _Conn] = {}
        self.events: BackendEvents | None = None
        self.mesos: MesosSide | None = None
        self.driver_host = ""
        self.driver_port = 0
        self.ui_url = ""
        self._keys = itertools.count(1)
        self._server: asyncio.base_events.Server | None = None
        self._ui: web.AppRunner | None = None
        self._schedule_pending = False
        self._timer: asyncio.Task[None] | None = None  # wakes `_schedule` when a locality wait ends
        self._timer_at = 0.0
        self._ticker: asyncio.Task[None] | None = None
        self._reporter: asyncio.Task[None] | None = None
        self._first_executor: asyncio.Event | None = None
        self._stopping = False

    # ---- Backend protocol ---------------------------------------------------------------

    async def start(self, events: BackendEvents) -> None:
        """Open the executor port and the job page, register with the master, and wait for
        the first executor (`spark.dcos.executor.startTimeout`)."""
        self.events = events
        listeners = getattr(events, "listeners", None)  # the engine's Driver: job starts/ends
        if isinstance(listeners, list) and self.jobs not in listeners:
            listeners.append(self.jobs)
        self._first_executor = asyncio.Event()
        master, master_host = master_target(self.master_url, "https" if driver_tls() else "http")
        self.driver_host = self.conf.driver_host or route_to(master_host)
        self._server = await asyncio.start_server(
            self._on_connect, "0.0.0.0", self.conf.driver_port
        )
        self.driver_port = self._server.sockets[0].getsockname()[1]
        self._ui, self.ui_url = await start_webui(
            self.page_snapshot, self.driver_host, self.conf.ui_port
        )
        self.mesos = MesosSide(
            self,
            self.executor_policy,
            self.conf,
            app_name=self.app_name,
            app_id=self.app_id,
            master=master,
            webui_url=self.ui_url,
            driver_address=f"{self.driver_host}:{self.driver_port}",
            clock=self.clock,
        )
        await self.mesos.start()
        self._ticker = asyncio.create_task(self._tick(), name="batch-cluster-tick")
        self._reporter = asyncio.create_task(self._report_to_dispatcher())
        try:
            await wait_for(self.clock, self._first_executor.wait(), self.conf.start_timeout)
        except TimeoutError:
            why = (
                self.waiting_reason()
                or self.mesos.last_problem
                or "no offer arrived"
            )
            await self.stop()
            raise RuntimeError(
                f"no executor registered within {self.conf.start_timeout:g}s ({why})"
            ) from None

    async def stop(self) -> None:
        """Stop executors, leave the cluster (TEARDOWN), close the ports."""
        if self._stopping:
            return
        self._stopping = True
        if self._ticker is not None:
            self._ticker.cancel()
        self._cancel_timer()
        for conn in list(self.conns.values()):
            conn.writer.write(wire.frame(["stop"]))
            conn.writer.close()
        if self.mesos is not None:
            await self.mesos.stop()
        if self._server is not None:
            self._server.close()
        if self._ui is not None:
            await self._ui.cleanup()

    def default_parallelism(self) -> int:
        """Cores the driver asks for (not those registered right now, which vary under
        dynamic allocation), at least 2."""
        return max(2, self.conf.spec.requested_slots())

    def submit(self, tasks: Sequence[Task]) -> None:
        now = self.clock.time()
        entries = [
            TaskEntry(next(self._keys), t, tuple(t.preferred_executors), tuple(t.preferred_hosts))
            for t in tasks
        ]
        self.jobs.submitted(tasks, now)
        self.task_scheduler.submit(entries, now)
        self._maybe_revive()
        self._schedule_soon()

    def cancel(self, job_id: int) -> None:
        keys = [k for k, e in self.task_scheduler.tasks.items() if e.payload.job_id == job_id]
        by_exec: dict[str, list[int]] = {}
        for e in self.task_scheduler.cancel(keys):
            if e.executor is not None:
                by_exec.setdefault(e.executor, []).append(cast(int, e.key))  # keys are ints from _keys
        for eid, ks in by_exec.items():
            conn = self.conns.get(eid)
            if conn is not None:
                conn.writer.write(wire.frame(["cancel", ks]))
        self.jobs.cancelled(job_id, self.clock.time())

    def executors(self) -> list[ExecutorInfo]:
        for eid, conn in self.conns.items():
            slot = self.task_scheduler.executors.get(eid)
            conn.info.running_tasks = len(slot.running) if slot else 0
        return [c.info for c in self.conns.values()]

    # ---- scheduling -------------------------------------------------------------------

    def outstanding(self) -> int:
        return self.task_scheduler.pending + self.task_scheduler.running_count()

    def _maybe_revive(self) -> None:
        if self.mesos is not None:
            self.mesos.more_wanted()

    def _schedule_soon(self) -> None:
        if not self._schedule_pending:
            self._schedule_pending = True
            asyncio.get_running_loop().call_soon(self._schedule)

    def _schedule(self) -> None:
        """Send every launch the task scheduler decides, one LAUNCH frame per executor."""
        self._schedule_pending = False
        now = self.clock.time()
        batches: dict[str, list[Any]] = {}
        for launch in self.task_scheduler.schedule(now):
            conn = self.conns.get(launch.executor_id)
            if conn is None:
                continue
            task: Task = launch.task.payload
            known = conn.payloads.touch(task.payload_key)
            batches.setdefault(launch.executor_id, []).append(
                wire.encode_task(cast(int, launch.task.key), task, not known)
            )
            self.jobs.launched(task)
        for eid, items in batches.items():
            self.conns[eid].writer.write(wire.frame(["launch", items]))
        wake = self.task_scheduler.next_wakeup(now)
        if wake is None or not self.conns:
            self._cancel_timer()
        elif self._timer is None or wake < self._timer_at:
            self._cancel_timer()
            self._timer_at = wake
            self._timer = asyncio.create_task(self._wake_after(max(0.0, wake - now) + 0.001))

    async def _wake_after(self, delay: float) -> None:
        """The timer of delay scheduling: schedule again when the oldest waiting task's
        locality wait ends (an earlier timer that is still pending is kept)."""
        await self.clock.sleep(delay)
        self._timer = None
        self._schedule_soon()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_results(self, eid: str, rows: list[list[Any]]) -> None:
        now = self.clock.time()
        events = self.events
        assert events is not None
        for key, status, value, tb, duration, fetch in rows:
            if status == wire.OK:
                entry = self.task_scheduler.finished(key, now)
                if entry is None:
                    continue
                result = TaskResult(entry.payload, True, value, executor_id=eid, duration=duration)
            elif status == wire.FETCH_FAILED:
                entry = self.task_scheduler.forget(key, now)
                if entry is None:
                    continue
                ff = FetchFailed(fetch[0], fetch[1], fetch[2], fetch[3])
                result = TaskResult(entry.payload, False, None, str(ff), "", eid, ff, duration)
            else:
                result_or_none = self._failed(key, value, tb, eid, duration, now)
                if result_or_none is None:
                    continue
                result = result_or_none
            self.jobs.finished(result, now)
            events.on_task_result(result)
        self._schedule_soon()

    def _failed(
        self, key: int, error: str, tb: str, eid: str, duration: float, now: float
    ) -> TaskResult | None:
        """A failed attempt: retried (None) or, after maxFailures, the job's failure."""
        out = self.task_scheduler.failed(key, f"{error}\n{tb}", now)
        if out is None:
            return None
        task: Task = out.task.payload
        self.jobs.attempt_failed(task, error, eid)
        if out.retry:
            log.warning(
                "task %s failed on %s (attempt %d), retrying: %s",
                task.task_id,
                eid,
                out.task.failures,
                error,
            )
            out.task.payload = dataclasses.replace(task, attempt=task.attempt + 1)
            return None
        msg = f"{error} (task {task.task_id} failed {out.task.failures} times; last on {eid})"
        return TaskResult(task, False, None, msg, tb, eid, None, duration)

    # ---- executors ----------------------------------------------------------------------

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """An executor connected: HELLO, then RESULTS frames until it goes away."""
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        hello = await wire.read_frame(reader)
        eid = self.executor_connected(hello, writer)
        if eid is None:
            return
        try:
            while True:
                msg = await wire.read_frame(reader)
                if msg is None:
                    break
                if msg[0] == "results":
                    self._on_results(eid, msg[1])
        finally:
            self.executor_gone(eid, "connection to the executor ended")

    def executor_connected(self, hello: list[Any] | None, writer: FrameWriter) -> str | None:
        """An executor's HELLO (``["hello", id, host, address, cores, pid]``): register it
        with the policy, the task scheduler and the engine, and return its id; None (and the
        connection closed) for anything else. Called by `_on_connect`; tests call it with a
        fake writer to drive the backend without executor processes."""
        if not hello or hello[0] != "hello" or self._stopping:
            writer.close()
            return None
        _, eid, host, address, cores, pid = hello
        rec = self.executor_policy.registered(eid)
        if rec is None or eid in self.conns:
            log.warning("unknown executor %s connected; closing", eid)
            writer.write(wire.frame(["stop"]))
            writer.close()
            return None
        now = self.clock.time()
        info = ExecutorInfo(eid, host, int(cores), address)
        self.conns[eid] = _Conn(info, writer, int(pid), wire.PayloadLRU(), now)
        self.task_scheduler.add_executor(eid, host, int(cores), now)
        self._broadcast_peers()
        log.info(
            "executor %s registered on %s (%g cpus, %d task slots, %s)",
            eid, host, rec.cpus, cores, address,
        )
        assert self.events is not None
        self.events.on_executor_added(info)
        if self._first_executor is not None:
            self._first_executor.set()
        self._schedule_soon()
        return str(eid)

    def _broadcast_peers(self) -> None:
        peers = {eid: c.info.address for eid, c in self.conns.items()}
        msg = wire.frame(["peers", peers])
        for c in self.conns.values():
            c.writer.write(msg)

    def executor_gone(self, eid: str, reason: str) -> None:
        """The executor died, its Mesos task ended or its agent is lost (called by the
        connection handler and by `MesosSide`). Requeues its running tasks, tells the engine
        (which recomputes lost shuffle outputs and blocks), and asks for a replacement."""
        conn = self.conns.pop(eid, None)
        rec = self.executor_policy.lost(eid, reason)
        if conn is None and rec is None:
            return
        releasing = rec is not None and rec.state == "releasing"
        self.task_scheduler.remove_executor(eid, self.clock.time())
        if conn is not None:
            conn.writer.close()
            self._broadcast_peers()
            if self.events is not None and not self._stopping:
                self.events.on_executor_lost(eid, reason)
            self.jobs.executor_lost(eid, reason, releasing)
        if rec is not None and self.mesos is not None and not self._stopping:
            self.mesos.kill(eid, rec.agent_id)  # in case the process still lingers
        if not releasing and not self._stopping:
            log.warning("executor %s lost: %s", eid, reason)
        if not self._stopping:
            self._maybe_revive()
            self._schedule_soon()

    def waiting_reason(self) -> str | None:
        """Why the driver has no executor to run tasks on (None when it has one); shown on
        the job page and by ``dcos-py batch status``."""
        return self.executor_policy.waiting_reason(self.outstanding(), self.clock.time())

    def page_snapshot(self) -> dict[str, Any]:
        """Everything the job page shows, as plain data (``GET /api/jobs``); called by the
        page's handlers (`webui`)."""
        body = self.jobs.snapshot(self.clock.time())
        body["app_id"] = self.app_id
        body["framework_id"] = self.mesos.framework_id if self.mesos else None
        records = self.executor_policy.executors
        body["executors"] = [
            {
                "executor_id": e.executor_id,
                "host": e.host,
                "cores": e.cores,
                "cpus": records[e.executor_id].cpus if e.executor_id in records else e.cores,
                "address": e.address,
                "running_tasks": e.running_tasks,
            }
            for e in self.executors()
        ]
        body["pending_tasks"] = self.task_scheduler.pending
        body["waiting"] = self.waiting_reason()
        return body

    async def _tick(self) -> None:
        """Once a second: warn while no executor can start (every ~10 s, with the reason),
        release executors idle past the timeout (dynamic allocation)."""
        while True:
            await self.clock.sleep(min(1.0, max(0.05, self.conf.spec.idle_timeout / 4)))
            now = self.clock.time()
            warning = self.executor_policy.warning(self.outstanding(), now)
            if warning:
                log.warning("waiting for executors: %s", warning)
            idle = self.task_scheduler.idle_executors(now, self.conf.spec.idle_timeout)
            for eid in self.executor_policy.release_idle(idle):
                log.info("releasing idle executor %s", eid)
                self.task_scheduler.drain(eid)
                conn = self.conns.get(eid)
                if conn is not None:
                    conn.writer.write(wire.frame(["stop"]))
            self._maybe_revive()

    async def _report_to_dispatcher(self) -> None:
        """A cluster-mode driver tells its dispatcher where its job page is."""
        url, sid = (
            os.environ.get("DCOS_BATCH_DISPATCHER"),
            os.environ.get("DCOS_BATCH_SUBMISSION_ID"),
        )
        if not url or not sid:
            return
        for _ in range(50):
            fid = self.mesos.framework_id if self.mesos else None
            if fid:
                break
            await self.clock.sleep(0.1)
        body = {"ui_url": self.ui_url, "framework_id": fid or ""}
        tls = self.mesos.tls if self.mesos else None
        creds = self.mesos.credentials if self.mesos else None
        headers = {"Authorization": creds.authorization()} if creds is not None else {}
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls or True)) as s:
                await s.post(f"{url}/v1/submissions/{sid}/driver", json=body, headers=headers)
        except aiohttp.ClientError as exc:
            log.warning("could not report to the dispatcher at %s: %s", url, exc)


def _slug(name: str) -> str:
    out = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")
    return out[:32] or "app"
