#!/usr/bin/env python3
"""hello_framework: launch N short tasks on dcos-py (or any Mesos v1 master), exit when done.

Run it against a local cluster (``make up``)::

    .venv/bin/python examples/hello_framework.py --master 127.0.0.1:5050 --tasks 5

It packs as many tasks into each offer as fit, declines what it cannot use with a filter,
suppresses offers once every task is launched, relaunches tasks that were lost (reviving
offers), reconciles after every (re)subscription, and tears the framework down at the end.
The exit status is 0 when every task finished, 1 otherwise. docs/writing-a-framework.md walks
through it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import uuid

from dcos.sdk import (
    DRIVER_STOPPED,
    BackgroundTasks,
    Decline,
    FrameworkAction,
    FrameworkScheduler,
    Launch,
    Offer,
    OfferPacker,
    SchedulerDriver,
    TaskNeeds,
    TaskState,
    TaskStatus,
    framework_info,
    task_info,
)

log = logging.getLogger("hello")

# Worth another try: the task never ran, or its agent went away (TASK_UNKNOWN: a
# reconciliation answer for a task the master never heard of).
RETRY_STATES = {
    TaskState.TASK_LOST,
    TaskState.TASK_DROPPED,
    TaskState.TASK_GONE,
    TaskState.TASK_GONE_BY_OPERATOR,
    TaskState.TASK_UNKNOWN,
}
MAX_ATTEMPTS = 3


class HelloScheduler(FrameworkScheduler):
    """Launches `total` copies of `command`, each with `needs`, and stops when all ended.

    `FrameworkScheduler` reconciles `known_tasks()` after every SUBSCRIBED and keeps the
    SUPPRESS / REVIVE state (`self.suppression`); the callbacks return framework actions
    that `driver.apply` sends together."""

    def __init__(self, total: int, command: str, needs: TaskNeeds) -> None:
        super().__init__()
        self.total = total
        self.command = command
        self.needs = needs
        self.pending: list[int] = list(range(total))  # task numbers still to launch
        self.running: dict[str, int] = {}  # task id -> task number, launched and not ended
        self.attempts: dict[int, int] = {}
        self.finished: set[int] = set()
        self.failed: dict[int, str] = {}

    def known_tasks(self) -> list[str]:
        return list(self.running)  # updates may have been missed while disconnected

    async def subscribed(self, driver, first):
        log.info("%s; reconciled %d tasks", "registered" if first else "re-registered",
                 len(self.running))  # fmt: skip

    async def disconnected(self, driver):
        log.warning("disconnected from the master; the driver is reconnecting")

    async def resource_offers(self, driver, offers: list[Offer]):
        actions: list[FrameworkAction] = []
        for offer in offers:
            tasks = self.pack(offer)
            if tasks:
                log.info("launching %d task(s) on %s", len(tasks), offer.hostname)
                actions.append(Launch([offer.id], tasks, refuse_seconds=5))  # one ACCEPT
            else:
                # Nothing to launch here: do not offer this agent again for a minute.
                actions.append(Decline([offer.id], refuse_seconds=60))
        # No more offers until something is pending again.
        actions += self.suppression.update(wants_offers=bool(self.pending))
        await driver.apply(actions)  # sent together; failures are logged

    def pack(self, offer: Offer) -> list[dict]:
        """As many pending tasks as fit into `offer`, as TaskInfo dicts."""
        packer = OfferPacker(offer)
        tasks = []
        while self.pending:
            fit = packer.take(self.needs)
            if not fit.ok:
                log.debug("offer %s on %s: %s", offer.id, offer.hostname, fit.reason)
                break
            number = self.pending.pop(0)
            self.attempts[number] = self.attempts.get(number, 0) + 1
            task_id = f"hello-{number}-{uuid.uuid4().hex[:8]}"
            self.running[task_id] = number
            tasks.append(
                task_info(
                    name=f"hello-{number}",
                    task_id=task_id,
                    agent_id=offer.agent_id,
                    resources=fit.resources,
                    command=self.command,
                )
            )
        return tasks

    async def status_update(self, driver, status: TaskStatus):
        number = self.running.get(status.task_id)
        log.info("task %s is %s %s", status.task_id, status.state, status.message)
        if number is None or not (status.terminal or status.state == TaskState.TASK_UNKNOWN):
            return
        del self.running[status.task_id]
        if status.state == TaskState.TASK_FINISHED:
            self.finished.add(number)
        elif status.state in RETRY_STATES and self.attempts[number] < MAX_ATTEMPTS:
            self.pending.append(number)  # relaunch it
            await self.demand(driver, wants_offers=True)  # REVIVE if suppressed
        else:
            self.failed[number] = f"{status.state} {status.message}".strip()
        if len(self.finished) + len(self.failed) == self.total:
            log.info("all done: %d finished, %d failed", len(self.finished), len(self.failed))
            await driver.stop()  # TEARDOWN: the master forgets this framework

    async def error(self, driver, message):
        log.error("master error: %s", message)


async def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--master", default=os.environ.get("DCOS_MASTER", "127.0.0.1:5050"))
    p.add_argument("--tasks", type=int, default=5)
    p.add_argument("--cpus", type=float, default=0.1)
    p.add_argument("--mem", type=float, default=32)
    p.add_argument("--command", default='echo "hello from $MESOS_TASK_ID"; sleep 1')
    p.add_argument("--name", default="hello-framework")
    p.add_argument("--role", default=None)
    p.add_argument("--failover-timeout", type=float, default=60.0)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    sched = HelloScheduler(args.tasks, args.command, TaskNeeds.of(cpus=args.cpus, mem=args.mem))
    info = framework_info(
        args.name,
        roles=[args.role] if args.role else None,  # MULTI_ROLE is added with roles
        failover_timeout=args.failover_timeout,
    )
    loop = asyncio.get_running_loop()
    stopping = BackgroundTasks()  # keeps a reference to the stop task a signal starts
    async with SchedulerDriver(sched, info, args.master) as driver:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: stopping.spawn(driver.stop()))
        try:
            state = await driver.join()  # until the scheduler (or a signal) stops it
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    ok = state == DRIVER_STOPPED and len(sched.finished) == args.tasks
    for number, why in sorted(sched.failed.items()):
        print(f"task {number} failed: {why}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
