"""dcos.common.log: validated levels, JSON lines, a WatchedFileHandler that follows logrotate."""

import json
import logging
import logging.handlers
import os

import pytest

from dcos.common.log import parse_log_level, setup_logging


@pytest.fixture(autouse=True)
def _restore_root():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for h in root.handlers[:]:
        root.removeHandler(h)
        h.close()
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def test_levels() -> None:
    assert parse_log_level("debug") == "DEBUG" and parse_log_level(" warn ") == "WARNING"
    with pytest.raises(ValueError, match="unknown log level"):
        parse_log_level("LOUD")
    with pytest.raises(ValueError):
        setup_logging("LOUD")


def test_json_lines_to_a_rotated_file(tmp_path) -> None:
    path = tmp_path / "logs" / "d.log"
    setup_logging("info", json_lines=True, file=str(path))
    assert isinstance(logging.getLogger().handlers[0], logging.handlers.WatchedFileHandler)
    log = logging.getLogger("dcos.test")
    log.info("hello %s", "world", extra={"task_id": "t1"})
    log.debug("hidden")
    os.rename(path, str(path) + ".1")  # logrotate moves it away
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed")
    first = [json.loads(x) for x in open(str(path) + ".1")]
    assert [(r["level"], r["logger"], r["msg"]) for r in first] == [("INFO", "dcos.test", "hello world")]
    assert first[0]["task_id"] == "t1" and first[0]["ts"].endswith("+00:00")
    (second,) = [json.loads(x) for x in open(path)]
    assert second["msg"] == "failed" and "RuntimeError: boom" in second["exc"]


def test_text_lines(tmp_path) -> None:
    path = tmp_path / "d.log"
    setup_logging("WARNING", file=str(path))
    logging.getLogger("x").warning("careful")
    assert " WARNING x: careful" in path.read_text()
