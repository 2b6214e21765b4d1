"""The stand-in's telephone network: calls queue, ring, answer and end in wall-clock time.

Everything that changes a call happens under one lock, either in an API
request or in a scheduled action, so a call's story is told in one order; the
only things done outside the lock are the webhooks, whose replies come back
as scheduled actions.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any

from dialer.carriers.fake_twilio import errors
from dialer.carriers.fake_twilio.calls import FakeCall, Instructions, draw_fate, new_sid
from dialer.carriers.fake_twilio.conferences import Conference, Participant
from dialer.carriers.fake_twilio.config import FakeTwilioConfig
from dialer.carriers.fake_twilio.interpreter import Interpreter
from dialer.carriers.fake_twilio.resources import API_VERSION, rfc2822
from dialer.carriers.fake_twilio.rooms import ConferenceHall
from dialer.carriers.fake_twilio.scheduler import Scheduler
from dialer.carriers.fake_twilio.validation import CallRequest, CallUpdate, ParticipantRequest, ParticipantUpdate
from dialer.carriers.fake_twilio.webhooks import Delivery, WebhookSender
from dialer.simulation.draws import Draws

log = logging.getLogger(__name__)

# The CallStatus a status callback carries for each StatusCallbackEvent.
EVENT_STATUS = {"initiated": "initiated", "ringing": "ringing", "answered": "in-progress"}


class Switchboard:
    """All calls and conferences of one stand-in, and the clock that plays them out."""

    def __init__(self, config: FakeTwilioConfig) -> None:
        self.config = config
        self.scenario = config.scenario
        self.scheduler = Scheduler(config.speed)
        self.webhooks = WebhookSender(
            config.auth_token,
            workers=config.webhook_workers,
            timeout_s=config.webhook_timeout_s,
            clock=self.scheduler.now,
        )
        # Same stream name as the in-process simulated carrier: one seed, the same callers.
        self.draws = Draws(self.scenario, random.Random(f"calls:{config.seed}"))
        self.press_rng = random.Random(f"press:{config.seed}")
        self._day_rng = random.Random(f"days:{config.seed}")
        self._daily_p: dict[int, float] = {}
        self.lock = threading.RLock()
        self.calls: dict[str, FakeCall] = {}
        self.hall = ConferenceHall(self)
        self.interpreter = Interpreter(self)
        self._next_slot = 0.0
        self._waiting: set[str] = set()

    def start(self) -> None:
        self.scheduler.start()
        self.webhooks.start()

    def stop(self) -> None:
        self.scheduler.stop()
        self.webhooks.stop()

    # ------------------------------------------------------------------ time and the world
    def now(self) -> float:
        return self.scheduler.now()

    def epoch(self, at: float) -> float:
        return self.scheduler.epoch(at)

    def _hour(self, t: float) -> float:
        return (t % (self.scenario.hours * 3600.0)) / 3600.0

    def _p_human(self, t: float) -> float:
        if self.scenario.p_daily_range is None:
            return self.scenario.p_human_at(self._hour(t))
        day = int(t // (self.scenario.hours * 3600.0))
        if day not in self._daily_p:
            self._daily_p[day] = self._day_rng.uniform(*self.scenario.p_daily_range)
        return self._daily_p[day]

    def _cps(self, t: float) -> float:
        return self.config.cps if self.config.cps is not None else self.scenario.cps_at(self._hour(t))

    def later(self, delay: float, action: Callable[[], None]) -> Any:
        """Run ``action`` under the lock ``delay`` simulated seconds from now."""

        def locked() -> None:
            with self.lock:
                action()

        return self.scheduler.call_later(delay, locked)

    def _at(self, call: FakeCall, delay: float, action: Callable[[], None]) -> None:
        """A step of the call's life; cancelled when the call ends."""
        call.timers.append(self.later(delay, action))

    # ------------------------------------------------------------------ the REST API's verbs
    def create_call(self, account_sid: str, request: CallRequest, *, join: str | None = None) -> FakeCall:
        """Queue a call behind the calls-per-second limit, its fate drawn now, in creation order."""
        max_queue = self.config.max_queue
        if max_queue is not None and len(self._waiting) >= max_queue:
            raise errors.too_many_requests()
        now = self.now()
        agent = request.to.startswith("client:") or request.to in self.config.agent_numbers
        slot = max(now, self._next_slot)
        self._next_slot = slot + 1.0 / self._cps(slot)
        call = FakeCall(
            sid=new_sid("CA"),
            account_sid=account_sid,
            to=request.to,
            from_=request.from_,
            kind="agent" if agent else "customer",
            fate=None if agent else draw_fate(self.draws, self._p_human(now)),
            instructions=Instructions(request.url, request.method, request.twiml),
            status_callback=request.status_callback,
            status_callback_method=request.status_callback_method,
            status_events=request.status_events,
            timeout_s=float(request.timeout_s),
            amd=request.amd,
            created_at=now,
            start_slot=slot,
            join_on_answer=join,
        )
        self.calls[call.sid] = call
        self._waiting.add(call.sid)
        call.note(now, "created", to=call.to, kind=call.kind, queued_until=round(slot, 3))
        if request.time_limit_s:
            call.note(now, "time-limit", seconds=request.time_limit_s)
        self._at(call, slot - now, lambda: self._start(call, request.time_limit_s))
        return call

    def get_call(self, sid: str, path: str) -> FakeCall:
        call = self.calls.get(sid)
        if call is None:
            raise errors.not_found(path)
        return call

    def update_call(self, call: FakeCall, update: CallUpdate) -> FakeCall:
        """Redirect, cancel or hang up; a call that is over cannot be changed (21220)."""
        if call.ended:
            raise errors.not_in_progress()
        now = self.now()
        if update.status_callback is not None:
            call.status_callback = update.status_callback
        if update.status_callback_method is not None:
            call.status_callback_method = update.status_callback_method
        if update.status == "completed":
            call.note(now, "api-hangup")
            self.end_call(call, "completed" if call.answered_at is not None else "canceled", "api")
            return call
        if update.status == "canceled":
            if call.answered_at is None:
                call.note(now, "api-cancel")
                self.end_call(call, "canceled", "api")
            return call  # Twilio leaves a call that was answered as it is
        if update.url is not None or update.twiml is not None:
            call.instructions = Instructions(update.url, update.method, None if update.url else update.twiml)
            call.note(now, "api-redirect", url=update.url, twiml=call.instructions.twiml)
            if call.answered_at is not None:
                if call.conference_sid is not None:
                    self.hall.leave(call, resume=False)
                self.interpreter.start(call)
        return call

    def create_participant(self, account_sid: str, key: str, request: ParticipantRequest) -> tuple[
        Conference, Participant
    ]:
        """Dial ``To`` straight into a conference (found by sid, or by name, made if needed)."""
        conference = self.hall.find(key)
        if conference is None:
            if key.startswith("CF") and len(key) == 34:
                raise errors.not_found(f"/{API_VERSION}/Accounts/{account_sid}/Conferences/{key}.json")
            conference = self.hall.room(account_sid, key)
        if request.call_sid_to_coach is not None:
            coached = conference.participants.get(request.call_sid_to_coach)
            if coached is None or not coached.present:
                raise errors.ApiError(
                    400, 20001, f"CallSidToCoach {request.call_sid_to_coach} is not in conference {conference.sid}"
                )
        if request.conference_callback is not None:
            self.hall.set_callback(
                conference, request.conference_callback, request.conference_callback_method, request.conference_events
            )
        call = self.create_call(account_sid, request.call, join=conference.sid)
        participant = self.hall.add(
            conference,
            call,
            label=request.label,
            muted=request.muted,
            coaching=request.coaching,
            call_sid_to_coach=request.call_sid_to_coach,
            start_on_enter=request.start_conference_on_enter,
            end_on_exit=request.end_conference_on_exit,
            beep=request.beep,
        )
        return conference, participant

    def update_participant(self, conference: Conference, participant: Participant, update: ParticipantUpdate) -> None:
        self.hall.update(conference, participant, update)

    def remove_participant(self, conference: Conference, participant: Participant) -> None:
        """Kick: the call leaves the room and goes on with the TwiML after its ``<Dial>``."""
        call = self.calls.get(participant.call_sid)
        if call is not None and call.conference_sid == conference.sid:
            self.hall.leave(call, resume=True, kicked=True)

    # ------------------------------------------------------------------ a call's life
    def _start(self, call: FakeCall, time_limit_s: int | None) -> None:
        now = self.now()
        self._waiting.discard(call.sid)
        call.started_at = now
        call.note(now, "initiated")
        self._status_event(call, "initiated")
        if time_limit_s:
            self._at(call, float(time_limit_s), lambda: self.end_call(call, "completed", "time-limit"))
        fate = call.fate
        if fate is None:  # an agent's phone: rings and is picked up at once
            self._ring(call)
            self._answer(call)
            return
        if fate.outcome == "busy":
            self._at(call, fate.fail_s, lambda: self.end_call(call, "busy", "network"))
            return
        if fate.outcome == "invalid":
            self._at(call, fate.fail_s, lambda: self.end_call(call, "failed", "network"))
            return
        self._at(call, fate.setup_s, lambda: self._ring(call))
        if fate.outcome in ("human", "machine") and fate.ring_s < call.timeout_s:
            self._at(call, fate.setup_s + fate.ring_s, lambda: self._answer(call))
        else:
            self._at(call, fate.setup_s + call.timeout_s, lambda: self.end_call(call, "no-answer", "ring-timeout"))

    def _ring(self, call: FakeCall) -> None:
        now = self.now()
        call.status = "ringing"
        call.ringing_at = now
        call.note(now, "ringing")
        self._status_event(call, "ringing")
        self.hall.participant_status(call, "ringing")

    def _answer(self, call: FakeCall) -> None:
        now = self.now()
        call.status = "in-progress"
        call.answered_at = now
        call.note(now, "answered")
        self._status_event(call, "answered")
        fate = call.fate
        if fate is not None and fate.outcome == "human":
            call.patience_timer = self.later(fate.patience_s, lambda: self._lose_patience(call))
            call.timers.append(call.patience_timer)
        elif fate is not None:  # a machine records for a while, then hangs up on its own
            self._at(call, self.config.machine_hangup_s, lambda: self.end_call(call, "completed", "machine-done"))
        sync_amd = call.amd is not None and not call.amd.asynchronous
        if call.amd is not None:
            verdict_s = 0.0 if fate is None else min(fate.amd_s, call.amd.timeout_s)
            self._at(call, verdict_s, lambda: self._verdict(call, verdict_s))
        if call.join_on_answer is not None:
            self.hall.join_by_sid(call, call.join_on_answer)
        elif not sync_amd:  # with synchronous detection the TwiML waits for the verdict
            self.interpreter.start(call)

    def _verdict(self, call: FakeCall, after_s: float) -> None:
        amd, fate = call.amd, call.fate
        if amd is None:
            return
        if fate is None:
            answered_by = "human"
        elif fate.amd_s > amd.timeout_s:
            answered_by = "unknown"  # the detector gave up (MachineDetectionTimeout)
        elif fate.verdict == "human":
            answered_by = "human"
        else:
            answered_by = "machine_start" if amd.mode == "Enable" else "machine_end_beep"
        call.answered_by = answered_by
        duration_ms = str(round(after_s * 1000))
        call.note(self.now(), "amd", answered_by=answered_by, after_s=round(after_s, 3))
        if not amd.asynchronous:
            if call.join_on_answer is None:
                self.interpreter.start(call, {"AnsweredBy": answered_by, "MachineDetectionDuration": duration_ms})
            return
        if amd.callback is not None:
            params = {
                "AccountSid": call.account_sid,
                "CallSid": call.sid,
                "AnsweredBy": answered_by,
                "MachineDetectionDuration": duration_ms,
            }
            self.send(call, "amd", amd.callback, amd.callback_method, params)

    def _lose_patience(self, call: FakeCall) -> None:
        if call.connected_at is None:
            call.note(self.now(), "customer-gave-up")
            self.end_call(call, "completed", "customer-patience")

    def customer_connected(self, call: FakeCall) -> None:
        """A person hears an agent: they talk for their drawn time, then hang up."""
        if call.connected_at is not None or call.fate is None or call.ended:
            return
        now = self.now()
        call.connected_at = now
        if call.patience_timer is not None:
            call.patience_timer.cancel()
        call.note(now, "connected-to-agent", talk_s=round(call.fate.talk_s, 3))
        self._at(call, call.fate.talk_s, lambda: self.end_call(call, "completed", "customer-hung-up"))

    def end_call(self, call: FakeCall, status: str, reason: str) -> None:
        if call.ended:
            return
        now = self.now()
        self._waiting.discard(call.sid)
        call.cancel_timers()
        call.generation += 1  # no TwiML step of this call runs any more
        call.program.clear()
        call.dial = None
        if call.conference_sid is not None:
            self.hall.leave(call, resume=False)
        call.status = status
        call.ended_at = now
        call.end_reason = reason
        call.note(now, status, reason=reason, duration_s=call.duration_s())
        self._status_event(call, "completed")
        self.hall.participant_status(call, "complete" if call.answered_at is not None else "failed")

    # ------------------------------------------------------------------ webhooks
    def call_params(self, call: FakeCall, status: str) -> dict[str, str]:
        """What every voice webhook carries (twilio.com/docs/voice/twiml#request-parameters)."""
        return {
            "AccountSid": call.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": call.sid,
            "CallStatus": status,
            "Called": call.to,
            "Caller": call.from_,
            "Direction": "outbound-api",
            "From": call.from_,
            "To": call.to,
        }

    def _status_event(self, call: FakeCall, event: str) -> None:
        if call.status_callback is None or event not in call.status_events:
            return
        status = EVENT_STATUS.get(event, call.status)
        params = self.call_params(call, status)
        params.update(
            CallbackSource="call-progress-events",
            SequenceNumber=str(call.sequence),
            Timestamp=rfc2822(self.epoch(self.now())),
        )
        call.sequence += 1
        if event == "completed":
            params["CallDuration"] = str(call.duration_s())
            params["Duration"] = str((call.duration_s() + 59) // 60)
            params["SipResponseCode"] = {"busy": "486", "no-answer": "487", "failed": "404", "canceled": "487"}.get(
                call.status, "200"
            )
        if call.answered_by is not None:
            params["AnsweredBy"] = call.answered_by
        self.send(call, "status-callback", call.status_callback, call.status_callback_method, params)

    def send(
        self,
        call: FakeCall,
        purpose: str,
        url: str,
        method: str,
        params: dict[str, str],
        on_done: Callable[[Delivery], None] | None = None,
    ) -> Delivery:
        delivery = self.webhooks.send(purpose, url, method, params, key=call.sid, call_sid=call.sid, on_done=on_done)
        call.webhook_ids.append(delivery.id)
        call.note(self.now(), "webhook", purpose=purpose, url=url, id=delivery.id)
        return delivery

    # ------------------------------------------------------------------ inspection
    def call_report(self, call: FakeCall, deliveries: dict[int, Delivery]) -> dict[str, Any]:
        return {
            "sid": call.sid,
            "to": call.to,
            "from": call.from_,
            "kind": call.kind,
            "status": call.status,
            "answered_by": call.answered_by,
            "fate": None if call.fate is None else call.fate.to_json(),
            "created_at": call.created_at,
            "start_slot": call.start_slot,
            "started_at": call.started_at,
            "ringing_at": call.ringing_at,
            "answered_at": call.answered_at,
            "connected_at": call.connected_at,
            "ended_at": call.ended_at,
            "end_reason": call.end_reason or None,
            "conference_sid": call.conference_sid,
            "timeline": list(call.timeline),
            "verbs": list(call.verbs),
            "said": list(call.said),
            "digits": list(call.digits),
            "webhooks": [deliveries[i].to_json() for i in call.webhook_ids if i in deliveries],
        }
