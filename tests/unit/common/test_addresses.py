"""dcos.common.addresses.parse_master: every master address form, one parser."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dcos.common.addresses import MasterAddress, MasterAddressError, parse_master, zk_master


@pytest.mark.parametrize(
    ("text", "scheme", "host", "port"),
    [
        ("10.0.0.1", "http", "10.0.0.1", 5050),
        ("master:5051", "http", "master", 5051),
        ("http://m:80/", "http", "m", 80),
        ("https://m:8443", "https", "m", 8443),
        ("https://m", "https", "m", 5050),
        ("[::1]:5051", "http", "::1", 5051),
        ("::1", "http", "::1", 5050),
        ("fe80::1", "http", "fe80::1", 5050),
        ("http://[::1]:6060/", "http", "::1", 6060),
        ("//m:5050", "http", "m", 5050),
        ("mesos://m:5050", "http", "m", 5050),
        ("  m:1  ", "http", "m", 1),
    ],
)
def test_forms(text, scheme, host, port):
    addr = parse_master(text)
    assert (addr.scheme, addr.host, addr.port) == (scheme, host, port)


def test_url_and_hostport_bracket_ipv6():
    addr = parse_master("https://[::1]:5050")
    assert addr.url == "https://[::1]:5050"
    assert addr.hostport == "[::1]:5050"
    assert str(parse_master("m")) == "m:5050"


def test_default_scheme_applies_to_bare_and_redirect_forms():
    assert parse_master("m:1", default_scheme="https").url == "https://m:1"
    assert parse_master("//m:1", default_scheme="https").url == "https://m:1"
    assert parse_master("http://m:1", default_scheme="https").url == "http://m:1"


@pytest.mark.parametrize("text", ["", "  ", "ftp://m:1", "m:notaport", "m:99999", "http://:5050"])
def test_rejects(text):
    with pytest.raises(MasterAddressError):
        parse_master(text)


def test_zookeeper_is_a_clear_error():
    with pytest.raises(ValueError, match="ZooKeeper"):
        parse_master("zk://z1:2181,z2:2181/mesos")
    with pytest.raises(ValueError, match="ZooKeeper"):
        parse_master("mesos://zk://z1:2181/mesos")


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("zk://z1:2181,z2:2181/mesos", "zk://z1:2181,z2:2181/mesos"),
        ("  mesos://zk://z1/dcos ", "zk://z1/dcos"),
        ("zk://user:pw@z1:2181/a/b", "zk://user:pw@z1:2181/a/b"),
        ("m:5050", None),
        ("http://m", None),
        ("mesos://m:5050", None),
    ],
)
def test_zk_master_recognises_zookeeper_urls(text, url):
    assert zk_master(text) == url


@pytest.mark.parametrize("text", ["zk://", "zk://z1:2181", "zk://z1:2181/", "zk:///dcos",
                                  "mesos://zk://u:p@/dcos"])
def test_zk_master_refuses_a_url_without_hosts_or_path(text):
    with pytest.raises(MasterAddressError, match="zk://host:port"):
        zk_master(text)


_hosts = st.one_of(
    st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True),
    st.ip_addresses().map(str),
)


@given(_hosts, st.integers(1, 65535), st.sampled_from(["http", "https"]))
def test_url_round_trips(host, port, scheme):
    addr = MasterAddress(scheme, host, port)
    assert parse_master(addr.url) == addr
    assert parse_master(addr.hostport, default_scheme=scheme) == addr
