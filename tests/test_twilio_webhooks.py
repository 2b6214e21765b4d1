"""Twilio's signed webhooks become carrier events and agent commands on the campaign's Redis stream, and nothing else.

Each test signs its requests the way Twilio does (``RequestValidator`` over
the public URL and the form), posts them to the app, and reads back what the
dialer process would read.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator

from campaigns import db, dnc_store, services
from campaigns.live_events import Command, read_carrier_events, read_commands
from dialer.calls import Call
from dialer.carriers.twilio.urls import WebhookUrls
from dialer.events import CarrierEvent, CarrierEventKind
from web import create_app, resources
from web.twilio_webhooks import AMD_SEQUENCE, HOLD_STEPS_LIMIT

TOKEN = "webhook-test-token"
BASE = "https://dialer.example.com"
SID = "CA" + "4" * 32
AGENT_LEG = "CA" + "5" * 32
CUSTOMER = "+12015550123"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'webhooks.db'}"
    db.ensure_schema(url)
    return url


@pytest.fixture
def campaign_id(database_url: str) -> int:
    engine = db.make_engine(database_url)
    with db.make_session_factory(engine)() as session, session.begin():
        campaign_id = services.create_campaign(session, name="Acme", caller_id="2015550199").id
    engine.dispose()
    return campaign_id


def make_app(database_url: str, **config: Any) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "REDIS_URL": f"memory://twilio-webhooks-{uuid.uuid4().hex}",
            "TWILIO_AUTH_TOKEN": TOKEN,
            "PUBLIC_BASE_URL": BASE,
            **config,
        }
    )


@pytest.fixture
def app(database_url: str, campaign_id: int) -> Flask:
    return make_app(database_url)


def post(client: FlaskClient, url: str, form: dict[str, str], *, signed_url: str | None = None,
         signature: str | None = None, headers: dict[str, str] | None = None) -> Any:
    """POST ``form`` to ``url`` (an absolute public URL) signed as Twilio signs it."""
    sign_over = signed_url or url
    sig = signature if signature is not None else RequestValidator(TOKEN).compute_signature(sign_over, form)
    path = url.split("://", 1)[1].split("/", 1)[1]
    all_headers = {"X-Twilio-Signature": sig, **(headers or {})}
    if not sig:
        del all_headers["X-Twilio-Signature"]
    return client.post("/" + path, data=form, headers=all_headers)


def events(app: Flask, campaign_id: int) -> list[CarrierEvent]:
    return [event for _, event in read_carrier_events(resources_of(app).redis, campaign_id)]


def commands(app: Flask, campaign_id: int) -> list[Command]:
    return [command for _, command in read_commands(resources_of(app).redis, campaign_id)]


def resources_of(app: Flask) -> Any:
    with app.app_context():
        return resources()


def status_form(status: str, sequence: int) -> dict[str, str]:
    return {"CallSid": SID, "AccountSid": "AC" + "0" * 32, "CallStatus": status, "SequenceNumber": str(sequence),
            "To": CUSTOMER, "From": "+12015550199", "Direction": "outbound-api"}


def test_status_callbacks_publish_initiated_ringing_answered_and_the_final_status(app: Flask, campaign_id: int) -> None:
    urls = WebhookUrls(BASE, campaign_id)
    client = app.test_client()
    for sequence, status in enumerate(["initiated", "ringing", "in-progress", "no-answer"]):
        assert post(client, urls.status("c1-1-1"), status_form(status, sequence)).status_code == 204

    published = events(app, campaign_id)
    assert [(e.call_sid, e.kind, e.sequence, e.detail) for e in published] == [
        (SID, CarrierEventKind.INITIATED, 0, ""),
        (SID, CarrierEventKind.RINGING, 1, ""),
        (SID, CarrierEventKind.ANSWERED, 2, ""),
        (SID, CarrierEventKind.COMPLETED, 3, "no-answer"),
    ]
    assert all(e.at > 1e9 for e in published)  # the wall clock at receipt, as the engine runs


@pytest.mark.parametrize(
    ("answered_by", "verdict"),
    [("human", "human"), ("unknown", "unknown"), ("machine_start", "machine"),
     ("machine_end_beep", "machine"), ("machine_end_silence", "machine"), ("fax", "fax")],
)
def test_the_amd_verdict_is_published_after_any_status_in_sequence_order(
    app: Flask, campaign_id: int, answered_by: str, verdict: str
) -> None:
    url = WebhookUrls(BASE, campaign_id).amd("c1-1-1")
    response = post(app.test_client(), url, {"CallSid": SID, "AnsweredBy": answered_by,
                                             "MachineDetectionDuration": "2400"})

    assert response.status_code == 204
    [event] = events(app, campaign_id)
    assert (event.kind, event.detail, event.sequence) == (CarrierEventKind.AMD, verdict, AMD_SEQUENCE)


def test_forged_or_missing_signatures_get_403_and_publish_nothing(app: Flask, campaign_id: int) -> None:
    urls = WebhookUrls(BASE, campaign_id)
    client = app.test_client()
    form = status_form("ringing", 1)
    forged = RequestValidator("someone-elses-token").compute_signature(urls.status("c1"), form)

    assert post(client, urls.status("c1"), form, signature=forged).status_code == 403
    assert post(client, urls.status("c1"), form, signature="").status_code == 403
    # Signed for other parameters than those sent: a replay with a changed status.
    assert post(client, urls.status("c1"), {**form, "CallStatus": "completed"},
                signature=RequestValidator(TOKEN).compute_signature(urls.status("c1"), form)).status_code == 403
    # Signed for another campaign's URL.
    other = WebhookUrls(BASE, campaign_id + 1).status("c1")
    assert post(client, urls.status("c1"), form, signed_url=other).status_code == 403
    assert events(app, campaign_id) == []


def test_every_route_of_the_blueprint_checks_the_signature(app: Flask, campaign_id: int) -> None:
    client = app.test_client()
    for path in ("status", "amd", "conference", "voice/customer", "voice/agent", "optout", "inbound"):
        response = client.post(f"/twilio/{path}?campaign={campaign_id}", data={"CallSid": SID})
        assert response.status_code == 403, path


def test_the_signature_is_checked_against_the_public_url_not_the_one_the_app_server_saw(
    app: Flask, campaign_id: int
) -> None:
    url = WebhookUrls(BASE, campaign_id).status("c1")
    internal = url.replace(BASE, "http://localhost")
    client = app.test_client()

    assert post(client, url, status_form("ringing", 1)).status_code == 204
    assert post(client, url, status_form("ringing", 1), signed_url=internal).status_code == 403


def test_proxy_headers_give_the_public_url_only_when_trusted(database_url: str, campaign_id: int) -> None:
    public = f"https://calls.example.org/twilio/status?campaign={campaign_id}&call=c1"
    proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "calls.example.org"}
    form = status_form("ringing", 1)

    untrusting = make_app(database_url, PUBLIC_BASE_URL=None)
    assert post(untrusting.test_client(), public, form, headers=proxy).status_code == 403

    trusting = make_app(database_url, PUBLIC_BASE_URL=None, TRUST_PROXY_HEADERS=True)
    assert post(trusting.test_client(), public, form, headers=proxy).status_code == 204
    assert len(events(trusting, campaign_id)) == 1


def test_an_unknown_campaign_gets_404_naming_the_field(app: Flask, campaign_id: int) -> None:
    url = WebhookUrls(BASE, campaign_id + 100).status("c1")
    response = post(app.test_client(), url, status_form("ringing", 1))

    assert response.status_code == 404
    assert response.get_json()["field"] == "campaign"


@pytest.mark.parametrize(
    ("path", "form", "field"),
    [
        ("status?campaign={id}", {"CallSid": SID, "CallStatus": "dancing"}, "CallStatus"),
        ("status?campaign={id}", {"CallStatus": "ringing"}, "CallSid"),
        ("status?campaign={id}", {"CallSid": SID, "CallStatus": "ringing", "SequenceNumber": "x"}, "SequenceNumber"),
        ("status?campaign=seven", {"CallSid": SID, "CallStatus": "ringing"}, "campaign"),
        ("status", {"CallSid": SID, "CallStatus": "ringing"}, "campaign"),
        ("amd?campaign={id}", {"CallSid": SID, "AnsweredBy": "robot"}, "AnsweredBy"),
        ("voice/agent?campaign={id}", {"CallSid": SID}, "agent"),
        ("voice/customer?campaign={id}&call=c1&hold=-1", {"CallSid": SID}, "hold"),
    ],
)
def test_malformed_parameters_get_400_naming_the_field(
    app: Flask, campaign_id: int, path: str, form: dict[str, str], field: str
) -> None:
    response = post(app.test_client(), f"{BASE}/twilio/{path.format(id=campaign_id)}", form)

    assert response.status_code == 400
    assert response.get_json()["field"] == field
    assert events(app, campaign_id) == []


def test_duplicated_and_reordered_webhooks_are_published_as_received_and_the_call_keeps_the_first_truth(
    app: Flask, campaign_id: int
) -> None:
    urls = WebhookUrls(BASE, campaign_id)
    client = app.test_client()
    arrivals = [("ringing", 1), ("initiated", 0), ("in-progress", 2), ("ringing", 1), ("completed", 3),
                ("in-progress", 2)]
    for status, sequence in arrivals:
        post(client, urls.status("c1-1-1"), status_form(status, sequence))
    post(client, urls.amd("c1-1-1"), {"CallSid": SID, "AnsweredBy": "human"})
    post(client, urls.amd("c1-1-1"), {"CallSid": SID, "AnsweredBy": "human"})

    published = events(app, campaign_id)
    assert len(published) == len(arrivals) + 2
    call = Call("c1-1-1", campaign_id, 1, CUSTOMER, carrier_sid=SID)
    milestones = [call.apply(event) for event in published]
    assert milestones == ["ringing", "dialing", "answered", None, "ended", None, "amd", None]
    assert call.is_ended and call.answer_class == "human" and call.end_status == "completed"


def conference_form(event: str, call_sid: str, *, agent: str = "5", sequence: int = 1,
                    end_on_exit: bool = False) -> dict[str, str]:
    return {"ConferenceSid": "CF" + "6" * 32, "FriendlyName": f"agent-{agent}", "StatusCallbackEvent": event,
            "CallSid": call_sid, "SequenceNumber": str(sequence), "Coaching": "false",
            "EndConferenceOnExit": "true" if end_on_exit else "false", "Muted": "false", "Hold": "false"}


def test_agent_legs_log_the_agent_in_and_out_and_a_customer_joining_is_the_bridge(
    app: Flask, campaign_id: int
) -> None:
    urls = WebhookUrls(BASE, campaign_id)
    client = app.test_client()

    room = post(client, urls.voice_agent("5"), {"CallSid": AGENT_LEG, "From": "client:agent5"})
    conference = ET.fromstring(room.data).find("Dial/Conference")
    assert conference is not None and conference.text == "agent-5"
    assert conference.attrib["endConferenceOnExit"] == "true"
    assert conference.attrib["waitUrl"] == ""
    assert conference.attrib["statusCallback"] == urls.conference(agent_id="5")

    cb = urls.conference(agent_id="5")
    assert post(client, cb, conference_form("conference-start", AGENT_LEG)).status_code == 204
    assert post(client, cb, conference_form("participant-join", AGENT_LEG, sequence=2)).status_code == 204
    assert post(client, cb, conference_form("participant-join", SID, sequence=3)).status_code == 204
    assert post(client, cb, conference_form("participant-leave", SID, sequence=4)).status_code == 204
    assert post(client, cb, conference_form("participant-leave", AGENT_LEG, sequence=5)).status_code == 204

    assert commands(app, campaign_id) == [Command("login", "5", {}), Command("logout", "5", {})]
    [bridged] = events(app, campaign_id)
    assert (bridged.call_sid, bridged.kind, bridged.detail) == (SID, CarrierEventKind.BRIDGED, "5")
    assert bridged.sequence > AMD_SEQUENCE


def test_an_agent_leg_the_web_app_did_not_see_is_known_by_ending_the_room_on_exit(
    app: Flask, campaign_id: int
) -> None:
    cb = WebhookUrls(BASE, campaign_id).conference(agent_id="8")
    post(app.test_client(), cb, conference_form("participant-join", AGENT_LEG, agent="8", end_on_exit=True))

    assert commands(app, campaign_id) == [Command("login", "8", {})]
    assert events(app, campaign_id) == []


def test_supervisor_legs_and_rooms_that_are_not_ours_publish_nothing(app: Flask, campaign_id: int) -> None:
    cb = WebhookUrls(BASE, campaign_id).conference(agent_id="5")
    client = app.test_client()
    post(client, cb, {**conference_form("participant-join", SID), "Coaching": "true"})
    post(client, cb, {**conference_form("participant-join", SID), "FriendlyName": "standup"})

    assert events(app, campaign_id) == [] and commands(app, campaign_id) == []


def test_the_answered_customer_is_held_in_silence_and_asked_again_until_the_engine_redirects(
    app: Flask, campaign_id: int
) -> None:
    urls = WebhookUrls(BASE, campaign_id)
    response = post(app.test_client(), urls.voice_customer("c1-1-1"), status_form("in-progress", 2))

    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    document = ET.fromstring(response.data)
    assert [child.tag for child in document] == ["Pause", "Redirect"]
    assert int(document[0].attrib["length"]) <= 2
    assert document[1].text == urls.voice_customer("c1-1-1", 1)
    assert events(app, campaign_id) == []


def test_a_customer_left_on_hold_by_a_missing_dialer_hears_the_drop_message_with_its_opt_out(
    app: Flask, campaign_id: int
) -> None:
    urls = WebhookUrls(BASE, campaign_id)
    response = post(app.test_client(), urls.voice_customer("c1-1-1", HOLD_STEPS_LIMIT), status_form("in-progress", 2))

    document = ET.fromstring(response.data)
    assert [child.tag for child in document] == ["Gather", "Hangup"]
    assert document[0].attrib["action"] == urls.optout("c1-1-1")
    said = document[0].find("Say")
    assert said is not None and "press 9" in (said.text or "").lower()


def listed(database_url: str) -> list[dnc_store.ListedEntry]:
    engine = db.make_engine(database_url)
    with db.make_session_factory(engine)() as session:
        entries = dnc_store.list_entries(session)
    engine.dispose()
    return entries


def test_pressing_the_opt_out_key_puts_the_called_number_on_the_company_dnc_list(
    app: Flask, campaign_id: int, database_url: str
) -> None:
    url = WebhookUrls(BASE, campaign_id).optout("c1-1-1")
    response = post(app.test_client(), url, {**status_form("in-progress", 2), "Digits": "9"})

    assert response.status_code == 200
    document = ET.fromstring(response.data)
    assert [child.tag for child in document] == ["Say", "Hangup"]
    [entry] = listed(database_url)
    assert (entry.e164, entry.campaign_id, entry.reason, entry.source) == (CUSTOMER, None, "key-press opt-out",
                                                                         "keypress")
    engine = db.make_engine(database_url)
    with db.make_session_factory(engine)() as session:
        [change] = dnc_store.changes(session, phone=CUSTOMER)
        assert SID in change.evidence
    engine.dispose()


def test_another_key_on_the_drop_message_just_hangs_up(app: Flask, campaign_id: int, database_url: str) -> None:
    url = WebhookUrls(BASE, campaign_id).optout("c1-1-1")
    response = post(app.test_client(), url, {**status_form("in-progress", 2), "Digits": "3"})

    assert [child.tag for child in ET.fromstring(response.data)] == ["Hangup"]
    assert listed(database_url) == []


def inbound_form(digits: str | None = None) -> dict[str, str]:
    form = {"CallSid": "CA" + "7" * 32, "From": CUSTOMER, "To": "+12015550199", "Direction": "inbound",
            "CallStatus": "ringing"}
    if digits is not None:
        form["Digits"] = digits
    return form


def test_a_call_back_to_the_caller_id_hears_a_menu_to_reach_us_or_stop_the_calls(
    app: Flask, campaign_id: int
) -> None:
    response = post(app.test_client(), f"{BASE}/twilio/inbound", inbound_form())

    document = ET.fromstring(response.data)
    gather = document.find("Gather")
    assert gather is not None
    assert gather.attrib["action"] == WebhookUrls(BASE, campaign_id).inbound()
    said = (gather.findtext("Say") or "").lower()
    assert "acme" in said and "press 1" in said and "press 9" in said


def test_pressing_9_on_the_call_back_menu_puts_the_caller_on_the_company_dnc_list(
    app: Flask, campaign_id: int, database_url: str
) -> None:
    response = post(app.test_client(), WebhookUrls(BASE, campaign_id).inbound(), inbound_form("9"))

    assert response.status_code == 200
    [entry] = listed(database_url)
    assert (entry.e164, entry.reason) == (CUSTOMER, "key-press opt-out")


def test_pressing_1_reaches_an_agent_alone_in_their_room_and_pauses_them_for_the_engine(
    app: Flask, campaign_id: int
) -> None:
    urls = WebhookUrls(BASE, campaign_id)
    client = app.test_client()
    busy = post(client, urls.inbound(), inbound_form("1"))
    assert [child.tag for child in ET.fromstring(busy.data)] == ["Say", "Hangup"]  # nobody in a room yet

    post(client, urls.voice_agent("5"), {"CallSid": AGENT_LEG})
    post(client, urls.conference(agent_id="5"), conference_form("participant-join", AGENT_LEG))
    reached = post(client, urls.inbound(), inbound_form("1"))

    room = ET.fromstring(reached.data).find("Dial/Conference")
    assert room is not None and room.text == "agent-5"
    assert commands(app, campaign_id)[-1] == Command("pause", "5", {"reason": "inbound call"})
    inbound_sid = inbound_form()["CallSid"]
    post(client, urls.conference(agent_id="5"), conference_form("participant-join", inbound_sid, sequence=3))
    post(client, urls.conference(agent_id="5"), conference_form("participant-leave", inbound_sid, sequence=4))
    assert events(app, campaign_id) == []  # the engine placed no such call: no bridge to report
    assert commands(app, campaign_id)[-1] == Command("set_ready", "5", {"reason": "inbound call ended"})
