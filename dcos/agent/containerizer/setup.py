"""`make_process_containerizer`: the agent's real containerizer, isolated as its flags say.

Called by `dcos.agent.agent.Agent` when no containerizer is injected. It detects GPUs (the
agent's ``gpu_command``), builds the isolators from ``--isolation`` and the cgroups flags
(`dcos.agent.isolators.select`), logs what cannot be enforced here; the task launcher's
socket and journal are under ``<work_dir>/meta/containers`` (recovery).
"""

from __future__ import annotations

import hashlib
import logging
import os

from dcos.agent.config import AgentConfig
from dcos.agent.containerizer.process import ProcessContainerizer
from dcos.agent.gpus import detect_gpu_devices
from dcos.agent.isolators.select import build_isolators

log = logging.getLogger(__name__)


def agent_key(config: AgentConfig) -> str:
    """The agent's directory name under the cgroups root: its port, else a work-dir hash.

    Stable across restarts of the same agent (recovery finds its cgroups again) and distinct
    for agents sharing a host."""
    if config.port:
        return f"agent-{config.port}"
    digest = hashlib.sha1(os.path.abspath(config.work_dir).encode()).hexdigest()[:12]
    return f"agent-{digest}"


def meta_dir(config: AgentConfig) -> str:
    return os.path.join(os.path.abspath(config.work_dir), "meta", "containers")


def make_process_containerizer(config: AgentConfig) -> ProcessContainerizer:
    """Raises ValueError for an unknown isolator name."""
    gpus = detect_gpu_devices(config.gpu_command) if config.detect else []
    choice = build_isolators(
        config.isolation,
        cgroups_root=config.cgroups_root,
        agent_key=agent_key(config),
        enable_cfs=config.cgroups_enable_cfs,
        max_pids=config.cgroups_max_pids or None,
        disk_interval=config.disk_watch_interval,
        gpus=gpus,
    )
    log.info("isolation in force: %s", choice.names)
    return ProcessContainerizer(choice.isolators, meta_dir=meta_dir(config))
