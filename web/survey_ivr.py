"""``/twilio/survey``: the automated phone survey, a questionnaire played through Twilio with key presses.

A survey campaign without agents sends an answered call here (the call's
TwiML redirects to ``/twilio/survey?campaign=<id>&attempt=<call attempt id>``).
Each request rebuilds the interview from the stored answers, records the keys
just pressed, and answers with the next question as a ``<Gather>``, so any
web worker can take any step and a call that drops leaves a partial interview
that the next call resumes.  Twilio signs the whole URL, query included, so
the campaign and call it names cannot be forged; the signature is checked
exactly as for the dialer's other webhooks.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from twilio.twiml.voice_response import Gather, VoiceResponse

from campaigns import surveys
from campaigns.models import CallAttempt, Campaign
from campaigns.questionnaire import AnswerError, Ask, IvrPrompt, ivr_prompt, ivr_value
from web import get_session
from web.auth import blueprint_roles
from web.twilio_webhooks import _check_signature as check_twilio_signature
from web.twilio_webhooks import public_base_url

log = logging.getLogger(__name__)

PATH = "/twilio/survey"
bp = Blueprint("survey_ivr", __name__, url_prefix=PATH)
# Twilio signs every request (checked before each view); it has no session and no CSRF token.
blueprint_roles(bp, "public", csrf_exempt=True)
bp.before_request(check_twilio_signature)

# Seconds the gather waits for the first key.
GATHER_TIMEOUT_S = 8
# Times a question is put (silence or keys that answer nothing) before the call ends, leaving the
# interview partial for the next call.
MAX_TRIES = 3
NO_ANSWER = "We did not get an answer. We will call again another time. Goodbye."
SORRY = "Sorry, we could not take that answer."


class _Refused(Exception):
    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


@bp.errorhandler(_Refused)
def _refused(error: _Refused) -> ResponseReturnValue:
    return jsonify({"error": str(error), "field": error.field}), error.status


def survey_url(base: str, campaign_id: int, attempt_id: int, question_id: str | None = None, tries: int = 0) -> str:
    """The address of a survey step; the carrier's redirect uses it with no question."""
    query: dict[str, str | int] = {"campaign": campaign_id, "attempt": attempt_id}
    if question_id is not None:
        query["q"] = question_id
    if tries:
        query["tries"] = tries
    return f"{base.rstrip('/')}{PATH}?{urlencode(query)}"


@bp.post("")
def step() -> ResponseReturnValue:
    """Put the next question, or record the keys pressed for the question named by ``q`` and go on."""
    campaign, attempt = _call()
    session = get_session()
    try:
        state = surveys.start_interview(session, campaign.id, attempt.contact_id, attempt_id=attempt.id)
    except surveys.SurveyError as cannot:
        raise _Refused(409, cannot.field, cannot.message) from cannot
    asked = request.args.get("q")
    tries = _tries()
    digits = request.form.get("Digits")
    error = ""
    current = state.step
    if asked is not None and isinstance(current, Ask) and current.question.id == asked:
        if digits is None:  # the gather timed out in silence
            tries += 1
            error = "Sorry, we did not hear a key."
        else:
            try:
                value = ivr_value(current.question, digits)
                state = surveys.record_answer(session, state.response.id, asked, value, attempt_id=attempt.id)
                tries = 0
            except (AnswerError, surveys.SurveyError) as refused:
                tries += 1
                error = _sorry(refused.message)
    elif asked is not None:
        tries = 0  # a repeated or late webhook for a question already answered: put the current step
    session.commit()
    if tries >= MAX_TRIES:
        log.info("survey call %s ended after %d tries at %s", attempt.id, tries, asked)
        return _twiml(_goodbye(NO_ANSWER))
    prompt = ivr_prompt(state.step, error=error)
    return _twiml(_document(prompt, campaign.id, attempt.id, tries))


def _sorry(message: str) -> str:
    """A refused key press said back: "Sorry, ... The answer must be 18 or more." """
    sentence = f"The answer {message}" if message.startswith("must") else message[:1].upper() + message[1:]
    return f"{SORRY} {sentence}." if message else SORRY


def _call() -> tuple[Campaign, CallAttempt]:
    session = get_session()
    campaign_id = _id("campaign")
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise _Refused(404, "campaign", f"no campaign has the id {campaign_id}")
    attempt: CallAttempt | None
    if request.args.get("attempt"):
        attempt = session.get(CallAttempt, _id("attempt"))
    else:
        sid = request.form.get("CallSid", "").strip()
        if not sid:
            raise _Refused(400, "attempt", "the URL must carry ?attempt=<id>, or the form a CallSid")
        attempt = session.scalar(select(CallAttempt).where(CallAttempt.carrier_call_id == sid[:64]))
    if attempt is None or attempt.campaign_id != campaign.id:
        raise _Refused(404, "attempt", "no call of this campaign matches")
    return campaign, attempt


def _id(name: str) -> int:
    raw = request.args.get(name, "").strip()
    if not raw.isdigit() or len(raw) > 9:
        raise _Refused(400, name, f"{name} must be a whole number, not {raw!r}")
    return int(raw)


def _tries() -> int:
    raw = request.args.get("tries", "0").strip()
    return min(int(raw), MAX_TRIES) if raw.isdigit() and len(raw) < 4 else 0


def _document(prompt: IvrPrompt, campaign_id: int, attempt_id: int, tries: int) -> str:
    if prompt.hangup:
        return _goodbye(prompt.say)
    base = public_base_url()
    action = survey_url(base, campaign_id, attempt_id, prompt.question_id, tries)
    response = VoiceResponse()
    options: dict[str, object] = {"input": "dtmf", "action": action, "method": "POST", "timeout": GATHER_TIMEOUT_S,
                                  "action_on_empty_result": True}
    if prompt.num_digits is not None:
        options["num_digits"] = prompt.num_digits
    if prompt.finish_on_key is not None:
        options["finish_on_key"] = prompt.finish_on_key
    gather = Gather(**options)
    gather.say(prompt.say)
    response.append(gather)
    # Reached only if the gather ended without calling its action: ask again, counting the silence.
    response.redirect(survey_url(base, campaign_id, attempt_id, prompt.question_id, tries), method="POST")
    return str(response)


def _goodbye(text: str) -> str:
    response = VoiceResponse()
    response.say(text)
    response.hangup()
    return str(response)


def _twiml(document: str) -> Response:
    return Response(document, mimetype="text/xml")
