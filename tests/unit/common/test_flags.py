"""dcos.common.flags: shared daemon flags, each also settable as DCOS_<FLAG> (MESOS_<FLAG>)."""

import pytest

from dcos.common.flags import DaemonParser, positive_seconds


def parser(environ, prefixes=("DCOS",)):
    p = DaemonParser("d", "test daemon", env_prefixes=prefixes, environ=environ)
    p.shared("ip", "port", "work_dir", "master", port=5050, work_dir="./w")
    p.logging_flags()
    p.flag("--interval", type=positive_seconds, default=1.0, help="seconds")
    p.flag("--no-checkpoint", action="store_true", help="do not checkpoint")
    return p


def test_defaults() -> None:
    a = parser({}).parse_args([])
    assert (a.ip, a.port, a.work_dir, a.master) == ("127.0.0.1", 5050, "./w", "127.0.0.1:5050")
    assert (a.log_level, a.log_format, a.log_file) == ("INFO", "text", None)
    assert a.interval == 1.0 and a.no_checkpoint is False


def test_env_then_flag_precedence() -> None:
    env = {"DCOS_PORT": "6000", "DCOS_LOG_LEVEL": "debug", "DCOS_NO_CHECKPOINT": "true",
           "DCOS_INTERVAL": "2mins", "MESOS_WORK_DIR": "/m"}
    a = parser(env).parse_args([])
    assert (a.port, a.log_level, a.no_checkpoint, a.interval) == (6000, "DEBUG", True, 120.0)
    assert a.work_dir == "./w"  # MESOS_ not read without the prefix
    assert parser(env).parse_args(["--port", "7000"]).port == 7000
    both = parser({**env, "DCOS_WORK_DIR": "/d"}, ("DCOS", "MESOS"))
    assert both.parse_args([]).work_dir == "/d"
    assert parser(env, ("DCOS", "MESOS")).parse_args([]).work_dir == "/m"


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["--log-level", "LOUD"], {}),
        (["--port", "70000"], {}),
        (["--ip", "not-an-ip"], {}),
        (["--master", "zk://z:2181"], {}),
        (["--log-format", "xml"], {}),
        (["--interval", "0"], {}),
        ([], {"DCOS_PORT": "x"}),
        ([], {"DCOS_NO_CHECKPOINT": "maybe"}),
    ],
)
def test_bad_values_are_usage_errors(argv, env, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        parser(env).parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "error" in err
    if env:
        assert next(iter(env)) in err


def test_help_names_env_and_default(capsys) -> None:
    with pytest.raises(SystemExit):
        parser({}).parse_args(["--help"])
    out = capsys.readouterr().out
    assert "DCOS_LOG_LEVEL" in out and "default: INFO" in out and "DCOS_NO_CHECKPOINT" in out


def test_required_flag_satisfied_by_env() -> None:
    p = DaemonParser("d", "x", environ={"DCOS_MASTER": "m:1"})
    p.shared("master", master=None, master_required=True)
    assert p.parse_args([]).master == "m:1"
    p2 = DaemonParser("d", "x", environ={})
    p2.shared("master", master=None, master_required=True)
    with pytest.raises(SystemExit):
        p2.parse_args([])


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("zk://z1:2181,z2:2181/mesos", "zk://z1:2181,z2:2181/mesos"),
        ("mesos://zk://z1:2181/dcos", "zk://z1:2181/dcos"),
        (" zk://u:p@z1/dcos ", "zk://u:p@z1/dcos"),
    ],
)
def test_master_takes_zookeeper_urls(given, kept) -> None:
    p = DaemonParser("t", "t", environ={})
    p.shared("master")
    assert p.parse_args(["--master", given]).master == kept
    p2 = DaemonParser("t", "t", env_prefixes=("DCOS", "MESOS"), environ={"MESOS_MASTER": given})
    p2.shared("master")
    assert p2.parse_args([]).master == kept
