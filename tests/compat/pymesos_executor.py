"""A plain pymesos 0.3.15 executor (MesosExecutorDriver), launched as a custom executor by
pymesos_executor_scheduler.py: each task sends TASK_RUNNING, a framework message, then
TASK_FINISHED. Only pymesos' public API is used."""

import sys
import threading
import time

from pymesos import Executor, MesosExecutorDriver, encode_data


class E(Executor):
    def launchTask(self, driver, task):
        def run():
            tid = task["task_id"]
            driver.sendStatusUpdate({"task_id": tid, "state": "TASK_RUNNING"})
            driver.sendFrameworkMessage(encode_data(b"hello from " + tid["value"].encode()))
            time.sleep(0.2)
            driver.sendStatusUpdate({"task_id": tid, "state": "TASK_FINISHED"})

        threading.Thread(target=run, daemon=True).start()


if __name__ == "__main__":
    driver = MesosExecutorDriver(E())
    driver.run()
    sys.exit(0)
