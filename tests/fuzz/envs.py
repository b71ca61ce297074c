"""The cluster the master and agent fuzz tests attack: a real master and one real agent (its
HTTP API served, tasks simulated) in-process, on a `ServerLoop`, with one framework subscribed
that runs one task (`TASK`, which is also its command executor's id) whose sandbox exists on
disk (a file, a subdirectory, a non-UTF-8 name, a FIFO, links out of the sandbox)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from dcos.testing import InProcessCluster
from dcos.testing.master import Stream, call, command_task, launch, subscribe
from tests.fuzz.harness import Guard, ServerLoop

TASK = "fuzz-task-1"
UUID = "AAAAAAAAAAAAAAAAAAAAAA=="


@dataclass
class ClusterEnv:
    srv: ServerLoop
    cluster: InProcessCluster
    session: aiohttp.ClientSession
    stream: Stream
    fid: str
    sid: str
    aid: str
    sandbox: str = ""
    _offer: str = "none"
    updates: list[dict[str, Any]] = field(default_factory=list)  # seen by `latest_offer`
    seen_offers: set[str] = field(default_factory=set)

    @property
    def port(self) -> int:
        """The master's port."""
        return self.cluster.master.port  # type: ignore[union-attr]

    @property
    def agent_port(self) -> int:
        return self.cluster.agents[0].core.info.port  # type: ignore[union-attr]

    def snapshot(self, agent_side: bool = True) -> Any:
        """What no refused request may change: at the master our framework (connected, its
        task's state), our agent (connected, resources), the agent ids, weights and quota;
        with `agent_side`, at the agent our task's state, its frameworks and executors (not
        for the master's tests: a task the master accepted reaches the agent later)."""

        def snap() -> Any:
            core = self.cluster.core
            fw = core.frameworks.get(self.fid)  # type: ignore[call-overload]
            agent = core.agents.get(self.aid)  # type: ignore[call-overload]
            acore = self.cluster.agents[0].core  # type: ignore[union-attr]
            task = fw.tasks.get(TASK) if fw else None  # type: ignore[call-overload]
            ours = next((t for f in acore.frameworks.values() if (t := f.tasks.get(TASK))), None)  # type: ignore[call-overload]
            return (
                fw is not None and fw.connected, task.state if task else None,
                ours.state if ours and agent_side else None,
                agent is not None and agent.connected, str(agent.total) if agent else None,
                sorted(map(str, core.agents)), dict(core.weights),
                {r: str(q) for r, q in core.quota.items()},
            ) + ((sorted(map(str, acore.frameworks)), sorted(map(str, acore.executors)))
                 if agent_side else ())  # fmt: skip

        return self.srv.call(snap)

    def guard(self, name: str, agent_side: bool = True) -> Guard:
        return Guard(name, lambda: self.snapshot(agent_side))

    def get(self, url: str) -> tuple[int, bytes]:
        async def get() -> tuple[int, bytes]:
            async with self.session.get(url, timeout=aiohttp.ClientTimeout(total=10)) as r:
                return r.status, await r.read()

        return self.srv.run(get())

    def assert_healthy(self, launched: bool = False) -> None:
        """The master and the agent still answer, with our framework, agent and running task;
        every id the master took is a valid one and every sandbox is inside the agent's work
        dir. Unless the test `launched` tasks itself, the agent runs exactly our task (no
        phantom executor or framework)."""
        import orjson

        status, raw = self.get(f"{self.cluster.url}/master/state")
        assert status == 200, raw[:300]
        body = orjson.loads(raw)
        fws = {f["id"]: f for f in body["frameworks"]}
        assert self.fid in fws and fws[self.fid]["active"], fws.keys()
        tasks = {t["id"]: t["state"] for t in fws[self.fid]["tasks"]}
        assert tasks[TASK] == "TASK_RUNNING", tasks
        for f in [*body["frameworks"], *body.get("completed_frameworks", [])]:
            ids = [f["id"]] + [t["id"] for t in f["tasks"] + f.get("completed_tasks", [])]
            bad = [i for i in ids if not valid_id(i)]
            assert not bad, f"the master took invalid ids: {bad!r}"
        self.latest_offer()  # reads the framework's events
        silent = [u for u in self.updates if u["state"] in ("TASK_FAILED", "TASK_ERROR")
                  and not u.get("message")]  # fmt: skip
        assert not silent, f"failures reported without a reason: {silent[:3]!r}"
        agents = {a["id"]: a for a in body["slaves"]}
        assert agents[self.aid]["active"], agents[self.aid]
        assert TASK in self.cluster.running_tasks()
        status, raw = self.get(f"http://127.0.0.1:{self.agent_port}/state")
        assert status == 200, raw[:300]
        state = orjson.loads(raw)
        work_dir = os.path.realpath(self.cluster.agents[0].core.work_dir)  # type: ignore[union-attr]
        for f in state["frameworks"] + state.get("completed_frameworks", []):
            for e in f["executors"] + f.get("completed_executors", []):
                if not e["directory"]:
                    continue  # the launch failed before a sandbox was made
                real = os.path.realpath(e["directory"])
                assert real.startswith(work_dir + os.sep), f"sandbox outside the work dir: {e}"
        if launched:
            return
        assert [f["id"] for f in state["frameworks"]] == [self.fid], state["frameworks"]
        execs = [(e["id"], [t["id"] for t in e["tasks"]])
                 for f in state["frameworks"] for e in f["executors"]]  # fmt: skip
        assert execs == [(TASK, [TASK])], execs
        assert self.cluster.running_tasks() == [TASK]

    def latest_offer(self) -> str:
        """The id of the newest offer our framework holds (events read so far are dropped;
        status updates are acknowledged), or ``"none"``."""

        async def drain() -> str:
            while not self.stream.events.empty():
                ev = self.stream.events.get_nowait()
                if ev["type"] == "OFFERS" and ev["offers"].get("offers"):
                    self._offer = ev["offers"]["offers"][-1]["id"]["value"]
                    self.seen_offers.update(o["id"]["value"] for o in ev["offers"]["offers"])
                elif ev["type"] == "UPDATE":
                    s = ev["update"]["status"]
                    self.updates.append(s)
                    if not s.get("uuid"):
                        continue
                    await call(self.session, self.cluster.url, self.fid, self.sid, {
                        "type": "ACKNOWLEDGE", "acknowledge": {
                            "agent_id": s["agent_id"], "task_id": s["task_id"], "uuid": s["uuid"]}})  # fmt: skip
            return self._offer

        return self.srv.run(drain())


    def fresh_offer(self) -> str:
        """A new offer for our framework (it revives, which clears its filters, and declines
        what it holds); AssertionError when none comes within 5 s: the master stopped
        offering (e.g. an accepted quota or weight starves the framework)."""
        self.latest_offer()

        def holds() -> list[str]:
            fw = self.cluster.core.frameworks.get(self.fid)  # type: ignore[call-overload]
            return [str(o) for o in fw.offers] if fw else []

        held = self.srv.call(holds)
        time.sleep(0.2)  # an OFFERS event may still be on its way
        self.latest_offer()
        unsent = set(held) - self.seen_offers
        assert not unsent, f"the framework holds offers it was never sent: {unsent}"

        async def revive() -> None:
            bodies: list[dict[str, Any]] = [{"type": "REVIVE"}]
            if held:
                bodies.append({"type": "DECLINE", "decline": {
                    "offer_ids": [{"value": o} for o in held],
                    "filters": {"refuse_seconds": 0}}})  # fmt: skip
            for body in bodies:
                r = await call(self.session, self.cluster.url, self.fid, self.sid, body)
                assert r.status == 202, body

        self.srv.run(revive())
        for _ in range(100):
            offer = self.latest_offer()
            if offer not in (*held, "none"):
                return offer
            time.sleep(0.05)

        def why() -> Any:
            core = self.cluster.core
            fw = core.frameworks.get(self.fid)  # type: ignore[call-overload]
            return {"framework": fw and (fw.connected, fw.active, sorted(fw.suppressed_roles),
                                         len(fw.offers), fw.roles, len(fw.tasks)),
                    "agents": {str(a): (r.connected, str(r.total), str(r.used()))
                               for a, r in core.agents.items()},
                    "quota": {k: str(v) for k, v in core.quota.items()},
                    "weights": dict(core.weights)}  # fmt: skip

        raise AssertionError(f"no new offer within 5 s: the master stopped offering: "
                             f"{self.srv.call(why)}")

    def assert_offers_flow(self) -> None:
        self.fresh_offer()


def valid_id(value: str) -> bool:
    """Mesos' rules for a task, executor or framework id (the part that keeps a sandbox path
    inside the work dir): not empty, no ``/``, ``\\`` or NUL, not ``.`` or ``..``."""
    return bool(value) and value not in (".", "..") and not any(c in value for c in "/\\\x00")


async def _start(srv: ServerLoop, work_dir: str) -> ClusterEnv:
    cluster = InProcessCluster(agents=1, agent_http=True, work_dir=work_dir)
    await cluster.start()
    session = aiohttp.ClientSession()
    stream, fid, sid = await subscribe(session, cluster.url, name="fuzz-fw")
    offer = (await stream.next("OFFERS"))["offers"]["offers"][0]
    aid = offer["agent_id"]["value"]
    r = await launch(session, cluster.url, fid, sid, offer["id"],
                     [command_task(TASK, aid, "serve", cpus=0.5)])  # fmt: skip
    assert r.status == 202
    state, held, seen = "", "none", {offer["id"]["value"]}
    while state != "TASK_RUNNING":  # updates of a task come one at a time: acknowledge each
        ev = await stream.next()
        if ev["type"] == "OFFERS":
            held = ev["offers"]["offers"][-1]["id"]["value"]  # what the launch left
            seen.update(o["id"]["value"] for o in ev["offers"]["offers"])
        if ev["type"] != "UPDATE":
            continue
        status = ev["update"]["status"]
        state = status["state"]
        await call(session, cluster.url, fid, sid, {"type": "ACKNOWLEDGE", "acknowledge": {
            "agent_id": {"value": aid}, "task_id": {"value": TASK}, "uuid": status["uuid"]}})  # fmt: skip
    return ClusterEnv(srv, cluster, session, stream, fid, sid, aid, _offer=held, seen_offers=seen)


def make_sandbox(env: ClusterEnv) -> None:
    """Create the task's sandbox (simulated tasks have none) with files worth reading."""
    import orjson

    status, raw = env.get(f"http://127.0.0.1:{env.agent_port}/state")
    state = orjson.loads(raw)
    sandbox = state["frameworks"][0]["executors"][0]["directory"]
    os.makedirs(os.path.join(sandbox, "sub", "deeper"), exist_ok=True)
    with open(os.path.join(sandbox, "stdout"), "wb") as f:
        f.write(b"hello \xe2\x82\xac \xff\xfe world\n" * 1000)
    with open(os.path.join(sandbox, "sub", "empty"), "wb"):
        pass
    with open(os.fsencode(os.path.join(sandbox, "bad-")) + b"\xff\xfe", "wb") as f:
        f.write(b"x")
    os.mkfifo(os.path.join(sandbox, "fifo"))
    for name, target in (("root", "/proc/1/root"), ("passwd", "/etc/passwd"), ("up", "../../..")):
        os.symlink(target, os.path.join(sandbox, name))
    env.sandbox = sandbox


def cluster_env(tmp_dir: str) -> Iterator[ClusterEnv]:
    """The module fixture's body: start, yield, stop everything."""
    srv = ServerLoop()
    try:
        env = srv.run(_start(srv, tmp_dir))
        make_sandbox(env)
        env.assert_healthy()
        yield env

        async def stop() -> None:
            await env.stream.close()
            await env.session.close()
            await env.cluster.stop()

        srv.run(stop())
    finally:
        srv.close()
