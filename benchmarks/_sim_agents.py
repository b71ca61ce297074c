"""Light simulated agents for the failover benchmark (not a benchmark itself).

`Fleet` runs thousands of agents in one process, each speaking the internal master <-> agent
protocol (`dcos.protocol.internal`: SUBSCRIBE stream of msgpack RecordIO events, UPDATE and
PONG calls, the session secret header) exactly as far as a master can tell, without the
real agent's shell, checkpoint and containerizer: a real `dcos.agent.agent.Agent` costs
too much CPU per instance to run 10,000 of them on the benchmark machine next to three
masters. Each stream is a raw asyncio protocol (pre-encoded request, a small chunked-HTTP
parser); calls go over one shared pipelined `CallPool` per master.

What each agent does:
- registers (no id) with the leading master, then keeps the id and the secret it was handed;
- RUN_TASKS: the tasks run at once (one TASK_RUNNING update per task, sent in one UPDATE
  call) and forever; ACKNOWLEDGE clears the update; KILL_TASK ends the task (TASK_KILLED);
  PING is answered with PONG;
- when its stream ends it follows the leader as a real agent does (`Fleet`): the master
  detector (one `dcos.state.detector` detector shared by the fleet, where real agents would
  each run their own on the same znodes) names the master to re-subscribe to, with its id,
  its secret, its running tasks and their frameworks.

The fleet records when each agent (re-)registered (`time.perf_counter`, which is
CLOCK_MONOTONIC on Linux and so comparable across the benchmark's processes).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from dcos.common.addresses import MasterAddress
from dcos.common.backoff import Backoff
from dcos.common.pipeline import CallFailed, CallPool, request_prefix
from dcos.protocol import internal, recordio
from dcos.protocol.codec import MSGPACK, dumps_msgpack, loads_msgpack
from dcos.protocol.mesos import new_status_uuid, task_status

log = logging.getLogger("bench.agents")

_HEADERS = {"Content-Type": MSGPACK, "Accept": MSGPACK}
REFUSED_FOR = 0.05  # seconds a refused connection stands for the agents' next attempts


class _Stream(asyncio.Protocol):
    """One SUBSCRIBE request and its answer: a chunked stream of RecordIO msgpack events
    (status 200), or a refusal (any other status) whose body is read and handed on."""

    def __init__(self, agent: SimAgent, request: bytes) -> None:
        self.agent = agent
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.status = 0  # 0: head not read yet
        self.length = -1  # of a refusal's body
        self.records = recordio.Decoder()
        self.ended = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        try:
            if not self.status and not self._head():
                return
            if self.status != 200:
                if len(self.buf) >= self.length:
                    self._end(f"refused: {self.status} {bytes(self.buf[:200])!r}")
                return
            self._chunks()
        except (ValueError, recordio.RecordIOError) as exc:
            self._end(f"bad answer: {exc}")

    def _head(self) -> bool:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        lines = bytes(self.buf[:end]).split(b"\r\n")
        del self.buf[: end + 4]
        self.status = int(lines[0].split(b" ", 2)[1])
        self.length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                self.length = int(value)
        return True

    def _chunks(self) -> None:
        buf = self.buf
        while True:
            eol = buf.find(b"\r\n")
            if eol < 0:
                return
            size = int(bytes(buf[:eol]).split(b";", 1)[0] or b"0", 16)
            if size == 0:
                self._end("stream ended by the master")
                return
            if len(buf) < eol + 2 + size + 2:
                return
            chunk = bytes(buf[eol + 2 : eol + 2 + size])
            del buf[: eol + 2 + size + 2]
            for record in self.records.feed(chunk):
                self.agent.on_event(loads_msgpack(record))

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(f"connection lost{': ' + str(exc) if exc else ''}")

    def _end(self, why: str) -> None:
        if self.ended:
            return
        self.ended = True
        if self.transport is not None:
            self.transport.abort()
        self.agent.stream_ended(self, why)

    def close(self) -> None:
        self.ended = True
        if self.transport is not None:
            self.transport.abort()


class SimAgent:
    """One simulated agent (see the module docstring); driven by its `Fleet`."""

    def __init__(self, fleet: Fleet, index: int, resources: dict[str, Any]) -> None:
        self.fleet = fleet
        self.index = index
        self.info: dict[str, Any] = {
            "id": None, "hostname": f"sim-{index}", "ip": "127.0.0.1", "port": 20000 + index,
            "resources": resources, "attributes": {"rack": f"r{index % 40}"},
            "version": "bench", "capabilities": [],
        }  # fmt: skip
        self.agent_id: str | None = None
        self.secret: str | None = None
        self.master: MasterAddress | None = None  # the one it subscribed to last
        self.last_leader: MasterAddress | None = None  # the detector's, at that time
        self.prefix = b""  # the call head with its secret, for `master`
        self.stream: _Stream | None = None
        self.registered = False
        self.tasks: dict[tuple[str, str], dict[str, Any]] = {}  # TaskRecord maps
        self.frameworks: dict[str, dict[str, Any]] = {}
        self.unacked: dict[tuple[str, str], dict[str, Any]] = {}  # (fid, tid) -> status
        self.backoff = Backoff(fleet.reconnect_min, fleet.reconnect_max)

    # -- the subscription ------------------------------------------------------------------

    def subscribe_body(self) -> bytes:
        frameworks = [self.frameworks[fid] for fid in {fid for fid, _ in self.tasks}]
        return dumps_msgpack({
            "type": internal.SUBSCRIBE, "agent": {**self.info, "id": self.agent_id},
            "tasks": list(self.tasks.values()), "frameworks": frameworks, "unacked": [],
        })  # fmt: skip

    async def subscribe(self, master: MasterAddress) -> None:
        """Open a SUBSCRIBE stream to `master` (the answer arrives as events). A master
        that refused a connection in the last `REFUSED_FOR` seconds is taken as refusing
        this one too, without a syscall: the dead leader, which every agent keeps trying
        until the detector names the next one, would otherwise cost this one process the
        refused connects of 10,000 agents (each real agent pays only its own)."""
        self.master = master
        key = (master.host, master.port)
        refused = self.fleet.refused_at.get(key)
        if refused is not None and time.perf_counter() - refused < REFUSED_FOR:
            self.fleet.lost(self, "connect: refused (recently)", False)
            return
        headers = dict(_HEADERS)
        if self.secret:
            headers[internal.SECRET_HEADER] = self.secret
        body = self.subscribe_body()
        request = request_prefix(master.host, master.port, internal.PATH, headers)
        request += b"%d\r\n\r\n%s" % (len(body), body)
        stream = self.stream = _Stream(self, request)
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: stream, master.host, master.port)
        except OSError as exc:
            if isinstance(exc, ConnectionRefusedError):
                self.fleet.refused_at[key] = time.perf_counter()
            stream.ended = True
            self.stream = None
            self.fleet.lost(self, f"connect: {exc}", False)

    def stream_ended(self, stream: _Stream, why: str) -> None:
        if stream is not self.stream:
            return
        self.stream = None
        was = self.registered
        self.registered = False
        self.fleet.lost(self, why, was)

    # -- events ----------------------------------------------------------------------------

    def on_event(self, event: Any) -> None:
        kind = event.get("type") if isinstance(event, dict) else None
        if kind == internal.PING:
            self.call({"type": internal.PONG, "agent_id": self.agent_id})
        elif kind == internal.ACKNOWLEDGE:
            self.unacked.pop((event["framework_id"], event["task_id"]), None)
        elif kind == internal.RUN_TASKS:
            self._run(event["framework"], event["tasks"])
        elif kind == internal.KILL_TASK:
            self._kill(event["framework_id"], event["task_id"])
        elif kind == internal.SHUTDOWN_FRAMEWORK:
            for key in [k for k in self.tasks if k[0] == event["framework_id"]]:
                self._kill(*key)
        elif kind == internal.REGISTERED:
            self._registered(event)

    def _registered(self, event: dict[str, Any]) -> None:
        self.agent_id, self.secret = event["agent_id"], event.get("secret")
        self.info["id"] = self.agent_id
        headers = dict(_HEADERS)
        if self.secret:
            headers[internal.SECRET_HEADER] = self.secret
        assert self.master is not None
        self.prefix = request_prefix(self.master.host, self.master.port, internal.PATH, headers)
        self.registered = True
        self.backoff.reset()
        if self.unacked:  # a real agent resends what the previous master did not see acked
            self.call({"type": internal.UPDATE, "agent_id": self.agent_id,
                       "updates": [{"framework_id": k[0], "status": s}
                                   for k, s in self.unacked.items()]})  # fmt: skip
        self.fleet.registered(self)

    def _status(self, fid: str, tid: str, state: str) -> dict[str, Any]:
        status = task_status(tid, state, agent_id=self.agent_id, source="SOURCE_EXECUTOR",
                             timestamp=time.time(), uuid=new_status_uuid(),
                             executor_id=tid)  # fmt: skip
        self.unacked[(fid, tid)] = status
        return status

    def _run(self, framework: dict[str, Any], tasks: list[dict[str, Any]]) -> None:
        fid = framework["id"]["value"] if isinstance(framework["id"], dict) else framework["id"]
        self.frameworks[fid] = framework
        updates = []
        for task in tasks:
            tid = task["task_id"]["value"]
            status = self._status(fid, tid, "TASK_RUNNING")
            self.tasks[(fid, tid)] = {"framework_id": fid, "task": task,
                                      "state": "TASK_RUNNING", "status": status}  # fmt: skip
            updates.append({"framework_id": fid, "status": status})
        self.call({"type": internal.UPDATE, "agent_id": self.agent_id, "updates": updates})

    def _kill(self, fid: str, tid: str) -> None:
        if self.tasks.pop((fid, tid), None) is None:
            return
        status = self._status(fid, tid, "TASK_KILLED")
        self.call({"type": internal.UPDATE, "agent_id": self.agent_id,
                   "updates": [{"framework_id": fid, "status": status}]})  # fmt: skip

    def call(self, body: dict[str, Any]) -> None:
        """Post one call to the master it is registered with (a lost call is lost: the
        master re-sends what matters, the unacked updates go again at re-registration)."""
        if not self.registered or self.master is None:
            return
        self.fleet.post(self.master, self.prefix, dumps_msgpack(body))


class Fleet:
    """`n` simulated agents following the leading master named by `detector` (a
    `dcos.state.detector.MasterDetector`, started). Owned by the benchmark's agents
    process: `start()` registers them all, `registrations` says when each (re-)registered.

    Reconnection follows `dcos.agent.master_session.MasterSession`: after a stream ends
    (or a SUBSCRIBE fails) the agent pauses for its backoff, a pause that ends at once when
    the detector names another master; it then subscribes to the detector's leader (waiting
    while there is none), its backoff reset when that leader is a new one."""

    def __init__(
        self,
        n: int,
        detector: Any,
        resources: dict[str, Any],
        *,
        reconnect_min: float = 0.1,
        reconnect_max: float = 5.0,
        concurrency: int = 2000,
        first_index: int = 0,
    ) -> None:
        self.detector = detector
        self.reconnect_min, self.reconnect_max = reconnect_min, reconnect_max
        self.agents = [SimAgent(self, first_index + i, resources) for i in range(n)]
        self.pausing: dict[int, tuple[SimAgent, asyncio.TimerHandle]] = {}  # by agent index
        self.waiting: list[SimAgent] = []  # for a leader (none known)
        self.registrations: list[tuple[float, int]] = []  # (perf_counter, agent index)
        self.failures: dict[str, int] = {}  # why a SUBSCRIBE failed -> how often
        self.refused_at: dict[tuple[str, int], float] = {}  # master -> last refused connect
        self.on_change: Callable[[], None] | None = None
        self._pools: dict[tuple[str, int], CallPool] = {}
        self._slots = asyncio.Semaphore(concurrency)
        self._first: dict[int, asyncio.Future[None]] = {}  # registrations `start` awaits
        self._watch: asyncio.Task[None] | None = None

    async def start(self, timeout: float) -> None:
        """Register every agent with the current leader (at most `concurrency` at once)."""
        await self.detector.wait_leader(timeout)
        self._watch = asyncio.ensure_future(self._follow())

        async def one(agent: SimAgent) -> None:
            async with self._slots:
                done = self._first[agent.index] = asyncio.get_running_loop().create_future()
                self._connect(agent)
                await done

        await asyncio.wait_for(asyncio.gather(*(one(a) for a in self.agents)), timeout)

    async def _follow(self) -> None:
        """When the detector names another master, every pause ends: those agents (and
        those waiting for a leader) subscribe to it at once."""
        leader = self.detector.current()
        while True:
            leader = await self.detector.changed(leader)
            log.info("detector: the leading master is now %s", leader)
            woken = [agent for agent, _ in self.pausing.values()]
            for _, handle in self.pausing.values():
                handle.cancel()
            self.pausing.clear()
            waiting, self.waiting = self.waiting, []
            for agent in woken + waiting:
                self._connect(agent)

    def _pause(self, agent: SimAgent, delay: float) -> None:
        def wake() -> None:
            del self.pausing[agent.index]
            self._connect(agent)

        self.pausing[agent.index] = (agent, asyncio.get_running_loop().call_later(delay, wake))

    def _connect(self, agent: SimAgent) -> None:
        leader = self.detector.current()
        if leader is None:
            self.waiting.append(agent)
            return
        if leader != agent.last_leader:  # failures at the old one say nothing of this one
            agent.last_leader = leader
            agent.backoff.reset()
        asyncio.ensure_future(agent.subscribe(leader))

    # -- called by the agents ----------------------------------------------------------------

    def registered(self, agent: SimAgent) -> None:
        self.registrations.append((time.perf_counter(), agent.index))
        done = self._first.pop(agent.index, None)
        if done is not None and not done.done():
            done.set_result(None)
        if self.on_change is not None:
            self.on_change()

    def lost(self, agent: SimAgent, why: str, was_registered: bool) -> None:
        """The agent's stream ended (or never opened): pause, then subscribe again."""
        if not was_registered:
            kind = why.split(":", 1)[0] if why.startswith("connect") else why[:12]
            self.failures[kind] = self.failures.get(kind, 0) + 1
            log.debug("agent %d: %s", agent.index, why)
        self._pause(agent, agent.backoff.next())

    def post(self, master: MasterAddress, prefix: bytes, body: bytes) -> None:
        key = (master.host, master.port)
        pool = self._pools.get(key)
        if pool is None or pool.closed:
            pool = self._pools[key] = CallPool(master.host, master.port, max_connections=8)
        fut = asyncio.ensure_future(pool.post(prefix, body))
        fut.add_done_callback(_drop_failure)

    # -- figures -----------------------------------------------------------------------------

    def registered_count(self) -> int:
        return sum(1 for a in self.agents if a.registered)

    def running_tasks(self) -> int:
        return sum(len(a.tasks) for a in self.agents)

    def unacked_count(self) -> int:
        return sum(len(a.unacked) for a in self.agents)

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        for _, handle in self.pausing.values():
            handle.cancel()
        for agent in self.agents:
            if agent.stream is not None:
                agent.stream.close()
        for pool in self._pools.values():
            pool.close()


def _drop_failure(fut: asyncio.Future[Any]) -> None:
    exc = fut.exception() if not fut.cancelled() else None
    if exc is not None and not isinstance(exc, CallFailed):
        log.warning("call failed: %r", exc)


def agent_ids(fleet: Fleet) -> dict[str, int]:
    """agent id -> index, for the agents that have one."""
    return {a.agent_id: a.index for a in fleet.agents if a.agent_id}
