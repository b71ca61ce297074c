"""The status update manager: per-task ordering, retry with backoff until ack, batching."""

from dcos.agent.status_updates import StatusUpdateManager
from dcos.protocol.ids import FrameworkID, TaskID
from dcos.protocol.mesos import new_status_uuid, task_status

FW = FrameworkID("fw-1")


def _status(task: str, state: str, t: float = 0.0) -> dict:
    return task_status(
        task, state, agent_id="a1", source="SOURCE_EXECUTOR", timestamp=t, uuid=new_status_uuid()
    )


def _states(updates):
    return [(u["status"]["task_id"]["value"], u["status"]["state"]) for u in updates]


def test_next_update_of_a_task_waits_for_the_ack_of_the_previous():
    m = StatusUpdateManager(retry_interval=10)
    starting = _status("t1", "TASK_STARTING")
    running = _status("t1", "TASK_RUNNING")
    m.add(FW, starting, now=0)
    m.add(FW, running, now=0)
    assert _states(m.due(0)) == [("t1", "TASK_STARTING")]
    assert m.due(5) == []  # RUNNING is held back until STARTING is acknowledged
    assert m.acknowledge(FW, TaskID("t1"), running["uuid"], now=5) is None  # not the head
    assert m.acknowledge(FW, TaskID("t1"), starting["uuid"], now=5) is not None
    assert _states(m.due(5)) == [("t1", "TASK_RUNNING")]
    m.acknowledge(FW, TaskID("t1"), running["uuid"], now=6)
    assert len(m) == 0 and m.next_deadline() is None


def test_unacknowledged_update_is_resent_with_doubling_backoff():
    m = StatusUpdateManager(retry_interval=10, max_retry_interval=30)
    s = _status("t1", "TASK_RUNNING")
    m.add(FW, s, now=0)
    sent_at = []
    now = 0.0
    while now <= 100:
        if m.due(now):
            sent_at.append(now)
        now += 1
    assert sent_at == [0, 10, 30, 60, 90]  # 10, 20, then capped at 30
    m.acknowledge(FW, TaskID("t1"), s["uuid"], now=100)
    assert m.due(1000) == []


def test_ready_updates_of_many_tasks_come_out_in_one_batch():
    m = StatusUpdateManager(retry_interval=10)
    for i in range(5):
        m.add(FW, _status(f"t{i}", "TASK_RUNNING"), now=0)
    assert sorted(_states(m.due(0))) == [(f"t{i}", "TASK_RUNNING") for i in range(5)]
    assert m.next_deadline() == 10


def test_flush_makes_every_head_ready_again_and_pending_keeps_order():
    m = StatusUpdateManager(retry_interval=10)
    m.add(FW, _status("t1", "TASK_STARTING"), now=0)
    m.add(FW, _status("t1", "TASK_RUNNING"), now=0)
    m.due(0)
    assert m.due(1) == []
    m.flush(now=1)
    assert _states(m.due(1)) == [("t1", "TASK_STARTING")]
    assert _states(m.pending()) == [("t1", "TASK_STARTING"), ("t1", "TASK_RUNNING")]


def test_dropping_a_framework_forgets_its_updates_and_agent_id_is_rewritten():
    m = StatusUpdateManager(retry_interval=10)
    m.add(FW, _status("t1", "TASK_RUNNING"), now=0)
    m.add(FrameworkID("fw-2"), _status("t2", "TASK_RUNNING"), now=0)
    m.set_agent_id("a2")
    m.drop_framework(FW)
    out = m.due(0)
    assert _states(out) == [("t2", "TASK_RUNNING")]
    assert out[0]["status"]["agent_id"] == {"value": "a2"}
