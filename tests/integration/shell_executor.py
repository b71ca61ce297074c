"""An example custom executor written with the SDK (the one docs/writing-a-framework.md shows):
runs the shell command in each TaskInfo's ``data``, reports TASK_RUNNING then
TASK_FINISHED/TASK_FAILED, kills on KILL, and answers framework messages (``ping`` -> ``pong``).
Started by the agent as ``python shell_executor.py``, with the MESOS_* environment."""

import asyncio
import base64
import os
import signal

from dcos.sdk import BackgroundTasks, Executor, ExecutorDriver, TaskState


class ShellExecutor(Executor):
    def __init__(self) -> None:
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self.waiters = BackgroundTasks()  # keeps a reference to each task's waiter

    async def launch_task(self, driver, task):
        tid = task["task_id"]["value"]
        command = base64.b64decode(task.get("data", "")).decode() or "true"
        proc = await asyncio.create_subprocess_shell(command, start_new_session=True)
        self.procs[tid] = proc
        await driver.send_status_update(tid, TaskState.TASK_RUNNING)
        await driver.send_framework_message(f"launched {tid}".encode())
        self.waiters.spawn(self._wait(driver, tid, proc), name=f"wait-{tid}")

    async def _wait(self, driver, tid, proc):
        code = await proc.wait()
        if self.procs.pop(tid, None) is None:
            return  # killed: reported already
        state = TaskState.TASK_FINISHED if code == 0 else TaskState.TASK_FAILED
        await driver.send_status_update(tid, state, message=f"exit status {code}")

    async def kill_task(self, driver, task_id):
        proc = self.procs.pop(task_id, None)
        if proc is not None:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        await driver.send_status_update(task_id, TaskState.TASK_KILLED)

    async def framework_message(self, driver, data):
        if data.startswith(b"ping"):
            await driver.send_framework_message(b"pong" + data[4:])

    async def shutdown(self, driver):
        for tid in list(self.procs):
            await self.kill_task(driver, tid)


if __name__ == "__main__":
    asyncio.run(ExecutorDriver(ShellExecutor()).run())
