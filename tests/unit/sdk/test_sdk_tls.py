"""The SDK over mutual TLS with the cluster CA (dcos.security): a scheduler driver given an
SSLContext reaches a ``host:port`` master over https, SUBSCRIBE and every call (the pipelined
CallPool path) presenting its certificate; without one the master's handshake refuses it. The
executor driver speaks https to its agent when the agent's environment names the CA."""

from __future__ import annotations

import ssl

import pytest
from sdk_fakes import WAIT, FakeMaster, Recorder

from dcos.sdk import Credentials, SchedulerDriver
from dcos.sdk.executor import Env, Executor, ExecutorDriver
from dcos.security.layout import init_security_dir
from dcos.security.tls import client_context, server_context


@pytest.fixture(scope="module")
def sd(tmp_path_factory):
    return init_security_dir(tmp_path_factory.mktemp("sec"), names={"master": "component", "fw": "framework"})


async def mtls_master(sd) -> FakeMaster:
    ctx = server_context(sd, "master")
    ctx.verify_mode = ssl.CERT_REQUIRED  # only clients with a certificate of the cluster CA
    master = FakeMaster()
    await master.start(ssl_context=ctx)
    return master


async def test_host_port_master_is_https_and_calls_go_over_mutual_tls(sd):
    master = await mtls_master(sd)
    try:
        creds = Credentials("fw", "s3cret")
        async with SchedulerDriver(Recorder(), {"name": "fw"}, master.address,
                                   ssl=client_context(sd, "fw"), credentials=creds) as driver:  # fmt: skip
            assert await driver.wait_subscribed(timeout=WAIT) == "fw-0001"
            assert driver.master is not None and driver.master.scheme == "https"
            for _ in range(3):  # the pooled connection is reused
                await driver.suppress()
                headers, _ = await master.next_call("SUPPRESS")
                assert headers["Authorization"] == creds.authorization()
            assert driver.framework_info["principal"] == "fw"
    finally:
        await master.stop()


async def test_a_driver_without_a_client_certificate_is_refused_by_the_handshake(sd):
    master = await mtls_master(sd)
    try:
        async with SchedulerDriver(Recorder(), {"name": "fw"}, master.address,
                                   ssl=client_context(sd, None)) as driver:  # fmt: skip
            with pytest.raises(TimeoutError):
                await driver.wait_subscribed(timeout=0.5)
    finally:
        await master.stop()


def test_the_executor_driver_follows_the_agents_tls_environment(sd):
    base = {"MESOS_AGENT_ENDPOINT": "127.0.0.1:5051", "MESOS_FRAMEWORK_ID": "f", "MESOS_EXECUTOR_ID": "e"}
    assert Env.read(base).ssl_context() is None
    assert ExecutorDriver(Executor(), env=base).url == "http://127.0.0.1:5051/api/v1/executor"
    env = {**base, "DCOS_CA_FILE": str(sd.ca_cert)}
    tls = Env.read(env).ssl_context()
    assert tls is not None and tls.verify_mode == ssl.CERT_REQUIRED
    assert ExecutorDriver(Executor(), env=env).url == "https://127.0.0.1:5051/api/v1/executor"
    mesos_style = {**base, "LIBPROCESS_SSL_ENABLED": "true", "LIBPROCESS_SSL_CA_FILE": str(sd.ca_cert)}
    assert Env.read(mesos_style).tls and Env.read(mesos_style).ca_file == str(sd.ca_cert)
