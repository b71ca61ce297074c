"""Drives the webapp framework with the real marathon-python 0.13.0 client (run in
.venv-compat): ping, create, list, deployments, tasks, scale, kill with scale, queue, info,
one event from the event stream, delete. Prints one JSON line of what it saw."""

import collections
import collections.abc
import json
import sys
import threading
import time

collections.Iterable = collections.abc.Iterable  # marathon-python predates Python 3.10

from marathon import MarathonClient  # noqa: E402
from marathon.models import MarathonApp  # noqa: E402


def wait(pred, what, timeout=40):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def main(url):
    c = MarathonClient(url)
    seen = {"ping": c.ping() is not None}
    events = []

    def listen():
        for ev in c.event_stream():
            events.append(type(ev).__name__)
            if len(events) >= 3:
                return

    threading.Thread(target=listen, daemon=True).start()
    wait(lambda: events, "the event stream")
    app = c.create_app("compat-app", MarathonApp(cmd="sleep 600", cpus=0.1, mem=16, instances=2))
    seen["created"] = bool(app) and app.id == "/compat-app"
    seen["deployments_after_create"] = len(c.list_deployments())
    seen["listed"] = [a.id for a in c.list_apps()]
    wait(lambda: c.get_app("/compat-app", embed_tasks=True).deployments == [], "deployment")
    tasks = c.list_tasks("/compat-app")
    seen["tasks"] = len(tasks)
    seen["task_fields"] = [tasks[0].slave_id is not None, tasks[0].staged_at is not None]
    c.scale_app("/compat-app", instances=3)
    wait(lambda: len([t for t in c.list_tasks("/compat-app") if t.state == "TASK_RUNNING"]) == 3, "scale")
    wait(lambda: c.get_app("/compat-app").deployments == [], "scale deployment")
    victim = c.list_tasks("/compat-app")[0].id
    c.kill_task("/compat-app", victim, scale=True)
    wait(lambda: c.get_app("/compat-app").instances == 2 and c.get_app("/compat-app").deployments == []
         and len(c.list_tasks("/compat-app")) == 2, "kill with scale")
    seen["after_kill"] = len(c.list_tasks("/compat-app"))
    seen["queue"] = len(c.list_queue())
    info = c.get_info()
    seen["info"] = info.framework_id is not None and info.name == "webapp" and info.marathon_config.local_port_min == 10000
    seen["versions"] = len(c.list_versions("/compat-app"))
    c.delete_app("/compat-app", force=True)
    wait(lambda: not any(a.id == "/compat-app" for a in c.list_apps()), "delete")
    seen["events"] = events
    print(json.dumps(seen))


if __name__ == "__main__":
    main(sys.argv[1])
