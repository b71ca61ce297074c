"""``GET /metrics`` and ``/metrics/prometheus``: the agent's Prometheus text metrics.

Registered by `dcos.agent.http.app.make_app` through `dcos.common.metrics.add_prometheus_routes`;
`collect` reads the shell and its core at scrape time (nothing is counted on the hot paths):
tasks by state, executors by kind, resources total and used, status updates pending,
containers, registration and the core's counters. Every name starts with ``dcos_agent_``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from dcos.agent.shell import AgentShell
from dcos.common.metrics import CounterMetricFamily, GaugeMetricFamily, Metric

RESOURCES = ("cpus", "mem", "disk", "gpus")


def collector(agent: AgentShell) -> Callable[[], Iterable[Metric]]:
    """The `collect` function of `add_prometheus_routes` for this agent."""

    def collect() -> Iterable[Metric]:
        return list(metrics(agent))

    return collect


def metrics(agent: AgentShell) -> Iterable[Metric]:
    core = agent.core
    yield GaugeMetricFamily("dcos_agent_registered", "1 while registered with a master",
                            value=1.0 if core.registered else 0.0)  # fmt: skip
    tasks = GaugeMetricFamily("dcos_agent_tasks", "Live tasks by state", labels=["state"])
    counts: dict[str, int] = {}
    for rec in core.live_tasks():
        counts[str(rec.state)] = counts.get(str(rec.state), 0) + 1
    for state in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"):
        counts.setdefault(state, 0)
    for state, n in sorted(counts.items()):
        tasks.add_metric([state], float(n))
    yield tasks
    ended = CounterMetricFamily("dcos_agent_tasks_terminal", "Tasks that reached a terminal "
                                "state since the agent started", labels=["state"])  # fmt: skip
    for state, n in sorted(core.terminal_counts.items()):
        ended.add_metric([str(state)], float(n))
    yield ended
    executors = GaugeMetricFamily("dcos_agent_executors", "Live executors by kind",
                                  labels=["kind"])  # fmt: skip
    kinds = {"custom": 0, "default": 0}
    for ex in core.executors.values():
        kinds[ex.kind] = kinds.get(ex.kind, 0) + 1
    for kind, n in sorted(kinds.items()):
        executors.add_metric([kind], float(n))
    yield executors
    yield GaugeMetricFamily("dcos_agent_frameworks", "Frameworks with tasks or executors here",
                            value=float(len(core.frameworks)))  # fmt: skip
    total, used = core.info.resources, core.used_resources()
    res_total = GaugeMetricFamily("dcos_agent_resources_total", "The agent's resources",
                                  labels=["resource"])  # fmt: skip
    res_used = GaugeMetricFamily("dcos_agent_resources_used", "Resources of live tasks and "
                                 "executors", labels=["resource"])  # fmt: skip
    for name in RESOURCES:
        res_total.add_metric([name], total.scalar(name))
        res_used.add_metric([name], used.scalar(name))
    yield res_total
    yield res_used
    yield GaugeMetricFamily("dcos_agent_status_updates_pending", "Unacknowledged status "
                            "updates", value=float(len(core.updates)))  # fmt: skip
    yield GaugeMetricFamily("dcos_agent_containers", "Containers the containerizer runs",
                            value=float(len(agent.containerizer.containers())))  # fmt: skip
    updates = CounterMetricFamily("dcos_agent_status_updates", "Status updates made, by "
                                  "validity", labels=["valid"])  # fmt: skip
    updates.add_metric(["true"], float(core.counters["valid_status_updates"]))
    updates.add_metric(["false"], float(core.counters["invalid_status_updates"]))
    yield updates
    yield CounterMetricFamily("dcos_agent_errors", "Bugs caught by the agent's loops",
                              value=float(agent.errors))  # fmt: skip
