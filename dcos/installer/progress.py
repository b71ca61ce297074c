"""What an operator sees while a step of `dcos-py install` runs on many hosts at once.

`runner.for_each_host` drives a `Progress`: `begin(step, addresses)` once per step, then
`update(address, text)` for each line a host's work logs (its `HostLog`), optionally with a
fraction done, and `finish(address, ok, detail)` when that host is done, then `end()`.

- `RichProgress`: a rich live display, one bar per host for the step (the default on a TTY).
- `QuietProgress`: plain lines ("[deploy] 10.0.0.21: ok ..."), for logs, CI and tests.

`make_progress()` picks one; the CLI (`dcos.installer.main`) makes one per run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as _RichBars


class Progress(Protocol):
    def begin(self, step: str, addresses: list[str]) -> None: ...

    def update(self, address: str, text: str, fraction: float | None = None) -> None: ...

    def finish(self, address: str, ok: bool, detail: str) -> None: ...

    def end(self) -> None: ...


class QuietProgress:
    """One printed line when a host starts and one when it ends (`say` defaults to print)."""

    def __init__(self, say: Callable[[str], None] = print, verbose: bool = False) -> None:
        self.say = say
        self.verbose = verbose  # also print every line the hosts log
        self.step = ""

    def begin(self, step: str, addresses: list[str]) -> None:
        self.step = step
        self.say(f"[{step}] {len(addresses)} host(s): {', '.join(addresses)}")

    def update(self, address: str, text: str, fraction: float | None = None) -> None:
        if self.verbose:
            self.say(f"[{self.step}] {address}: {text}")

    def finish(self, address: str, ok: bool, detail: str) -> None:
        self.say(f"[{self.step}] {address}: {'ok' if ok else 'FAILED'}"
                 + (f" {detail}" if detail else ""))

    def end(self) -> None:
        pass


class RichProgress:
    """A rich live display: per host a bar (indeterminate until the work gives a fraction),
    its address and its latest log line; the bar turns into ok/FAILED when the host is done."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self._bars: _RichBars | None = None
        self._tasks: dict[str, TaskID] = {}
        self.step = ""

    def begin(self, step: str, addresses: list[str]) -> None:
        self.step = step
        self._bars = _RichBars(TextColumn("[bold]{task.fields[step]}[/]"),
                               TextColumn("{task.fields[address]:<16}"), BarColumn(),
                               TimeElapsedColumn(), TextColumn("{task.description}"),
                               console=self.console, transient=False)
        self._bars.start()
        self._tasks = {a: self._bars.add_task("waiting", total=None, step=step, address=a)
                       for a in addresses}

    def update(self, address: str, text: str, fraction: float | None = None) -> None:
        if self._bars is None or address not in self._tasks:
            return
        task = self._tasks[address]
        if fraction is None:
            self._bars.update(task, description=_one_line(text))
        else:
            self._bars.update(task, description=_one_line(text), total=1.0,
                              completed=max(0.0, min(1.0, fraction)))

    def finish(self, address: str, ok: bool, detail: str) -> None:
        if self._bars is None or address not in self._tasks:
            return
        mark = "[green]ok[/]" if ok else "[red]FAILED[/]"
        self._bars.update(self._tasks[address], total=1.0, completed=1.0,
                          description=f"{mark} {_one_line(detail)}")

    def end(self) -> None:
        if self._bars is not None:
            self._bars.stop()
            self._bars = None


def _one_line(text: str, limit: int = 80) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def make_progress(*, quiet: bool | None = None, say: Callable[[str], None] = print) -> Progress:
    """RichProgress on a terminal, QuietProgress otherwise (or when `quiet` is True)."""
    if quiet is None:
        quiet = not sys.stdout.isatty()
    return QuietProgress(say) if quiet else RichProgress()
