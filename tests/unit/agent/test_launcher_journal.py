"""The launcher's journal: replay after a crash mid-write, and compaction."""

from dcos.agent.launcher.journal import Journal, replay


def test_replay_keeps_running_and_unacknowledged_tasks_and_ignores_a_torn_tail(tmp_path):
    path = str(tmp_path / "launcher.journal")
    j = Journal(path)
    j.append(["L", "run", 10, 0.0, {"sandbox": "/s1"}])
    j.append(["S", "run", 123.5])
    j.append(["L", "done", 11, 0.0, None])
    j.append(["E", "done", 200, None])
    j.append(["L", "killed", 12, 0.0, None])
    j.append(["E", "killed", None, 9])
    j.append(["L", "acked", 13, 0.0, None])
    j.append(["E", "acked", 0, None])
    j.append(["A", "acked"])
    j.flush(sync=True)
    j.close()
    with open(path, "ab") as f:
        f.write(b"\x95\xa1L\xa4torn")  # a record cut short by a crash
    got = replay(path)
    assert set(got) == {"run", "done", "killed"}
    assert (got["run"].pid, got["run"].start, got["run"].ended) == (10, 123.5, False)
    assert got["run"].record == {"sandbox": "/s1"}
    assert (got["done"].code, got["done"].signal, got["done"].ended) == (200, None, True)
    assert (got["killed"].code, got["killed"].signal) == (None, 9)


def test_compaction_keeps_only_what_is_still_needed(tmp_path):
    path = str(tmp_path / "launcher.journal")
    j = Journal(path)
    for i in range(3000):
        j.append(["L", f"c{i}", 100 + i, 0.0, None])
        j.append(["E", f"c{i}", 0, None])
        if i != 7:
            j.append(["A", f"c{i}"])
    j.flush()
    entries = replay(path)
    assert list(entries) == ["c7"] and j.should_compact(len(entries))
    j.compact(entries)
    j.append(["L", "new", 5, 0.0, None])
    j.flush()
    j.close()
    got = replay(path)
    assert set(got) == {"c7", "new"} and got["c7"].ended
