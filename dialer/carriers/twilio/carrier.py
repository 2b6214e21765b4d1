"""The engine's ``Carrier`` on Twilio's Programmable Voice, through the official library.

A customer leg is a REST-created call whose answer URL holds the line in
silence (``/twilio/voice/customer``); the engine then redirects the live call
with new TwiML: into the agent's conference room (``connect``), or to the
drop or voicemail message with the key-press opt-out (``play_and_hangup``).
Everything Twilio reports comes back through the signed webhooks of
``web/twilio_webhooks.py`` and the campaign's Redis stream, never through
this object, so it emits exactly the event sequence of the simulated carrier:
initiated, ringing, answered, amd, bridged (the conference join), completed.

Calls per second: Twilio queues calls over the account's limit silently, so a
call "placed" could ring many seconds later and break the pacer's model.  Each
placement therefore takes a token from a bucket shared by every dialer
process (``campaigns/cps_bucket.py``).  With no token within ``token_wait_s``,
``place_call`` raises ``CarrierError(retry_after_s=...)`` rather than sleeping
in the engine's loop (the two-second rule waits on that loop); the pacer sees
the limit as ``cps_limit`` and asks for no more than it allows.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from dialer.carrier import CarrierError, DialRequest
from dialer.carriers.twilio import errors, twiml
from dialer.carriers.twilio.urls import WebhookUrls, conference_name
from dialer.events import CarrierEvent, CarrierEventKind

log = logging.getLogger(__name__)

T = TypeVar("T")

STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
MIN_RING_TIMEOUT_S = 15
# How many engine call ids to remember for the conference webhook URL (a few hours of calls).
_REMEMBERED_CALLS = 20_000


class CallTokens(Protocol):
    """The shared calls-per-second budget (``campaigns.cps_bucket.CpsBucket``)."""

    @property
    def rate(self) -> float: ...

    def take(self, n: int = 1) -> tuple[int, float]:
        """Take up to ``n`` tokens: (granted, seconds until the next token when short)."""
        ...


class TwilioCarrier:
    """The Carrier protocol (and ``ConferenceControls``) on one Twilio account, for one campaign."""

    def __init__(
        self,
        client: Client,
        *,
        campaign_id: int,
        public_base_url: str,
        record: bool = False,
        tokens: CallTokens | None = None,
        cps: float | None = None,
        token_wait_s: float = 0.2,
        max_retries: int = 3,
        backoff_s: float = 0.25,
        machine_detection: str = "Enable",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``cps`` is the limit reported to the pacer when there is no shared ``tokens`` bucket.

        ``record`` records whole calls (Twilio's ``Record=true``) for campaigns whose
        consent and disclosures allow it.  ``sleep`` is injectable so that back-off
        is tested without waiting.
        """
        self.client = client
        self.campaign_id = campaign_id
        self.urls = WebhookUrls(public_base_url, campaign_id)
        self.record = record
        self.tokens = tokens
        self._cps = cps
        self.token_wait_s = token_wait_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.machine_detection = machine_detection
        self._sleep = sleep
        self._call_ids: OrderedDict[str, str] = OrderedDict()  # Twilio CallSid -> engine call id
        self._ringing: set[str] = set()  # calls known to be placed and not yet answered
        # The dialer sends requests from several threads (campaigns.carrier_pool) and reports events
        # from its loop; this guards the two tables above, never a request.
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ Carrier protocol
    @property
    def cps_limit(self) -> float | None:
        if self.tokens is not None:
            return self.tokens.rate
        return self._cps

    def place_call(self, request: DialRequest) -> str:
        self._take_token()
        urls = self.urls
        params: dict[str, Any] = {
            "to": request.to,
            "from_": request.caller_id,
            "url": urls.voice_customer(request.call_id),
            "method": "POST",
            "status_callback": urls.status(request.call_id),
            "status_callback_event": list(STATUS_EVENTS),
            "status_callback_method": "POST",
            "timeout": max(MIN_RING_TIMEOUT_S, math.ceil(request.ring_timeout_s)),
        }
        if request.amd:
            params.update(
                machine_detection=self.machine_detection,
                async_amd="true",
                async_amd_status_callback=urls.amd(request.call_id),
                async_amd_status_callback_method="POST",
            )
        if self.record:
            params["record"] = True
        call = self._api(lambda: self.client.calls.create(**params), f"placing {request.call_id}", creating=True)
        sid = str(call.sid)
        self._remember(sid, request.call_id)
        return sid

    def connect(self, call_sid: str, agent_id: str) -> None:
        document = twiml.connect_customer(agent_id, self.urls.conference(call_id=self._call_id(call_sid)))
        self._answered(call_sid)
        self._update(call_sid, f"connecting {call_sid} to agent {agent_id}", twiml=document)

    def play_and_hangup(self, call_sid: str, message: str) -> None:
        document = twiml.message_and_hangup(message, self.urls.optout(self._call_id(call_sid)))
        self._answered(call_sid)
        self._update(call_sid, f"playing a message on {call_sid}", twiml=document)

    def hangup(self, call_sid: str) -> None:
        """``canceled`` stops a call still queued or ringing; ``completed`` ends one in progress.

        The carrier knows a call is still ringing only when the dialer passes
        it the call's events (``observe``); otherwise it says ``completed``,
        which ends a call in any state.
        """
        with self._lock:
            status = "canceled" if call_sid in self._ringing else "completed"
            self._ringing.discard(call_sid)
        self._update(call_sid, f"hanging up {call_sid}", status=status)

    def observe(self, event: CarrierEvent) -> None:
        """Learn whether a call is still ringing from its events, for ``hangup``; optional."""
        with self._lock:
            if event.kind in (CarrierEventKind.INITIATED, CarrierEventKind.RINGING):
                if event.call_sid in self._call_ids:
                    self._ringing.add(event.call_sid)
            else:
                self._ringing.discard(event.call_sid)
                if event.kind is CarrierEventKind.COMPLETED:
                    self._call_ids.pop(event.call_sid, None)

    # ------------------------------------------------------------------ ConferenceControls
    def listen(self, agent_id: str, supervisor: str, *, caller_id: str) -> str:
        """A supervisor hears the agent's conversation, muted; returns the supervisor's CallSid."""
        return self._add_participant(agent_id, supervisor, caller_id, muted=True)

    def whisper(self, agent_id: str, supervisor: str, agent_call_sid: str, *, caller_id: str) -> str:
        """A supervisor speaks to the agent only (Twilio's coaching)."""
        return self._add_participant(
            agent_id, supervisor, caller_id, muted=False, coaching=True, call_sid_to_coach=agent_call_sid
        )

    def barge(self, agent_id: str, supervisor: str, *, caller_id: str) -> str:
        """A supervisor joins the conversation, heard by both sides."""
        return self._add_participant(agent_id, supervisor, caller_id, muted=False)

    def add_colleague(self, agent_id: str, colleague: str, *, caller_id: str) -> str:
        """Pull a colleague (a phone number or ``client:name``) into the agent's conversation: a warm transfer."""
        return self._add_participant(agent_id, colleague, caller_id, muted=False)

    def transfer(self, call_sid: str, to_agent_id: str) -> None:
        """Cold transfer: move the customer into another agent's room."""
        self.connect(call_sid, to_agent_id)

    # ------------------------------------------------------------------ plumbing
    def _add_participant(self, agent_id: str, to: str, caller_id: str, **options: Any) -> str:
        room = conference_name(agent_id)
        participant = self._api(
            lambda: self.client.conferences(room).participants.create(
                from_=caller_id,
                to=to,
                beep="false",
                early_media=False,
                start_conference_on_enter=False,
                end_conference_on_exit=False,
                status_callback=self.urls.conference(agent_id=agent_id),
                status_callback_event=["join", "leave"],
                **options,
            ),
            f"adding {to} to {room}",
            creating=True,
        )
        return str(participant.call_sid)

    def _take_token(self) -> None:
        """A token within ``token_wait_s``; several threads may compete for each, so wait again when beaten."""
        if self.tokens is None:
            return
        left = self.token_wait_s
        while True:
            granted, wait = self.tokens.take(1)
            if granted:
                return
            if wait > left:
                raise CarrierError("the account's calls-per-second limit is reached", retry_after_s=max(wait, 0.001))
            self._sleep(wait)
            left -= max(wait, 0.001)

    def _update(self, call_sid: str, what: str, **params: Any) -> None:
        """Change a live call; one that ended meanwhile is no error (webhooks race our decisions)."""
        try:
            self._api(lambda: self.client.calls(call_sid).update(**params), what, creating=False)
        except _CallEnded as ended:
            log.debug("%s (the call had already ended)", ended)

    def _api(self, action: Callable[[], T], what: str, *, creating: bool) -> T:
        """Run one API request: back off on 429, map Twilio's errors to the engine's."""
        delay = self.backoff_s
        for attempt in range(self.max_retries + 1):
            try:
                return action()
            except TwilioRestException as error:
                if errors.is_rate_limited(error) and attempt < self.max_retries:
                    log.info("%s: rate limited by Twilio, retrying in %.2fs", what, delay)
                    self._sleep(delay)
                    delay *= 2
                    continue
                raise self._mapped(error, what, delay, creating=creating) from error
            except (TwilioException, OSError) as error:
                # Network trouble (requests' errors are OSErrors) must not stop the engine's loop.
                raise CarrierError(f"{what}: {error}", retry_after_s=delay) from error
        raise AssertionError("unreachable")  # pragma: no cover

    def _mapped(self, error: TwilioRestException, what: str, delay: float, *, creating: bool) -> Exception:
        text = f"{what}: {errors.describe(error)}"
        if errors.is_rate_limited(error):
            return CarrierError(text, retry_after_s=delay)
        if creating and errors.is_invalid_number(error):
            return CarrierError(text, permanent=True)
        if not creating and errors.is_call_ended(error):
            return _CallEnded(text)
        return CarrierError(text)

    def _answered(self, call_sid: str) -> None:
        with self._lock:
            self._ringing.discard(call_sid)

    def _call_id(self, call_sid: str) -> str | None:
        with self._lock:
            return self._call_ids.get(call_sid)

    def _remember(self, sid: str, call_id: str) -> None:
        with self._lock:
            self._call_ids[sid] = call_id
            while len(self._call_ids) > _REMEMBERED_CALLS:
                old, _ = self._call_ids.popitem(last=False)
                self._ringing.discard(old)


class _CallEnded(Exception):
    """Internal: an update met a call that is over (never leaves this module)."""
