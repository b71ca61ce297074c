#!/usr/bin/env python3
"""hello_framework: launch N short tasks on dcos-py (or any Mesos v1 master), exit when done.

Run it against a local cluster (``make up``)::

    .venv/bin/python examples/hello_framework.py --master 127.0.0.1:5050 --tasks 5

It packs as many tasks into each offer as fit, declines what it cannot use with a filter,
suppresses offers once every task is launched, relaunches tasks that were lost (reviving
offers), reconciles after a reconnection, and tears the framework down at the end. The exit
status is 0 when every task finished, 1 otherwise. docs/writing-a-framework.md walks through it.
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
    Offer,
    OfferPacker,
    Scheduler,
    SchedulerDriver,
    TaskNeeds,
    TaskStatus,
    task_info,
)

log = logging.getLogger("hello")

# Worth another try: the task never ran, or its agent went away (TASK_UNKNOWN: a
# reconciliation answer for a task the master never heard of).
RETRY_STATES = {"TASK_LOST", "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"}
MAX_ATTEMPTS = 3


class HelloScheduler(Scheduler):
    """Launches `total` copies of `command`, each with `needs`, and stops when all ended."""

    def __init__(self, total: int, command: str, needs: TaskNeeds) -> None:
        self.total = total
        self.command = command
        self.needs = needs
        self.pending: list[int] = list(range(total))  # task numbers still to launch
        self.running: dict[str, int] = {}  # task id -> task number, launched and not ended
        self.attempts: dict[int, int] = {}
        self.finished: set[int] = set()
        self.failed: dict[int, str] = {}
        self.suppressed = False

    async def registered(self, driver, framework_id, master_info):
        log.info(
            "registered as framework %s with master %s:%s",
            framework_id,
            master_info.get("hostname"),
            master_info.get("port"),
        )

    async def reregistered(self, driver, master_info):
        # Updates may have been missed while disconnected: ask for the state of our tasks.
        log.info("re-registered; reconciling %d tasks", len(self.running))
        await driver.reconcile(list(self.running))

    async def disconnected(self, driver):
        log.warning("disconnected from the master; the driver is reconnecting")

    async def resource_offers(self, driver, offers: list[Offer]):
        for offer in offers:
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
                        f"hello-{number}", task_id, offer.agent_id, self.command, fit.resources
                    )
                )
            if tasks:
                log.info("launching %d task(s) on %s", len(tasks), offer.hostname)
                await driver.launch([offer], tasks, refuse_seconds=5)  # one ACCEPT
            else:
                # Nothing to launch here: do not offer this agent again for a minute.
                await driver.decline([offer], refuse_seconds=60)
        if not self.pending and not self.suppressed:
            await driver.suppress()  # no more offers until we revive
            self.suppressed = True

    async def status_update(self, driver, status: TaskStatus):
        number = self.running.get(status.task_id)
        log.info("task %s is %s %s", status.task_id, status.state, status.message)
        if number is None or not (status.terminal or status.state == "TASK_UNKNOWN"):
            return
        del self.running[status.task_id]
        if status.state == "TASK_FINISHED":
            self.finished.add(number)
        elif status.state in RETRY_STATES and self.attempts[number] < MAX_ATTEMPTS:
            self.pending.append(number)  # relaunch it
            if self.suppressed:
                await driver.revive()
                self.suppressed = False
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

    needs = TaskNeeds.parse(f"cpus:{args.cpus};mem:{args.mem}")
    sched = HelloScheduler(args.tasks, args.command, needs)
    framework = {"name": args.name}
    if args.role:
        framework["roles"] = [args.role]
        framework["capabilities"] = [{"type": "MULTI_ROLE"}]
    driver = SchedulerDriver(sched, framework, args.master, failover_timeout=args.failover_timeout)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(driver.stop()))
    state = await driver.run()
    ok = state == DRIVER_STOPPED and len(sched.finished) == args.tasks
    for number, why in sorted(sched.failed.items()):
        print(f"task {number} failed: {why}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
