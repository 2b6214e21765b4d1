"""Simulated agents on a carrier whose calls live outside this process (Twilio, or its stand-in).

On the simulated carrier a bot agent is only a name in the engine.  On Twilio a
customer redirected into an empty room talks to nobody, so a bot here does
what a person at a softphone does: it has its own leg dialed into its room
(``/twilio/voice/agent``), and is logged in by that leg's conference join,
reported by the web app through the bus, exactly like a real agent.  The
conversation itself is the carrier's (the stand-in's talk times); the bot only
wraps up after the call ends and goes ready again, so that ``dialer run
--bot-agents N`` exercises the whole production path end to end.
"""

from __future__ import annotations

import logging
import random
from functools import partial
from typing import Any

from campaigns.carrier_pool import ThreadedCarrier
from dialer.agents import AgentState
from dialer.carrier import Carrier, CarrierError
from dialer.carriers.twilio import TwilioCarrier
from dialer.clock import RealtimeLoop
from dialer.engine import Engine
from dialer.pacing import PacerEvent
from dialer.simulation.draws import Draws
from dialer.simulation.scenario import Scenario
from dialer.simulation.world import pick_disposition

log = logging.getLogger(__name__)


def bot_agent_ids(n: int) -> list[str]:
    """The same names the simulated floor gives its bots, so reports read alike on both carriers."""
    return [f"agent{number:03d}" for number in range(1, n + 1)]


class CarrierBots:
    """``n`` bot agents with legs at the carrier, acting on the engine only after the carrier says so."""

    def __init__(
        self, loop: RealtimeLoop, engine: Engine, carrier: TwilioCarrier, n: int, scenario: Scenario, *, seed: int,
        pool: ThreadedCarrier | None = None,
    ) -> None:
        self.loop = loop
        self.engine = engine
        self.carrier = carrier
        self.pool = pool  # when set, the legs' requests go through its threads, never on the loop
        self.agents = bot_agent_ids(n)
        self._ids = set(self.agents)
        rng = random.Random(f"carrier-bots:{seed}:{engine.config.campaign_id}")
        self.draws = Draws(scenario, rng)
        self.outcomes = random.Random(f"carrier-bot-dispositions:{seed}")
        self.legs: dict[str, str] = {}  # agent id -> the CallSid of the agent's own leg
        self.stopped = False
        engine.listeners.append(self._on_engine_event)

    def start(self) -> None:
        """Dial every bot's leg into its room; the room's join webhook logs the bot in.

        A few legs at a time: hundreds of API requests in one go would hold the
        loop past the lease's renewal (without a pool) or crowd out the
        customers' connects in the carrier's threads (with one).
        """
        for i, agent_id in enumerate(self.agents):
            self.loop.call_later((i // 5) * 0.05, partial(self._dial_leg, agent_id))

    def _dial_leg(self, agent_id: str) -> None:
        if self.stopped:
            return
        if self.pool is not None:
            self.pool.run_off_loop(partial(self._create_leg, agent_id), partial(self._leg_dialed, agent_id))
            return
        try:
            sid = self._create_leg(agent_id)
        except Exception as error:
            self._leg_dialed(agent_id, None, error)
            return
        self._leg_dialed(agent_id, sid, None)

    def _create_leg(self, agent_id: str) -> str:
        carrier, config = self.carrier, self.engine.config
        call = carrier.client.calls.create(
            to=f"client:{agent_id}", from_=config.caller_id, url=carrier.urls.voice_agent(agent_id), method="POST"
        )
        return str(call.sid)

    def _leg_dialed(self, agent_id: str, sid: Any, error: BaseException | None) -> None:
        if error is not None:  # a bot that cannot log in is a smaller floor, not a dead dialer
            log.warning("campaign %s: bot %s could not dial its leg: %s", self.engine.config.campaign_id, agent_id,
                        error)
            return
        if self.stopped:
            self._hang_up(agent_id, str(sid))  # came back after the stop: not left in its room
            return
        self.legs[agent_id] = str(sid)

    def stop(self) -> None:
        """Hang up the bots' legs: their rooms close and the web app reports the logouts."""
        if self.stopped:
            return
        self.stopped = True
        for agent_id, sid in list(self.legs.items()):
            self._hang_up(agent_id, sid)
        self.legs.clear()

    def _hang_up(self, agent_id: str, sid: str) -> None:
        try:
            (self.pool or self.carrier).hangup(sid)
        except CarrierError as error:
            log.info("bot %s: hanging up its leg failed: %s", agent_id, error)

    # ------------------------------------------------------------------ the engine's news
    def _on_engine_event(self, event: PacerEvent) -> None:
        if self.stopped or event.kind != "agent" or event.agent_id not in self._ids:
            return
        if event.detail == AgentState.WRAP_UP.value:
            agent_id = event.agent_id
            self.loop.call_later(self.draws.wrap(), lambda: self._finish_wrap(agent_id))

    def _finish_wrap(self, agent_id: str) -> None:
        if self.stopped or self.engine.board.get(agent_id).state is not AgentState.WRAP_UP:
            return
        self.engine.wrap_done(agent_id, self._disposition())

    def _disposition(self) -> str:
        return pick_disposition(self.outcomes)


def attach_bots(
    loop: RealtimeLoop, engine: Engine, carrier: Carrier, n: int, scenario: Scenario, *, seed: int
) -> CarrierBots | None:
    """Bots for the engine's carrier, or None (logged) when the carrier cannot give agents a leg."""
    pool = carrier if isinstance(carrier, ThreadedCarrier) else None
    inner = pool.inner if pool is not None else carrier
    if not isinstance(inner, TwilioCarrier):
        log.warning("campaign %s: --bot-agents needs the simulated or the Twilio carrier, not %s",
                    engine.config.campaign_id, type(inner).__name__)
        return None
    return CarrierBots(loop, engine, inner, n, scenario, seed=seed, pool=pool)


__all__ = ["CarrierBots", "attach_bots", "bot_agent_ids"]
