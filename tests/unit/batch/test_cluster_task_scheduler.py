"""Task scheduler core of the cluster backend with simulated executors: locality, delay scheduling
with a fake clock (plain numbers), retries on another executor, final failure with the real
traceback, lost executors."""

from __future__ import annotations

from frameworks.batch.cluster.task_scheduler import TaskEntry, TaskScheduler


def entry(key, execs=(), hosts=()):
    return TaskEntry(key, payload=f"payload-{key}", pref_executors=tuple(execs),
                     pref_hosts=tuple(hosts))


def two_executors(**kw) -> TaskScheduler:
    p = TaskScheduler(**kw)
    p.add_executor("e1", "h1", 1, now=0.0)
    p.add_executor("e2", "h2", 1, now=0.0)
    return p


def where(launches):
    return {launch.task.key: launch.executor_id for launch in launches}


def test_local_task_goes_to_the_executor_holding_its_data():
    p = two_executors(queue_depth=0)
    p.submit([entry("a", execs=["e2"]), entry("b", execs=["e1"])], now=0.0)
    launches = p.schedule(now=0.0)
    assert where(launches) == {"a": "e2", "b": "e1"}
    assert all(launch.local for launch in launches)


def test_host_preference_counts_as_local():
    p = two_executors(queue_depth=0)
    p.submit([entry("a", hosts=["h2"])], now=0.0)
    assert where(p.schedule(now=0.0)) == {"a": "e2"}


def test_delay_scheduling_waits_for_the_local_executor_then_gives_up():
    p = two_executors(locality_wait=0.5, queue_depth=0)
    p.submit([entry("busy", execs=["e1"])], now=0.0)
    assert where(p.schedule(now=0.0)) == {"busy": "e1"}  # e1 is now full
    p.submit([entry("wants-e1", execs=["e1"])], now=1.0)
    assert p.schedule(now=1.0) == []  # e2 is free, but the task waits for e1
    assert p.schedule(now=1.4) == []
    assert p.next_wakeup(now=1.4) == 1.5
    [launch] = p.schedule(now=1.5)  # the wait expired: run it anywhere
    assert (launch.task.key, launch.executor_id, launch.local) == ("wants-e1", "e2", False)


def test_local_slot_freed_within_the_wait_is_used():
    p = two_executors(locality_wait=0.5, queue_depth=0)
    p.submit([entry("busy", execs=["e1"])], now=0.0)
    p.schedule(now=0.0)
    p.submit([entry("wants-e1", execs=["e1"])], now=1.0)
    assert p.schedule(now=1.1) == []
    p.finished("busy", now=1.2)
    assert where(p.schedule(now=1.2)) == {"wants-e1": "e1"}
    assert p.launched_remote == 0


def test_tasks_without_preferences_fill_every_slot_round_robin():
    p = two_executors(queue_depth=1)  # 1 core + 1 queued each
    p.submit([entry(i) for i in range(6)], now=0.0)
    launches = p.schedule(now=0.0)
    assert len(launches) == 4
    assert sorted(where(launches).values()) == ["e1", "e1", "e2", "e2"]
    assert p.schedule(now=0.0) == []
    p.finished(0, now=0.1)
    assert len(p.schedule(now=0.1)) == 1


def test_preference_for_a_dead_executor_does_not_wait():
    p = two_executors(locality_wait=5.0, queue_depth=0)
    p.submit([entry("a", execs=["gone"], hosts=["nowhere"])], now=0.0)
    assert where(p.schedule(now=0.0)) in ({"a": "e1"}, {"a": "e2"})


def test_failed_task_is_retried_on_another_executor():
    p = two_executors(queue_depth=0)
    p.submit([entry("a", execs=["e1"])], now=0.0)
    assert where(p.schedule(now=0.0)) == {"a": "e1"}
    out = p.failed("a", "Traceback ...\nValueError: boom", now=0.1)
    assert out is not None and out.retry
    assert where(p.schedule(now=0.1)) == {"a": "e2"}  # not e1 again, though e1 is preferred


def test_task_fails_for_good_after_four_failures_with_its_traceback():
    p = two_executors(queue_depth=0)
    p.submit([entry("a")], now=0.0)
    errors = []
    for attempt in range(4):
        [launch] = p.schedule(now=float(attempt))
        out = p.failed("a", f"Traceback (attempt {attempt})\nZeroDivisionError: x", now=attempt)
        errors.append(out)
    assert [o.retry for o in errors] == [True, True, True, False]
    assert errors[-1].error.endswith("ZeroDivisionError: x")
    assert "attempt 3" in errors[-1].error
    assert errors[-1].task.attempts == 4
    assert p.schedule(now=10.0) == [] and not p.has_pending()


def test_retry_runs_on_the_same_executor_when_it_is_the_only_one():
    p = TaskScheduler(queue_depth=0)
    p.add_executor("only", "h", 1, now=0.0)
    p.submit([entry("a")], now=0.0)
    p.schedule(now=0.0)
    p.failed("a", "err", now=0.0)
    assert where(p.schedule(now=0.0)) == {"a": "only"}


def test_lost_executor_requeues_its_running_tasks_without_counting_a_failure():
    p = two_executors(queue_depth=0)
    p.submit([entry("a", execs=["e1"]), entry("b", execs=["e2"])], now=0.0)
    p.schedule(now=0.0)
    lost = p.remove_executor("e1", now=1.0)
    assert [t.key for t in lost] == ["a"]
    p.finished("b", now=1.0)
    assert where(p.schedule(now=1.0)) == {"a": "e2"}  # its preferred executor is gone
    assert p.tasks["a"].failures == 0


def test_idle_executors_are_named_after_the_timeout_only_without_pending_work():
    p = two_executors(queue_depth=0)
    p.submit([entry("a")], now=0.0)
    [launch] = p.schedule(now=0.0)
    p.finished("a", now=5.0)
    busy_one = launch.executor_id
    other = "e2" if busy_one == "e1" else "e1"
    assert p.idle_executors(now=9.0, timeout=10.0) == []
    assert p.idle_executors(now=10.0, timeout=10.0) == [other]
    assert sorted(p.idle_executors(now=15.0, timeout=10.0)) == ["e1", "e2"]
    p.submit([entry("b", execs=["nobody"], hosts=["nowhere"])], now=15.0)
    p.drain("e1")
    p.drain("e2")
    assert p.idle_executors(now=30.0, timeout=10.0) == []  # work is pending


def test_cancel_returns_running_tasks():
    p = two_executors(queue_depth=0)
    p.submit([entry("a"), entry("b"), entry("c")], now=0.0)
    p.schedule(now=0.0)
    running = p.cancel(["a", "b", "c"])
    assert len(running) == 2
    assert not p.has_pending() and p.running_count() == 0
