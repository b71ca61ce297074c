"""Marathon secrets in app definitions: validation (422 paths) and their translation into
Mesos secret references in the TaskInfo (never values); the app's user as command.user."""

from dcos.sdk import Launch, Offer
from dcos.testing import make_offer
from frameworks.webapp.actions import Deploy
from frameworks.webapp.core import CoreConfig, WebappCore
from frameworks.webapp.instances import Instance
from frameworks.webapp.launch import build_task_info
from frameworks.webapp.model.app import normalize
from frameworks.webapp.model.secrets import secret_refs
from frameworks.webapp.model.spec import AppSpec

SECRETS = {"s0": {"source": "team/db"}, "cert": {"source": "/team/tls"}}


def app_def(**kw):
    app, errs = normalize({"id": "/team/web", "cmd": "sleep 100", "cpus": 0.1, "mem": 16, **kw})
    if app is not None:
        app["version"] = "2026-01-01T00:00:00.000Z"
    return app, errs


def test_env_and_file_secrets_become_mesos_references():
    app, errs = app_def(secrets=SECRETS, env={"PW": {"secret": "s0"}, "MODE": "prod"}, user="nobody",
                        container={"type": "MESOS", "volumes": [{"containerPath": "tls/key.pem", "secret": "cert"}]})
    assert not errs, errs
    spec = AppSpec.parse(app)
    assert spec.secrets.paths == {"team/db", "team/tls"}
    inst = Instance("team_web.1", "/team/web", app["version"], app["version"], "a1", "h1", [31000], [10000], 1.0)
    info = build_task_info(spec, inst, [])
    assert info["command"]["user"] == "nobody"
    variables = info["command"]["environment"]["variables"]
    assert {"name": "PW", "type": "SECRET", "secret": {"type": "REFERENCE", "reference": {"name": "team/db"}}} in variables
    assert {"name": "MODE", "value": "prod"} in variables or any(v.get("value") == "prod" for v in variables)
    assert info["container"] == {"type": "MESOS", "volumes": [{
        "container_path": "tls/key.pem", "mode": "RO",
        "source": {"type": "SECRET", "secret": {"type": "REFERENCE", "reference": {"name": "team/tls"}}}}]}


def test_an_app_without_secrets_has_no_container_and_no_user_unless_given():
    app, _ = app_def()
    spec = AppSpec.parse(app)
    assert not spec.secrets and spec.user is None
    info = build_task_info(spec, Instance("t.1", "/team/web", "v", "v", "a1", "h1", [], [], 1.0), [])
    assert "container" not in info and "user" not in info["command"]


def test_bad_secrets_are_422_paths():
    cases = [
        ({"env": {"PW": {"secret": "nope"}}}, "/env/PW", "references an undefined secret named 'nope'"),
        ({"secrets": {"s": {"source": "../etc"}}}, "/secrets/s/source", "not a valid secret path"),
        ({"secrets": {"s": {"source": ""}}}, "/secrets/s/source", "non-empty"),
        ({"secrets": {"s": "team/db"}}, "/secrets/s", "must be an object"),
        ({"secrets": SECRETS, "env": {"PW": {"secret": "s0", "x": 1}}}, "/env/PW", "must be"),
        ({"secrets": SECRETS, "container": {"volumes": [{"containerPath": "/etc/pw", "secret": "s0"}]}},
         "/container/volumes(0)/containerPath", "relative path"),
        ({"secrets": SECRETS, "container": {"volumes": [{"containerPath": "a/../../pw", "secret": "s0"}]}},
         "/container/volumes(0)/containerPath", "relative path"),
        ({"container": {"volumes": [{"containerPath": "pw", "secret": "zz"}]}},
         "/container/volumes(0)/secret", "undefined secret named 'zz'"),
        ({"user": "root; rm -rf /"}, "/user", "user name"),
    ]
    for extra, path, text in cases:
        app, errs = app_def(**extra)
        assert app is None, extra
        found = dict(errs)
        assert path in found and any(text in e for e in found[path]), (extra, errs)


def test_refs_of_a_stored_definition_skip_what_validation_would_refuse():
    refs = secret_refs({"secrets": {"a": {"source": "x/y"}}, "env": {"A": {"secret": "a"}, "B": {"secret": "gone"}}})
    assert refs.env == (("A", "x/y"),) and refs.files == ()


def test_offers_launch_the_app_with_its_user_and_references():
    core = WebappCore(CoreConfig())
    app, _ = app_def(user="nobody", secrets=SECRETS, env={"PW": {"secret": "s0"}})
    core.deploy(0.0, Deploy({AppSpec.parse(app).id: AppSpec.parse(app)}))
    core.evaluate(0.0)
    actions = core.offers(0.0, [Offer(make_offer(agent_id="a1", hostname="h1",
                                                 resources="cpus:4;mem:4096;ports:[31000-31009]"))])
    launches = [a for a in actions if isinstance(a, Launch)]
    task = launches[0].tasks[0]
    assert task["command"]["user"] == "nobody"
    assert any(v.get("type") == "SECRET" for v in task["command"]["environment"]["variables"])
    assert "team/db" not in str([v.get("value") for v in task["command"]["environment"]["variables"]])
