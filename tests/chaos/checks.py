"""What the chaos tests read from the real processes: agents' ``/state``, task sandboxes and
task processes, and the marks the tasks leave.

Called by the chaos tests after (and while) a fault played out; each function reads only and
returns plain data the test asserts on.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import psutil

from dcos.testing.processes import get_json


def agent_task_ids(agent_urls: list[str]) -> Counter[str]:
    """How many times each task id appears across the agents' ``/state`` (running tasks of
    every executor, completed tasks and completed executors, completed frameworks): a task
    id launched once appears once in the whole cluster."""
    seen: Counter[str] = Counter()
    for url in agent_urls:
        state = get_json(url.rstrip("/") + "/state", timeout=10)
        for fw in state.get("frameworks", []) + state.get("completed_frameworks", []):
            for ex in fw.get("executors", []) + fw.get("completed_executors", []):
                ids = {t["id"] for key in ("tasks", "queued_tasks", "completed_tasks")
                       for t in ex.get(key, [])}  # fmt: skip
                seen.update(ids)
    return seen


def sandbox_runs(work_dirs: list[Path]) -> Counter[str]:
    """How many container run directories each executor id has across the agents' work dirs
    (``.../executors/<executor id>/runs/<container id>``); a command task's executor id is its
    task id, so a task that started twice has two runs."""
    runs: Counter[str] = Counter()
    for root in work_dirs:
        for run_dir in root.glob("slaves/*/frameworks/*/executors/*/runs/*"):
            if run_dir.name == "latest" or run_dir.is_symlink():
                continue
            runs[run_dir.parent.parent.name] += 1
    return runs


def marks(marks_dir: Path) -> dict[str, int]:
    """Task id -> how many times its command started (lines its shell appended)."""
    return {p.name: len(p.read_text().split()) for p in marks_dir.iterdir()}


def processes_under(root: Path) -> list[str]:
    """``<cwd>: <command line>`` of each live process whose working directory is a task
    sandbox under `root` (``.../executors/<executor id>/runs/...``: the path names the
    executor, a command task's id): what still runs of the tasks. The agents' own helpers
    (the launcher in ``meta/``) are not tasks."""
    prefix = str(root.resolve()) + os.sep
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            cwd = proc.cwd()
            in_sandbox = (cwd + os.sep).startswith(prefix) and "/executors/" in cwd
            if in_sandbox and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(f"{cwd}: {' '.join(proc.info['cmdline'] or [])}")
        except (psutil.Error, OSError):
            continue
    return found
