"""Block encodings keep record types exactly; portable_hash is process-independent; the
status tracker and listeners see jobs, stages and tasks."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from frameworks.batch import BatchListener, SparkContext, portable_hash
from frameworks.batch.listener import JobEnd, StageCompleted, TaskEnd
from frameworks.batch.serde import decode_records, encode_pairs, encode_records

plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary(),
    lambda kids: st.lists(kids, max_size=3) | st.tuples(kids, kids)
    | st.dictionaries(st.text(max_size=3), kids, max_size=3),
    max_leaves=8,
)


@given(st.lists(plain, max_size=10))
def test_records_round_trip_with_their_types(records: list[Any]) -> None:
    back = decode_records(encode_records(records))
    assert back == records and [type(x) for x in back] == [type(x) for x in records]


@given(st.lists(st.tuples(plain, plain), max_size=10))
def test_pairs_round_trip_as_tuples(pairs: list[tuple[Any, Any]]) -> None:
    back = decode_records(encode_pairs(pairs))
    assert back == pairs and all(type(p) is tuple for p in back)
    assert repr(back) == repr(pairs)


def test_plain_pairs_use_msgpack_others_pickle() -> None:
    assert encode_pairs([("a", 1), ("b", [1, 2])])[:1] == b"K"
    assert encode_pairs([(("a", 1), 1)])[:1] == b"P"
    assert encode_records([1, "x"])[:1] == b"M"


def test_portable_hash_is_the_same_in_another_process() -> None:
    keys = ["word", "é", ("a", 1), None, 42, b"bytes", 2.5]
    code = ("from frameworks.batch import portable_hash\n"
            f"print([portable_hash(k) for k in {keys!r}])")
    env = dict(os.environ, PYTHONHASHSEED="123")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True, timeout=30)
    assert out.stdout.strip() == repr([portable_hash(k) for k in keys])


class Recorder(BatchListener):
    def __init__(self) -> None:
        self.events: list[Any] = []
        self.done = threading.Event()

    def on_task_end(self, event: TaskEnd) -> None:
        self.events.append(event)

    def on_stage_completed(self, event: StageCompleted) -> None:
        self.events.append(event)

    def on_job_end(self, event: JobEnd) -> None:
        self.events.append(event)
        self.done.set()


def test_listener_and_status_tracker(local_sc: SparkContext) -> None:
    rec = Recorder()
    local_sc.addListener(rec)
    assert sorted(local_sc.parallelize(range(12), 3).map(lambda x: (x % 2, x))
                  .reduceByKey(lambda a, b: a + b, 2).collect()) == [(0, 30), (1, 36)]
    assert rec.done.wait(5)
    tasks = [e for e in rec.events if isinstance(e, TaskEnd)]
    assert len(tasks) == 5 and all(t.succeeded for t in tasks)
    stages = [e for e in rec.events if isinstance(e, StageCompleted)]
    assert len(stages) == 2 and all(s.succeeded for s in stages)
    job_id = tasks[0].job_id
    tracker = local_sc.statusTracker()
    info = tracker.getJobInfo(job_id)
    assert info is not None and info.status == "SUCCEEDED" and len(info.stageIds) == 2
    counts = sorted(tracker.getStageInfo(s).numCompletedTasks for s in info.stageIds)
    assert counts == [2, 3]
    assert job_id not in tracker.getActiveJobsIds()
    snap = tracker.snapshot()
    assert snap["jobs"][0]["jobId"] == job_id
