"""The pacer interface: "how many calls should we place now?"

A pacer is a plain object that sees only what a live dialer sees:

* ``observe(event)`` is called for every engine event (a call placed, ringing,
  answered, a verdict, connected, abandoned, ended; an agent changing state),
  in time order, each with the engine's timestamp. Use it to learn answer
  rates, ring times, talk and wrap times.
* ``calls_to_place(obs)`` is called once per tick with an ``Observation``: a
  snapshot of the floor (each agent's state and time in state, each call in
  flight and its age, the carrier's calls-per-second limit, the campaign's
  abandonment target and running totals). It returns how many new calls to
  place now (0 or more).

The engine enforces the hard limits itself, whatever a pacer returns: no call
when no agent is working, no call past the hopper, never negative. A pacer
never sees the future (the simulator's oracle is a separate tool), never
touches the carrier or the database, and must be deterministic given the
same sequence of events and observations.

Write a new pacer by implementing ``Pacer`` and registering a factory with
``register_pacer("name", factory)``; ``make_pacer("name:arg")`` builds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from dialer.agents import AgentState


@dataclass(frozen=True, slots=True)
class AgentView:
    agent_id: str
    state: AgentState
    in_state_s: float  # seconds since the agent entered this state
    call_id: str | None


@dataclass(frozen=True, slots=True)
class CallView:
    call_id: str
    state: str  # a dialer.calls.CallState value
    age_s: float  # seconds since the call was handed to the carrier
    in_state_s: float
    agent_id: str | None


@dataclass(frozen=True, slots=True)
class Totals:
    """Running counts for the campaign since the engine started."""

    dials: int = 0
    answered: int = 0  # answered by anything
    live_answers: int = 0  # answered and not called a machine: the abandonment denominator
    abandoned: int = 0
    connected: int = 0
    machines: int = 0


@dataclass(frozen=True, slots=True)
class Observation:
    now: float
    agents: tuple[AgentView, ...]
    calls: tuple[CallView, ...]
    ready: int  # ready and not reserved
    reserved: int
    on_call: int
    wrap_up: int
    paused: int
    working: int  # logged in and not paused
    queued: int  # handed to the carrier, not yet dialing (its CPS queue)
    dialing: int  # dialing or ringing: not yet answered
    waiting: int  # answered people with no agent yet
    cps_limit: float | None
    target_abandon: float
    tick_s: float
    totals: Totals = field(default_factory=Totals)

    @property
    def in_flight(self) -> int:
        """Calls that may still produce an answer needing an agent."""
        return self.queued + self.dialing


@dataclass(frozen=True, slots=True)
class PacerEvent:
    """One thing the engine saw; ``kind`` names it, ``detail`` qualifies it.

    kinds: placed, dialing, ringing, answered, amd (detail: verdict), reserved,
    connected, abandoned, ended (detail: answer class), agent (detail: new
    state; ``seconds`` = time spent in the old state, ``old`` its name).
    """

    kind: str
    at: float
    call_id: str | None = None
    agent_id: str | None = None
    detail: str = ""
    old: str = ""
    seconds: float = 0.0


class Pacer(Protocol):
    name: str
    #: True when each call is placed for one agent who waits on it (preview):
    #: the engine then reserves that agent when it places the call.
    agent_bound: bool

    def observe(self, event: PacerEvent) -> None: ...

    def calls_to_place(self, obs: Observation) -> int: ...


class PacerError(ValueError):
    pass


PacerFactory = Callable[[str | None], Pacer]
_REGISTRY: dict[str, PacerFactory] = {}


def register_pacer(name: str, factory: PacerFactory) -> None:
    _REGISTRY[name] = factory


def pacer_names() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def make_pacer(spec: str) -> Pacer:
    """Build a pacer from ``name`` or ``name:argument`` (e.g. ``ratio:1.8``)."""
    _load_builtin()
    name, _, arg = spec.strip().partition(":")
    factory = _REGISTRY.get(name)
    if factory is None:
        raise PacerError(f"unknown pacer {spec!r}; known: {', '.join(sorted(_REGISTRY))}")
    return factory(arg or None)


ENTRY_POINT_GROUP = "open_dialer.pacers"
_plugins_loaded = False


def _load_builtin() -> None:
    from dialer.pacing import (  # noqa: F401  (registers on first import, even after an outside pacer)
        basic,
        impact,
        predictive,
        vicidial,
    )

    _load_plugins()


def _load_plugins() -> None:
    """Register the pacers other packages declare, once per process.

    A package declares ``[project.entry-points."open_dialer.pacers"] name =
    "package.module:factory"``; the factory takes the argument after the colon
    (or None) and returns a pacer. A plug-in that fails to load is skipped with a
    warning: one broken package must not stop the dialer.
    """
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    import logging
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            factory = entry.load()
        except Exception as error:  # a broken plug-in is reported, never fatal
            logging.getLogger(__name__).warning("pacer plug-in %s failed to load: %s", entry.name, error)
            continue
        _REGISTRY.setdefault(entry.name, factory)
