"""webapp: a Marathon-like framework for long-running services, built only on `dcos.sdk`.

Layout (each piece small and, where it decides things, pure):

- `model/`: app definitions (`app.py`: defaults, validation with Marathon's 422 details),
  groups and dependency order (`group.py`), Marathon JSON shapes and timestamps (`json.py`).
- `planner.py`: pure rolling-upgrade / scale arithmetic (what to launch, what to kill).
- `placement.py`: pure offer matching, a chain of `Filter.check(offer, task) -> Verdict`
  then a `Scorer`, with the reason of every rejection.
- `launch_queue.py`: per-app launch delay (backoff) and declined-offer statistics.
- `health.py`: Marathon health checks -> Mesos ``TaskInfo.health_check``, health-kill limiter.
- `launch.py`: what a task of an app is launched with (ids, service ports, the placement
  request, the Mesos ``TaskInfo`` with Marathon's environment and discovery).
- `core.py`: the sans-IO framework state machine (apps, instances, deployments).
- `scheduler.py`: the `dcos.sdk.Scheduler` shell; `store.py`: persistence; `events.py`: event
  bus and server-sent events; `api/`: the Marathon /v2 REST API; `__main__.py`: entry point.
"""
