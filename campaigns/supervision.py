"""Supervisors on a live call (listen, whisper, barge), agents' help requests, and transfers.

Both sides of the command stream live here.  The web process *publishes*:
``monitor``, ``request_help``, ``help_done`` and ``transfer`` check their
arguments, keep what the floor must show in Redis and append a ``Command`` to
the campaign's stream (``campaigns.live_events``).  The dialer process that
holds the campaign *applies* them with ``FloorControls``: it checks the
agent's state in its engine (a command may arrive after the call ended) and
asks the carrier's ``ConferenceControls`` to add or move the legs.

Commands (name: args)::

    listen | whisper | barge   {"supervisor": address, "by": username}
    help_request               {"note": text, "at": epoch seconds}
    help_done                  {"by": username}
    transfer                   {"to": agent id or E.164, "mode": "cold" | "warm", "by": username}

An address is ``client:<name>`` (a browser softphone) or an E.164 number.
A warm transfer pulls the colleague into the agent's conversation first (all
three talk); to an agent it is completed by a cold transfer to the same
agent, which moves the customer into that agent's room and frees the first.
A cold transfer to an outside number moves the customer into a room of its
own where the number is rung, and the agent goes to wrap-up to disposition.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import phonenumbers

from campaigns.live_events import Command, publish_command
from dialer.agents import AgentState, AgentStateError

if TYPE_CHECKING:
    import redis

    from dialer.calls import Call
    from dialer.carrier import ConferenceControls
    from dialer.engine import Engine

log = logging.getLogger(__name__)

LISTEN = "listen"
WHISPER = "whisper"
BARGE = "barge"
MONITOR_MODES = (LISTEN, WHISPER, BARGE)
HELP_REQUEST = "help_request"
HELP_DONE = "help_done"
TRANSFER = "transfer"
TRANSFER_MODES = ("cold", "warm")
COMMANDS = frozenset({*MONITOR_MODES, HELP_REQUEST, HELP_DONE, TRANSFER})

MAX_NOTE = 500
# How long the floor remembers who is monitoring whom (a monitor outlives no call this long).
MONITOR_TTL_S = 4 * 3600
# Where the Twilio webhooks remember each agent's own leg (CallSid -> agent id); whisper needs it.
AGENT_LEG_PREFIX = "dialer:twilio:agent-leg:"
_AGENT_ID = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_CLIENT = re.compile(r"client:[A-Za-z0-9_.@-]{1,121}")


def help_key(campaign_id: int) -> str:
    """Per campaign: agent id -> JSON {agent_id, note, at, call_id}: the open help requests."""
    return f"dialer:help:{campaign_id}"


def monitor_key(campaign_id: int) -> str:
    """Per campaign: agent id -> JSON {mode, by, supervisor, leg, call_id, at}: who is on the agent's call."""
    return f"dialer:monitor:{campaign_id}"


class SupervisionError(ValueError):
    """A supervision command was refused; ``field`` names the argument to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class HelpRequest:
    agent_id: str
    note: str
    at: float
    call_id: str | None = None

    def age_s(self, now: float) -> float:
        return max(0.0, now - self.at)

    def to_dict(self, now: float) -> dict[str, Any]:
        return {"agent_id": self.agent_id, "note": self.note, "at": self.at, "call_id": self.call_id,
                "age_s": round(self.age_s(now), 1)}


# ---------------------------------------------------------------------------------- arguments


def agent_id_arg(value: Any, field: str = "agent_id") -> str:
    """An engine agent id as the command needs it, or a SupervisionError naming ``field``."""
    text = value.strip() if isinstance(value, str) else ""
    if not _AGENT_ID.fullmatch(text):
        raise SupervisionError(field, f"must be an agent id (letters, digits, . _ @ -), not {value!r}")
    return text


def address_arg(value: Any, field: str = "supervisor", region: str = "US") -> str:
    """``client:<name>`` or a phone number as E.164."""
    text = value.strip() if isinstance(value, str) else ""
    if _CLIENT.fullmatch(text):
        return text
    return phone_arg(text, field, region)


def phone_arg(value: Any, field: str, region: str = "US") -> str:
    text = value.strip() if isinstance(value, str) else ""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        raise SupervisionError(field, f"must be client:<name> or a phone number, not {value!r}") from error
    if not phonenumbers.is_valid_number(number):
        raise SupervisionError(field, f"{value!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def transfer_target(value: Any, region: str = "US") -> tuple[str, bool]:
    """(agent id or E.164, whether it is an outside number)."""
    text = value.strip() if isinstance(value, str) else ""
    if text.startswith("+") or (text[:1].isdigit() and len(re.sub(r"\D", "", text)) >= 7):
        return phone_arg(text, "to", region), True
    return agent_id_arg(text, "to"), False


# ---------------------------------------------------------------------------------- the web's side


def monitor(client: redis.Redis, campaign_id: int, agent_id: str, mode: str, supervisor: str, *, by: str) -> str:
    """Ask the dialer to put ``supervisor`` (an address) on the agent's call to listen, whisper or barge."""
    if mode not in MONITOR_MODES:
        raise SupervisionError("mode", f"must be one of {', '.join(MONITOR_MODES)}, not {mode!r}")
    agent = agent_id_arg(agent_id)
    address = address_arg(supervisor)
    return publish_command(client, campaign_id, Command(mode, agent, {"supervisor": address, "by": by}))


def request_help(client: redis.Redis, campaign_id: int, agent_id: str, note: str, *,
                 now: float | None = None) -> HelpRequest:
    """An agent asks a supervisor for help: kept open on the floor until someone marks it done.

    One open request per agent: asking again replaces the note but keeps the
    first time, so the floor's age says how long the agent has been waiting.
    """
    agent = agent_id_arg(agent_id)
    if not isinstance(note, str):
        raise SupervisionError("note", "must be text")
    text = " ".join(note.split())
    if len(text) > MAX_NOTE:
        raise SupervisionError("note", f"must be at most {MAX_NOTE} characters")
    at = time.time() if now is None else now
    earlier = _load_request(client.hget(help_key(campaign_id), agent))
    request = HelpRequest(agent, text, earlier.at if earlier is not None else at,
                          earlier.call_id if earlier is not None else None)
    client.hset(help_key(campaign_id), agent, json.dumps(
        {"agent_id": agent, "note": text, "at": request.at, "call_id": request.call_id}))
    publish_command(client, campaign_id, Command(HELP_REQUEST, agent, {"note": text, "at": request.at}))
    return request


def open_help_requests(client: redis.Redis, campaign_id: int) -> list[HelpRequest]:
    """The open requests, oldest first."""
    found = [_load_request(raw) for raw in client.hvals(help_key(campaign_id))]
    return sorted((r for r in found if r is not None), key=lambda r: r.at)


def help_done(client: redis.Redis, campaign_id: int, agent_id: str, *, by: str) -> bool:
    """Close an agent's help request; False when none was open (someone else closed it first)."""
    agent = agent_id_arg(agent_id)
    removed = int(client.hdel(help_key(campaign_id), agent))
    if removed:
        publish_command(client, campaign_id, Command(HELP_DONE, agent, {"by": by}))
    return bool(removed)


def transfer(client: redis.Redis, campaign_id: int, agent_id: str, to: str, mode: str, *, by: str) -> str:
    """Ask the dialer to transfer the agent's customer, cold or warm, to another agent or a number."""
    agent = agent_id_arg(agent_id)
    if mode not in TRANSFER_MODES:
        raise SupervisionError("mode", f"must be cold or warm, not {mode!r}")
    target, _outside = transfer_target(to)
    if target == agent:
        raise SupervisionError("to", "must be another agent than the one on the call")
    return publish_command(client, campaign_id, Command(TRANSFER, agent, {"to": target, "mode": mode, "by": by}))


def monitors(client: redis.Redis, campaign_id: int) -> dict[str, dict[str, Any]]:
    """Who the dialer put on which agent's call (agent id -> record)."""
    out: dict[str, dict[str, Any]] = {}
    for key, raw in client.hgetall(monitor_key(campaign_id)).items():
        try:
            out[_text(key)] = json.loads(raw)
        except ValueError:
            continue
    return out


def _load_request(raw: Any) -> HelpRequest | None:
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return HelpRequest(str(data["agent_id"]), str(data.get("note") or ""), float(data["at"]),
                           data.get("call_id"))
    except (ValueError, KeyError, TypeError):
        return None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# ---------------------------------------------------------------------------------- the dialer's side

Submit = Callable[[Callable[[], Any], Callable[[Any, BaseException | None], None]], None]


class FloorControls:
    """Applies the supervision commands of one campaign in the dialer process that holds it.

    ``controls`` is the carrier's ``ConferenceControls`` (None: the carrier
    has none, and every monitoring command is refused).  ``submit`` runs a
    carrier request off the engine's thread and hands its outcome back on it
    (a network carrier); without it requests run at once (the simulator).
    """

    def __init__(self, engine: Engine, controls: ConferenceControls | None, *, campaign_id: int, caller_id: str,
                 client: redis.Redis, submit: Submit | None = None) -> None:
        self.engine = engine
        self.controls = controls
        self.campaign_id = campaign_id
        self.caller_id = caller_id
        self.client = client
        self.submit = submit

    def apply(self, command: Command) -> None:
        """Raises SupervisionError (or AgentStateError) for a command that no longer fits the floor."""
        name, agent = command.name, command.agent_id
        if name in MONITOR_MODES:
            self._monitor(agent, name, command.args)
        elif name == HELP_REQUEST:
            self._help_request(agent, command.args)
        elif name == HELP_DONE:
            self.client.hdel(help_key(self.campaign_id), agent)
        elif name == TRANSFER:
            self._transfer(agent, command.args)
        else:
            raise SupervisionError("name", f"{name!r} is not a supervision command")

    # ------------------------------------------------------------------ monitoring
    def _monitor(self, agent_id: str, mode: str, args: Any) -> None:
        controls = self._controls()
        call = self._call_of(agent_id)
        supervisor = address_arg(args.get("supervisor"))
        by = str(args.get("by") or supervisor)
        if mode == LISTEN:
            def action() -> str:
                return controls.listen(agent_id, supervisor, caller_id=self.caller_id)
        elif mode == WHISPER:
            agent_leg = self._agent_leg(agent_id)

            def action() -> str:
                return controls.whisper(agent_id, supervisor, agent_leg, caller_id=self.caller_id)
        else:
            def action() -> str:
                return controls.barge(agent_id, supervisor, caller_id=self.caller_id)

        def done(leg: Any, error: BaseException | None) -> None:
            if error is not None:
                log.warning("campaign %s: %s on %s for %s failed: %s", self.campaign_id, mode, agent_id, by, error)
                return
            self.client.hset(monitor_key(self.campaign_id), agent_id, json.dumps({
                "mode": mode, "by": by, "supervisor": supervisor, "leg": str(leg), "call_id": call.call_id,
                "at": self.engine.timers.now()}))
            self.client.expire(monitor_key(self.campaign_id), MONITOR_TTL_S)

        self._run(action, done)

    def _agent_leg(self, agent_id: str) -> str:
        """The agent's own CallSid (Twilio coaches a named leg); the simulator's room names it after the agent."""
        from dialer.carriers.simulated import SimulatedCarrier

        if isinstance(self.controls, SimulatedCarrier):
            return f"agent:{agent_id}"
        for key in self.client.scan_iter(match=f"{AGENT_LEG_PREFIX}*", count=500):
            if _text(self.client.get(key) or b"") == agent_id:
                return _text(key)[len(AGENT_LEG_PREFIX):]
        raise SupervisionError("agent_id", f"agent {agent_id}'s own line is not known, so a whisper cannot reach it")

    # ------------------------------------------------------------------ help
    def _help_request(self, agent_id: str, args: Any) -> None:
        """The request is already on the floor (the web wrote it); the dialer adds the call it is about."""
        raw = self.client.hget(help_key(self.campaign_id), agent_id)
        request = _load_request(raw)
        if request is None:
            return  # closed before we read it
        status = self.engine.board.get(agent_id)
        self.client.hset(help_key(self.campaign_id), agent_id, json.dumps(
            {"agent_id": agent_id, "note": request.note, "at": request.at, "call_id": status.call_id}))

    # ------------------------------------------------------------------ transfers
    def _transfer(self, agent_id: str, args: Any) -> None:
        controls = self._controls()
        call = self._call_of(agent_id)
        target, outside = transfer_target(args.get("to"))
        mode = str(args.get("mode") or "cold")
        sid = call.carrier_sid
        if not sid:
            raise SupervisionError("agent_id", f"agent {agent_id}'s call has no carrier id yet")
        now = self.engine.timers.now()
        if mode == "warm":
            address = target if outside else f"client:{target}"
            if not outside:
                self._hold_colleague(target, call, now)
            self._run(lambda: controls.add_colleague(agent_id, address, caller_id=self.caller_id),
                      self._logged("warm transfer", agent_id))
            return
        if outside:
            room = "transfer-" + target.lstrip("+")

            def ring_then_move() -> None:
                controls.add_colleague(room, target, caller_id=self.caller_id)
                controls.transfer(sid, room)

            self._run(ring_then_move, self._logged("cold transfer", agent_id))
            self._move(agent_id, AgentState.WRAP_UP, now, call.call_id)  # the agent dispositions the call
            return
        colleague = self.engine.board.get(target)
        if not (colleague.state is AgentState.READY
                or (colleague.state is AgentState.RESERVED and colleague.call_id == call.call_id)):
            raise SupervisionError("to", f"agent {target} is {colleague.state.value}, not ready to take the call")
        self._run(lambda: controls.transfer(sid, target), self._logged("cold transfer", agent_id))
        if colleague.state is AgentState.READY:
            self._move(target, AgentState.RESERVED, now, call.call_id)
        self._move(target, AgentState.ON_CALL, now, call.call_id)
        call.agent_id = target  # the call, its wrap-up and its disposition are the colleague's now
        self.engine.set_ready(agent_id)

    def _hold_colleague(self, target: str, call: Call, now: float) -> None:
        """A colleague consulted on a warm transfer is kept off new calls until the transfer completes."""
        colleague = self.engine.board.get(target)
        if colleague.state is AgentState.RESERVED and colleague.call_id == call.call_id:
            return
        if colleague.state is not AgentState.READY:
            raise SupervisionError("to", f"agent {target} is {colleague.state.value}, not ready to take the call")
        self._move(target, AgentState.RESERVED, now, call.call_id)

    # ------------------------------------------------------------------ plumbing
    def _controls(self) -> ConferenceControls:
        if self.controls is None:
            raise SupervisionError("carrier", "this campaign's carrier cannot add or move legs of a call")
        return self.controls

    def _call_of(self, agent_id: str) -> Call:
        status = self.engine.board.get(agent_id)
        if status.state is not AgentState.ON_CALL or status.call_id is None:
            raise AgentStateError(f"agent {agent_id} is {status.state.value}, not on a call")
        for call in self.engine.live_calls():
            if call.call_id == status.call_id and not call.is_ended:
                return call
        raise AgentStateError(f"agent {agent_id}'s call {status.call_id} has ended")

    def _move(self, agent_id: str, state: AgentState, now: float, call_id: str | None) -> None:
        """A move the engine has no door for (a transfer), checked by the board and recorded like any other."""
        move = self.engine.board.move(agent_id, state, now, call_id=call_id)
        self.engine.recorder.agent_moved(move)

    def _run(self, action: Callable[[], Any], then: Callable[[Any, BaseException | None], None]) -> None:
        if self.submit is not None:
            self.submit(action, then)
            return
        try:
            result = action()
        except Exception as error:
            then(None, error)
            raise
        then(result, None)

    def _logged(self, what: str, agent_id: str) -> Callable[[Any, BaseException | None], None]:
        def then(_: Any, error: BaseException | None) -> None:
            if error is not None:
                log.warning("campaign %s: %s for %s failed: %s", self.campaign_id, what, agent_id, error)
        return then
