"""The stand-in's webhooks: signed as Twilio signs them, with Twilio's parameters, in order."""

from __future__ import annotations

import email.utils

import pytest
from twilio.request_validator import RequestValidator

from dialer.carriers.fake_twilio import twilio_signature
from tests.test_fake_twilio_support import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALLER_ID,
    CUSTOMER,
    MACHINES,
    PEOPLE,
    client_for,
    get_json,
    receiver,
    stand_in,
    wait_for,
    wait_until_ended,
)

EVENTS = ["initiated", "ringing", "answered", "completed"]
BRIEF = "<Response><Pause length='1'/><Hangup/></Response>"


def test_our_signature_matches_twilios_published_test_vector():
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }

    signature = twilio_signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params)

    assert signature == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_status_callbacks_are_signed_and_tell_the_call_in_sequence_number_order():
    with stand_in() as server, receiver() as app:
        call = client_for(server).calls.create(
            to=CUSTOMER, from_=CALLER_ID, twiml=BRIEF,
            status_callback=app.base_url + "/status", status_callback_event=EVENTS,
        )
        hooks = app.wait("/status", 4)

    validator = RequestValidator(AUTH_TOKEN)
    assert all(validator.validate(h.url, h.params, h.signature) for h in hooks)
    assert not validator.validate(hooks[0].url, {**hooks[0].params, "CallStatus": "busy"}, hooks[0].signature)
    ordered = sorted(hooks, key=lambda h: int(h.params["SequenceNumber"]))
    assert [h.params["CallStatus"] for h in ordered] == ["initiated", "ringing", "in-progress", "completed"]
    assert [h.params["SequenceNumber"] for h in ordered] == ["0", "1", "2", "3"]
    for hook in hooks:
        assert hook.params["CallSid"] == call.sid and hook.params["AccountSid"] == ACCOUNT_SID
        assert hook.params["From"] == CALLER_ID and hook.params["To"] == CUSTOMER
        assert hook.params["Direction"] == "outbound-api" and hook.params["ApiVersion"] == "2010-04-01"
        assert hook.params["CallbackSource"] == "call-progress-events"
        assert email.utils.parsedate_to_datetime(hook.params["Timestamp"]).tzinfo is not None
    completed = ordered[-1].params
    assert int(completed["CallDuration"]) == pytest.approx(1, abs=1) and "Duration" in completed


def test_only_the_completed_event_is_sent_when_none_are_asked_for():
    with stand_in() as server, receiver() as app:
        client_for(server).calls.create(to=CUSTOMER, from_=CALLER_ID, twiml=BRIEF,
                                        status_callback=app.base_url + "/status")
        hooks = app.wait("/status", 1)
        call = wait_until_ended(server, hooks[0].params["CallSid"])

    assert [h.params["CallStatus"] for h in hooks] == ["completed"]
    assert hooks[0].params["SequenceNumber"] == "0"
    assert call["status"] == "completed"


def test_a_get_status_callback_is_signed_over_the_url_with_its_query():
    with stand_in() as server, receiver() as app:
        client_for(server).calls.create(to=CUSTOMER, from_=CALLER_ID, twiml=BRIEF,
                                        status_callback=app.base_url + "/status?campaign=7",
                                        status_callback_method="GET")
        hook = app.wait("/status", 1)[0]

    assert hook.method == "GET" and hook.params["campaign"] == "7" and hook.params["CallStatus"] == "completed"
    assert RequestValidator(AUTH_TOKEN).validate(hook.url, {}, hook.signature)


@pytest.mark.parametrize(("scenario", "answered_by"), [(PEOPLE, "human"), (MACHINES, "machine_start")])
def test_async_amd_posts_the_verdict_at_the_drawn_time(scenario, answered_by):
    with stand_in(scenario) as server, receiver({"/voice": "<Response><Pause length='20'/></Response>"}) as app:
        call = client_for(server).calls.create(
            to=CUSTOMER, from_=CALLER_ID, url=app.base_url + "/voice",
            machine_detection="Enable", async_amd="true", async_amd_status_callback=app.base_url + "/amd",
        )
        hook = app.wait("/amd", 1)[0]
        voice = app.wait("/voice", 1)[0]
        fetched = client_for(server).calls(call.sid).fetch()

    assert RequestValidator(AUTH_TOKEN).validate(hook.url, hook.params, hook.signature)
    assert hook.params == {
        "AccountSid": ACCOUNT_SID,
        "CallSid": call.sid,
        "AnsweredBy": answered_by,
        "MachineDetectionDuration": "2500",
    }
    assert "AnsweredBy" not in voice.params  # asynchronous: the TwiML did not wait for the verdict
    assert fetched.answered_by == answered_by


def test_synchronous_amd_holds_the_twiml_request_until_the_verdict():
    with stand_in(MACHINES) as server, receiver({"/voice": BRIEF}) as app:
        call = client_for(server).calls.create(to=CUSTOMER, from_=CALLER_ID, url=app.base_url + "/voice",
                                               machine_detection="DetectMessageEnd")
        voice = app.wait("/voice", 1)[0]
        record = wait_until_ended(server, call.sid)

    assert voice.params["AnsweredBy"] == "machine_end_beep" and voice.params["MachineDetectionDuration"] == "2500"
    assert voice.params["CallStatus"] == "in-progress"
    twiml_at = next(e["t"] for e in record["timeline"] if e["event"] == "webhook" and e["purpose"] == "twiml")
    assert twiml_at - record["answered_at"] == pytest.approx(2.5, abs=0.5)


def test_a_failing_or_unreachable_webhook_is_recorded_and_the_call_goes_on():
    with stand_in() as server, receiver() as app:
        call = client_for(server).calls.create(
            to=CUSTOMER, from_=CALLER_ID, twiml=BRIEF,
            status_callback=app.base_url + "/fail", status_callback_event=EVENTS,
        )
        other = client_for(server).calls.create(
            to=CUSTOMER, from_=CALLER_ID, twiml=BRIEF,
            status_callback="http://127.0.0.1:9/nobody-listens", status_callback_event=["completed"],
        )
        record = wait_until_ended(server, call.sid)
        other_record = wait_until_ended(server, other.sid)
        webhooks = wait_for(
            lambda: len(ws := get_json(server.base_url + "/_fake/webhooks")["webhooks"]) == 5
            and all(w["finished_at"] is not None for w in ws)
            and ws,
            what="every webhook attempt to be over",
        )

    assert record["status"] == "completed" and other_record["status"] == "completed"
    failed = [w for w in webhooks if w["call_sid"] == call.sid]
    assert [w["status"] for w in failed] == [500, 500, 500, 500]
    unreachable = [w for w in webhooks if w["call_sid"] == other.sid]
    assert len(unreachable) == 1 and unreachable[0]["status"] is None
    assert unreachable[0]["error"] is not None
