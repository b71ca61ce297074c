"""The scheduler driver's sans-IO core: subscription state, event decoding, retry policy.

`SchedulerDriver` (dcos/sdk/driver.py) owns the sockets and timers; it asks this core what
to send (`subscribe_body`, `next_delay`), tells it what happened (`on_subscribe_response`,
`on_event`, `on_disconnected`) and carries out the actions it returns (`Dispatch` a
scheduler callback, possibly followed by an acknowledgement; `Abort`). No I/O, no clock:
callers pass ``now``. Tests drive it directly with Mesos JSON events.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dcos.common.addresses import MasterAddress, MasterAddressError, parse_master
from dcos.common.backoff import Backoff
from dcos.protocol.ids import AgentID, ExecutorID, FrameworkID, OfferID, StreamID, unwrap
from dcos.sdk import calls
from dcos.sdk.types import Offer, TaskStatus

log = logging.getLogger(__name__)

DEFAULT_PORT = 5050
DEFAULT_HEARTBEAT_INTERVAL = 15.0  # Mesos' default until SUBSCRIBED says otherwise
MAX_FAST_REDIRECTS = 3


# -- actions the core returns to the shell ----------------------------------------------


@dataclass(frozen=True)
class Dispatch:
    """Call `Scheduler.<method>(driver, *args)`; then send `ack` (a Call body) if set."""

    method: str
    args: tuple[Any, ...] = ()
    ack: dict[str, Any] | None = None


@dataclass(frozen=True)
class Abort:
    """Stop for good (the master sent ERROR, or refused the subscription)."""

    message: str


@dataclass(frozen=True)
class Connected:
    stream_id: StreamID


@dataclass(frozen=True)
class Redirect:
    master: MasterAddress


@dataclass(frozen=True)
class Retry:
    reason: str


Action = Dispatch | Abort
SubscribeOutcome = Connected | Redirect | Retry | Abort


@dataclass
class DriverCore:
    """State of one framework's connection to the master (see module docstring)."""

    framework_info: dict[str, Any]
    master: MasterAddress | None  # where the next SUBSCRIBE goes (None: no leader known yet)
    implicit_acknowledgements: bool = True
    heartbeat_misses: float = 3.0
    backoff: Backoff = field(default_factory=Backoff)
    framework_id: FrameworkID | None = None
    stream_id: StreamID | None = None
    connected: bool = False  # a SUBSCRIBE stream is open (SUBSCRIBED may not have come yet)
    subscribed: bool = False  # SUBSCRIBED received on the current stream
    registered_once: bool = False
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL
    last_event_at: float = 0.0
    _delay_next: bool = False
    _redirects: int = 0

    @classmethod
    def create(
        cls,
        framework_info: Mapping[str, Any],
        master: str | MasterAddress | None,
        *,
        implicit_acknowledgements: bool = True,
        failover_timeout: float | None = None,
        backoff: Backoff | None = None,
        heartbeat_misses: float = 3.0,
    ) -> DriverCore:
        """Called by `SchedulerDriver.__init__`: fills FrameworkInfo defaults (``user`` from the
        current user, ``name``), applies `failover_timeout`, picks up a pre-set ``id``.
        `master`: an address (text is parsed: `MasterAddressError` when bad), or None while
        the driver's detector has not named the leader yet."""
        info = dict(framework_info)
        info.setdefault("user", _current_user())
        info.setdefault("name", "dcos-py-framework")
        if failover_timeout is not None:
            info["failover_timeout"] = float(failover_timeout)
        fid = unwrap(info.get("id"))
        return cls(
            framework_info=info,
            master=parse_master(master) if isinstance(master, str) else master,
            implicit_acknowledgements=implicit_acknowledgements,
            heartbeat_misses=heartbeat_misses,
            backoff=backoff or Backoff(),
            framework_id=FrameworkID(fid) if fid else None,
        )

    # -- subscription ------------------------------------------------------------------

    def subscribe_body(self) -> dict[str, Any]:
        return calls.subscribe(self.framework_info, self.framework_id)

    def on_leader(self, master: MasterAddress | None) -> None:
        """The driver's detector names another leading master (None: none leads): the next
        SUBSCRIBE goes there at once (after a wait for one, when None), and the backoff
        starts again (failures at the old leader say nothing about the new one)."""
        self.master = master
        self._delay_next = False
        self._redirects = 0
        self.backoff.reset()

    def next_delay(self) -> float:
        """Seconds to wait before the next SUBSCRIBE attempt: none for the first attempt or
        right after a redirect; otherwise the next backoff step (the backoff restarts from its
        initial delay whenever SUBSCRIBED arrives, so a dropped healthy stream is retried
        after about 0.1 s and a master that keeps failing ever more slowly, up to 10 s)."""
        if not self._delay_next:
            self._delay_next = True
            return 0.0
        return self.backoff.next()

    def on_subscribe_response(
        self, status: int, location: str | None, stream_id: str | None, body: str, now: float
    ) -> SubscribeOutcome:
        """Classify the SUBSCRIBE answer: 200 -> Connected, 307 -> Redirect (Mesos sends
        ``Location: //host:port``), 503 and other 5xx -> Retry, other 4xx -> Abort."""
        if status == 200:
            self.connected = True
            self.subscribed = False
            self.stream_id = StreamID(stream_id or "")
            self.last_event_at = now
            self._redirects = 0
            return Connected(self.stream_id)
        if status in (301, 302, 303, 307, 308):
            if not location:
                return Retry(f"redirect {status} without Location")
            try:
                scheme = self.master.scheme if self.master else "http"
                new = parse_master(location, default_scheme=scheme)
            except MasterAddressError as exc:
                return Retry(str(exc))
            self._redirects += 1
            if self._redirects <= MAX_FAST_REDIRECTS:
                self._delay_next = False
            self.master = new
            return Redirect(new)
        message = body.strip()[:500] or f"HTTP {status}"
        if status >= 500 or status in (408, 429):
            return Retry(f"master answered {status}: {message}")
        return Abort(f"master refused SUBSCRIBE ({status}): {message}")

    def on_disconnected(self) -> list[Action]:
        """The stream ended (closed, broken, or heartbeats missed)."""
        was_subscribed = self.subscribed
        self.connected = False
        self.subscribed = False
        self.stream_id = None
        if was_subscribed:
            return [Dispatch("disconnected")]
        return []

    def heartbeat_deadline(self) -> float:
        """When the stream counts as dead if no event (not even HEARTBEAT) arrives."""
        return self.last_event_at + self.heartbeat_interval * self.heartbeat_misses

    # -- events ------------------------------------------------------------------------

    def on_event(self, event: Any, now: float) -> list[Action]:
        """One decoded event from the stream -> the callbacks to run, in order."""
        self.last_event_at = now
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            log.warning("ignoring malformed event %r", event)
            return []
        kind = event["type"]
        if kind == "HEARTBEAT":
            return []
        handler = _HANDLERS.get(kind)
        if handler is None:
            log.debug("ignoring event %s", kind)
            return []
        payload = event.get(kind.lower())
        if not isinstance(payload, dict):
            log.warning("ignoring %s event without its %r object", kind, kind.lower())
            return []
        try:
            return handler(self, payload)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("ignoring malformed %s event (%s): %r", kind, exc, payload)
            return []

    def _on_subscribed(self, p: dict[str, Any]) -> list[Action]:
        fid = unwrap(p.get("framework_id"))
        if not fid:
            raise ValueError("SUBSCRIBED without framework_id")
        self.framework_id = FrameworkID(fid)
        self.subscribed = True
        hb = p.get("heartbeat_interval_seconds")
        if isinstance(hb, (int, float)) and hb > 0:
            self.heartbeat_interval = float(hb)
        self.backoff.reset()
        master_info = p.get("master_info")
        if not isinstance(master_info, dict):
            host, port = (self.master.host, self.master.port) if self.master else ("", 0)
            master_info = {"hostname": host, "port": port}
        if self.registered_once:
            return [Dispatch("reregistered", (master_info,))]
        self.registered_once = True
        return [Dispatch("registered", (self.framework_id, master_info))]

    def _on_offers(self, p: dict[str, Any]) -> list[Action]:
        offers = [Offer(o) for o in p.get("offers") or [] if isinstance(o, dict)]
        if not offers:
            return []
        return [Dispatch("resource_offers", (offers,))]

    def _on_rescind(self, p: dict[str, Any]) -> list[Action]:
        oid = unwrap(p.get("offer_id"))
        if not oid:
            raise ValueError("RESCIND without offer_id")
        return [Dispatch("offer_rescinded", (OfferID(oid),))]

    def _on_update(self, p: dict[str, Any]) -> list[Action]:
        raw = p.get("status")
        if not isinstance(raw, dict) or not unwrap(raw.get("task_id")):
            raise ValueError("UPDATE without status.task_id")
        status = TaskStatus(raw)
        return [
            Dispatch(
                "status_update",
                (status,),
                self.ack_for(status) if self.implicit_acknowledgements else None,
            )
        ]

    def ack_for(self, status: Mapping[str, Any]) -> dict[str, Any] | None:
        """The ACKNOWLEDGE body for a status, or None when it needs none (no ``uuid``:
        reconciliation answers and master-generated updates) or lacks an agent id."""
        uuid = status.get("uuid")
        agent_id = unwrap(status.get("agent_id"))
        task_id = unwrap(status.get("task_id"))
        if not uuid or not isinstance(uuid, str) or not self.framework_id:
            return None
        if not agent_id or not task_id:
            log.warning("status update with uuid but no agent_id/task_id: %r", status)
            return None
        return calls.acknowledge(self.framework_id, agent_id, task_id, uuid)

    def _on_message(self, p: dict[str, Any]) -> list[Action]:
        agent_id = unwrap(p.get("agent_id"))
        executor_id = unwrap(p.get("executor_id"))
        if not agent_id or not executor_id:
            raise ValueError("MESSAGE without agent_id/executor_id")
        try:
            raw = base64.b64decode(p.get("data") or "", validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("MESSAGE data is not base64") from None
        return [Dispatch("framework_message", (ExecutorID(executor_id), AgentID(agent_id), raw))]

    def _on_failure(self, p: dict[str, Any]) -> list[Action]:
        agent = unwrap(p.get("agent_id"))
        executor = unwrap(p.get("executor_id"))
        if executor:
            st = p.get("status")
            status = int(st) if isinstance(st, (int, float)) else None
            return [
                Dispatch(
                    "executor_lost",
                    (ExecutorID(executor), AgentID(agent) if agent else None, status),
                )
            ]
        if agent:
            return [Dispatch("agent_lost", (AgentID(agent),))]
        raise ValueError("FAILURE without agent_id or executor_id")

    def _on_error(self, p: dict[str, Any]) -> list[Action]:
        message = str(p.get("message", ""))
        return [Dispatch("error", (message,)), Abort(message)]


_HANDLERS = {
    "SUBSCRIBED": DriverCore._on_subscribed,
    "OFFERS": DriverCore._on_offers,
    "RESCIND": DriverCore._on_rescind,
    "UPDATE": DriverCore._on_update,
    "MESSAGE": DriverCore._on_message,
    "FAILURE": DriverCore._on_failure,
    "ERROR": DriverCore._on_error,
}


def _current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "root"
