"""`dcos-py up --secure` end to end (issue 13), on a lean cluster (a master, one agent):
the admin password printed once at the first start and kept 0600; a restart reuses the
security directory (same CA, no new password) and logs the CLI in again; the CLI works with
the saved CA + token, and says "not logged in" once the token is gone."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from tests.e2e.up_process import UpProcess, cli
from tests.security.conftest import env, start_secure

LEAN = ("--no-webapp", "--no-dns", "--no-batch", "--no-packages", "--no-gateway", "--no-lb")


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "DCOS_PY_HOME": str(home)}
    environ.pop("DCOS_MASTER", None)
    return subprocess.run([*cli(), *args], capture_output=True, text=True, env=environ,
                          timeout=30)


def test_first_start_prints_the_password_once_and_a_restart_reuses_everything(
        tmp_path: Path) -> None:
    work, home = tmp_path / "work", tmp_path / "home"
    up, ports = start_secure(work, home, agents=1, extra=LEAN)
    password_file = work / "security" / "admin.password"
    try:
        password = password_file.read_text().strip()
        assert f"admin password (shown once; kept in {password_file}): {password}" in up.output()
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
        assert "the CLI is logged in as admin" in up.output()
        nodes = run_cli(home, "node", "list", "--json")
        assert nodes.returncode == 0, nodes.stderr
        ca = (work / "security" / "ca.crt").read_bytes()
    finally:
        up.stop()
    args = [a for a in up.proc.args[2:] if a != "--work-dir" and a != str(work)]  # type: ignore[index]
    with env(DCOS_PY_HOME=str(home)):
        again = UpProcess(args, work)
    try:
        again.wait_for("cluster ready")
        again.wait_for("the CLI")
        assert password not in again.output()
        assert f"log in as admin with the password in {password_file}" in again.output()
        assert (work / "security" / "ca.crt").read_bytes() == ca
        assert run_cli(home, "node", "list").returncode == 0
        out = run_cli(home, "auth", "logout")
        assert out.returncode == 0, out.stderr
        denied = run_cli(home, "node", "list")
        assert denied.returncode == 1
        assert denied.stderr.strip() == "dcos-py: not logged in: run `dcos-py auth login`"
        url = f"https://127.0.0.1:{ports.master}"
        plain = run_cli(home, "--master", url.replace("https", "http"), "node", "list")
        assert plain.returncode != 0
    finally:
        again.stop()
