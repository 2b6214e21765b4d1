"""Reading Twilio's form parameters, refusing what Twilio refuses.

Forms arrive as ``{name: [values...]}`` because list parameters
(``StatusCallbackEvent``) are sent as one key per value.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from dialer.carriers.fake_twilio import errors

Form = dict[str, list[str]]

CALL_EVENTS = ("initiated", "ringing", "answered", "completed")
MACHINE_DETECTION = ("Enable", "DetectMessageEnd")
METHODS = ("GET", "POST")
MAX_TWIML = 4000
MIN_TIMEOUT_S, MAX_TIMEOUT_S, DEFAULT_TIMEOUT_S = 1, 600, 60

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_NANP = re.compile(r"^\+1[2-9]\d{2}[2-9]\d{6}$")
_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")


def first(form: Form, name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def is_phone_number(value: str) -> bool:
    """E.164, and for North America a real area code and exchange (Twilio refuses +1 0xx ...)."""
    return bool(_E164.match(value)) and (not value.startswith("+1") or bool(_NANP.match(value)))


def is_endpoint(value: str) -> bool:
    return is_phone_number(value) or (value.startswith(("client:", "sip:")) and len(value.split(":", 1)[1]) > 0)


def _url(form: Form, name: str) -> str | None:
    value = first(form, name)
    if value is None or value == "":
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or "_" in parts.hostname:
        raise errors.invalid_url(name, value)
    return value


def _method(form: Form, name: str) -> str:
    value = (first(form, name) or "POST").upper()
    if value not in METHODS:
        raise errors.invalid_parameter(name, value)
    return value


def _boolean(form: Form, name: str, default: bool) -> bool:
    value = first(form, name)
    if value is None or value == "":
        return default
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise errors.invalid_parameter(name, value)


def _integer(form: Form, name: str) -> int | None:
    value = first(form, name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.invalid_parameter(name, value) from None


def _events(form: Form, name: str, allowed: Collection[str], default: tuple[str, ...]) -> frozenset[str]:
    """One key per value (twilio-python) or space-separated in one value (the TwiML attribute style)."""
    values = [word for value in form.get(name, []) for word in value.split()]
    for value in values:
        if value not in allowed:
            raise errors.invalid_parameter(name, value)
    return frozenset(values or default)


def _to_and_from(form: Form, caller_ids: Collection[str], agent_numbers: Collection[str]) -> tuple[str, str]:
    to = first(form, "To")
    if not to:
        raise errors.missing_to()
    if not (is_endpoint(to) or to in agent_numbers):
        raise errors.invalid_to(to)
    from_ = first(form, "From")
    if not from_:
        raise errors.missing_from()
    if not is_endpoint(from_):
        raise errors.invalid_from(from_)
    if is_phone_number(to) and not is_phone_number(from_):
        raise errors.invalid_from(from_)  # a phone call needs a phone number to show
    if caller_ids and is_phone_number(from_) and from_ not in caller_ids:
        raise errors.from_not_owned(from_)
    return to, from_


@dataclass(frozen=True)
class Amd:
    """Answering-machine detection as asked for on a call."""

    mode: str  # Enable | DetectMessageEnd
    timeout_s: float
    asynchronous: bool
    callback: str | None
    callback_method: str


@dataclass(frozen=True)
class CallRequest:
    to: str
    from_: str
    url: str | None
    method: str
    twiml: str | None
    status_callback: str | None
    status_callback_method: str
    status_events: frozenset[str]
    timeout_s: int
    amd: Amd | None
    time_limit_s: int | None


def _timeout(form: Form) -> int:
    value = _integer(form, "Timeout")
    if value is None:
        return DEFAULT_TIMEOUT_S
    return min(max(value, MIN_TIMEOUT_S), MAX_TIMEOUT_S)


def _amd(form: Form, callback_name: str, method_name: str) -> Amd | None:
    mode = first(form, "MachineDetection")
    if not mode:
        return None
    if mode not in MACHINE_DETECTION:
        raise errors.invalid_parameter("MachineDetection", mode)
    timeout = _integer(form, "MachineDetectionTimeout")
    asynchronous = (first(form, "AsyncAmd") or "false").lower()
    if asynchronous not in ("true", "false"):
        raise errors.invalid_parameter("AsyncAmd", asynchronous)
    return Amd(
        mode=mode,
        timeout_s=float(30 if timeout is None else min(max(timeout, 3), 59)),
        asynchronous=asynchronous == "true" or callback_name == "AmdStatusCallback",
        callback=_url(form, callback_name),
        callback_method=_method(form, method_name),
    )


def _twiml(form: Form) -> str | None:
    twiml = first(form, "Twiml")
    if twiml is not None and len(twiml) > MAX_TWIML:
        raise errors.twiml_too_long()
    return twiml or None


def parse_create_call(form: Form, caller_ids: Collection[str], agent_numbers: Collection[str]) -> CallRequest:
    """``CreateCall``: on create, a ``Url`` wins over ``Twiml`` (Twilio ignores the Twiml then)."""
    to, from_ = _to_and_from(form, caller_ids, agent_numbers)
    url = _url(form, "Url")
    twiml = None if url else _twiml(form)
    if url is None and twiml is None and not first(form, "ApplicationSid"):
        raise errors.missing_url()
    return CallRequest(
        to=to,
        from_=from_,
        url=url,
        method=_method(form, "Method"),
        twiml=twiml,
        status_callback=_url(form, "StatusCallback"),
        status_callback_method=_method(form, "StatusCallbackMethod"),
        status_events=_events(form, "StatusCallbackEvent", CALL_EVENTS, ("completed",)),
        timeout_s=_timeout(form),
        amd=_amd(form, "AsyncAmdStatusCallback", "AsyncAmdStatusCallbackMethod"),
        time_limit_s=_integer(form, "TimeLimit"),
    )


@dataclass(frozen=True)
class CallUpdate:
    url: str | None
    method: str
    twiml: str | None
    status: str | None
    status_callback: str | None
    status_callback_method: str | None


def parse_update_call(form: Form) -> CallUpdate:
    """``UpdateCall``: a new ``Url`` or ``Twiml`` redirects the call; ``Status`` cancels or hangs up."""
    status = first(form, "Status")
    if status is not None and status not in ("canceled", "completed"):
        raise errors.invalid_parameter("Status", status)
    return CallUpdate(
        url=_url(form, "Url"),
        method=_method(form, "Method"),
        twiml=_twiml(form),
        status=status,
        status_callback=_url(form, "StatusCallback"),
        status_callback_method=_method(form, "StatusCallbackMethod") if "StatusCallbackMethod" in form else None,
    )


CONFERENCE_EVENTS = ("start", "end", "join", "leave", "mute", "hold", "modify", "speaker", "announcement")


@dataclass(frozen=True)
class ParticipantRequest:
    call: CallRequest
    label: str | None
    muted: bool
    coaching: bool
    call_sid_to_coach: str | None
    beep: bool
    start_conference_on_enter: bool
    end_conference_on_exit: bool
    conference_callback: str | None
    conference_callback_method: str
    conference_events: frozenset[str]


def parse_create_participant(
    form: Form, caller_ids: Collection[str], agent_numbers: Collection[str]
) -> ParticipantRequest:
    """``CreateParticipant``: dial someone straight into a conference (a supervisor listening, ...)."""
    to, from_ = _to_and_from(form, caller_ids, agent_numbers)
    coach = first(form, "CallSidToCoach")
    if coach and not _CALL_SID.match(coach):
        raise errors.invalid_parameter("CallSidToCoach", coach)
    coaching = _boolean(form, "Coaching", False)
    if coaching and not coach:
        raise errors.ApiError(400, 20001, "CallSidToCoach is required when Coaching is true")
    beep = (first(form, "Beep") or "true").lower() not in ("false", "onexit")
    call = CallRequest(
        to=to,
        from_=from_,
        url=None,
        method="POST",
        twiml=None,
        status_callback=_url(form, "StatusCallback"),
        status_callback_method=_method(form, "StatusCallbackMethod"),
        status_events=_events(form, "StatusCallbackEvent", CALL_EVENTS, ("completed",)),
        timeout_s=_timeout(form),
        amd=_amd(form, "AmdStatusCallback", "AmdStatusCallbackMethod"),
        time_limit_s=_integer(form, "TimeLimit"),
    )
    return ParticipantRequest(
        call=call,
        label=first(form, "Label"),
        muted=_boolean(form, "Muted", False),
        coaching=coaching,
        call_sid_to_coach=coach or None,
        beep=beep,
        start_conference_on_enter=_boolean(form, "StartConferenceOnEnter", True),
        end_conference_on_exit=_boolean(form, "EndConferenceOnExit", False),
        conference_callback=_url(form, "ConferenceStatusCallback"),
        conference_callback_method=_method(form, "ConferenceStatusCallbackMethod"),
        conference_events=_events(form, "ConferenceStatusCallbackEvent", CONFERENCE_EVENTS, ("start", "end")),
    )


@dataclass(frozen=True)
class ParticipantUpdate:
    muted: bool | None
    hold: bool | None
    coaching: bool | None
    call_sid_to_coach: str | None


def parse_update_participant(form: Form) -> ParticipantUpdate:
    def optional(name: str) -> bool | None:
        return _boolean(form, name, False) if first(form, name) not in (None, "") else None

    coach = first(form, "CallSidToCoach")
    if coach and not _CALL_SID.match(coach):
        raise errors.invalid_parameter("CallSidToCoach", coach)
    return ParticipantUpdate(optional("Muted"), optional("Hold"), optional("Coaching"), coach or None)
