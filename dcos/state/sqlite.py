"""`SQLiteStateStore`: the embedded default StateStore, one SQLite file in the work dir.

Called by: the master shell (its registry lives in ``<work_dir>/state.db``). Calls are
short local transactions, so they run inline on the event loop. `watch` sees the changes
made through this store object (one master process owns the file).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator

from dcos.state._watchers import Watchers, iterate
from dcos.state.store import Change, VersionConflict, Versioned


class SQLiteStateStore:
    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL,"
            " version INTEGER NOT NULL)"
        )
        self._watchers = Watchers()

    def _version(self, key: str) -> int:
        row = self._db.execute("SELECT version FROM kv WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    async def get(self, key: str) -> Versioned | None:
        row = self._db.execute("SELECT value, version FROM kv WHERE key = ?", (key,)).fetchone()
        return Versioned(bytes(row[0]), int(row[1])) if row else None

    async def put(self, key: str, value: bytes, expected_version: int) -> int:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            actual = self._version(key)
            if actual != expected_version:
                raise VersionConflict(key, expected_version, actual)
            db.execute(
                "INSERT INTO kv (key, value, version) VALUES (?, ?, ?) ON CONFLICT(key) DO"
                " UPDATE SET value = excluded.value, version = excluded.version",
                (key, bytes(value), actual + 1),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._watchers.notify(Change(key, bytes(value), actual + 1))
        return actual + 1

    async def delete(self, key: str, expected_version: int) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            actual = self._version(key)
            if actual == 0 or actual != expected_version:
                raise VersionConflict(key, expected_version, actual)
            db.execute("DELETE FROM kv WHERE key = ?", (key,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._watchers.notify(Change(key, None, actual))

    async def list(self, prefix: str) -> list[str]:
        rows = self._db.execute(
            "SELECT key FROM kv WHERE substr(key, 1, ?) = ? ORDER BY key", (len(prefix), prefix)
        ).fetchall()
        return [r[0] for r in rows]

    def watch(self, prefix: str) -> AsyncIterator[Change]:
        return iterate(self._watchers, self._watchers.register(prefix))

    async def close(self) -> None:
        self._db.close()
