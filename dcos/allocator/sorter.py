"""Sorters: order clients (roles, or the frameworks of one role) fairest-first.

Called by: `HierarchicalAllocator` (one sorter over roles, one per role over its frameworks),
and by tests. Two implementations of the `Sorter` protocol in `interface.py`:

- `DRFSorter`: weighted dominant resource fairness. A client's share is the largest of
  ``allocated[name] / pool_total[name]`` over the scalar resources of the pool, divided by its
  weight. The sort is incremental: active clients live in a `SortedList` keyed by
  ``(share / weight, name)`` and one allocation change moves one entry. Only a change of the
  pool (agents added, removed or resized) changes every share; then the sorter is marked stale
  and rebuilt once, lazily, at the next sort.
- `RandomSorter`: a weighted random order, deterministic for a seed (the sequence of
  `sort()` calls is reproducible).

Several sorters may share one `ResourcePool` (the allocator does so: one pool for the role
sorter and every framework sorter, so adding an agent is O(1) for all of them).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from operator import itemgetter

from sortedcontainers import SortedList

from dcos.protocol.ids import AgentID
from dcos.protocol.resources import Resources

_name = itemgetter(1)


def _q(x: float) -> float:
    """Three decimal places, as `Resources` keeps scalars (keeps sums order-independent)."""
    return round(x + 0.0, 3)


class ResourcePool:
    """The scalar totals of the agents DRF shares are measured against.

    Called by: a `DRFSorter` that owns it (its `add_agent`/`remove_agent`), or the allocator,
    which shares one pool between all its sorters and updates it directly.
    """

    __slots__ = ("totals", "per_agent", "version")

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self.per_agent: dict[AgentID, dict[str, float]] = {}
        self.version = 0

    def add_agent(self, agent: AgentID, totals: Resources) -> None:
        """Add (or replace) one agent's scalars; every share measured on this pool changes."""
        if agent in self.per_agent:
            self.remove_agent(agent)
        scalars = dict(totals.scalars)
        self.per_agent[agent] = scalars
        for k, v in scalars.items():
            self.totals[k] = _q(self.totals.get(k, 0.0) + v)
        self.version += 1

    def remove_agent(self, agent: AgentID) -> None:
        scalars = self.per_agent.pop(agent, None)
        if scalars is None:
            return
        for k, v in scalars.items():
            left = _q(self.totals.get(k, 0.0) - v)
            if left > 0:
                self.totals[k] = left
            else:
                self.totals.pop(k, None)
        self.version += 1


class DRFSorter:
    """Weighted DRF over the scalar resources of a `ResourcePool` (see module docstring)."""

    def __init__(self, pool: ResourcePool | None = None) -> None:
        self._pool = pool if pool is not None else ResourcePool()
        self._weights: dict[str, float] = {}
        self._alloc: dict[str, dict[str, float]] = {}
        self._keys: dict[str, tuple[float, str]] = {}  # active clients -> key in _sorted
        self._sorted: SortedList = SortedList()
        self._version = self._pool.version
        # active clients whose allocation changed since their key in _sorted was computed;
        # re-keyed at the next sort (so a lone client, or several allocations to one client
        # between two sorts, cost one dict update each)
        self._pending: set[str] = set()

    # -- clients -------------------------------------------------------------------------

    def add(self, client: str) -> None:
        """Add an (active) client with weight 1 and nothing allocated; no-op if known."""
        if client in self._alloc:
            return
        self._weights.setdefault(client, 1.0)
        self._alloc[client] = {}
        self.activate(client)

    def remove(self, client: str) -> None:
        self.deactivate(client)
        self._alloc.pop(client, None)
        self._weights.pop(client, None)

    def contains(self, client: str) -> bool:
        return client in self._alloc

    def activate(self, client: str) -> None:
        if client not in self._alloc or client in self._keys:
            return
        self._flush()
        key = (self._share(client), client)
        self._keys[client] = key
        self._sorted.add(key)

    def deactivate(self, client: str) -> None:
        key = self._keys.pop(client, None)
        if key is not None:
            self._sorted.remove(key)
            self._pending.discard(client)

    def update_weight(self, client: str, weight: float) -> None:
        if not weight > 0:
            raise ValueError(f"weight must be positive, got {weight!r}")
        self._weights[client] = float(weight)
        if client in self._keys:
            self._pending.add(client)

    # -- allocations -----------------------------------------------------------------

    def allocated(self, client: str, agent: AgentID, resources: Resources) -> None:
        """Count `resources` (their scalars) as allocated to `client`; moves one entry."""
        alloc = self._alloc[client]
        get = alloc.get
        for k, v in resources.scalars.items():
            alloc[k] = get(k, 0.0) + v  # rounded where shares are computed
        if client in self._keys:
            self._pending.add(client)

    def unallocated(self, client: str, agent: AgentID, resources: Resources) -> None:
        alloc = self._alloc.get(client)
        if alloc is None:
            return
        for k, v in resources.scalars.items():
            left = alloc.get(k, 0.0) - v
            if left >= 0.0005:
                alloc[k] = left
            else:
                alloc.pop(k, None)
        if client in self._keys:
            self._pending.add(client)

    def allocation(self, client: str) -> dict[str, float]:
        """The scalars allocated to `client` (a copy, three decimals)."""
        return {k: _q(v) for k, v in self._alloc.get(client, {}).items()}

    def add_agent(self, agent: AgentID, totals: Resources) -> None:
        self._pool.add_agent(agent, totals)

    def remove_agent(self, agent: AgentID) -> None:
        self._pool.remove_agent(agent)

    # -- order -------------------------------------------------------------------------

    def share(self, client: str) -> float:
        """The weighted dominant share of `client` (its sort key)."""
        return self._share(client)

    def sort(self) -> list[str]:
        """Active clients, lowest weighted dominant share first; ties by name."""
        return list(self.iter_sorted())

    def iter_sorted(self) -> Iterator[str]:
        """Like `sort()` without copying; the caller must not change this sorter while
        iterating (the allocator defers its updates until it stops iterating)."""
        if self._version != self._pool.version:
            self._rebuild()
        elif self._pending and len(self._keys) > 1:
            self._flush()
        return map(_name, self._sorted)

    def active_count(self) -> int:
        return len(self._keys)

    # -- internals ---------------------------------------------------------------------

    def _share(self, client: str) -> float:
        totals = self._pool.totals
        best = 0.0
        for k, v in self._alloc[client].items():
            t = totals.get(k)
            if t:
                s = round(v, 3) / t  # three decimals, as Resources: order-independent sums
                if s > best:
                    best = s
        return best / self._weights.get(client, 1.0)

    def _flush(self) -> None:
        """Re-key the clients whose allocation or weight changed (one entry each)."""
        if self._version != self._pool.version:
            self._rebuild()
            return
        keys, sl = self._keys, self._sorted
        for client in self._pending:
            old = keys[client]
            new = (self._share(client), client)
            if new != old:
                sl.remove(old)
                sl.add(new)
                keys[client] = new
        self._pending.clear()

    def _rebuild(self) -> None:
        """The pool changed: recompute every active client's key (rare: agent churn)."""
        self._version = self._pool.version
        self._pending.clear()
        self._keys = {c: (self._share(c), c) for c in self._keys}
        self._sorted = SortedList(self._keys.values())


class RandomSorter:
    """Weighted random order (Efraimidis-Spirakis keys), reproducible for a seed.

    Called by: the allocator when built with ``sorter="random"``; every `sort()` draws a new
    order, so clients with a larger weight tend to come first.
    """

    def __init__(self, seed: int | str = 0) -> None:
        self._rng = random.Random(seed)
        self._weights: dict[str, float] = {}
        self._active: set[str] = set()

    def add(self, client: str) -> None:
        if client not in self._weights:
            self._weights[client] = 1.0
            self._active.add(client)

    def remove(self, client: str) -> None:
        self._weights.pop(client, None)
        self._active.discard(client)

    def contains(self, client: str) -> bool:
        return client in self._weights

    def activate(self, client: str) -> None:
        if client in self._weights:
            self._active.add(client)

    def deactivate(self, client: str) -> None:
        self._active.discard(client)

    def update_weight(self, client: str, weight: float) -> None:
        if not weight > 0:
            raise ValueError(f"weight must be positive, got {weight!r}")
        self._weights[client] = float(weight)

    def allocated(self, client: str, agent: AgentID, resources: Resources) -> None:
        pass

    def unallocated(self, client: str, agent: AgentID, resources: Resources) -> None:
        pass

    def add_agent(self, agent: AgentID, totals: Resources) -> None:
        pass

    def remove_agent(self, agent: AgentID) -> None:
        pass

    def sort(self) -> list[str]:
        rnd = self._rng.random
        keyed = []
        for c in sorted(self._active):
            u = 1.0 - rnd()  # (0, 1]
            keyed.append((-(u ** (1.0 / self._weights[c])), c))
        keyed.sort()
        return [c for _, c in keyed]

    def iter_sorted(self) -> Iterator[str]:
        return iter(self.sort())

    def active_count(self) -> int:
        return len(self._active)
