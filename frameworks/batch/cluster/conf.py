"""Settings of the cluster backend, read from Spark-style configuration keys.

Called by `ClusterBackend.__init__` with whatever the SparkContext was given (a dict, a
`SparkConf`-like object with ``getAll()``, or None) and the environment.

| key | default | meaning |
|---|---|---|
| ``spark.executor.instances`` | 2 | executors wanted (``--executors``) |
| ``spark.cores.max`` | - | total cpus of all executors (see below) |
| ``spark.executor.cores`` | - | cpus (= task slots) per executor, exactly (``--executor-cores``) |
| ``spark.executor.memory`` | 512m | memory per executor (``--executor-memory``) |
| ``spark.dcos.executor.minCores`` | 0.1 | smallest cpus an executor takes when cores is unset |
| ``spark.locality.wait`` | 200ms | delay scheduling wait before a task runs non-locally |
| ``spark.task.maxFailures`` | 4 | attempts of a task before its job fails |
| ``spark.dynamicAllocation.enabled`` | true | release idle executors, ask again when needed |
| ``spark.dynamicAllocation.executorIdleTimeout`` | 60s | idle time before release |
| ``spark.dynamicAllocation.minExecutors`` | 0 | never release below this |
| ``spark.mesos.role`` | - | role to register with |
| ``spark.driver.host`` | route to master | address executors connect back to |
| ``spark.driver.port`` / ``spark.ui.port`` | 0 (free) | executor stream port / job page port |
| ``spark.pyspark.python`` | this interpreter | Python that runs executors on agents |
| ``spark.executorEnv.NAME`` | - | environment variables of executors |
| ``spark.dcos.executor.perAgent`` | 1 | executors of one driver per agent |
| ``spark.dcos.executor.queueDepth`` | 1 | tasks sent ahead per executor core |
| ``spark.dcos.executor.startTimeout`` | 120s | `start` fails when no executor registers |
| ``spark.dcos.forwardPythonPath`` | true | executors get the driver's ``sys.path`` dirs |
| ``spark.mesos.principal`` | - | framework principal (HTTP Basic; security on) |
| ``spark.mesos.secret`` / ``spark.mesos.secret.file`` | - | its secret, or a file holding it (relative: the sandbox); `frameworks.batch.cluster.security` |
| ``spark.mesos.driver.failoverTimeout`` | 60s | how long the master keeps the driver's framework while it is not subscribed: long enough to re-subscribe after a master failover (a new leader starts every framework's timeout when it takes over); executors exit by themselves when the driver goes away |

Executor cpus (`frameworks.batch.cluster.executor_policy`): with ``spark.executor.cores`` set, each
executor has exactly that many cpus (offers with fewer are declined), and ``spark.cores.max``
gives the number of executors (``cores.max / executor cores``). Without it, an executor takes
the cpus its offer has, fractions included: at most 1 per executor when ``spark.cores.max``
is not set either, else up to what ``spark.cores.max`` still allows (executors are then
launched until it is reached, or until ``spark.executor.instances`` when that is also set).
An executor of ``c`` cpus runs ``max(1, floor(c))`` tasks at once.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dcos.sdk.util import parse_duration
from frameworks.batch.cluster.executor_policy import ExecutorSpec, parse_memory

AUTH_KEYS = ("spark.mesos.principal", "spark.mesos.secret", "spark.mesos.secret.file")


def _bool(v: Any) -> bool:
    return str(v).strip().lower() in ("1", "true", "yes", "on")


def conf_dict(conf: Any) -> dict[str, str]:
    """A plain dict from a dict, a SparkConf-like object (``getAll()``) or None."""
    if conf is None:
        return {}
    if hasattr(conf, "getAll"):
        return {str(k): str(v) for k, v in conf.getAll()}
    if isinstance(conf, Mapping):
        return {str(k): str(v) for k, v in conf.items()}
    raise TypeError(f"conf must be a mapping or SparkConf, not {type(conf).__name__}")


@dataclass
class ClusterConf:
    """Everything the cluster backend reads from the configuration."""

    spec: ExecutorSpec
    locality_wait: float = 0.2
    max_failures: int = 4
    queue_depth: int = 1
    role: str | None = None
    driver_host: str | None = None
    driver_port: int = 0
    ui_port: int = 0
    python: str | None = None
    executor_env: dict[str, str] = field(default_factory=dict)
    start_timeout: float = 120.0
    forward_python_path: bool = True
    failover_timeout: float = 60.0
    mesos_auth: dict[str, str] = field(default_factory=dict)  # spark.mesos.principal/secret(.file)

    @classmethod
    def parse(cls, conf: Any, environ: Mapping[str, str] | None = None) -> ClusterConf:
        """Settings from `conf`, over those in ``$DCOS_BATCH_CONF`` (JSON; set by the
        dispatcher for cluster-mode drivers)."""
        env = os.environ if environ is None else environ
        c: dict[str, str] = {}
        if env.get("DCOS_BATCH_CONF"):
            c.update({str(k): str(v) for k, v in json.loads(env["DCOS_BATCH_CONF"]).items()})
        c.update(conf_dict(conf))
        fixed = "spark.executor.cores" in c
        cores = int(c.get("spark.executor.cores", 1))
        instances = int(c.get("spark.executor.instances", 2))
        min_cores = float(c.get("spark.dcos.executor.minCores", 0.1))
        max_cores = float(c["spark.cores.max"]) if "spark.cores.max" in c else None
        if max_cores is not None and fixed:
            instances = max(1, int(max_cores) // max(1, cores))
        elif max_cores is not None and "spark.executor.instances" not in c:
            # Executors of what the offers have, until cores.max is reached.
            instances = max(1, math.ceil(max_cores / max(min_cores, 0.001)))
        dynamic = _bool(c.get("spark.dynamicAllocation.enabled", "true"))
        spec = ExecutorSpec(
            cores=cores,
            mem_mb=parse_memory(c.get("spark.executor.memory", "512m")),
            fixed_cores=fixed,
            max_cores=None if fixed else max_cores,
            min_cores=min_cores,
            explicit_mem="spark.executor.memory" in c,
            max_executors=instances,
            min_executors=int(c.get("spark.dynamicAllocation.minExecutors", 0)),
            per_agent=int(c.get("spark.dcos.executor.perAgent", 1)),
            dynamic=dynamic,
            idle_timeout=parse_duration(
                c.get("spark.dynamicAllocation.executorIdleTimeout", "60s")
            ),
        )
        env = {
            k[len("spark.executorEnv.") :]: v
            for k, v in c.items()
            if k.startswith("spark.executorEnv.")
        }
        return cls(
            spec=spec,
            locality_wait=parse_duration(c.get("spark.locality.wait", "200ms")),
            max_failures=int(c.get("spark.task.maxFailures", 4)),
            queue_depth=int(c.get("spark.dcos.executor.queueDepth", 1)),
            role=c.get("spark.mesos.role"),
            driver_host=c.get("spark.driver.host"),
            driver_port=int(c.get("spark.driver.port", 0)),
            ui_port=int(c.get("spark.ui.port", 0)),
            python=c.get("spark.pyspark.python"),
            executor_env=env,
            start_timeout=parse_duration(c.get("spark.dcos.executor.startTimeout", "120s")),
            forward_python_path=_bool(c.get("spark.dcos.forwardPythonPath", "true")),
            failover_timeout=parse_duration(c.get("spark.mesos.driver.failoverTimeout", "60s")),
            mesos_auth={k: c[k] for k in AUTH_KEYS if k in c},
        )
