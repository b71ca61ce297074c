"""The master's Prometheus metrics (``/metrics`` and ``/metrics/prometheus``), read from its
state at scrape time: agents, frameworks, tasks by state, outstanding offers, allocation
runs and the core's other counters, all named ``dcos_master_*``.

Called by `dcos.common.metrics` for each scrape with the shell (`dcos.master.http.routes`
wires it); changes nothing and counts nothing on hot paths. A standby master reports
``dcos_master_elected 0`` and its uptime only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from dcos.common.metrics import CounterMetricFamily, GaugeMetricFamily, Metric
from dcos.master.shell import MasterShell, MasterView

P = "dcos_master_"


def collect(shell: MasterShell) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        P + "elected", "1 on the leading master, 0 on a standby", value=int(shell.leading)
    )
    yield GaugeMetricFamily(
        P + "uptime_seconds", "Seconds since the master process started",
        value=shell.now() - shell.start_time,
    )  # fmt: skip
    if shell.leading:
        yield from _leader(shell.view())


def _leader(view: MasterView) -> Iterator[Metric]:
    core = view.core
    agents = list(core.agents.values())
    g = GaugeMetricFamily(P + "agents", "Agents known to the master, by status", labels=["status"])
    g.add_metric(["connected"], sum(1 for a in agents if a.connected))
    g.add_metric(["disconnected"], sum(1 for a in agents if not a.connected))
    g.add_metric(["unreachable"], len(core.unreachable_agents))
    g.add_metric(["recovered"], len(core.recovered_agents))
    yield g
    fws = list(core.frameworks.values())
    g = GaugeMetricFamily(P + "frameworks", "Frameworks, by status", labels=["status"])
    g.add_metric(["active"], sum(1 for f in fws if f.active))
    g.add_metric(["connected"], sum(1 for f in fws if f.connected))
    g.add_metric(["disconnected"], sum(1 for f in fws if not f.connected))
    g.add_metric(["completed"], len(core.completed_frameworks))
    yield g
    live = Counter(t.state for f in fws for t in f.tasks.values())
    live.update(t.state for f in fws for t in f.unreachable_tasks.values())
    g = GaugeMetricFamily(P + "tasks", "Tasks the master tracks, by state", labels=["state"])
    for state, n in sorted(live.items()):
        g.add_metric([state], n)
    yield g
    yield GaugeMetricFamily(
        P + "offers_outstanding", "Offers sent and not yet answered", value=len(core.offers)
    )
    for name, value in sorted(core.counters.items()):
        yield CounterMetricFamily(P + name, f"Master counter {name}", value=value)
