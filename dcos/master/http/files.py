"""The master's files API (Mesos ``/files/*``): only the master's own log, as ``/master/log``.

`add_routes(app, log_file)` is called by `dcos.master.http.routes.add_routes` with the
master's ``--log-file``. As in Mesos, ``GET /files/read?path=/master/log&offset=O&length=L``,
``/files/browse?path=/master/log`` and ``/files/download?path=/master/log`` (and the ``.json``
names) answer with the same parameters and JSON as the agent's files API
(`dcos.common.files_routes`); the DC/OS CLI's ``dcos node log --leader`` reads it through the
gateway's ``/mesos/files/read.json``. Every master answers for its own log (no leader
redirect). No log file (it logs to stderr), or any other path: 404, plain text.
"""

from __future__ import annotations

from aiohttp import web

from dcos.common import files_routes
from dcos.common.files_api import FilesError, check_path, resolve_attached

LOG_PATH = "/master/log"  # Mesos' name for the master's log in its files API


def add_routes(app: web.Application, log_file: str | None) -> None:
    """Serve `log_file` (None: none) as ``/master/log`` through the files endpoints."""
    attached = {LOG_PATH: log_file}

    def resolve(path: str) -> str:
        check_path(path)
        real = resolve_attached(path, attached)
        if real is None:
            raise FilesError(404, f"No file attached at {path}: the master serves {LOG_PATH}")
        return real

    files_routes.add_routes(app, resolve)
