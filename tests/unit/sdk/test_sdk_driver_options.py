"""SchedulerDriver / ExecutorDriver ergonomics: async with, wait_subscribed, DriverState,
credentials (HTTP basic), an injected aiohttp session, plain (sync) callbacks."""

from __future__ import annotations

import asyncio
import base64
import shutil
import ssl
import subprocess

import aiohttp
import pytest
from aiohttp import web
from sdk_fakes import WAIT, FakeMaster, Recorder

from dcos.sdk import (
    DRIVER_STOPPED,
    Credentials,
    DriverError,
    DriverState,
    Executor,
    ExecutorDriver,
    Scheduler,
    SchedulerDriver,
    TaskState,
    framework_info,
)

BASIC = "Basic " + base64.b64encode(b"fw-principal:s3cret").decode()


def test_states_are_enums_equal_to_the_mesos_strings():
    assert DriverState.STOPPED == DRIVER_STOPPED == "DRIVER_STOPPED"
    assert TaskState.TASK_RUNNING == "TASK_RUNNING"
    assert repr(Credentials("p", "secret")) == "Credentials(principal='p')"


async def test_async_with_waits_for_subscription_and_stops_with_failover(master: FakeMaster):
    sched = Recorder()
    async with SchedulerDriver(sched, framework_info("fw"), master.address) as driver:
        assert driver.state is DriverState.RUNNING
        assert await driver.wait_subscribed(timeout=WAIT) == "fw-0001"
        assert driver.connected
    assert driver.state is DriverState.STOPPED
    assert [c["type"] for c in master.all_calls] == []  # failover: no TEARDOWN


async def test_wait_subscribed_raises_when_the_master_refuses(master: FakeMaster):
    master.subscribe_answers.append(web.Response(status=403, text="not allowed"))
    driver = SchedulerDriver(Recorder(), {"name": "fw"}, master.address)
    with pytest.raises(DriverError):
        await driver.wait_subscribed()  # not started
    await driver.start()
    with pytest.raises(DriverError, match="DRIVER_ABORTED"):
        await driver.wait_subscribed(timeout=WAIT)
    assert await driver.join() is DriverState.ABORTED


async def test_credentials_authenticate_subscribe_and_calls(master: FakeMaster):
    creds = Credentials("fw-principal", "s3cret")
    async with SchedulerDriver(Recorder(), {"name": "fw"}, master.address, credentials=creds) as d:
        stream = await master.next_stream()
        assert stream.headers["Authorization"] == BASIC
        assert stream.body["subscribe"]["framework_info"]["principal"] == "fw-principal"
        await d.wait_subscribed(timeout=WAIT)
        await d.revive()
        headers, _ = await master.next_call("REVIVE")
        assert headers["Authorization"] == BASIC


async def test_an_injected_session_is_used_and_left_open(master: FakeMaster):
    async with aiohttp.ClientSession() as session:
        driver = SchedulerDriver(Recorder(), {"name": "fw"}, master.address, session=session)
        await driver.start()
        await driver.wait_subscribed(timeout=WAIT)
        await driver.stop()  # TEARDOWN
        assert not session.closed
        assert (await master.next_call("TEARDOWN"))[1]["type"] == "TEARDOWN"


class PlainCallbacks(Scheduler):
    """Callbacks may be plain functions; the driver awaits only what is awaitable."""

    def __init__(self) -> None:
        self.registered_with: list[str] = []

    def registered(self, driver, framework_id, master_info):  # type: ignore[override]
        self.registered_with.append(framework_id)


async def test_sync_callbacks_are_called(master: FakeMaster):
    sched = PlainCallbacks()
    async with SchedulerDriver(sched, {"name": "fw"}, master.address) as driver:
        await driver.wait_subscribed(timeout=WAIT)
        for _ in range(200):
            if sched.registered_with:
                break
            await asyncio.sleep(0.005)
    assert sched.registered_with == ["fw-0001"]


async def test_executor_driver_sends_credentials_to_its_agent():
    seen: asyncio.Queue[dict[str, str]] = asyncio.Queue()

    async def refuse(request: web.Request) -> web.Response:
        seen.put_nowait(dict(request.headers))
        return web.Response(status=400, text="no")

    app = web.Application()
    app.router.add_post("/api/v1/executor", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    env = {"MESOS_AGENT_ENDPOINT": f"127.0.0.1:{port}", "MESOS_FRAMEWORK_ID": "fw-1",
           "MESOS_EXECUTOR_ID": "ex-1"}  # fmt: skip
    try:
        creds = Credentials("fw-principal", "s3cret")
        async with ExecutorDriver(Executor(), env=env, credentials=creds) as driver:
            assert await asyncio.wait_for(driver.join(), WAIT) is DriverState.ABORTED
        assert (await seen.get())["Authorization"] == BASIC
    finally:
        await runner.cleanup()


@pytest.fixture
def tls_files(tmp_path):
    """A self-signed certificate for 127.0.0.1 (made with the openssl CLI)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_https_master_with_an_ssl_context(tls_files):
    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    master = FakeMaster()
    await master.start(ssl_context=server_ctx)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    creds = Credentials("fw-principal", "s3cret")
    try:
        url = f"https://127.0.0.1:{master.port}"
        async with SchedulerDriver(
            Recorder(), {"name": "fw"}, url, ssl=client_ctx, credentials=creds
        ) as driver:
            assert await driver.wait_subscribed(timeout=WAIT) == "fw-0001"
            assert driver.master.scheme == "https"
            await driver.suppress()
            headers, body = await master.next_call("SUPPRESS")
            assert headers["Authorization"] == BASIC and headers["Mesos-Stream-Id"]
    finally:
        await master.stop()


async def test_https_master_with_an_untrusted_certificate_is_not_subscribed(tls_files):
    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    master = FakeMaster()
    await master.start(ssl_context=server_ctx)
    try:
        url = f"https://127.0.0.1:{master.port}"
        async with SchedulerDriver(Recorder(), {"name": "fw"}, url) as driver:
            with pytest.raises(TimeoutError):
                await driver.wait_subscribed(timeout=0.3)  # default checks refuse it
    finally:
        await master.stop()
