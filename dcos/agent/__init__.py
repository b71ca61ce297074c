"""The dcos-py agent: runs tasks on one host for the master (port 5051).

Public entry points: `AgentConfig`, `Agent` (``start()`` / ``stop()``), `run_agent(config)`,
and ``python -m dcos.agent``. Containerizers live in `dcos.agent.containerizer`, isolators in
`dcos.agent.isolators`.
"""

from dcos.agent.agent import Agent, run_agent
from dcos.agent.config import AgentConfig

__all__ = ["Agent", "AgentConfig", "run_agent"]
