"""Mesos ACL semantics: first matching rule, NONE/ANY/values, prefix objects, permissive."""

from __future__ import annotations

import pytest

from dcos.security.acls import OBJECT_KEYS, AclError, Acls, Action, default_acls


def acls(doc: dict) -> Acls:
    return Acls.from_json(doc)


def test_empty_document_is_permissive() -> None:
    a = acls({})
    assert a.permissive and a.allows(Action.RUN_TASKS, "anyone", "root")
    assert not acls({"permissive": False}).allows(Action.RUN_TASKS, "anyone", "root")


def test_first_matching_rule_decides() -> None:
    a = acls({"permissive": True, "run_tasks": [
        {"principals": {"values": ["fw"]}, "users": {"values": ["nobody"]}},
        {"principals": {"values": ["fw"]}, "users": {"type": "NONE"}},
        {"principals": {"type": "ANY"}, "users": {"type": "ANY"}},
    ]})
    assert a.allows("run_tasks", "fw", "nobody")
    assert not a.allows("run_tasks", "fw", "root")  # values miss -> next rule: NONE denies
    assert a.allows("run_tasks", "other", "root")  # third rule


def test_values_miss_falls_through_to_permissive() -> None:
    rules = [{"principals": {"values": ["fw"]}, "roles": {"values": ["a"]}}]
    assert acls({"register_frameworks": rules}).allows("register_frameworks", "fw", "b")
    assert not acls({"permissive": False, "register_frameworks": rules}).allows(
        "register_frameworks", "fw", "b")
    assert acls({"permissive": False, "register_frameworks": rules}).allows(
        "register_frameworks", "fw", "a")


def test_none_principals_deny_everyone_for_the_object() -> None:
    a = acls({"register_frameworks": [
        {"principals": {"type": "NONE"}, "roles": {"values": ["ads"]}}]})
    assert not a.allows("register_frameworks", "fw", "ads")
    assert not a.allows("register_frameworks", None, "ads")
    assert a.allows("register_frameworks", "fw", "web")


def test_anonymous_and_missing_object() -> None:
    a = acls({"permissive": False, "view_tasks": [
        {"principals": {"values": ["ops"]}, "users": {"values": ["nobody"]}},
        {"principals": {"type": "ANY"}, "users": {"type": "ANY"}}]})
    assert a.allows("view_tasks", None, "root")  # ANY matches anonymous (Mesos)
    b = acls({"permissive": False, "view_tasks": [
        {"principals": {"values": ["ops"]}, "users": {"values": ["nobody"]}}]})
    assert not b.allows("view_tasks", None, "nobody")
    assert not b.allows("view_tasks", "ops", None)  # values never match "no object"


@pytest.mark.parametrize(("action", "key"), [(Action.WEBAPP_GROUPS, "groups"),
                                             (Action.USE_SECRETS, "secrets")])
def test_prefix_objects(action: Action, key: str) -> None:
    a = acls({"permissive": False, action.value: [
        {"principals": {"values": ["team"]}, key: {"values": ["/team"]}},
        {"principals": {"values": ["root"]}, key: {"values": ["/"]}}]})
    assert a.allows(action, "team", "/team")
    assert a.allows(action, "team", "/team/web/app")
    assert a.allows(action, "team", "team/db")  # leading slash optional
    assert not a.allows(action, "team", "/teammate/app")
    assert not a.allows(action, "team", "/other")
    assert a.allows(action, "root", "/anything/at/all")


def test_exact_objects_are_not_prefixes() -> None:
    a = acls({"permissive": False, "install_packages": [
        {"principals": {"values": ["dev"]}, "packages": {"values": ["hello"]}}]})
    assert a.allows("install_packages", "dev", "hello")
    assert not a.allows("install_packages", "dev", "hello-world")


@pytest.mark.parametrize(("doc", "path"), [
    ([], ""),
    ({"permissive": "yes"}, "permissive"),
    ({"launch_rockets": []}, "launch_rockets"),
    ({"run_tasks": {}}, "run_tasks"),
    ({"run_tasks": [1]}, "run_tasks[0]"),
    ({"run_tasks": [{"principals": {"type": "ANY"}}]}, "run_tasks[0]"),
    ({"run_tasks": [{"principals": {"type": "ANY"}, "roles": {"type": "ANY"}}]}, "run_tasks[0]"),
    ({"run_tasks": [{"principals": {"type": "SOME"}, "users": {"type": "ANY"}}]},
     "run_tasks[0].principals.type"),
    ({"run_tasks": [{"principals": {"values": ["a", 2]}, "users": {"type": "ANY"}}]},
     "run_tasks[0].principals.values[1]"),
    ({"run_tasks": [{"principals": {"values": "a"}, "users": {"type": "ANY"}}]},
     "run_tasks[0].principals.values"),
    ({"run_tasks": [{"principals": {"values": [], "type": "ANY"}, "users": {"type": "ANY"}}]},
     "run_tasks[0].principals"),
])
def test_bad_documents_name_the_path(doc: object, path: str) -> None:
    with pytest.raises(AclError) as info:
        Acls.from_json(doc)
    assert info.value.path == path


def test_round_trip_and_every_action_has_an_object_key() -> None:
    assert set(OBJECT_KEYS) == set(Action)
    doc = default_acls(admins=["admin"], components=["master", "webapp"], task_users=["nobody"],
                       frameworks=["batch-driver"])
    a = Acls.from_json(doc)
    assert Acls.from_json(a.to_json()) == a
    assert a.to_json() == doc
    assert not a.permissive
    for action in Action:
        assert a.allows(action, "admin", "anything")
        assert not a.allows(action, "mallory", "anything")
        assert not a.allows(action, None, "anything")
    assert a.allows(Action.MANAGE_IAM, "webapp", "x")
    assert not a.allows(Action.RUN_TASKS, "webapp", "root")
