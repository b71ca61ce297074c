"""pymesos 0.3.15's own ZooKeeper master detection, run by tests/compat/test_pymesos_zk.py in
the compat venv (pymesos and kazoo installed there).

Usage: ``pymesos_detector.py zk://host:port/path``. Starts `pymesos.detector.MasterDetector`
exactly as `MesosSchedulerDriver` does for a ``zk://`` master (the URI without its scheme), and
hands every detection to `MesosSchedulerDriver.onNewMasterDetectedMessage` (pymesos' own parse
of the MasterInfo JSON). Prints one line per master change: ``MASTER ip:port`` or ``NONE``.
Runs until stdin closes.
"""

import sys
import threading

from pymesos import MesosSchedulerDriver
from pymesos.detector import MasterDetector

lock = threading.Lock()


class Printer:
    """Stands in for the driver: pymesos' parsing calls `change_master` with ip:port."""

    def change_master(self, master):
        with lock:
            print(f"MASTER {master}" if master else "NONE", flush=True)

    def onNewMasterDetectedMessage(self, data):
        MesosSchedulerDriver.onNewMasterDetectedMessage(self, data)

    def onNoMasterDetectedMessage(self):
        self.change_master(None)


def main():
    uri = sys.argv[1]
    detector = MasterDetector(uri[uri.index("://") + 3:], Printer())
    detector.start()
    sys.stdin.read()
    detector.stop()


if __name__ == "__main__":
    main()
