"""``/twilio/...``: the signed webhooks Twilio calls during a campaign.

A webhook lands in whichever web worker the load balancer picks, while the call
it describes lives in the engine of the dialer process that holds the campaign.
So a webhook only checks the signature, reads the form, turns it into a
``CarrierEvent`` (or an agent ``Command``), appends it to the campaign's Redis
stream and answers in milliseconds; the dialer applies it.  Twilio waits at
most 15 seconds and retries, so nothing here waits on the engine.

Duplicates and reordering are published as received: the engine's call record
keeps the first-seen value of each milestone (``dialer.calls``), which makes
the outcome independent of arrival order.

Sequence numbers.  Status callbacks carry Twilio's ``SequenceNumber`` (0, 1, 2...
per call).  The AMD verdict has none: it gets ``AMD_SEQUENCE``, above any
status callback's, so an ordering by sequence can never put a verdict before
the answer it is about.  Conference joins count per conference, not per call:
they get ``BRIDGE_SEQUENCE_BASE`` plus the conference's number, for the same reason.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from twilio.request_validator import RequestValidator

from campaigns.dnc_store import DncError, add_number
from campaigns.live_events import Command, publish_carrier_event, publish_command
from campaigns.models import Campaign
from dialer.carriers.twilio import twiml
from dialer.carriers.twilio.urls import PREFIX, WebhookUrls, agent_from_conference
from dialer.events import CallEnd, CarrierEvent, CarrierEventKind
from web import get_session, resources
from web.auth import blueprint_roles

log = logging.getLogger(__name__)

bp = Blueprint("twilio_webhooks", __name__, url_prefix=PREFIX)
# Twilio signs every request (X-Twilio-Signature, checked below); it has no session and no CSRF token.
blueprint_roles(bp, "public", csrf_exempt=True)

AMD_SEQUENCE = 1_000_000
BRIDGE_SEQUENCE_BASE = 2_000_000
# Hold steps (of twiml.HOLD_STEP_S) a customer leg may spend waiting for the engine's decision.
# The engine decides within the two-second safe harbour; reaching this many means no dialer
# holds the campaign, so the web process plays the drop message itself rather than leave silence.
HOLD_STEPS_LIMIT = 10
# How long the web process remembers which conference legs are agents' (a long shift).
LEG_TTL_S = 12 * 3600

_STATUS_KINDS = {
    "initiated": CarrierEventKind.INITIATED,
    "ringing": CarrierEventKind.RINGING,
    "in-progress": CarrierEventKind.ANSWERED,
    "answered": CarrierEventKind.ANSWERED,
}
_FINAL_STATUSES = frozenset(end.value for end in CallEnd)
_IGNORED_STATUSES = frozenset({"queued"})  # Twilio's own queue: nothing happened on the line yet
_VERDICTS = {"human": "human", "unknown": "unknown", "fax": "fax"}


def agent_leg_key(call_sid: str) -> str:
    return f"dialer:twilio:agent-leg:{call_sid}"


def inbound_leg_key(call_sid: str) -> str:
    return f"dialer:twilio:inbound-leg:{call_sid}"


def rooms_key(campaign_id: int) -> str:
    """Per campaign: agent id -> "idle" (in their room, alone) or "busy" (someone is with them)."""
    return f"dialer:twilio:rooms:{campaign_id}"


class _BadRequest(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class _UnknownCampaign(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(f"no campaign has the id {value}")


@bp.errorhandler(_BadRequest)
def _bad_request(error: _BadRequest) -> ResponseReturnValue:
    return jsonify({"error": str(error), "field": error.field}), 400


@bp.errorhandler(_UnknownCampaign)
def _unknown_campaign(error: _UnknownCampaign) -> ResponseReturnValue:
    return jsonify({"error": str(error), "field": "campaign"}), 404


# ---------------------------------------------------------------------- signature


def _setting(name: str) -> Any:
    """A setting from the app config (tests set it there), else from the process settings."""
    if name in current_app.config:
        return current_app.config[name]
    settings = current_app.config.get("DIALER_SETTINGS")
    return getattr(settings, name.lower(), None)


def public_base_url() -> str:
    """Scheme, host (and any path prefix) under which Twilio reached us.

    ``request.url`` is what the app server saw, which behind a TLS-terminating
    proxy is ``http://internal-host``; Twilio signed the public URL.  So the
    configured ``PUBLIC_BASE_URL`` wins, unless ``TRUST_PROXY_HEADERS`` says the
    proxy's ``X-Forwarded-Proto``/``X-Forwarded-Host`` tell it (only safe when
    the proxy overwrites those headers).
    """
    configured = _setting("PUBLIC_BASE_URL")
    if _setting("TRUST_PROXY_HEADERS"):
        base = urlsplit(configured) if configured else None
        proto = _first(request.headers.get("X-Forwarded-Proto")) or (base.scheme if base else request.scheme)
        host = _first(request.headers.get("X-Forwarded-Host")) or (base.netloc if base else request.host)
        prefix = base.path.rstrip("/") if base else ""
        return f"{proto}://{host}{prefix}"
    if configured:
        return str(configured).rstrip("/")
    return request.host_url.rstrip("/")


def _first(header: str | None) -> str:
    return header.split(",")[0].strip() if header else ""


def public_url() -> str:
    """The URL Twilio signed: the public base, the path, and the query string exactly as sent."""
    query = request.query_string.decode("latin-1")
    return f"{public_base_url()}{request.path}" + (f"?{query}" if query else "")


@bp.before_request
def _check_signature() -> ResponseReturnValue | None:
    token = _setting("TWILIO_AUTH_TOKEN")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token:
        log.error("Twilio webhook refused: TWILIO_AUTH_TOKEN is not set, so no signature can be checked")
        return jsonify({"error": "webhook signatures cannot be checked on this server"}), 403
    if not signature or not RequestValidator(str(token)).validate(public_url(), request.form, signature):
        log.warning(
            "Twilio webhook refused: %s signature on %s from %s",
            "bad" if signature else "missing",
            request.path,
            request.remote_addr,
        )
        return jsonify({"error": "bad or missing X-Twilio-Signature"}), 403
    return None


# ---------------------------------------------------------------------- reading the request


def _campaign(*, required: bool = True) -> Campaign | None:
    raw = request.args.get("campaign", "").strip()
    if not raw:
        if required:
            raise _BadRequest("campaign", "the URL must carry ?campaign=<id>")
        return None
    try:
        campaign_id = int(raw)
    except ValueError:
        raise _BadRequest("campaign", f"campaign must be a number, not {raw!r}") from None
    campaign = get_session().get(Campaign, campaign_id)
    if campaign is None:
        raise _UnknownCampaign(campaign_id)
    return campaign


def _form(name: str) -> str:
    value = request.form.get(name, "").strip()
    if not value:
        raise _BadRequest(name, f"{name} is missing")
    return value


def _int(value: str, field: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise _BadRequest(field, f"{field} must be a whole number, not {value!r}") from None
    if number < 0:
        raise _BadRequest(field, f"{field} must not be negative")
    return number


def _sequence() -> int:
    raw = request.form.get("SequenceNumber", "").strip()
    return _int(raw, "SequenceNumber") if raw else 0


def _urls(campaign: Campaign) -> WebhookUrls:
    return WebhookUrls(public_base_url(), campaign.id)


def _publish(campaign: Campaign, event: CarrierEvent) -> None:
    publish_carrier_event(resources().redis, campaign.id, event)


def _twiml(document: str) -> Response:
    return Response(document, mimetype="text/xml")


def _no_content() -> Response:
    return Response(status=204)


# ---------------------------------------------------------------------- call progress


@bp.post("/status")
def status() -> ResponseReturnValue:
    """Status callbacks: initiated, ringing, in-progress (answered), then the final status."""
    campaign = _campaign()
    assert campaign is not None
    sid = _form("CallSid")
    call_status = _form("CallStatus").lower()
    sequence = _sequence()
    if call_status in _IGNORED_STATUSES:
        return _no_content()
    if call_status in _STATUS_KINDS:
        event = CarrierEvent(sid, _STATUS_KINDS[call_status], time.time(), sequence)
    elif call_status in _FINAL_STATUSES:
        event = CarrierEvent(sid, CarrierEventKind.COMPLETED, time.time(), sequence, call_status)
    else:
        raise _BadRequest("CallStatus", f"unknown CallStatus {call_status!r}")
    _publish(campaign, event)
    return _no_content()


@bp.post("/amd")
def amd() -> ResponseReturnValue:
    """The asynchronous answering-machine verdict: human, machine, fax or unknown."""
    campaign = _campaign()
    assert campaign is not None
    sid = _form("CallSid")
    answered_by = _form("AnsweredBy").lower()
    verdict = _VERDICTS.get(answered_by) or ("machine" if answered_by.startswith("machine") else None)
    if verdict is None:
        raise _BadRequest("AnsweredBy", f"unknown AnsweredBy {answered_by!r}")
    _publish(campaign, CarrierEvent(sid, CarrierEventKind.AMD, time.time(), AMD_SEQUENCE, verdict))
    return _no_content()


@bp.post("/conference")
def conference() -> ResponseReturnValue:
    """Conference events of the agents' rooms: who joined or left whose room.

    A customer joining is the bridge (the agent hears them); an agent's own leg
    joining or leaving logs the agent in or out.  Agent legs are the ones
    ``/twilio/voice/agent`` put in the room (remembered in Redis) or, failing
    that, the ones that end the room when they leave, as only agents' do.
    Supervisors and colleagues (coaching or labelled legs) change nothing.
    """
    campaign = _campaign()
    assert campaign is not None
    kind = _form("StatusCallbackEvent")
    if kind not in ("participant-join", "participant-leave"):
        return _no_content()
    agent_id = agent_from_conference(_form("FriendlyName"))
    if agent_id is None:
        return _no_content()  # not one of our rooms
    sid = _form("CallSid")
    sequence = _sequence()
    joined = kind == "participant-join"
    redis = resources().redis
    if request.form.get("Coaching", "").lower() == "true" or request.form.get("ParticipantLabel"):
        return _no_content()
    if redis.get(agent_leg_key(sid)) is not None or request.form.get("EndConferenceOnExit", "").lower() == "true":
        if joined:
            redis.hset(rooms_key(campaign.id), agent_id, "idle")
        else:
            redis.hdel(rooms_key(campaign.id), agent_id)
        publish_command(redis, campaign.id, Command("login" if joined else "logout", agent_id, {}))
        return _no_content()
    inbound_agent = redis.get(inbound_leg_key(sid))
    if redis.hexists(rooms_key(campaign.id), agent_id):
        redis.hset(rooms_key(campaign.id), agent_id, "busy" if joined else "idle")
    if inbound_agent is not None:
        if not joined:
            redis.delete(inbound_leg_key(sid))
            publish_command(redis, campaign.id, Command("set_ready", agent_id, {"reason": "inbound call ended"}))
        return _no_content()
    if joined:
        event = CarrierEvent(sid, CarrierEventKind.BRIDGED, time.time(), BRIDGE_SEQUENCE_BASE + sequence, agent_id)
        _publish(campaign, event)
    return _no_content()


# ---------------------------------------------------------------------- TwiML


@bp.post("/voice/customer")
def voice_customer() -> ResponseReturnValue:
    """The answered customer's line, held in silence until the engine redirects it.

    The engine's ``connect`` or ``play_and_hangup`` replaces this TwiML at once,
    cutting the pause short, so the hold adds nothing to the two seconds.
    """
    campaign = _campaign()
    assert campaign is not None
    call_id = request.args.get("call", "").strip()
    if not call_id:
        raise _BadRequest("call", "the URL must carry ?call=<engine call id>")
    raw_hold = request.args.get("hold", "").strip()
    steps = _int(raw_hold, "hold") if raw_hold else 0
    urls = _urls(campaign)
    if steps >= HOLD_STEPS_LIMIT:
        log.warning("call %s of campaign %d waited %ds for the dialer: playing the drop message",
                    call_id, campaign.id, steps * twiml.HOLD_STEP_S)
        return _twiml(twiml.message_and_hangup(campaign.drop_message, urls.optout(call_id)))
    return _twiml(twiml.hold(urls.voice_customer(call_id, steps + 1)))


@bp.post("/voice/agent")
def voice_agent() -> ResponseReturnValue:
    """An agent's leg (softphone or phone): into their own room, no hold music, until a customer joins."""
    campaign = _campaign()
    assert campaign is not None
    agent_id = request.args.get("agent", "").strip()
    if not agent_id:
        raise _BadRequest("agent", "the URL must carry ?agent=<agent id>")
    sid = request.form.get("CallSid", "").strip()
    if sid:
        resources().redis.set(agent_leg_key(sid), agent_id, ex=LEG_TTL_S)
    return _twiml(twiml.agent_room(agent_id, _urls(campaign).conference(agent_id=agent_id)))


def _caller_number() -> str:
    """The outside party's number: ``To`` on the calls we place, ``From`` on calls to us."""
    field = "From" if request.form.get("Direction", "").lower().startswith("inbound") else "To"
    return _form(field)


def _opt_out(campaign: Campaign | None) -> Response:
    """Put the caller's number on the company do-not-call list, effective at once."""
    number = _caller_number()
    sid = request.form.get("CallSid", "").strip()
    session = get_session()
    try:
        add_number(
            session,
            number,
            reason="key-press opt-out",
            source="keypress",
            actor="called party (key press)",
            evidence=f"CallSid {sid}" + (f", campaign {campaign.id}" if campaign else ""),
        )
        session.commit()
    except DncError as error:
        session.rollback()
        log.error("key-press opt-out on %s could not be recorded: %s", sid, error)
        return _twiml(twiml.optout_failed())
    return _twiml(twiml.optout_confirmed())


@bp.post("/optout")
def optout() -> ResponseReturnValue:
    """The drop or voicemail message's gather: the opt-out key adds the number to the company DNC list."""
    campaign = _campaign()
    digits = request.form.get("Digits", "").strip()
    if digits == twiml.OPTOUT_KEY:
        return _opt_out(campaign)
    return _twiml(twiml.hangup())


def _inbound_campaign() -> Campaign | None:
    """The campaign named in the URL, else the one whose caller ID was called."""
    campaign = _campaign(required=False)
    if campaign is not None:
        return campaign
    called = request.form.get("To", "").strip()
    if not called:
        return None
    session = get_session()
    found = session.query(Campaign).filter(Campaign.caller_id == called).order_by(Campaign.id.desc()).first()
    return found


@bp.post("/inbound")
def inbound() -> ResponseReturnValue:
    """People calling back the caller ID: press 1 to reach an agent, 9 to stop the calls."""
    campaign = _inbound_campaign()
    base = public_base_url()
    action = WebhookUrls(base, campaign.id).inbound() if campaign else f"{base}{PREFIX}/inbound"
    digits = request.form.get("Digits", "").strip()
    if not digits:
        return _twiml(twiml.inbound_menu(action, campaign.name if campaign else ""))
    if digits == twiml.OPTOUT_KEY:
        return _opt_out(campaign)
    if digits == twiml.REACH_US_KEY and campaign is not None:
        agent_id = _claim_idle_agent(campaign.id)
        if agent_id is not None:
            sid = _form("CallSid")
            redis = resources().redis
            redis.set(inbound_leg_key(sid), agent_id, ex=LEG_TTL_S)
            # The engine must not send an outbound customer to this agent meanwhile.
            publish_command(redis, campaign.id, Command("pause", agent_id, {"reason": "inbound call"}))
            return _twiml(twiml.connect_customer(agent_id, _urls(campaign).conference(agent_id=agent_id)))
        return _twiml(twiml.inbound_busy())
    if digits == twiml.REACH_US_KEY:
        return _twiml(twiml.inbound_busy())
    return _twiml(twiml.inbound_menu(action, campaign.name if campaign else ""))


def _claim_idle_agent(campaign_id: int) -> str | None:
    """An agent alone in their room, marked busy at once so that two callers do not get the same one."""
    redis = resources().redis
    key = rooms_key(campaign_id)
    for raw_agent, raw_state in redis.hgetall(key).items():
        agent = raw_agent.decode() if isinstance(raw_agent, bytes) else str(raw_agent)
        state = raw_state.decode() if isinstance(raw_state, bytes) else str(raw_state)
        if state == "idle":
            redis.hset(key, agent, "busy")
            return agent
    return None
