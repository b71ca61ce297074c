"""Shared variables: accumulators (tasks add, the driver reads) and broadcast variables (the
driver sets a read-only value once, tasks read it)."""

from __future__ import annotations

import copy
import threading
from typing import Any

_task_state = threading.local()


class AccumulatorParam:
    """How to combine accumulator values (PySpark's AccumulatorParam)."""

    def zero(self, value: Any) -> Any:
        raise NotImplementedError

    def addInPlace(self, value1: Any, value2: Any) -> Any:
        raise NotImplementedError


class _AddingParam(AccumulatorParam):
    def __init__(self, zero_value: Any) -> None:
        self.zero_value = zero_value

    def zero(self, value: Any) -> Any:
        return self.zero_value

    def addInPlace(self, value1: Any, value2: Any) -> Any:
        value1 += value2
        return value1


INT_ACCUMULATOR_PARAM = _AddingParam(0)
FLOAT_ACCUMULATOR_PARAM = _AddingParam(0.0)
COMPLEX_ACCUMULATOR_PARAM = _AddingParam(0.0j)


def begin_task_updates() -> dict[int, Any]:
    """Called by ``run_task`` before a task runs: accumulator adds in this thread now go to a
    fresh dict, which ``run_task`` sends back with the task's result."""
    updates: dict[int, Any] = {}
    _task_state.updates = updates
    return updates


def end_task_updates() -> None:
    _task_state.updates = None


class Accumulator:
    """A variable that tasks can only add to; the driver reads `value` after the job.

    Updates from a task reach the driver with the task's successful result (and are merged
    once per task result)."""

    def __init__(self, aid: int, value: Any, accum_param: AccumulatorParam) -> None:
        self.aid = aid
        self.accum_param = accum_param
        self._value = value
        self._lock = threading.Lock()

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_accumulator,
            (self.aid, self.accum_param.zero(self._value), self.accum_param),
        )

    @property
    def value(self) -> Any:
        if getattr(_task_state, "updates", None) is not None:
            raise RuntimeError("Accumulator.value cannot be accessed inside tasks")
        return self._value

    @value.setter
    def value(self, value: Any) -> None:
        self._value = value

    def add(self, term: Any) -> None:
        updates = getattr(_task_state, "updates", None)
        if updates is not None:
            current = updates.get(self.aid)
            if current is None:
                current = copy.deepcopy(self.accum_param.zero(self._value))
            updates[self.aid] = self.accum_param.addInPlace(current, term)
            return
        with self._lock:
            self._value = self.accum_param.addInPlace(self._value, term)

    def __iadd__(self, term: Any) -> Accumulator:
        self.add(term)
        return self

    def merge_update(self, update: Any) -> None:
        """Called on the driver loop for each successful task that updated this accumulator."""
        with self._lock:
            self._value = self.accum_param.addInPlace(self._value, update)

    def __repr__(self) -> str:
        return f"Accumulator<id={self.aid}, value={self._value}>"


def _rebuild_accumulator(aid: int, zero: Any, param: AccumulatorParam) -> Accumulator:
    """Unpickling in a task: the copy starts from the zero value and only records adds."""
    return Accumulator(aid, zero, param)


class Broadcast:
    """A read-only value shipped to tasks with the stage (pickled once per stage and
    unpickled once per executor process per stage)."""

    def __init__(self, bid: int, value: Any) -> None:
        self.bid = bid
        self._value = value
        self._destroyed = False

    @property
    def value(self) -> Any:
        if self._destroyed:
            raise RuntimeError(f"Broadcast {self.bid} was destroyed")
        return self._value

    def unpersist(self, blocking: bool = False) -> None:
        pass

    def destroy(self, blocking: bool = False) -> None:
        self._destroyed = True

    def __reduce__(self) -> tuple[Any, ...]:
        if self._destroyed:
            raise RuntimeError(f"Broadcast {self.bid} was destroyed and cannot be used")
        return (Broadcast, (self.bid, self._value))
