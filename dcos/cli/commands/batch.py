"""`dcos-py batch`: cluster-mode batch jobs (submit, status, log, kill, list).

The work is done by the batch dispatcher (``python -m frameworks.batch.cluster.dispatcher``,
a framework named ``batch-dispatcher``; see that module). This command finds it from
``--dispatcher`` (or ``$DCOS_BATCH_DISPATCHER``), else the config file's ``dispatcher``, else
through the master (the ``webui_url`` of the active ``batch-dispatcher`` framework) and, for
``submit``, starts one when none is registered (its work dir: ``--dispatcher-dir``, default
``~/.dcos-py/batch-dispatcher``). Progress bars poll
the driver's job page JSON (``GET <driver ui>/api/jobs``). The CLI talks HTTP only; it does not
import the framework.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dcos.cli import http
from dcos.cli.commands import _sandbox as sandboxes
from dcos.cli.commands._common import (
    JsonOpt,
    MasterOpt,
    command_group,
    console,
    master_given,
    master_url,
    one_line_errors,
    print_json,
)
from dcos.cli.config import ENV_DISPATCHER, resolve_dispatcher, resolve_master
from dcos.cli.errors import CliError
from dcos.common.addresses import zk_master

app = command_group("Batch (Spark-like) jobs in cluster mode.")

DISPATCHER_NAME = "batch-dispatcher"
ENDED = {"FINISHED", "FAILED", "KILLED", "ERROR", "LOST"}

DispatcherOpt = Annotated[str | None, typer.Option(
    "--dispatcher", envvar=ENV_DISPATCHER, show_envvar=True, show_default=False,
    help="Dispatcher URL (default: the config file's dispatcher, then found through the "
    "master).")]
IdArg = Annotated[str, typer.Argument(help="Submission id (driver-...).")]


def _request(method: str, url: str, body: Any = None, timeout: float = 10.0) -> Any:
    return http.request(method, url, body, timeout=timeout, server="the batch dispatcher")


def find_dispatcher(master: str) -> str | None:
    """The URL of the active batch dispatcher registered with `master`, or None."""
    body = http.get_json(master, "/master/frameworks")
    for fw in body.get("frameworks") or []:
        if fw.get("name") == DISPATCHER_NAME and fw.get("active") and fw.get("webui_url"):
            return str(fw["webui_url"]).rstrip("/")
    return None


def start_dispatcher(master: str, work_dir: Path, timeout: float = 30.0,
                     given: str | None = None) -> str:
    """Start a dispatcher process in the background (its own session, logging to
    ``<work_dir>/dispatcher.log``) and wait until it is registered with `master` (a URL);
    returns its URL. `given`: its ``--master`` when not `master` (a ``zk://`` URL, so that
    it follows the leader)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    log = open(work_dir / "dispatcher.log", "ab")
    subprocess.Popen(
        [sys.executable, "-m", "frameworks.batch.cluster.dispatcher", "--master", given or master,
         "--work-dir", str(work_dir)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        cwd=str(work_dir),
    )
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        url = find_dispatcher(master)
        if url:
            return url
        time.sleep(0.1)
    raise CliError(f"the batch dispatcher did not register within {timeout:g}s "
                   f"(see {work_dir / 'dispatcher.log'})")


def dispatcher_url(ctx: typer.Context, master: str | None, flag: str | None,
                   start_dir: Path | None = None) -> str:
    """`--dispatcher` (or $DCOS_BATCH_DISPATCHER), the config file's, the registered one, or
    (with `start_dir`) a freshly started one."""
    given = resolve_dispatcher(flag)
    if given:
        return given
    text = master_given(ctx, master)
    murl = resolve_master(text)
    found = find_dispatcher(murl)
    if found:
        return found
    if start_dir is None:
        raise CliError("no batch dispatcher is registered with the master "
                       "(dcos-py batch submit starts one)")
    return start_dispatcher(murl, start_dir, given=text if zk_master(text) else None)


def read_script(path: Path) -> str:
    """The driver program's text, shipped in the submission (the dispatcher runs only code a
    submission carries, or host scripts it was told to allow)."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise CliError(f"script {path} is not UTF-8 text") from None
    except OSError as exc:
        raise CliError(f"cannot read script {path}: {exc.strerror}") from None


def _conf_pairs(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--conf expects KEY=VALUE, got {item!r}")
        out[key] = value
    return out


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@one_line_errors
def submit(
    ctx: typer.Context,
    script: Annotated[Path, typer.Argument(help="The driver program (a Python script).")],
    executors: Annotated[int | None, typer.Option("--executors", min=1)] = None,
    executor_cores: Annotated[int | None, typer.Option("--executor-cores", min=1)] = None,
    executor_memory: Annotated[str | None, typer.Option(
        "--executor-memory", help="e.g. 512m, 1g")] = None,
    driver_cores: Annotated[float, typer.Option("--driver-cores")] = 0.5,
    driver_memory: Annotated[float, typer.Option("--driver-memory", help="MB")] = 512,
    conf: Annotated[list[str] | None, typer.Option("--conf", help="spark.KEY=VALUE")] = None,
    name: Annotated[str | None, typer.Option("--name")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Show progress until the driver ends.")
    ] = False,
    master: MasterOpt = None,
    dispatcher: DispatcherOpt = None,
    dispatcher_dir: Annotated[Path, typer.Option("--dispatcher-dir")] = Path(
        "~/.dcos-py/batch-dispatcher"),
) -> None:
    """Run SCRIPT [ARGS]... as a driver on the cluster (its content is sent to the
    dispatcher); prints the submission id."""
    path = script.expanduser().resolve()
    if not path.is_file():
        raise CliError(f"script {script} does not exist")
    settings = _conf_pairs(conf or [])
    if executors is not None:
        settings["spark.executor.instances"] = str(executors)
    if executor_cores is not None:
        settings["spark.executor.cores"] = str(executor_cores)
    if executor_memory is not None:
        settings["spark.executor.memory"] = executor_memory
    url = dispatcher_url(ctx, master, dispatcher, dispatcher_dir.expanduser())
    body = {"script": path.name, "script_content": read_script(path), "args": list(ctx.args),
            "conf": settings, "name": name, "driver_cpus": driver_cores,
            "driver_mem": driver_memory}
    sub = _request("POST", f"{url}/v1/submissions", body)
    typer.echo(sub["id"])
    if wait:
        code = _watch(url, sub["id"])
        raise typer.Exit(code)


@app.command()
@one_line_errors
def status(
    ctx: typer.Context, submission: IdArg, master: MasterOpt = None,
    dispatcher: DispatcherOpt = None, json: JsonOpt = False,
    watch: Annotated[bool, typer.Option("--watch", help="Progress bars until it ends.")] = False,
) -> None:
    """The state of a submission (and its driver's jobs)."""
    url = dispatcher_url(ctx, master, dispatcher)
    if watch:
        raise typer.Exit(_watch(url, submission))
    sub = _request("GET", f"{url}/v1/submissions/{submission}")
    if json:
        print_json(sub)
        return
    c = console()
    c.print(f"{sub['id']}  {sub['state']}  {sub['name']}")
    if sub.get("message"):
        c.print(f"  {sub['message']}")
    if sub.get("driver_ui"):
        c.print(f"  job page: {sub['driver_ui']}")
        jobs = _driver_jobs(sub["driver_ui"])
        if jobs and jobs.get("waiting"):
            c.print(f"  waiting for executors: {jobs['waiting']}", markup=False)
        for job in (jobs or {}).get("jobs", [])[:10]:
            c.print(f"  job {job['job_id']}: {job['status']} {job['succeeded']}/{job['tasks']} "
                    f"tasks {job['duration']:.2f}s")


@app.command("list")
@one_line_errors
def list_submissions(ctx: typer.Context, master: MasterOpt = None,
                     dispatcher: DispatcherOpt = None, json: JsonOpt = False) -> None:
    """Every submission the dispatcher knows, newest first."""
    url = dispatcher_url(ctx, master, dispatcher)
    subs = _request("GET", f"{url}/v1/submissions")["submissions"]
    if json:
        print_json(subs)
        return
    table = Table("ID", "NAME", "STATE", "SUBMITTED", "MESSAGE", box=None)
    for s in subs:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s["submitted"]))
        table.add_row(s["id"], s["name"], s["state"], when, s.get("message") or "")
    console().print(table)


@app.command()
@one_line_errors
def kill(ctx: typer.Context, submission: IdArg, master: MasterOpt = None,
         dispatcher: DispatcherOpt = None) -> None:
    """Kill a submission's driver (its executors go with it)."""
    url = dispatcher_url(ctx, master, dispatcher)
    sub = _request("POST", f"{url}/v1/submissions/{submission}/kill")
    typer.echo(f"{sub['id']} {sub['state']}: kill requested")


@app.command()
@one_line_errors
def log(
    ctx: typer.Context, submission: IdArg, master: MasterOpt = None,
    dispatcher: DispatcherOpt = None,
    stderr: Annotated[bool, typer.Option("--stderr")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", min=0)] = 50,
) -> None:
    """The last lines of the driver's stdout (or stderr) from its sandbox."""
    url = dispatcher_url(ctx, master, dispatcher)
    sub = _request("GET", f"{url}/v1/submissions/{submission}")
    if sub["state"] == "QUEUED":
        raise CliError(f"{submission} has not started yet")
    murl = master_url(ctx, master)
    state = http.get_json(murl, "/master/state")
    box, _ = sandboxes.locate(state, sub["task_id"], murl)
    text, _ = sandboxes.tail(box, sandboxes.file_path(box, "stderr" if stderr else "stdout"),
                             lines)
    sys.stdout.write(text)


def _driver_jobs(ui_url: str) -> dict[str, Any] | None:
    jobs = http.get_json_or_none(ui_url.rstrip("/") + "/api/jobs", timeout=2.0)
    return jobs if isinstance(jobs, dict) else None


def _watch(url: str, sid: str, poll: float = 0.5) -> int:
    """Progress bars per stage of the driver's jobs until the submission ends; the exit code
    is 0 when the driver FINISHED."""
    bars: dict[tuple[int, int, int], Any] = {}
    waiting = None
    with Progress(TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed:.0f}/{task.total:.0f}"), TimeElapsedColumn(),
                  console=console(), transient=False) as progress:
        while True:
            sub = _request("GET", f"{url}/v1/submissions/{sid}")
            jobs = _driver_jobs(sub["driver_ui"]) if sub.get("driver_ui") else None
            now_waiting = (jobs or {}).get("waiting")
            if now_waiting and (waiting is None or now_waiting.split(" (waiting")[0]
                                != waiting.split(" (waiting")[0]):
                progress.console.print(f"waiting for executors: {now_waiting}", markup=False)
            waiting = now_waiting
            for job in reversed((jobs or {}).get("jobs", [])):
                for st in job["stages"]:
                    key = (job["job_id"], st["stage_id"], st["attempt"])
                    if key not in bars:
                        bars[key] = progress.add_task(
                            f"job {job['job_id']} stage {st['stage_id']}.{st['attempt']}",
                            total=max(1, st["total"]))
                    progress.update(bars[key], completed=st["succeeded"], total=max(1, st["total"]))
            if sub["state"] in ENDED:
                break
            time.sleep(poll)
    typer.echo(f"{sid} {sub['state']}" + (f": {sub['message']}" if sub.get("message") else ""))
    return 0 if sub["state"] == "FINISHED" else 1
