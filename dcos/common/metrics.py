"""Prometheus text metrics for a component's aiohttp app, read from its state at scrape time.

Each component (master, agent, webapp) passes a ``collect`` function that yields
`prometheus_client` metric families built from its current state (no counters are updated
on hot paths); `add_prometheus_routes` serves them in Prometheus' text format. Called by a
component's app factory once, when it builds its routes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

__all__ = [
    "CounterMetricFamily",
    "GaugeMetricFamily",
    "Metric",
    "add_prometheus_routes",
    "render",
]

Collect = Callable[[], Iterable[Metric]]


class _StateCollector(Collector):
    def __init__(self, collect: Collect) -> None:
        self._collect = collect

    def collect(self) -> Iterable[Metric]:
        return self._collect()


def render(collect: Collect) -> bytes:
    """The Prometheus text exposition of what `collect` yields now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StateCollector(collect))
    return generate_latest(registry)


def add_prometheus_routes(
    app: web.Application,
    collect: Collect,
    paths: Sequence[str] = ("/metrics/prometheus",),
) -> None:
    """Serve ``collect``'s metrics at each of `paths` (GET) in Prometheus' text format."""

    async def handler(request: web.Request) -> web.Response:
        body = render(collect)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    for path in paths:
        app.router.add_get(path, handler)
