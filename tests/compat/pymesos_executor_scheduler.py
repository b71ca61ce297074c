"""A pymesos 0.3.15 scheduler that launches two tasks on a pymesos custom executor
(pymesos_executor.py) and prints one JSON line with the updates and messages it saw."""

import json
import sys
import threading
import time
from pathlib import Path

from pymesos import MesosSchedulerDriver, Scheduler, decode_data

EXECUTOR = str(Path(__file__).with_name("pymesos_executor.py"))
seen = {"updates": [], "messages": []}
done = threading.Event()
launched = []


def resources(cpus, mem):
    return [{"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}}]


class S(Scheduler):
    def resourceOffers(self, driver, offers):
        for o in offers:
            if launched:
                driver.declineOffer(o["id"], {"refuse_seconds": 3600})
                continue
            executor = {"executor_id": {"value": "pymesos-exec"}, "name": "pymesos executor",
                        "command": {"value": f"{sys.executable} {EXECUTOR}"},
                        "resources": resources(0.1, 32)}
            tasks = [{"task_id": {"value": tid}, "agent_id": o["agent_id"], "name": tid,
                      "executor": executor, "resources": resources(0.1, 16)}
                     for tid in ("pm-1", "pm-2")]
            launched.extend(t["task_id"]["value"] for t in tasks)
            driver.launchTasks(o["id"], tasks)

    def statusUpdate(self, driver, update):
        seen["updates"].append({"task": update["task_id"]["value"], "state": update["state"],
                                "agent": update.get("agent_id", {}).get("value"),
                                "executor": update.get("executor_id", {}).get("value"),
                                "uuid": update.get("uuid"), "source": update.get("source")})
        finished = {u["task"] for u in seen["updates"] if u["state"] == "TASK_FINISHED"}
        if finished == {"pm-1", "pm-2"} and len(seen["messages"]) >= 2:
            done.set()

    def frameworkMessage(self, driver, executor_id, agent_id, data):
        seen["messages"].append({"executor": executor_id["value"], "agent": agent_id["value"],
                                 "data": decode_data(data).decode()})
        finished = {u["task"] for u in seen["updates"] if u["state"] == "TASK_FINISHED"}
        if finished == {"pm-1", "pm-2"} and len(seen["messages"]) >= 2:
            done.set()


driver = MesosSchedulerDriver(S(), {"user": "", "name": "pymesos-executor-compat"}, sys.argv[1])
driver.start()
ok = done.wait(60)
time.sleep(0.3)
driver.stop()
driver.join()
print(json.dumps({"ok": ok, **seen}))
