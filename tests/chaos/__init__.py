"""Chaos tests: real masters, agents, webapp instances and ZooKeeper servers, broken on purpose.

- test_master_failover.py: SIGKILL of the leading master (3, real ZooKeeper) during a
  500-task launch burst; every logical task runs exactly once (ledger.py, checks.py).
- test_webapp_failover.py: SIGKILL of the leading webapp (2 instances) mid rolling upgrade of 20;
  the next leader finishes it, never above target + surge (monitor.py, webapp.py).
- test_partition.py: an agent in a network namespace (netns.py) cut off past the ping timeout;
  unreachable, replaced, its old copy killed on return.
- test_zk_ensemble.py: a 3-server ensemble with one server down keeps working; a leader cut off
  ZooKeeper (proxy.py black holes) steps down before the next leader is elected.

Each test starts its own cluster (harness.py: `HACluster`, a `ProcessCluster` in HA mode),
stops everything it started, and prints its measured figures as ``[chaos]`` lines (conftest.py).
They need ZooKeeper (Debian package ``zookeeper``), and the partition test needs root and
``ip`` (iproute2); without them they fail, they never skip. Run them alone with
``.venv/bin/python -m pytest -q tests/chaos`` (about a minute on 2 cores).
"""
