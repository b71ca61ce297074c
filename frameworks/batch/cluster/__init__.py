"""The cluster backend of the batch framework: `ClusterBackend` runs the engine's tasks on
executors started on a dcos-py (or Mesos) cluster. Each module's docstring documents its part.

- `backend`: ClusterBackend (the engine's `Backend` for ``mesos://`` masters)
- `mesos`: the driver as a Mesos framework (offers, executor tasks)
- `task_scheduler`, `executor_policy`: sans-IO cores (which task runs on which executor;
  how many executors to have and which offers to take)
- `executor`: the executor process (``python -m frameworks.batch.cluster.executor``)
- `webui`, `jobs`: the job page and its JSON
- `dispatcher`: cluster-mode submissions (``dcos-py batch submit``)
"""

from frameworks.batch.cluster.backend import ClusterBackend

__all__ = ["ClusterBackend"]
