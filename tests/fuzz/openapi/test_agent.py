"""Schemathesis against the agent's description (`dcos.agent.http.openapi`): Mesos' agent
endpoints, files (sandboxes and the agent's log), metrics and the v1 executor API (as a
stranger: without an executor's token every call is refused, and nothing changes).

Not sent: executor SUBSCRIBE calls (a stream).
"""

from __future__ import annotations

from tests.fuzz.openapi.harness import Cluster, alive, fuzz, load


def test_agent(up_cluster: Cluster) -> None:
    fuzz("agent", load(up_cluster.agent), up_cluster.session)
    alive(up_cluster, up_cluster.agent)
