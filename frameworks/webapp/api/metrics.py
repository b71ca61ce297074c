"""The webapp's metrics and debug readers: Marathon's ``/metrics`` JSON, the Prometheus
families served at ``/metrics/prometheus`` (``dcos_webapp_*``, read from the state at scrape
time) and ``/debug/stimuli`` (the service's `StimulusLog`). Registered by
`frameworks.webapp.api.server.build_app`; pure readers of the service, they change nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from dcos.common.metrics import CounterMetricFamily, GaugeMetricFamily, Metric
from dcos.common.stimulus import StimulusLog
from frameworks.webapp.api.http import error, respond
from frameworks.webapp.scheduler import WebappService


def marathon_metrics(s: WebappService) -> dict[str, Any]:
    """``GET /metrics``: Marathon's Dropwizard-style JSON."""
    view = s.view
    tasks = view.tasks.values()
    gauges = {
        "service.mesosphere.marathon.app.count": {"value": len(view.apps)},
        "service.mesosphere.marathon.task.running.count": {"value": sum(1 for i in tasks if i.running)},
        "service.mesosphere.marathon.task.staged.count": {"value": sum(1 for i in tasks if not i.running)},
        "service.mesosphere.marathon.deployments.active": {"value": len(view.deployments)},
        "service.mesosphere.marathon.uptime": {"value": s.time() - s.started_at},
        "webapp.events.subscribers": {"value": s.bus.subscribers},
        "webapp.callbacks.subscribers": {"value": len(s.callbacks.urls)},
    }
    counters = {f"webapp.{k}": {"count": v} for k, v in s.metrics.items()}
    for name in ("delivered", "failed", "dropped", "retried"):
        total = sum(getattr(s.callbacks.stats(u), name) for u in s.callbacks.urls)
        counters[f"webapp.callbacks.{name}"] = {"count": total}
    return {"version": "4.0.0", "gauges": gauges, "counters": counters,
            "histograms": {}, "meters": {}, "timers": {}}  # fmt: skip


COUNTERS = {
    "launched": ("dcos_webapp_tasks_launched", "Tasks sent to the master to launch"),
    "killed": ("dcos_webapp_tasks_killed", "Kill calls sent to the master"),
    "offers": ("dcos_webapp_offers_received", "Offers received"),
    "declined": ("dcos_webapp_offers_declined", "Offers declined"),
    "status_updates": ("dcos_webapp_status_updates", "Task status updates received"),
}


def collect(s: WebappService) -> Iterator[Metric]:
    """The ``dcos_webapp_*`` families, built from the service's state now."""
    view = s.view
    yield GaugeMetricFamily("dcos_webapp_apps", "Apps defined", value=len(view.apps))
    by_state = GaugeMetricFamily("dcos_webapp_instances", "Instances by task state", labels=["state"])
    for state, n in sorted(Counter(i.state for i in view.tasks.values()).items()):
        by_state.add_metric([state], n)
    yield by_state
    yield GaugeMetricFamily("dcos_webapp_deployments", "Deployments in progress", value=len(view.deployments))
    waiting = view.waiting_apps()
    yield GaugeMetricFamily("dcos_webapp_queue_apps", "Apps waiting for tasks", value=len(waiting))
    yield GaugeMetricFamily("dcos_webapp_queue_tasks", "Tasks waiting to be launched",
                            value=sum(st.need for a in waiting if (st := view.state.get(a))))  # fmt: skip
    yield GaugeMetricFamily("dcos_webapp_event_subscribers", "Event stream and callback subscribers",
                            value=s.bus.subscribers + len(s.callbacks.urls))  # fmt: skip
    yield GaugeMetricFamily("dcos_webapp_uptime_seconds", "Seconds since the service started",
                            value=s.time() - s.started_at)  # fmt: skip
    for key, (name, doc) in COUNTERS.items():
        yield CounterMetricFamily(name, doc, value=s.metrics.get(key, 0))
    yield CounterMetricFamily("dcos_webapp_stimuli", "Inputs recorded by the stimulus log",
                              value=s.stimuli.recorded)  # fmt: skip


def stimuli(request: web.Request, log: StimulusLog) -> web.Response:
    """``GET /debug/stimuli?limit=N`` (default 100): the newest entries, oldest first."""
    text = request.query.get("limit", "100")
    try:
        limit = int(text)
    except ValueError:
        return error(400, f"limit must be an integer, not {text!r}")
    return respond({"capacity": log.capacity, "recorded": log.recorded, "entries": log.entries(max(0, limit))})
