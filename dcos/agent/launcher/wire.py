"""The launcher's messages: msgpack arrays, back to back on the Unix socket (no other framing:
`msgpack.Unpacker` splits the stream). Used by the launcher (`server`) and the agent's client.

Agent -> launcher:

- ``[HELLO]``: answered by ``[HELLO, containers, launcher pid]``, each container
  ``[cid, pid, start, code, signal, ended, child, record]``: every task the journal still holds
  (running, or ended and not acknowledged). `child` False: started by an earlier launcher
  that died (its exit status is unknown unless `ended`).
- ``[LAUNCH, cid, argv, env, cwd, stdout, stderr, tasks_files, prelude, record, setup]``:
  answered by ``[LAUNCHED, cid, pid, start, error]`` (pid 0 and a non-empty `error` when it
  failed). `setup`: ``[[dir, [[file, value], ...]], ...]``, cgroups to create and limits to
  write before the task joins them.
- ``[RMDIR, [dir, ...]]``: remove these (emptied) cgroups, retrying while they are busy.
- ``[SIGNAL, cid, signal]``: signal the task's process group (while its leader runs).
- ``[ACK, [cid, ...]]``: the agent has recorded these ends; forget them.
- ``[SHUTDOWN, kill]``: exit (after SIGKILLing every task's group when `kill`).

Launcher -> agent, unsolicited: ``[EXIT, cid, code, signal]`` (exactly one of code / signal
is not None), sent once the exit is in the journal (synced).
"""

from __future__ import annotations

from typing import Any

import msgpack

HELLO = "hello"
LAUNCH = "launch"
LAUNCHED = "launched"
SIGNAL = "signal"
ACK = "ack"
SHUTDOWN = "shutdown"
RMDIR = "rmdir"
EXIT = "exit"

_packer = msgpack.Packer(use_bin_type=True)


def pack(message: list[Any]) -> bytes:
    """One message's bytes."""
    return _packer.pack(message)


def unpacker() -> msgpack.Unpacker:
    """A streaming decoder: ``feed`` it bytes, iterate the complete messages."""
    return msgpack.Unpacker(raw=False, use_list=True, strict_map_key=False,
                            max_buffer_size=64 * 1024 * 1024)  # fmt: skip
