"""`dcos-py up`'s package service component: its flags, the checkout's catalog as the default
repository when built (a hint otherwise), the agents' --dns-resolver, and its port checks."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from dcos.cli import up
from dcos.cli.errors import CliError
from dcos.cli.up import UpOptions, build_components, check_options


def flags(argv: list[str]) -> dict[str, str]:
    args = list(argv)[3:]
    return dict(zip(args[::2], args[1::2], strict=True))


def free() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_package_component_flags_and_default_repo(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    index = tmp_path / "index.json"
    index.write_text('{"packages": []}')
    monkeypatch.setattr(up, "default_index", lambda: index)
    comps = {c.name: c for c in build_components(UpOptions(
        agents=1, work_dir=tmp_path, master_port=6050, webapp_port=6080, package_port=6070,
        dns_port=6053, lb=False))}
    package = comps["package"]
    assert package.argv[:3] == [sys.executable, "-m", "dcos.packaging"]
    assert flags(package.argv) == {
        "--master": "127.0.0.1:6050", "--webapp": "http://127.0.0.1:6080",
        "--ip": "127.0.0.1", "--port": "6070", "--work-dir": str(tmp_path / "package"),
        "--log-file": str(tmp_path / "package" / "package.log"),
        "--default-repo": f"Universe={index.as_uri()}"}
    assert package.url == "http://127.0.0.1:6070" and not package.critical
    agent = comps["agent-0"].argv
    assert agent[agent.index("--dns-resolver") + 1] == "127.0.0.1:6053"


def test_without_the_index_no_default_repo_and_a_hint(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(up, "default_index", lambda: tmp_path / "missing.json")
    comps = {c.name: c for c in build_components(UpOptions(agents=1, work_dir=tmp_path,
                                                           lb=False, dns=False))}
    assert "--default-repo" not in comps["package"].argv
    assert "--dns-resolver" not in comps["agent-0"].argv
    assert "package build packages-repo/" in up.PACKAGES_HINT


def test_busy_package_port_is_refused() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        opts = UpOptions(agents=1, master_port=free(), agent_port=free(), package_port=port,
                         webapp=False, dns=False, lb=False, batch=False)
        with pytest.raises(CliError, match=f"port {port} is already in use; use --package-port"):
            check_options(opts)


def test_task_ports_base_moves_the_agents_port_ranges(tmp_path: Path) -> None:
    comps = build_components(UpOptions(agents=2, work_dir=tmp_path, lb=False, task_ports=12000))
    resources = [c.argv[c.argv.index("--resources") + 1] for c in comps
                 if c.name.startswith("agent-")]
    assert [r.split("ports:")[1] for r in resources] == ["[12000-12999]", "[13000-13999]"]
    with pytest.raises(CliError, match="must lie in 1024-65535"):
        build_components(UpOptions(agents=2, work_dir=tmp_path, lb=False, task_ports=65000))
