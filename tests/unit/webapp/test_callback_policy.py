"""Which event callback URLs the webapp accepts (frameworks.webapp.callback_policy)."""

import pytest

from frameworks.webapp.callback_policy import CallbackPattern, CallbackPolicy, parse_patterns


def test_security_off_refuses_only_the_clusters_own_loopback_ports_and_link_local():
    p = CallbackPolicy().with_ports([15050])
    for url in ("http://127.0.0.1:5050/master", "http://localhost:8080/v2/apps", "http://[::1]:5051/",
                "http://0.0.0.0:7070/", "http://127.0.0.2:15050/", "http://169.254.169.254/latest/meta-data",
                "http://[::ffff:127.0.0.1]:5050/", "http://a.localhost:2181/"):
        assert p.check(url) is not None, url
    for url in ("http://127.0.0.1:45678/events", "https://hooks.example.com/x", "http://10.0.0.5:5050/"):
        assert p.check(url) is None, url


def test_security_on_allows_only_listed_patterns():
    assert "--event-callback-allow" in (CallbackPolicy(secure=True).check("https://hooks.example.com/") or "")
    p = CallbackPolicy(parse_patterns(["hooks.example.com:443,*.corp.example:*", "[::1]:9999"]), secure=True)
    assert p.check("https://hooks.example.com/e") is None
    assert p.check("http://hooks.example.com/e") is not None  # port 80
    assert p.check("http://a.b.corp.example:8080/") is None
    assert p.check("http://corp.example:8080/") is not None
    assert p.check("http://[::1]:9999/") is None
    assert p.check("http://127.0.0.1:5050/") is not None


def test_an_allow_list_also_binds_when_security_is_off():
    p = CallbackPolicy(parse_patterns(["127.0.0.1:5050"]))
    assert p.check("http://127.0.0.1:5050/") is None  # listed on purpose by the operator
    assert p.check("http://127.0.0.1:45678/") is not None


@pytest.mark.parametrize("bad", ["nohost", ":80", "h:", "h:0", "h:99999", "h:x"])
def test_bad_patterns_are_refused(bad):
    with pytest.raises(ValueError, match="callback allow pattern"):
        CallbackPattern.parse(bad)
