"""The TwiML our flows use, played by the stand-in: prompts, key presses, redirects, conferences."""

from __future__ import annotations

from dataclasses import replace

import pytest
from click.testing import CliRunner
from twilio.request_validator import RequestValidator

from campaigns.cli import main
from tests.test_fake_twilio_support import (
    AUTH_TOKEN,
    CALLER_ID,
    CUSTOMER,
    PEOPLE,
    client_for,
    fake_call,
    get_json,
    receiver,
    stand_in,
    wait_for,
    wait_until_ended,
)

WAIT = "<Response><Pause length='60'/></Response>"


def _answered(server, sid: str) -> dict:
    return wait_for(lambda: (c := fake_call(server, sid))["answered_at"] is not None and c, what="the answer")


def test_say_takes_its_words_time_and_the_message_is_recorded():
    twiml = "<Response><Say>This call is from Acme, call us back</Say><Hangup/></Response>"
    with stand_in(say_words_per_s=2.0) as server:
        call = client_for(server).calls.create(to=CUSTOMER, from_=CALLER_ID, twiml=twiml)
        record = wait_until_ended(server, call.sid)

    assert record["said"] == ["This call is from Acme, call us back"]
    assert record["verbs"] == ["<Say>This call is from Acme, call us back", "<Hangup>"]
    assert record["ended_at"] - record["answered_at"] == pytest.approx(4.0, abs=0.5)  # 8 words at 2 a second
    assert record["end_reason"] == "hangup-verb"


def test_a_person_who_presses_nine_has_the_digit_posted_to_the_gather_action():
    routes = {
        "/drop": "<Response><Gather numDigits='1' action='optout' timeout='3'><Say>Press nine to opt out</Say>"
                 "</Gather><Hangup/></Response>",
        "/optout": "<Response><Say>You will not be called again</Say><Hangup/></Response>",
    }
    with stand_in(press_share=1.0) as server, receiver(routes) as app:
        call = client_for(server).calls.create(to=CUSTOMER, from_=CALLER_ID, url=app.base_url + "/drop")
        record = wait_until_ended(server, call.sid)
        action = app.wait("/optout", 1)[0]

    assert action.params["Digits"] == "9" and action.params["CallSid"] == call.sid
    assert RequestValidator(AUTH_TOKEN).validate(action.url, action.params, action.signature)
    assert record["digits"] == ["9"]
    assert record["said"] == ["Press nine to opt out", "You will not be called again"]


def test_without_a_key_press_the_gather_times_out_and_the_document_goes_on():
    twiml = ("<Response><Gather numDigits='1' action='http://127.0.0.1:9/never' timeout='3'><Say>Press nine</Say>"
             "</Gather><Say>Goodbye</Say></Response>")
    with stand_in(press_share=0.0, say_words_per_s=2.0) as server:
        call = client_for(server).calls.create(to=CUSTOMER, from_=CALLER_ID, twiml=twiml)
        record = wait_until_ended(server, call.sid)

    assert record["digits"] == [] and record["said"] == ["Press nine", "Goodbye"]
    assert record["end_reason"] == "twiml-ended"  # a document that runs out hangs up
    assert record["ended_at"] - record["answered_at"] == pytest.approx(1.0 + 3.0 + 0.5, abs=0.5)


def test_redirect_fetches_the_next_document_and_follows_it():
    routes = {
        "/first": "<Response><Redirect method='POST'>/second</Redirect><Say>never said</Say></Response>",
        "/second": "<Response><Say>second document</Say></Response>",
    }
    with stand_in() as server, receiver(routes) as app:
        call = client_for(server).calls.create(to=CUSTOMER, from_=CALLER_ID, url=app.base_url + "/first")
        record = wait_until_ended(server, call.sid)
        second = app.wait("/second", 1)[0]

    assert record["said"] == ["second document"]
    assert second.params["CallStatus"] == "in-progress" and second.params["CallSid"] == call.sid
    assert [w["purpose"] for w in record["webhooks"]] == ["twiml", "redirect"]


def test_a_twiml_url_that_fails_ends_the_call_as_an_application_error():
    with stand_in() as server, receiver() as app:
        call = client_for(server).calls.create(to=CUSTOMER, from_=CALLER_ID, url=app.base_url + "/fail")
        record = wait_until_ended(server, call.sid)

    assert record["status"] == "completed" and record["end_reason"] == "application-error"


def test_a_person_nobody_connects_hangs_up_after_their_patience():
    with stand_in(replace(PEOPLE, patience_mean_s=3.0)) as server:
        call = client_for(server).calls.create(to=CUSTOMER, from_=CALLER_ID, twiml=WAIT)
        record = wait_until_ended(server, call.sid)

    assert record["end_reason"] == "customer-patience"
    assert record["ended_at"] - record["answered_at"] == pytest.approx(record["fate"]["patience_s"], abs=0.5)


def test_an_answered_customer_redirected_into_the_agents_conference_talks_then_hangs_up():
    room = ("<Response><Dial><Conference beep='false' startConferenceOnEnter='true' endConferenceOnExit='true' "
            "statusCallback='{app}/conference' statusCallbackEvent='start end join leave'>agent-42</Conference>"
            "</Dial></Response>")
    bridge = ("<Response><Dial><Conference beep='false' startConferenceOnEnter='true' endConferenceOnExit='false'>"
              "agent-42</Conference></Dial></Response>")
    with stand_in() as server, receiver() as app:
        client = client_for(server)
        agent = client.calls.create(to="client:agent42", from_=CALLER_ID, twiml=room.format(app=app.base_url))
        app.wait("/conference", 2)  # the agent is in and the room has started
        customer = client.calls.create(to=CUSTOMER, from_=CALLER_ID, twiml=WAIT,
                                       status_callback=app.base_url + "/status")
        _answered(server, customer.sid)
        client.calls(customer.sid).update(twiml=bridge)
        record = wait_until_ended(server, customer.sid)
        agent_while_talking = fake_call(server, agent.sid)
        rooms = client.conferences.list(friendly_name="agent-42")
        participants = client.conferences(rooms[0].sid).participants.list()
        client.calls(agent.sid).update(status="completed")
        hooks = app.wait("/conference", 6)

    assert record["status"] == "completed" and record["end_reason"] == "customer-hung-up"
    assert record["ended_at"] - record["connected_at"] == pytest.approx(4.0, abs=0.5)  # the drawn talk time
    assert agent_while_talking["status"] == "in-progress" and agent_while_talking["kind"] == "agent"
    assert [p.call_sid for p in participants] == [agent.sid]
    events = [(h.params["StatusCallbackEvent"], h.params.get("CallSid")) for h in hooks]
    assert events == [
        ("participant-join", agent.sid),
        ("conference-start", None),
        ("participant-join", customer.sid),
        ("participant-leave", customer.sid),
        ("participant-leave", agent.sid),
        ("conference-end", None),
    ]
    assert [h.params["SequenceNumber"] for h in hooks] == [str(i) for i in range(6)]
    assert all(h.params["ConferenceSid"] == rooms[0].sid and h.params["FriendlyName"] == "agent-42" for h in hooks)
    assert hooks[-1].params["ReasonConferenceEnded"] == "participant-with-end-conference-on-exit-left"
    validator = RequestValidator(AUTH_TOKEN)
    assert all(validator.validate(h.url, h.params, h.signature) for h in hooks)


def test_a_supervisor_added_as_a_coach_is_listed_and_does_not_count_as_the_customers_agent():
    room = "<Response><Dial><Conference statusCallback='{app}/conference' statusCallbackEvent='join'>sup-room" \
           "</Conference></Dial></Response>"
    customer_in = "<Response><Dial><Conference>sup-room</Conference></Dial></Response>"
    with stand_in() as server, receiver() as app:
        client = client_for(server)
        agent = client.calls.create(to="client:agent1", from_=CALLER_ID, twiml=room.format(app=app.base_url))
        app.wait("/conference", 1)
        conference = client.conferences.list(friendly_name="sup-room")[0]
        coach = client.conferences(conference.sid).participants.create(
            from_=CALLER_ID, to="client:supervisor", coaching=True, call_sid_to_coach=agent.sid, muted=False,
        )
        app.wait("/conference", 2)
        client.calls(agent.sid).update(twiml=WAIT)  # the agent steps out; only the coach stays
        customer = client.calls.create(to=CUSTOMER, from_=CALLER_ID, twiml=customer_in)
        waiting = wait_for(
            lambda: (c := fake_call(server, customer.sid))["conference_sid"] is not None and c, what="the join"
        )
        listed = client.conferences(conference.sid).participants.list()

    assert coach.coaching is True and coach.call_sid_to_coach == agent.sid and coach.status == "queued"
    joins = app.at("/conference")
    assert joins[1].params["CallSid"] == coach.call_sid and joins[1].params["Coaching"] == "true"
    assert {p.call_sid for p in listed} == {coach.call_sid, customer.sid}
    assert waiting["connected_at"] is None  # a coach is heard by the agent only


def test_the_inspection_endpoints_list_calls_webhooks_and_conferences():
    with stand_in() as server, receiver() as app:
        call = client_for(server).calls.create(to=CUSTOMER, from_=CALLER_ID, twiml="<Response><Hangup/></Response>",
                                               status_callback=app.base_url + "/status")
        wait_until_ended(server, call.sid)
        app.wait("/status", 1)
        calls = get_json(server.base_url + "/_fake/calls")["calls"]
        webhooks = wait_for(lambda: (w := get_json(server.base_url + "/_fake/webhooks")["webhooks"])[0]["status"] and w)
        conferences = get_json(server.base_url + "/_fake/conferences")["conferences"]

    assert [c["sid"] for c in calls] == [call.sid]
    assert [e["event"] for e in calls[0]["timeline"]][:4] == ["created", "initiated", "ringing", "answered"]
    assert calls[0]["fate"]["outcome"] == "human"
    assert webhooks[0]["purpose"] == "status-callback" and webhooks[0]["status"] == 200
    assert webhooks[0]["params"]["CallStatus"] == "completed" and webhooks[0]["signature"]
    assert conferences == []


def test_the_fake_twilio_command_explains_itself_with_examples_and_refuses_a_bad_account_sid():
    runner = CliRunner()

    help_text = runner.invoke(main, ["fake-twilio", "--help"]).output
    refused = runner.invoke(main, ["fake-twilio", "--account-sid", "AC123", "--auth-token", "t"])

    assert "Examples:" in help_text and "--scenario" in help_text and "/_fake/calls" in help_text
    assert refused.exit_code != 0 and "32 hex" in refused.output
