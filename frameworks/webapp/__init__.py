"""webapp: a Marathon-like framework for long-running services, built only on `dcos.sdk`.

Layout (each piece small and, where it decides things, pure):

- `model/`: app definitions (`app.py`: defaults, validation with Marathon's 422 details;
  `checks.py`: type checks and the health/readiness sections), ids (`paths.py`: segments,
  no ``.``/``..``, at most 200 characters), groups and dependency order (`group.py`), Marathon
  JSON shapes, timestamps and the body nesting limit (`json.py`).
- `planner.py`: pure rolling-upgrade / scale arithmetic (what to launch, what to kill).
- `placement.py`: pure offer matching, a chain of `Filter.check(offer, task) -> Verdict`
  then a `Scorer`, with the reason of every rejection.
- `launch_queue.py`: per-app launch delay (backoff) and declined-offer statistics.
- `health.py`: Marathon health checks -> Mesos ``TaskInfo.health_check``, health-kill limiter.
- `launch.py`: what a task of an app is launched with (ids, service ports, the placement
  request, the Mesos ``TaskInfo`` with Marathon's environment and discovery).
- `actions.py`: what goes into the core (typed requests and updates) and what comes out
  (`Persist`/`Delete`/`Publish` and the SDK's `Launch`/`Decline`/`Kill`/`Suppress`/`Revive`).
- `core.py`: the sans-IO state machine (entry points return actions; nothing to poll), made
  of `catalog.py` (definitions, versions, groups), `rollout.py` (running deployments) and
  `fleet.py` (instances, offers, status updates); `model/spec.py`: the typed `AppSpec`.
- `scheduler.py`: the shell (`WebappService`: one `match` carrying out the actions, a
  stimulus log, one method per API request kind; `WebappScheduler` on the SDK's
  `FrameworkScheduler`); `store.py`: persistence; `events.py`: event bus and server-sent
  events; `api/`: the Marathon /v2 REST API plus ``/metrics/prometheus`` and
  ``/debug/stimuli``; `__main__.py`: entry point.
- High availability (``--zk``): `ha.py` (pure: the election record, what this instance knows
  about the leadership, `route` for each request), `leading.py` (`LeaderLoop`: campaign, run
  the service while elected, step down at once when the leadership ends), `api/proxy.py`
  (followers proxy ``/v2`` to the leader, as Marathon does).
"""
