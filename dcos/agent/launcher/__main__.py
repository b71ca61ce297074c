"""``python -m dcos.agent.launcher --dir <meta dir>``: start the launcher for one agent.

Started by the agent (`dcos.agent.launcher.client.start_launcher`) when no launcher answers
on ``<dir>/launcher.sock``. It detaches (a new session, its own child: the agent's call
returns once the socket is bound), so it outlives the agent. Exit status of the call: 0 ready
(or another launcher already serves the directory), 1 it could not start (the reason on
stderr).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from dcos.agent import launcher as paths

EPHEMERAL_IDLE_EXIT = 2.0  # an ephemeral launcher without tasks exits this soon


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m dcos.agent.launcher", description=__doc__)
    p.add_argument("--dir", required=True, help="the agent's meta dir (socket, journal)")
    p.add_argument("--idle-exit", type=float, default=paths.IDLE_EXIT,
                   help="exit after this many seconds without tasks and without an agent")
    p.add_argument("--ephemeral", action="store_true",
                   help="no recovery: kill the tasks and exit when the agent disconnects")
    p.add_argument("--foreground", action="store_true", help="do not detach")
    args = p.parse_args(argv)
    if args.ephemeral:
        args.idle_exit = min(args.idle_exit, EPHEMERAL_IDLE_EXIT)
    meta = os.path.abspath(args.dir)
    os.makedirs(meta, exist_ok=True)
    r, w = os.pipe()
    if not args.foreground:
        if os.fork() > 0:  # the caller's process: wait until the launcher is ready
            os.close(w)
            answer = os.read(r, 512)
            if answer.startswith(b"ok"):
                sys.exit(0)
            sys.stderr.write(answer.decode(errors="replace") or "launcher died at start\n")
            sys.exit(1)
        os.close(r)
        os.setsid()
    sys.exit(serve(meta, args.idle_exit, args.ephemeral, w))


def serve(meta: str, idle_exit: float, ephemeral: bool, ready_fd: int) -> int:
    """Lock, bind, say "ok" on `ready_fd`, run. Called in the detached process."""
    from dcos.agent.launcher.server import Launcher, become_subreaper, take_lock

    sys.setswitchinterval(0.0005)  # the journal's sync thread gets the GIL back quickly
    os.chdir(meta)  # also: a process under the agent's work dir, as tests look for them
    log_fd = os.open(os.path.join(meta, paths.LOG),
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)  # fmt: skip
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(null)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s launcher[%(process)d] %(levelname)s %(message)s")  # fmt: skip
    try:
        lock = take_lock(meta)
        if lock is None:
            os.write(ready_fd, b"ok: another launcher serves this directory")
            return 0
        become_subreaper()
        launcher = Launcher(meta, idle_exit, ephemeral)
        launcher.listen()
    except Exception as exc:
        logging.exception("cannot start")
        os.write(ready_fd, f"cannot start the launcher: {exc}\n".encode())
        return 1
    os.write(ready_fd, b"ok")
    os.close(ready_fd)
    logging.info("serving %s (%d task(s) in the journal)", meta, len(launcher.entries))
    launcher.run()
    logging.info("exiting after %d launch(es)", launcher.launched)
    if ephemeral:
        import shutil

        shutil.rmtree(meta, ignore_errors=True)
    return 0


if __name__ == "__main__":
    main()
