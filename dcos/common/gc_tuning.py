"""Garbage-collector settings for the long-running daemons (master, agent).

CPython's full (generation 2) collection walks every tracked object; it runs whenever the
objects promoted since the last one reach a quarter of the old heap. A master or an agent
keeps up to 1,000 completed tasks per framework (Mesos' limit), about 25 tracked objects
each, and replaces them as tasks end, so at a steady task rate it kept promoting and walking
that history: in `benchmarks/control_plane.py` full collections took 20-30% of the agents
process's CPU (pauses of 50-350 ms) and a tenth of the master's (pauses of up to 60 ms).

`tune_gc` is called once a process has started (its imports, configuration and recovered
state are then long-lived): it collects, freezes what is left (``gc.freeze``: later
collections skip it) and raises the thresholds so that young objects (a request, an event,
an update on its way) mostly die before they are promoted and full collections become rare.
Cycles are still collected; they are only collected later. Called by ``python -m
dcos.master`` and ``python -m dcos.agent`` (and the benchmark's simulator processes); never
by library code or tests, which share a process with other code.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 20_000  # allocations (net) between young collections (CPython: 700)
GEN1_THRESHOLD = 20  # young collections per middle collection (CPython: 10)
GEN2_THRESHOLD = 100  # middle collections before a full one is considered (CPython: 10)


def tune_gc() -> None:
    """Collect, freeze the start-up heap and raise the collection thresholds (see above)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GEN0_THRESHOLD, GEN1_THRESHOLD, GEN2_THRESHOLD)
