"""The master's authorization decisions with security on (sans-IO): who owns a framework,
what an authenticated caller may subscribe, call, launch, change and see.

Called by the HTTP handlers (`dcos.master.http.scheduler_api`, `operator_api`,
`operator_feed`) through `dcos.master.http.secure`, with the caller's `Identity` and the
core's records (read, never changed); each method returns a `Denied` (HTTP status and a
plain-text message, Mesos' format) or None, or marks what the core must refuse
(`mark_launches`). The decisions follow Mesos' authorizer (`dcos.security.acls`):

- a framework belongs to the principal in its FrameworkInfo, which SUBSCRIBE forces to be
  the authenticated principal (set when empty, 403 when another); a framework id of another
  principal: SUBSCRIBE 403 (the owner's stream untouched), other calls 403, except KILL with
  ``kill_tasks`` and TEARDOWN with ``teardown_frameworks`` on the owner's principal;
- ``register_frameworks`` (each role) at SUBSCRIBE; ``run_tasks`` (the task user: the
  CommandInfo's user, else the ExecutorInfo's, else the FrameworkInfo's, else the master's
  default task user) at LAUNCH / LAUNCH_GROUP: TASK_ERROR with REASON_TASK_UNAUTHORIZED;
  ``reserve_resources`` / ``unreserve_resources`` on RESERVE / UNRESERVE (which the master
  ignores anyway: denied ones are logged);
- operator writes: ``update_weights`` (each role), ``set_quotas`` (the role),
  ``teardown_frameworks`` (the framework's principal), ``deactivate_agents`` (DEACTIVATE_AGENT
  and REACTIVATE_AGENT) and ``mark_agents_gone`` (MARK_AGENT_GONE), with no object (Mesos'
  ACLs of those calls take ANY or NONE);
- reads (`Visibility`): a framework with ``view_frameworks`` on its user, a task with
  ``view_tasks`` on its user; a principal always sees its own frameworks and their tasks.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from dcos.master.core.calls import (
    Accept,
    Kill,
    Launch,
    LaunchGroup,
    OtherOperation,
    SchedulerCall,
    Subscribe,
    TaskSpec,
    Teardown,
)
from dcos.master.core.model import Framework, Task
from dcos.master.core.operator_calls import (
    DeactivateAgent,
    MarkAgentGone,
    OperatorWrite,
    ReactivateAgent,
    RemoveQuota,
    SetQuota,
    TeardownFramework,
    UpdateWeights,
)
from dcos.protocol.ids import FrameworkID
from dcos.protocol.mesos import framework_info
from dcos.security.acls import Acls, Action
from dcos.security.principal import Identity

log = logging.getLogger(__name__)


class Policy(Protocol):
    """What the master decides with: `dcos.security.context.SecurityContext` (its `acls`
    are replaced when the IAM store changes; `allows` logs each denial)."""

    acls: Acls

    def allows(self, identity: Identity, action: Action, obj: str | None) -> bool: ...


class Frameworks(Protocol):
    """The core's framework records (`MasterCore`)."""

    frameworks: dict[FrameworkID, Framework]
    completed_frameworks: Any  # an ordered mapping FrameworkID -> Framework


@dataclass(frozen=True)
class Denied:
    """A refusal: the HTTP status (403) and its plain-text message."""

    status: int
    message: str


def owner(info: dict[str, Any]) -> str | None:
    """The principal a FrameworkInfo names ('' or missing: None)."""
    p = info.get("principal")
    return p if isinstance(p, str) and p else None


def _user_of(command: Any) -> str | None:
    if isinstance(command, dict):
        u = command.get("user")
        if isinstance(u, str) and u:
            return u
    return None


def task_user(task: dict[str, Any], framework: dict[str, Any], default: str,
              executor: dict[str, Any] | None = None) -> str:  # fmt: skip
    """Who a task runs as (Mesos' order): its CommandInfo's user, else its (or the group's)
    ExecutorInfo's command user, else the FrameworkInfo's user, else `default`."""
    ex = executor if executor is not None else task.get("executor")
    return (
        _user_of(task.get("command"))
        or (_user_of(ex.get("command")) if isinstance(ex, dict) else None)
        or _user_of(framework)
        or default
    )


class MasterAuthz:
    """The decisions of one master; `policy` is its security context, `default_user` its
    ``--default-task-user``."""

    def __init__(self, policy: Policy, default_user: str) -> None:
        self.policy = policy
        self.default_user = default_user

    def _find(self, core: Frameworks, fid: FrameworkID | None) -> Framework | None:
        if fid is None:
            return None
        fw = core.frameworks.get(fid)
        return fw if fw is not None else core.completed_frameworks.get(fid)

    # -- scheduler API ------------------------------------------------------------------------

    def subscribe(
        self, identity: Identity, call: Subscribe, core: Frameworks
    ) -> tuple[Subscribe, Denied | None]:
        """SUBSCRIBE: the call to hand the core (FrameworkInfo.principal set to the caller's
        when empty), or why it is refused (another principal in the FrameworkInfo, another
        principal's framework id, a role without ``register_frameworks``)."""
        p = identity.principal
        if p is None:
            return call, Denied(401, "Framework is not authenticated")
        info = call.framework_info
        named = owner(info.json)
        if named is not None and named != p:
            return call, Denied(
                403,
                f"Framework principal '{named}' does not match the authenticated "
                f"principal '{p}'",
            )
        fw = self._find(core, call.framework_id)
        if fw is not None:
            fw_owner = owner(fw.info)
            if fw_owner is not None and fw_owner != p:
                log.warning(
                    "denied principal=%s action=subscribe object=framework %s (owned by %s)",
                    p, fw.id, fw_owner,
                )  # fmt: skip
                return call, Denied(
                    403, f"Framework {fw.id} belongs to another principal: '{p}' may not "
                    "subscribe with its id",
                )  # fmt: skip
        for role in info.roles:
            if not self.policy.allows(identity, Action.REGISTER_FRAMEWORKS, role):
                return call, Denied(
                    403, f"Principal '{p}' is not authorized to register frameworks "
                    f"with role '{role}'",
                )  # fmt: skip
        if named is None:
            call = Subscribe(call.framework_id, framework_info({**info.json, "principal": p}))
        return call, None

    def call(self, identity: Identity, call: SchedulerCall, core: Frameworks) -> Denied | None:
        """Any other scheduler call: refused when its framework id belongs to another
        principal (KILL allowed with ``kill_tasks``, TEARDOWN with ``teardown_frameworks``
        on the owner's principal); ACCEPTs get their launches checked (`mark_launches`)."""
        fw = self._find(core, call.framework_id)
        if fw is None:
            return None  # the core answers: not subscribed
        fw_owner = owner(fw.info)
        p = identity.principal
        if fw_owner is not None and fw_owner != p:
            action = (
                Action.KILL_TASKS if isinstance(call, Kill)
                else Action.TEARDOWN_FRAMEWORKS if isinstance(call, Teardown) else None
            )  # fmt: skip
            if action is None or not self.policy.allows(identity, action, fw_owner):
                if action is None:
                    log.warning(
                        "denied principal=%s action=%s object=framework %s (owned by %s)",
                        p, type(call).__name__.lower(), fw.id, fw_owner,
                    )  # fmt: skip
                return Denied(
                    403, f"Framework {fw.id} belongs to another principal: '{p}' may not "
                    f"make this call with its id",
                )  # fmt: skip
        if isinstance(call, Accept):
            self.mark_launches(identity, call, fw.info)
        return None

    def mark_launches(self, identity: Identity, call: Accept, info: dict[str, Any]) -> None:
        """Check ``run_tasks`` for each task of the ACCEPT's LAUNCH / LAUNCH_GROUP and mark
        the refused ones (`TaskSpec.unauthorized`: the core answers TASK_ERROR with
        REASON_TASK_UNAUTHORIZED; a group with one refused task is refused whole). RESERVE /
        UNRESERVE (ignored by the core) are checked to log denials."""
        for op in call.operations:
            match op:
                case Launch(tasks=tasks):
                    for t in tasks:
                        self._check_task(identity, t, info, None)
                case LaunchGroup(executor=ex, tasks=tasks):
                    why = ""
                    for t in tasks:
                        why = why or self._check_task(identity, t, info, ex.info)
                    if why:
                        for t in tasks:
                            t.unauthorized = why
                case OtherOperation(type="RESERVE"):
                    for role in _roles(info):
                        self.policy.allows(identity, Action.RESERVE_RESOURCES, role)
                case OtherOperation(type="UNRESERVE"):
                    self.policy.allows(identity, Action.UNRESERVE_RESOURCES, identity.principal)

    def _check_task(self, identity: Identity, t: TaskSpec, info: dict[str, Any],
                    executor: dict[str, Any] | None) -> str:  # fmt: skip
        user = task_user(t.info, info, self.default_user, executor)
        if self.policy.allows(identity, Action.RUN_TASKS, user):
            return ""
        t.unauthorized = (
            f"principal '{identity.principal}' may not run tasks as user '{user}'"
        )
        return t.unauthorized

    # -- operator API -------------------------------------------------------------------------

    def operator_write(
        self, identity: Identity, write: OperatorWrite, core: Frameworks
    ) -> Denied | None:
        """UPDATE_WEIGHTS (each role), SET_QUOTA / REMOVE_QUOTA (the role), TEARDOWN (the
        framework's principal; an unknown framework: the core answers), the agent calls
        (``deactivate_agents`` / ``mark_agents_gone``, no object)."""
        checks: list[tuple[Action, str | None]]
        match write:
            case UpdateWeights(weights=weights):
                checks = [(Action.UPDATE_WEIGHTS, r) for r in weights]
            case SetQuota(role=role) | RemoveQuota(role=role):
                checks = [(Action.SET_QUOTAS, role)]
            case TeardownFramework(framework_id=fid):
                fw = self._find(core, fid)
                if fw is None:
                    return None
                checks = [(Action.TEARDOWN_FRAMEWORKS, owner(fw.info))]
            case DeactivateAgent() | ReactivateAgent():
                checks = [(Action.DEACTIVATE_AGENTS, None)]
            case MarkAgentGone():
                checks = [(Action.MARK_AGENTS_GONE, None)]
        for action, obj in checks:
            if not self.policy.allows(identity, action, obj):
                on = "" if obj is None else f" on '{obj}'"
                return Denied(
                    403, f"Principal '{identity.principal}' is not authorized to "
                    f"{action.value}{on}",
                )  # fmt: skip
        return None

    # -- reads --------------------------------------------------------------------------------

    def visibility(self, identity: Identity) -> Visibility:
        """What `identity` may see (the policy's ACLs as they are now)."""
        return Visibility(identity.principal, self.policy.acls, self.default_user)


def _roles(info: dict[str, Any]) -> Iterable[str]:
    return framework_info(info).roles


class Visibility:
    """Which frameworks and tasks one principal sees in the state reads and the operator
    event stream (``view_frameworks`` on the framework's user, ``view_tasks`` on the task's
    user; its own frameworks always). Decisions are kept per framework / user: one is made
    per read, then asked for every object of the state."""

    def __init__(self, principal: str | None, acls: Acls, default_user: str) -> None:
        self.principal = principal
        self.acls = acls
        self.default_user = default_user
        self._users: dict[tuple[Action, str], bool] = {}

    def _allows(self, action: Action, user: str) -> bool:
        key = (action, user)
        got = self._users.get(key)
        if got is None:
            got = self._users[key] = self.acls.allows(action, self.principal, user)
        return got

    def owns(self, info: dict[str, Any]) -> bool:
        return self.principal is not None and owner(info) == self.principal

    def framework(self, info: dict[str, Any]) -> bool:
        """Whether the framework with this FrameworkInfo is visible."""
        user = info.get("user")
        return self.owns(info) or self._allows(
            Action.VIEW_FRAMEWORKS, user if isinstance(user, str) else ""
        )

    def task(self, task: Task, info: dict[str, Any]) -> bool:
        """Whether `task` (of the framework with FrameworkInfo `info`) is visible."""
        if self.owns(info):
            return True
        return self._allows(Action.VIEW_TASKS, task_user(task.info, info, self.default_user))


def _scoped_framework(fw: Framework, vis: Visibility) -> Framework:
    """`fw` itself when every task shows, else a copy with the hidden tasks left out."""
    if vis.owns(fw.info):
        return fw
    keep = {
        name: {tid: t for tid, t in getattr(fw, name).items() if vis.task(t, fw.info)}
        for name in ("tasks", "unreachable_tasks", "completed_tasks")
    }
    if all(len(keep[n]) == len(getattr(fw, n)) for n in keep):
        return fw
    return replace(
        fw, tasks=keep["tasks"], unreachable_tasks=keep["unreachable_tasks"],
        completed_tasks=OrderedDict(keep["completed_tasks"]),
    )  # fmt: skip


class ScopedCore:
    """A read-only stand-in for the core in the JSON views (`state_json`): its frameworks
    and their tasks as `vis` shows them, everything else the core's own. Made for one build
    of a view (`dcos.master.http.secure.scoped_view`)."""

    def __init__(self, core: Any, vis: Visibility) -> None:
        self._core = core
        self.frameworks = {
            fid: _scoped_framework(fw, vis)
            for fid, fw in core.frameworks.items() if vis.framework(fw.info)
        }  # fmt: skip
        self.completed_frameworks = OrderedDict(
            (fid, _scoped_framework(fw, vis))
            for fid, fw in core.completed_frameworks.items() if vis.framework(fw.info)
        )  # fmt: skip

    def __getattr__(self, name: str) -> Any:
        return getattr(self._core, name)
