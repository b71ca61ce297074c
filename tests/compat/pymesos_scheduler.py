"""A plain pymesos 0.3.15 scheduler, run by tests/compat/test_pymesos.py in the compat venv.

It launches N command tasks and one long one (several per offer), waits until the short ones
finished, reconciles the long one, kills it, and prints one JSON line with what it saw. Only pymesos' public API is used, as a
third-party framework would.
"""

import json
import sys
import threading
import time
import uuid

from pymesos import MesosSchedulerDriver, Scheduler

N = int(sys.argv[2]) if len(sys.argv) > 2 else 6
seen = {"registered": None, "updates": [], "offers": 0, "reconciled": []}
done = threading.Event()
killed = threading.Event()
long_id = "long-" + uuid.uuid4().hex[:8]
launched = []


def resources(cpus, mem):
    return [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
    ]


class S(Scheduler):
    def registered(self, driver, framework_id, master_info):
        seen["registered"] = framework_id["value"]

    def resourceOffers(self, driver, offers):
        for o in offers:
            seen["offers"] += 1
            tasks = []
            while len(launched) < N + 1 and len(tasks) < 4:
                tid = long_id if not launched else "t-" + uuid.uuid4().hex[:8]
                cmd = "sleep 300" if tid == long_id else "echo hi"
                tasks.append({"task_id": {"value": tid}, "agent_id": o["agent_id"], "name": tid,
                              "command": {"value": cmd}, "resources": resources(0.1, 16)})
                launched.append(tid)
            if tasks:
                driver.launchTasks(o["id"], tasks)
            else:
                driver.declineOffer(o["id"], {"refuse_seconds": 3600})

    def statusUpdate(self, driver, update):
        tid = update["task_id"]["value"]
        seen["updates"].append({k: update.get(k) for k in ("state", "reason", "uuid", "message")}
                               | {"task": tid, "agent": update.get("agent_id", {}).get("value")})
        if update.get("reason") == "REASON_RECONCILIATION":
            seen["reconciled"].append(tid)
            if tid == long_id and not killed.is_set():
                killed.set()
                driver.killTask({"value": long_id})  # no agent id: the master finds it
            return
        finished = {u["task"] for u in seen["updates"] if u["state"] == "TASK_FINISHED"}
        running = any(u["task"] == long_id and u["state"] == "TASK_RUNNING"
                      for u in seen["updates"])
        if len(finished) == N and running and not seen["reconciled"] and not killed.is_set():
            driver.reconcileTasks([{"task_id": {"value": long_id}}])
        if tid == long_id and update["state"] == "TASK_KILLED":
            done.set()


driver = MesosSchedulerDriver(S(), {"user": "", "name": "pymesos-compat"}, sys.argv[1])
driver.start()
ok = done.wait(60)
time.sleep(0.5)
driver.stop()
driver.join()
print(json.dumps({"ok": ok, **seen}))
