"""Mesos-style ACLs (sans-IO): parse, check, serialize.

Called by `dcos.security.context.SecurityContext.allows` (every shell, per request that needs a
decision), by the IAM module when ``PUT /acs/api/v1/acls`` validates a new document, and by
`dcos.security.layout.init_security_dir` (`default_acls`).

JSON (the Mesos ``--acls`` shape)::

    {"permissive": false,
     "run_tasks": [{"principals": {"values": ["webapp"]}, "users": {"values": ["nobody"]}},
                   {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}]}

An entity is ``{"values": [...]}``, ``{"type": "ANY"}`` or ``{"type": "NONE"}``.
Semantics (Mesos' local authorizer): rules are tried in order; the first rule whose principals
AND object match decides: allowed unless either entity is NONE. ANY and NONE match every
principal/object (anonymous and "no object" included); values match listed principals and,
for objects, equal values (for ``groups`` and ``secrets``: path prefixes, "/team" matches
"/team" and "/team/a"). A values object that does not match lets the next rule try.
No rule matches: ``permissive`` (default true) decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dcos.security.principal import Principal


class Action(StrEnum):
    REGISTER_FRAMEWORKS = "register_frameworks"  # object: role
    RUN_TASKS = "run_tasks"  # object: task user
    TEARDOWN_FRAMEWORKS = "teardown_frameworks"  # object: the framework's principal
    KILL_TASKS = "kill_tasks"  # object: the framework's principal
    RESERVE_RESOURCES = "reserve_resources"  # object: role
    UNRESERVE_RESOURCES = "unreserve_resources"  # object: the reserver's principal
    SET_QUOTAS = "set_quotas"  # object: role
    UPDATE_WEIGHTS = "update_weights"  # object: role
    VIEW_FRAMEWORKS = "view_frameworks"  # object: the framework's user
    VIEW_TASKS = "view_tasks"  # object: the task's user
    ACCESS_SANDBOXES = "access_sandboxes"  # object: the task's user
    WEBAPP_GROUPS = "webapp_groups"  # object: app id (values are group prefixes)
    INSTALL_PACKAGES = "install_packages"  # object: package name
    UNINSTALL_PACKAGES = "uninstall_packages"  # object: package name
    CHANGE_REPOSITORIES = "change_repositories"  # object: repository name
    USE_SECRETS = "use_secrets"  # object: secret path (values are prefixes)
    MANAGE_SECRETS = "manage_secrets"  # object: secret path (values are prefixes)
    MANAGE_IAM = "manage_iam"  # object: uid (users, service accounts, ACLs)
    DEACTIVATE_AGENTS = "deactivate_agents"  # object: none (ANY / NONE), also reactivation
    MARK_AGENTS_GONE = "mark_agents_gone"  # object: none (ANY / NONE)


OBJECT_KEYS: dict[Action, str] = {
    Action.REGISTER_FRAMEWORKS: "roles",
    Action.RUN_TASKS: "users",
    Action.TEARDOWN_FRAMEWORKS: "framework_principals",
    Action.KILL_TASKS: "framework_principals",
    Action.RESERVE_RESOURCES: "roles",
    Action.UNRESERVE_RESOURCES: "reserver_principals",
    Action.SET_QUOTAS: "roles",
    Action.UPDATE_WEIGHTS: "roles",
    Action.VIEW_FRAMEWORKS: "users",
    Action.VIEW_TASKS: "users",
    Action.ACCESS_SANDBOXES: "users",
    Action.WEBAPP_GROUPS: "groups",
    Action.INSTALL_PACKAGES: "packages",
    Action.UNINSTALL_PACKAGES: "packages",
    Action.CHANGE_REPOSITORIES: "repositories",
    Action.USE_SECRETS: "secrets",
    Action.MANAGE_SECRETS: "secrets",
    Action.MANAGE_IAM: "uids",
    Action.DEACTIVATE_AGENTS: "agents",
    Action.MARK_AGENTS_GONE: "agents",
}
PREFIX_KEYS = frozenset({"groups", "secrets"})
ANY = "ANY"
NONE = "NONE"


class AclError(ValueError):
    """A malformed ACL document; `path` says where ("run_tasks[0].users.values[1]")."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Entity:
    """ANY, NONE, or a set of values (`type` is "ANY", "NONE" or "SOME")."""

    type: str
    values: tuple[str, ...] = ()

    @staticmethod
    def from_json(doc: Any, path: str) -> Entity:
        if not isinstance(doc, Mapping):
            raise AclError(path, 'expected {"values": [...]} or {"type": "ANY"|"NONE"}')
        unknown = set(doc) - {"values", "type"}
        if unknown:
            raise AclError(path, f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        if "values" in doc and "type" in doc:
            raise AclError(path, 'give either "values" or "type", not both')
        if "type" in doc:
            if doc["type"] not in (ANY, NONE):
                raise AclError(f"{path}.type", f'must be "ANY" or "NONE", not {doc["type"]!r}')
            return Entity(doc["type"])
        if "values" not in doc:
            raise AclError(path, 'expected "values" or "type"')
        values = doc["values"]
        if not isinstance(values, list):
            raise AclError(f"{path}.values", "must be a list of strings")
        for i, v in enumerate(values):
            if not isinstance(v, str):
                raise AclError(f"{path}.values[{i}]", "must be a string")
        return Entity("SOME", tuple(values))

    def to_json(self) -> dict[str, Any]:
        return {"values": list(self.values)} if self.type == "SOME" else {"type": self.type}

    def matches(self, value: str | None, *, prefix: bool = False) -> bool:
        if self.type in (ANY, NONE):
            return True
        if value is None:
            return False
        if not prefix:
            return value in self.values
        return any(_under(value, v) for v in self.values)


def _under(value: str, prefix: str) -> bool:
    """Path prefix match, ignoring leading/trailing slashes ("/" and "" match every path)."""
    base, val = prefix.strip("/"), value.strip("/")
    return base == "" or val == base or val.startswith(base + "/")


@dataclass(frozen=True)
class Rule:
    principals: Entity
    objects: Entity


@dataclass(frozen=True)
class Acls:
    """A parsed ACL document; `allows` decides (see the module docstring)."""

    permissive: bool = True
    rules: Mapping[Action, tuple[Rule, ...]] = field(default_factory=dict)

    @staticmethod
    def from_json(doc: Any) -> Acls:
        """Parse and validate; AclError(path, message) on the first problem."""
        if not isinstance(doc, Mapping):
            raise AclError("", "the ACL document must be a JSON object")
        permissive = doc.get("permissive", True)
        if not isinstance(permissive, bool):
            raise AclError("permissive", "must be true or false")
        rules: dict[Action, tuple[Rule, ...]] = {}
        for key, value in doc.items():
            if key == "permissive":
                continue
            try:
                action = Action(key)
            except ValueError:
                raise AclError(str(key), "unknown action (known: "
                               + ", ".join(a.value for a in Action) + ")") from None
            rules[action] = _parse_rules(action, value)
        return Acls(permissive=permissive, rules=rules)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"permissive": self.permissive}
        for action, rules in self.rules.items():
            okey = OBJECT_KEYS[action]
            out[action.value] = [{"principals": r.principals.to_json(),
                                  okey: r.objects.to_json()} for r in rules]
        return out

    def allows(self, action: Action | str, principal: Principal | str | None,
               obj: str | None) -> bool:
        act = Action(action)
        prefix = OBJECT_KEYS[act] in PREFIX_KEYS
        for rule in self.rules.get(act, ()):
            if rule.principals.matches(principal) and rule.objects.matches(obj, prefix=prefix):
                return rule.principals.type != NONE and rule.objects.type != NONE
        return self.permissive


def _parse_rules(action: Action, value: Any) -> tuple[Rule, ...]:
    if not isinstance(value, list):
        raise AclError(action.value, "must be a list of rules")
    okey = OBJECT_KEYS[action]
    out: list[Rule] = []
    for i, item in enumerate(value):
        path = f"{action.value}[{i}]"
        if not isinstance(item, Mapping):
            raise AclError(path, "a rule must be a JSON object")
        unknown = set(item) - {"principals", okey}
        if unknown:
            raise AclError(path, f"unknown key(s) {', '.join(sorted(map(str, unknown)))} "
                                 f"(a {action.value} rule has principals and {okey})")
        for needed in ("principals", okey):
            if needed not in item:
                raise AclError(path, f"missing {needed!r}")
        out.append(Rule(Entity.from_json(item["principals"], f"{path}.principals"),
                        Entity.from_json(item[okey], f"{path}.{okey}")))
    return tuple(out)


def _values(names: Iterable[str]) -> dict[str, Any]:
    return {"values": sorted(set(names))}


def default_acls(*, admins: Sequence[str], components: Sequence[str],
                 task_users: Sequence[str], frameworks: Sequence[str] = ()) -> dict[str, Any]:
    """The document ``up --secure`` starts with: not permissive; `admins` may do anything;
    `components` anything except run tasks as users other than `task_users`; `frameworks`
    (Basic-authenticated framework principals such as ``batch-driver``) may register in any
    role, run tasks as `task_users`, and kill/tear down their own frameworks; nobody else
    anything."""
    doc: dict[str, Any] = {"permissive": False}
    for action in Action:
        okey = OBJECT_KEYS[action]
        rules: list[dict[str, Any]] = []
        if admins:
            rules.append({"principals": _values(admins), okey: {"type": ANY}})
        if components:
            obj = (_values(task_users) if action is Action.RUN_TASKS else {"type": ANY})
            rules.append({"principals": _values(components), okey: obj})
        if frameworks and action is Action.REGISTER_FRAMEWORKS:
            rules.append({"principals": _values(frameworks), okey: {"type": ANY}})
        if frameworks and action is Action.RUN_TASKS:
            rules.append({"principals": _values(frameworks), okey: _values(task_users)})
        if action in (Action.KILL_TASKS, Action.TEARDOWN_FRAMEWORKS):
            rules.extend({"principals": _values([f]), okey: _values([f])} for f in frameworks)
        doc[action.value] = rules
    return doc
