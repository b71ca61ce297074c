"""The UI's JavaScript unit tests (`node --test dcos/web/test`: master.js' RecordIO decoder
and model bookkeeping), run without a browser. Needs node and `make web`'s node_modules."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "dcos" / "web"


def test_js_units() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: it builds the UI (make web) and runs its unit tests")
    if not (WEB / "node_modules" / "preact").exists():
        pytest.fail(f"{WEB}/node_modules missing: run `make web`")
    proc = subprocess.run([node, "--test", "test/"], cwd=WEB, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
