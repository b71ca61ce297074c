"""Tasks as users (`dcos.agent.task_user`): who a task runs as, the setpriv wrapper, the
sandbox given to the user without following links, and a real process started as nobody
through the launcher (the tests run as root)."""

from __future__ import annotations

import asyncio
import os
import pathlib
import pwd
import shutil
import tempfile

import pytest

from dcos.agent.containerizer import ContainerConfig
from dcos.agent.containerizer.process import ProcessContainerizer
from dcos.agent.task_user import (
    TaskUser,
    UnknownUser,
    chown_tree,
    lookup,
    readable_by,
    run_as_argv,
    setup_problems,
    task_user_name,
)
from dcos.protocol.ids import ContainerID
from dcos.protocol.resources import Resources

NOBODY = pwd.getpwnam("nobody")


def test_task_user_name_order():
    assert task_user_name({"user": "alice"}, {"user": "bob"}, "nobody") == "alice"
    assert task_user_name({"value": "x"}, {"user": "bob"}, "nobody") == "bob"
    assert task_user_name({"user": " "}, {}, "nobody") == "nobody"
    assert task_user_name(None, None, "daemon") == "daemon"


def test_lookup_known_numeric_and_unknown():
    nobody = lookup("nobody")
    assert (nobody.uid, nobody.gid) == (NOBODY.pw_uid, NOBODY.pw_gid)
    assert lookup(str(NOBODY.pw_uid)).name == "nobody"
    with pytest.raises(UnknownUser, match="user 'no-such-user-x' does not exist on this agent"):
        lookup("no-such-user-x")


def test_run_as_argv_wraps_with_setpriv():
    assert run_as_argv(["/bin/true"], None) == ["/bin/true"]
    argv = run_as_argv(["/bin/sh", "-c", "sleep 1"], [65534, 65534])
    assert argv[0].endswith("setpriv")
    assert argv[1:5] == ["--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    assert argv[5:] == ["/bin/sh", "-c", "exec sleep 1"]  # the shell is replaced by the program
    assert "--groups=4,27" in run_as_argv(["/bin/true"], [1000, 1000, 4, 27])


def test_chown_tree_never_follows_links(tmp_path):
    sandbox = tmp_path / "sb"
    (sandbox / "sub").mkdir(parents=True)
    (sandbox / "sub" / "f").write_text("x")
    outside = tmp_path / "outside"
    outside.write_text("root's")
    (sandbox / "link").symlink_to(outside)
    chown_tree(str(sandbox), lookup("nobody"))
    for p in (sandbox, sandbox / "sub", sandbox / "sub" / "f"):
        assert os.stat(p).st_uid == NOBODY.pw_uid
    assert os.lstat(sandbox / "link").st_uid == NOBODY.pw_uid
    assert os.stat(outside).st_uid == 0  # what the link points to stays root's


def test_readable_by(tmp_path):
    nobody = lookup("nobody")
    root = TaskUser("root", 0, 0)
    f = tmp_path / "f"
    f.write_text("x")
    f.chmod(0o600)
    assert readable_by(str(f), root)
    assert not readable_by(str(f), nobody)


@pytest.fixture
def open_dir():
    """A directory every user can reach (pytest's tmp dirs are 0700)."""
    path = tempfile.mkdtemp(prefix="dcos-task-user-")
    os.chmod(path, 0o755)
    yield pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)


async def test_process_runs_as_nobody_with_its_sandbox(open_dir):
    sandbox = open_dir / "sb"
    sandbox.mkdir()
    nobody = lookup("nobody")
    chown_tree(str(sandbox), nobody)
    c = ProcessContainerizer([])
    try:
        config = ContainerConfig(
            argv=["/bin/sh", "-c", "id -u > ids; id -g >> ids; touch mine"],
            env={"PATH": "/usr/bin:/bin"}, sandbox=str(sandbox),
            resources=Resources.parse("cpus:0.1;mem:32"), user="nobody",
            run_as=nobody.run_as(),
        )  # fmt: skip
        cid = ContainerID("c-nobody")
        result = await c.launch(cid, config)
        assert result.ok, result.error
        term = await asyncio.wait_for(c.wait(cid), 10)
        assert term.exit_code == 0, (sandbox / "stderr").read_text()
        assert (sandbox / "ids").read_text().split() == [str(NOBODY.pw_uid), str(NOBODY.pw_gid)]
        assert os.stat(sandbox / "mine").st_uid == NOBODY.pw_uid
        argv, _ = c.exec_command(cid, ["/bin/true"], {})
        assert argv  # an ended container: unchanged
    finally:
        await c.close()


def test_setup_problems_name_what_keeps_tasks_from_working(open_dir):
    assert setup_problems("no-such-user-x", str(open_dir), "/bin/sh") == [
        "the default task user: user 'no-such-user-x' does not exist on this agent; tasks "
        "without a user will fail"]
    assert setup_problems("nobody", str(open_dir / "work" / "agent"), "/bin/sh") == []
    closed = open_dir / "closed"
    closed.mkdir(mode=0o700)
    shutil.copy("/bin/true", closed / "python")
    problems = setup_problems("nobody", str(closed / "work"), str(closed / "python"))
    assert len(problems) == 2
    assert "cannot reach the work dir" in problems[0] and "cannot execute" in problems[1]
