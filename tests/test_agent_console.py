"""The agent console: state commands, the pushed call picture, dispositions and callbacks, end to end."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from campaigns import surveys
from campaigns.agent_view import ConsoleInputError, callback_to_utc, merge_script, read_disposition
from campaigns.live_dialer import agents_key, live_key
from campaigns.live_events import read_commands
from campaigns.models import (
    Agent,
    CallAttempt,
    Campaign,
    Contact,
    ContactList,
    ContactPhone,
    DispositionCode,
    DncEntry,
)
from campaigns.services import create_campaign, pause_campaign, start_campaign
from campaigns.survey_models import QuestionnaireVersion, SurveyAnswer, SurveyResponse
from dialer.calls import Call
from dialer.outcomes import RetryPolicy
from tests.test_questionnaire import POLL
from tests.test_surveys import KEYPAD_POLL
from tests.web_support import WebRig, csrf_token, make_rig
from web import resources

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
DEFAULT_CODES = [{"code": "SALE", "adds_to_dnc": False}, {"code": "CB", "adds_to_dnc": False},
                 {"code": "DNC", "adds_to_dnc": True}]


# ------------------------------------------------------------------------------------------ set-up


def redis_of(rig: WebRig) -> Any:
    with rig.app.app_context():
        return resources().redis


def new_campaign(rig: WebRig, *, active: bool = True, script: str = "") -> int:
    with rig.sessions()() as session, session.begin():
        campaign = create_campaign(session, name=f"Spring {uuid.uuid4().hex[:6]}", caller_id="+12125550100",
                                   calling_window="00:00-23:59")
        campaign.script = script
        if active:
            start_campaign(session, campaign)
        session.flush()
        return campaign.id


def new_contact(rig: WebRig, campaign_id: int, *, zone: str = "America/Chicago",
                custom: dict[str, Any] | None = None, e164: str = "+13125550142") -> tuple[int, int]:
    """A contact with one phone in ``zone``; returns (contact id, phone id)."""
    with rig.sessions()() as session, session.begin():
        contact_list = ContactList(campaign_id=campaign_id, name="November leads")
        session.add(contact_list)
        session.flush()
        contact = Contact(campaign_id=campaign_id, list_id=contact_list.id, first_name="Dana", last_name="Whitfield",
                          state="IL", email="dana@example.com", custom_fields=custom or {}, status="in_call",
                          attempts=2)
        phone = ContactPhone(campaign_id=campaign_id, e164=e164, timezones=[zone])
        contact.phones.append(phone)
        session.add(contact)
        session.flush()
        return contact.id, phone.id


def add_attempt(rig: WebRig, campaign_id: int, contact_id: int, phone_id: int, number: int, **values: Any) -> int:
    with rig.sessions()() as session, session.begin():
        attempt = CallAttempt(campaign_id=campaign_id, contact_id=contact_id, phone_id=phone_id, e164="+13125550142",
                              attempt_number=number, queued_at=NOW - timedelta(days=3 - number), **values)
        session.add(attempt)
        session.flush()
        return attempt.id


def set_agent(rig: WebRig, campaign_id: int, state: str, *, call_id: str | None = None,
              reason: str | None = None, agent: str = "alice") -> None:
    client = redis_of(rig)
    client.hset(agents_key(campaign_id), agent, json.dumps(
        {"state": state, "since": 1_764_600_000.0, "call_id": call_id, "pause_reason": reason, "bot": False}))


def commands(rig: WebRig, campaign_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    return [(c.name, c.agent_id, dict(c.args)) for _, c in read_commands(redis_of(rig), campaign_id)]


def post(client: FlaskClient, url: str, body: dict[str, Any]) -> Any:
    token = csrf_token(client, "/agent")
    return client.post(url, json=body, headers={"X-CSRFToken": token, "Accept": "application/json"})


def sse_events(response: Any) -> Iterator[tuple[str, Any]]:
    """(event, data) pairs of a streamed response, comments as ("comment", text), read as they come."""
    buffer = ""
    for chunk in response.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            if block.startswith(":"):
                yield "comment", block[1:].strip()
                continue
            fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
            if "event" in fields:
                yield fields["event"], json.loads(fields["data"])


@pytest.fixture
def rig(tmp_path: Any) -> Iterator[WebRig]:
    rig = make_rig(tmp_path, AGENT_EVENTS_POLL_S=0.01, AGENT_EVENTS_LIFETIME_S=5.0, AGENT_EVENTS_ASSIST_S=0.02)
    yield rig
    with rig.app.app_context():
        resources().engine.dispose()


# ------------------------------------------------------------------------------------------ state


def test_an_agent_who_goes_ready_pauses_and_logs_out_publishes_the_engine_commands(rig: WebRig) -> None:
    cid = new_campaign(rig)
    alice = rig.client("agent")

    assert post(alice, "/agent/state", {"campaign_id": cid, "action": "ready"}).status_code == 200
    set_agent(rig, cid, "ready")
    assert post(alice, "/agent/state", {"action": "pause", "reason": "lunch"}).status_code == 200  # campaign remembered
    set_agent(rig, cid, "paused", reason="lunch")
    assert post(alice, "/agent/state", {"action": "ready"}).status_code == 200
    assert post(alice, "/agent/state", {"action": "logout"}).status_code == 200

    assert commands(rig, cid) == [
        ("login", "alice", {"ready": True}),
        ("pause", "alice", {"reason": "lunch"}),
        ("set_ready", "alice", {}),
        ("logout", "alice", {}),
    ]


def test_an_agent_who_pauses_while_offline_logs_in_paused(rig: WebRig) -> None:
    cid = new_campaign(rig)

    response = post(rig.client("agent"), "/agent/state", {"campaign_id": cid, "action": "pause", "reason": "training"})

    assert response.status_code == 200
    assert commands(rig, cid) == [("login", "alice", {"ready": False})]


def test_an_agent_who_switches_campaigns_is_logged_out_of_the_last_one_first(rig: WebRig) -> None:
    first, second = new_campaign(rig), new_campaign(rig)
    alice = rig.client("agent")
    post(alice, "/agent/state", {"campaign_id": first, "action": "ready"})

    post(alice, "/agent/state", {"campaign_id": second, "action": "ready"})

    assert commands(rig, first) == [("login", "alice", {"ready": True}), ("logout", "alice", {})]
    assert commands(rig, second) == [("login", "alice", {"ready": True})]


def test_an_agent_on_a_call_cannot_pause_and_bad_state_requests_name_their_field(rig: WebRig) -> None:
    cid = new_campaign(rig)
    paused = new_campaign(rig)
    with rig.sessions()() as session, session.begin():
        pause_campaign(session, session.get_one(Campaign, paused))
    alice = rig.client("agent")
    set_agent(rig, cid, "on_call", call_id=f"c{cid}-1-1")

    on_call = post(alice, "/agent/state", {"campaign_id": cid, "action": "pause"})
    bad_reason = post(alice, "/agent/state", {"campaign_id": cid, "action": "pause", "reason": "nap"})
    bad_action = post(alice, "/agent/state", {"campaign_id": cid, "action": "dance"})
    not_active = post(alice, "/agent/state", {"campaign_id": paused, "action": "ready"})
    no_campaign = post(rig.client("agent"), "/agent/state", {"action": "ready"})
    junk_campaign = post(alice, "/agent/state", {"campaign_id": "x", "action": "ready"})

    assert (on_call.status_code, on_call.get_json()["field"]) == (409, "action")
    assert (bad_reason.status_code, bad_reason.get_json()["field"]) == (400, "reason")
    assert (bad_action.status_code, bad_action.get_json()["field"]) == (400, "action")
    assert (not_active.status_code, not_active.get_json()["field"]) == (400, "campaign_id")
    assert "paused" in not_active.get_json()["error"]
    assert (no_campaign.status_code, no_campaign.get_json()["field"]) == (400, "campaign_id")
    assert (junk_campaign.status_code, junk_campaign.get_json()["field"]) == (400, "campaign_id")
    assert commands(rig, cid) == []


def test_the_console_is_for_agents_only(rig: WebRig) -> None:
    cid = new_campaign(rig)
    for role in ("supervisor", "compliance", "admin"):
        client = rig.client(role)
        assert client.get("/agent").status_code == 403
        assert client.get(f"/agent/events?campaign_id={cid}").status_code == 403
        token = csrf_token(client, "/account")
        refused = client.post("/agent/state", json={"campaign_id": cid, "action": "ready"},
                              headers={"X-CSRFToken": token, "Accept": "application/json"})
        assert refused.status_code == 403
    assert rig.client().get("/agent").status_code == 302  # to the sign-in page
    assert commands(rig, cid) == []


def test_the_console_page_lists_active_campaigns_shortcuts_and_simulated_audio(rig: WebRig) -> None:
    cid = new_campaign(rig)
    draft = new_campaign(rig, active=False)

    page = rig.client("agent").get("/agent").get_data(as_text=True)

    assert f'<option value="{cid}" selected' in page  # the only active campaign is chosen already
    assert f'<option value="{draft}"' not in page
    assert "Audio: simulated" in page
    assert "<kbd>1</kbd>" in page and "<kbd>R</kbd>" in page and "<kbd>P</kbd>" in page
    assert 'name="csrf_token"' in page
    assert "agent.js" in page


def test_on_twilio_the_console_carries_a_ticket_the_softphone_endpoint_accepts(tmp_path: Any) -> None:
    from campaigns.settings import Settings

    rig = make_rig(tmp_path, DIALER_SETTINGS=Settings(carrier="twilio"))
    new_campaign(rig)
    page = rig.client("agent").get("/agent").get_data(as_text=True)
    ticket = page.split('data-ticket="', 1)[1].split('"', 1)[0]

    answer = rig.app.test_client().post("/agent/softphone-token", headers={"Authorization": f"Bearer {ticket}"})

    assert ticket and "Audio: simulated" not in page
    assert answer.status_code == 503  # the ticket was good; only the Twilio keys are missing here
    assert answer.get_json()["field"] == "TWILIO_ACCOUNT_SID"


# ------------------------------------------------------------------------------------------ the push


SCRIPT = ("Hi {first_name}, this is {agent_name} from {campaign}.\n"
          "I see you're on the {Plan Name} plan and pay {amount}. Your {favourite_colour} is noted.")


def call_setup(rig: WebRig, *, zone: str = "America/Chicago") -> tuple[int, int, int, str]:
    """A campaign with a contact on a call (attempt 3), two earlier attempts, one with notes; the agent on it."""
    cid = new_campaign(rig, script=SCRIPT)
    contact_id, phone_id = new_contact(rig, cid, zone=zone,
                                       custom={"Plan Name": "Gold <b>Plus</b>", "amount": "$42", "vip": "yes"})
    with rig.sessions()() as session, session.begin():
        agent = Agent(login="bob", name="Bob Marsh")
        session.add(agent)
        session.flush()
        bob = agent.id
    add_attempt(rig, cid, contact_id, phone_id, 1, disposition="NA", ended_at=NOW - timedelta(days=2))
    add_attempt(rig, cid, contact_id, phone_id, 2, disposition="CB", agent_id=bob, talk_s=95.4,
                notes="Wants to talk after payday", connected_at=NOW - timedelta(days=1), ended_at=NOW)
    attempt_id = add_attempt(rig, cid, contact_id, phone_id, 3, connected_at=NOW)
    call_id = f"c{cid}-{contact_id}-3"
    set_agent(rig, cid, "on_call", call_id=call_id)
    return cid, contact_id, attempt_id, call_id


def test_the_event_stream_pushes_the_call_with_contact_history_and_merged_script(rig: WebRig) -> None:
    cid, contact_id, attempt_id, call_id = call_setup(rig)
    response = rig.client("agent").get(f"/agent/events?campaign_id={cid}", buffered=False)
    assert response.mimetype == "text/event-stream"

    seen = sse_events(response)
    state = next(data for event, data in seen if event == "state")
    call = next(data for event, data in seen if event == "call")
    response.close()

    assert (state["state"], state["call_id"]) == ("on_call", call_id)
    assert call["attempt_id"] == attempt_id
    contact = call["contact"]
    assert contact["name"] == "Dana Whitfield" and contact["id"] == contact_id
    assert contact["phone"] == "+1 312-555-0142" and contact["time_zone"] == "America/Chicago"
    assert contact["local_time"] and contact["list"] == "November leads" and contact["state"] == "IL"
    assert contact["custom_fields"]["Plan Name"] == "Gold <b>Plus</b>"
    assert [h["attempt"] for h in call["history"]] == [2, 1]  # earlier attempts only, newest first
    expected = {"agent": "Bob Marsh", "disposition": "CB", "disposition_label": "Call back",
                "notes": "Wants to talk after payday", "talk_s": 95}
    assert {k: call["history"][0][k] for k in expected} == expected
    script = call["script_html"]
    assert "Hi <span class=\"merge\" title=\"first_name\">Dana</span>, this is" in script
    assert ">Alice</span> from <span" in script
    assert "Gold &lt;b&gt;Plus&lt;/b&gt;" in script and "<b>" not in script  # escaped, never live HTML
    assert ">$42</span>" in script
    assert "{favourite_colour}" in script and "merge missing" in script  # unknown fields stay visible
    assert "<br>" in script
    codes = [c["code"] for c in call["dispositions"]]
    assert codes[:5] == ["SALE", "NI", "CB", "DNC", "WRONG"] and "DROP" not in codes
    assert next(c for c in call["dispositions"] if c["code"] == "DNC")["adds_to_dnc"] is True


def test_the_event_stream_follows_state_changes_and_clears_the_call_when_it_is_closed(rig: WebRig) -> None:
    cid = new_campaign(rig)
    response = rig.client("agent").get(f"/agent/events?campaign_id={cid}", buffered=False)
    seen = sse_events(response)

    first = next(data for event, data in seen if event == "state")
    redis_of(rig).hset(live_key(cid), "running", "1")
    set_agent(rig, cid, "paused", reason="meeting")
    second = next(data for event, data in seen if event == "state")
    response.close()

    assert (first["state"], first["dialer_running"]) == ("offline", False)
    assert (second["state"], second["pause_reason"], second["dialer_running"]) == ("paused", "meeting", True)


def test_the_event_stream_ends_after_its_lifetime_with_heartbeats_meanwhile(tmp_path: Any) -> None:
    rig = make_rig(tmp_path, AGENT_EVENTS_POLL_S=0.01, AGENT_EVENTS_LIFETIME_S=0.3, AGENT_EVENTS_HEARTBEAT_S=0.05)
    cid = new_campaign(rig)

    events = list(sse_events(rig.client("agent").get(f"/agent/events?campaign_id={cid}", buffered=False)))

    assert [e for e, _ in events].count("state") == 1  # nothing changed: one state, then only heartbeats
    assert ("comment", "still here") in events


def test_the_event_stream_wants_a_campaign(rig: WebRig) -> None:
    response = rig.client("agent").get("/agent/events", headers={"Accept": "application/json"})

    assert (response.status_code, response.get_json()["field"]) == (409, "campaign_id")


def test_a_call_closed_by_the_dialer_is_taken_off_the_screen(rig: WebRig) -> None:
    cid, _, _, _ = call_setup(rig)
    response = rig.client("agent").get(f"/agent/events?campaign_id={cid}", buffered=False)
    seen = sse_events(response)
    next(data for event, data in seen if event == "call")

    set_agent(rig, cid, "ready")
    following = [pair for pair, _ in zip((p for p in seen if p[0] != "assist"), range(2), strict=False)]
    response.close()

    assert [e for e, _ in following] == ["state", "call_closed"]
    assert following[0][1]["state"] == "ready"


# ------------------------------------------------------------------------------------------ dispositions


def test_a_disposition_on_a_live_call_hangs_up_first_and_converts_the_callback_to_utc(rig: WebRig) -> None:
    cid, _, attempt_id, _ = call_setup(rig, zone="America/Chicago")
    alice = rig.client("agent")

    response = post(alice, "/agent/disposition", {
        "campaign_id": cid, "code": "CB", "notes": "Call after 10, ask for Dana", "callback_at": "2027-01-15T10:00",
        "dnc": False, "then_pause": "lunch"})

    assert response.status_code == 200, response.get_json()
    expected = datetime(2027, 1, 15, 16, 0, tzinfo=UTC)  # 10:00 CST is 16:00 UTC
    assert response.get_json()["callback_at"] == expected.isoformat()
    assert response.get_json()["attempt_id"] == attempt_id
    assert commands(rig, cid) == [
        ("hangup", "alice", {"wrap": True}),
        ("wrap_done", "alice", {"disposition": "CB", "notes": "Call after 10, ask for Dana",
                                "callback_at": expected.timestamp(), "dnc": False, "then_pause": "lunch"}),
    ]


def test_a_disposition_in_wrap_up_only_closes_the_call_and_carries_a_dnc_request(rig: WebRig) -> None:
    cid, _, _, call_id = call_setup(rig)
    set_agent(rig, cid, "wrap_up", call_id=call_id)

    response = post(rig.client("agent"), "/agent/disposition", {"campaign_id": cid, "code": "NI", "dnc": True})

    assert response.status_code == 200
    assert commands(rig, cid) == [("wrap_done", "alice", {"disposition": "NI", "notes": "", "callback_at": None,
                                                          "dnc": True, "then_pause": None})]


def test_a_disposition_with_an_unknown_code_a_past_callback_or_no_call_is_refused_naming_the_field(
    rig: WebRig,
) -> None:
    cid, _, _, _ = call_setup(rig)
    alice = rig.client("agent")
    yesterday = (datetime.now(ZoneInfo("America/Chicago")) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    unknown = post(alice, "/agent/disposition", {"campaign_id": cid, "code": "MAYBE"})
    past = post(alice, "/agent/disposition", {"campaign_id": cid, "code": "CB", "callback_at": yesterday})
    garbled = post(alice, "/agent/disposition", {"campaign_id": cid, "code": "CB", "callback_at": "next tuesday"})
    dnc_and_callback = post(alice, "/agent/disposition",
                            {"campaign_id": cid, "code": "DNC", "callback_at": "2027-01-15T10:00"})
    bad_flag = post(alice, "/agent/disposition", {"campaign_id": cid, "code": "NI", "dnc": "perhaps"})
    bad_pause = post(alice, "/agent/disposition", {"campaign_id": cid, "code": "NI", "then_pause": "nap"})
    set_agent(rig, cid, "ready")
    no_call = post(alice, "/agent/disposition", {"campaign_id": cid, "code": "NI"})

    assert (unknown.status_code, unknown.get_json()["field"]) == (400, "code")
    assert "MAYBE" in unknown.get_json()["error"]
    assert (past.status_code, past.get_json()["field"]) == (400, "callback_at")
    assert "passed" in past.get_json()["error"]
    assert (garbled.status_code, garbled.get_json()["field"]) == (400, "callback_at")
    assert (dnc_and_callback.status_code, dnc_and_callback.get_json()["field"]) == (400, "callback_at")
    assert (bad_flag.status_code, bad_flag.get_json()["field"]) == (400, "dnc")
    assert (bad_pause.status_code, bad_pause.get_json()["field"]) == (400, "then_pause")
    assert (no_call.status_code, no_call.get_json()["field"]) == (409, "code")
    assert commands(rig, cid) == []


def test_hang_up_publishes_a_hangup_with_wrap_only_on_a_call(rig: WebRig) -> None:
    cid, _, _, _ = call_setup(rig)
    alice = rig.client("agent")

    first = post(alice, "/agent/hangup", {"campaign_id": cid})
    set_agent(rig, cid, "ready")
    second = post(alice, "/agent/hangup", {"campaign_id": cid})

    assert first.status_code == 200 and second.status_code == 409
    assert commands(rig, cid) == [("hangup", "alice", {"wrap": True})]


# ------------------------------------------------------------------------------------------ time zones


@pytest.mark.parametrize(("local", "zone", "utc"), [
    ("2026-03-07T09:00", "America/New_York", "2026-03-07T14:00"),  # EST, the day before clocks go forward
    ("2026-03-09T09:00", "America/New_York", "2026-03-09T13:00"),  # EDT, the day after
    ("2026-03-20T10:00", "Europe/London", "2026-03-20T10:00"),  # Europe moves three weeks later: still GMT
    ("2026-03-20T10:00", "America/Los_Angeles", "2026-03-20T17:00"),  # while Los Angeles is on PDT already
    ("2026-11-01T01:30", "America/Chicago", "2026-11-01T06:30"),  # happens twice: the first (CDT) one
    ("2026-07-01T09:00", "America/Phoenix", "2026-07-01T16:00"),  # Arizona keeps standard time all summer
    ("2026-12-24T18:00", "Australia/Sydney", "2026-12-24T07:00"),  # southern summer: AEDT, UTC+11
])
def test_a_callback_time_is_read_on_the_contacts_own_clock_across_dst(local: str, zone: str, utc: str) -> None:
    before = datetime(2026, 1, 1, tzinfo=UTC)

    assert callback_to_utc(local, zone, before) == datetime.fromisoformat(utc).replace(tzinfo=UTC)


def test_a_callback_in_the_hour_the_clocks_skip_is_refused() -> None:
    with pytest.raises(ConsoleInputError) as refused:
        callback_to_utc("2026-03-08T02:30", "America/New_York", datetime(2026, 1, 1, tzinfo=UTC))

    assert refused.value.field == "callback_at"
    assert "does not exist" in refused.value.message


def test_a_callback_that_is_past_on_the_contacts_clock_is_refused_though_it_is_future_on_ours() -> None:
    now = datetime(2026, 12, 1, 20, 30, tzinfo=UTC)  # 14:30 in Chicago, 12:30 in Los Angeles

    with pytest.raises(ConsoleInputError, match="has passed"):
        callback_to_utc("2026-12-01T14:00", "America/Chicago", now)
    assert callback_to_utc("2026-12-01T14:00", "America/Los_Angeles", now) == datetime(2026, 12, 1, 22, 0, tzinfo=UTC)


def test_a_callback_needs_a_known_zone_a_plain_local_time_and_a_date_within_a_year() -> None:
    for text, zone in (("2026-12-02T10:00", "Mars/Olympus"), ("2026-12-02T10:00+01:00", "Europe/Paris"),
                       ("2028-01-01T10:00", "Europe/Paris"), ("", "Europe/Paris"), (None, "Europe/Paris")):
        with pytest.raises(ConsoleInputError) as refused:
            callback_to_utc(text, zone, NOW)
        assert refused.value.field == "callback_at"
    with pytest.raises(ConsoleInputError, match="time zone is unknown"):
        read_disposition({"code": "CB", "callback_at": "2026-12-02T10:00"}, DEFAULT_CODES, None, NOW)


def test_a_script_escapes_what_it_merges_and_finds_custom_fields_by_name() -> None:
    html = merge_script("<i>Hello</i> {First_Name} — {plan name} / {plan-name} / {nothing} / {}",
                        {"first_name": "Ann & Co", "plan_name": "Gold"})

    assert html.startswith("&lt;i&gt;Hello&lt;/i&gt; ")
    assert '<span class="merge" title="First_Name">Ann &amp; Co</span>' in html
    assert html.count(">Gold</span>") == 2
    assert "{nothing}</span>" in html and html.endswith(" / {}")


# ------------------------------------------------------------------------------------------ the recorder


def test_the_recorder_keeps_notes_sets_the_callback_and_lists_a_number_whose_owner_asked(rig: WebRig) -> None:
    from campaigns.db import make_engine
    from campaigns.store import SqlRecorder

    cid, contact_id, attempt_id, call_id = call_setup(rig)
    other_id, other_phone = new_contact(rig, cid, e164="+13125550199")
    other_attempt = add_attempt(rig, cid, other_id, other_phone, 1)
    db = make_engine(rig.database_url)
    recorder = SqlRecorder(db, cid, RetryPolicy(5, (60,)))
    callback = datetime(2027, 2, 1, 15, 0, tzinfo=UTC).timestamp()
    ended = NOW.timestamp()

    for contact, attempt, number, e164, marks in (
        (contact_id, attempt_id, 3, "+13125550142", {"callback": callback}),
        (other_id, other_attempt, 1, "+13125550199", {"dnc_requested": ended}),
    ):
        call = Call(call_id, cid, contact, e164, attempt_number=number, attempt_id=attempt, agent_id="alice",
                    disposition="NI")
        call.mark("queued", ended - 60)
        call.mark("ended", ended, "completed")
        call.mark("wrap_ended", ended + 5, f"notes of {number}")
        for name, at in marks.items():
            call.mark(name, at)
        recorder.call_finished(call)
    db.dispose()

    with rig.sessions()() as session:
        called_back = session.get_one(Contact, contact_id)
        barred = session.get_one(Contact, other_id)
        assert session.get_one(CallAttempt, attempt_id).notes == "notes of 3"
        assert (called_back.status, called_back.next_eligible_at) == ("callback", datetime.fromtimestamp(callback, UTC))
        assert (barred.status, barred.next_eligible_at) == ("dnc", None)
        entry = session.scalars(select(DncEntry).where(DncEntry.e164 == "+13125550199")).one()
        assert entry.campaign_id is None and entry.source == "agent"
        assert session.scalars(select(DncEntry).where(DncEntry.e164 == "+13125550142")).first() is None


def test_campaign_codes_replace_the_default_set_on_the_console(rig: WebRig) -> None:
    cid, _, _, _ = call_setup(rig)
    with rig.sessions()() as session, session.begin():
        session.add(DispositionCode(campaign_id=cid, code="APPT", label="Appointment set", final=True))
    alice = rig.client("agent")

    refused = post(alice, "/agent/disposition", {"campaign_id": cid, "code": "SALE"})
    taken = post(alice, "/agent/disposition", {"campaign_id": cid, "code": "APPT"})

    assert (refused.status_code, refused.get_json()["field"]) == (400, "code")
    assert taken.status_code == 200


def test_every_console_route_answers_junk_with_a_clear_error_never_a_crash(tmp_path: Any) -> None:
    rig = make_rig(tmp_path, csrf=False, AGENT_EVENTS_LIFETIME_S=0.05)
    alice = rig.client("agent")
    routes = [(rule.rule, sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})[0])
              for rule in rig.app.url_map.iter_rules() if rule.endpoint.startswith("agent.")]

    answers = {(url, method): alice.open(url, method=method, data={}, headers={"Accept": "text/html"}).status_code
               for url, method in routes}

    assert answers == {("/agent", "GET"): 200, ("/agent/state", "POST"): 400, ("/agent/hangup", "POST"): 400,
                       ("/agent/disposition", "POST"): 400, ("/agent/events", "GET"): 409,
                       ("/agent/help", "POST"): 400, ("/agent/help/cancel", "POST"): 400,
                       ("/agent/transfer", "POST"): 400, ("/agent/transfer/complete", "POST"): 400,
                       ("/agent/survey", "GET"): 400, ("/agent/survey/answer", "POST"): 400}


def test_the_engine_carries_a_callback_time_and_a_dnc_request_on_the_closed_call() -> None:
    from tests.engine_support import make_floor

    floor = make_floor()
    floor.engine.login("a1")
    floor.engine.tick()
    floor.carrier.answer("SID1")
    floor.carrier.send("SID1", "bridged")
    floor.carrier.send("SID1", "completed", "completed")
    promised = floor.engine.timers.now() + 86_400.0

    floor.engine.wrap_done("a1", "CB", notes="tomorrow", callback_at=promised, dnc_request=False)
    call = floor.recorder.finished[-1]

    assert call.at("callback") == promised and not call.has("dnc_requested")
    assert call.milestones["wrap_ended"].detail == "tomorrow"
    floor.engine.tick()
    floor.carrier.answer("SID2")
    floor.carrier.send("SID2", "bridged")
    floor.engine.hangup("a1")
    floor.engine.wrap_done("a1", "NI", dnc_request=True)
    floor.carrier.send("SID2", "completed", "completed")
    barred = floor.recorder.finished[-1]
    assert barred.carrier_sid == "SID2" and barred.has("dnc_requested") and not barred.has("callback")


def test_a_malformed_callback_in_a_command_is_dropped_without_stopping_the_dialers_bus(tmp_path: Any) -> None:
    from campaigns.db import make_engine, upgrade
    from campaigns.live_dialer import DialerOptions, DialerProcess
    from campaigns.live_events import Command, publish_command
    from campaigns.redis_conn import connect_redis
    from tests.test_live_dialer import CarrierAtTheBus, make_campaign, run_until

    db = make_engine(f"sqlite:///{tmp_path / 'bus.db'}")
    upgrade(db)
    client = connect_redis(f"memory://console-bus-{uuid.uuid4().hex}")
    cid = make_campaign(db, 1)
    process = DialerProcess(db, client, DialerOptions(lease_s=5.0), carrier_factory=lambda campaign: CarrierAtTheBus())
    for command in (Command("login", "alice", {"ready": False}),
                    Command("wrap_done", "alice", {"disposition": "CB", "callback_at": "tomorrow at ten"}),
                    Command("set_ready", "alice", {})):
        publish_command(client, cid, command)
    try:
        assert run_until([process], lambda: cid in process.runs and process.runs[cid].commands_applied == 3,
                         timeout=5)
        assert process.errors == 0
        assert process.runs[cid].engine.board.get("alice").state.value == "ready"  # type: ignore[union-attr]
    finally:
        process.shutdown()
        db.dispose()


# ------------------------------------------------------------------------------------------ end to end

# A world where every dial is a person who answers at once and talks for longer than the test lasts.
ALWAYS_A_PERSON = {
    "name": "console", "p_human": 1.0, "p_machine": 0.0, "p_busy": 0.0, "p_invalid": 0.0, "cps": 5,
    "amd_human_as_machine": 0.0, "talk_mean_s": 600, "talk_cv": 0.0, "ring_median_s": 1, "ring_p90_s": 2,
    "amd_s": [0.3, 0.6], "setup_s": [0.1, 0.2], "wrap_fixed_s": 0.5, "wrap_exp_mean_s": 0.5,
}


def test_an_agent_takes_a_real_dialer_call_through_the_web_and_the_disposition_reaches_the_records(
    tmp_path: Any,
) -> None:
    from campaigns.db import make_engine
    from campaigns.live_dialer import DialerOptions, DialerProcess
    from campaigns.redis_conn import connect_redis
    from dialer.simulation.scenario import parse_scenario
    from tests.test_live_dialer import lawful_numbers, run_until

    numbers = lawful_numbers(3)
    rig = make_rig(tmp_path, AGENT_EVENTS_POLL_S=0.02, AGENT_EVENTS_LIFETIME_S=5.0)
    cid = new_campaign(rig)
    with rig.sessions()() as session, session.begin():
        contact_list = ContactList(campaign_id=cid, name="Live list")
        session.add(contact_list)
        session.flush()
        for i in range(3):
            contact = Contact(campaign_id=cid, list_id=contact_list.id, first_name=f"Pat{i}", last_name="Doyle",
                              state=numbers.state)
            contact.phones.append(ContactPhone(campaign_id=cid, e164=numbers.e164(i), timezones=[numbers.zone]))
            session.add(contact)
    db = make_engine(rig.database_url)
    client = connect_redis(rig.app.config["REDIS_URL"])  # the same in-process server as the web app's
    process = DialerProcess(db, client, DialerOptions(campaign_ids=(cid,), lease_s=5.0,
                                                      scenario=parse_scenario(ALWAYS_A_PERSON)))
    alice = rig.client("agent")

    def alice_now() -> dict[str, Any]:
        raw = client.hget(agents_key(cid), "alice")
        return json.loads(raw) if raw else {}

    def closed() -> CallAttempt | None:
        with rig.sessions()() as session:
            return session.scalars(select(CallAttempt).where(
                CallAttempt.campaign_id == cid, CallAttempt.wrap_ended_at.is_not(None))).first()

    try:
        assert post(alice, "/agent/state", {"campaign_id": cid, "action": "ready"}).status_code == 200
        assert run_until([process], lambda: alice_now().get("state") == "on_call", timeout=20), alice_now()
        call_id = alice_now()["call_id"]

        stream = alice.get(f"/agent/events?campaign_id={cid}", buffered=False)
        view = next(data for event, data in sse_events(stream) if event == "call")
        stream.close()
        zone = ZoneInfo(numbers.zone)
        tomorrow = (datetime.now(zone) + timedelta(days=1)).replace(hour=11, minute=0, second=0, microsecond=0)
        answer = post(alice, "/agent/disposition", {
            "campaign_id": cid, "code": "CB", "notes": "Asked for a call tomorrow at eleven",
            "callback_at": tomorrow.strftime("%Y-%m-%dT%H:%M"), "then_pause": "break"})
        assert answer.status_code == 200, answer.get_json()
        assert run_until([process], lambda: closed() is not None and alice_now().get("state") == "paused",
                         timeout=10)
    finally:
        process.shutdown()
        db.dispose()

    assert view["call_id"] == call_id and view["contact"]["name"].endswith("Doyle")
    assert view["contact"]["time_zone"] == numbers.zone
    with rig.sessions()() as session:
        attempt = session.scalars(select(CallAttempt).where(CallAttempt.wrap_ended_at.is_not(None))).one()
        contact = session.get_one(Contact, attempt.contact_id)
        agent = session.get_one(Agent, attempt.agent_id)
        assert attempt.id == view["attempt_id"]
        assert (attempt.disposition, attempt.notes) == ("CB", "Asked for a call tomorrow at eleven")
        assert attempt.connected_at is not None and attempt.ended_at is not None  # hung up by the console
        assert agent.login == "alice"
        assert contact.status == "callback"
        assert contact.next_eligible_at == tomorrow.astimezone(UTC)
    assert alice_now()["pause_reason"] == "break"


# ------------------------------------------------------------------------------------------ help and transfers


def assist_where(seen: Iterator[tuple[str, Any]], condition: Any) -> dict[str, Any]:
    """The first pushed help-and-transfer picture that satisfies ``condition``."""
    return next(data for event, data in seen if event == "assist" and condition(data))


def add_agent_user(rig: WebRig, username: str, display_name: str) -> FlaskClient:
    from campaigns import accounts
    from tests.web_support import PASSWORD, sign_in

    with rig.sessions()() as session, session.begin():
        accounts.create_user(session, username, PASSWORD, "agent", display_name=display_name)
    client = rig.app.test_client()
    sign_in(client, username)
    return client


def test_an_agent_who_asks_for_help_is_on_the_floor_and_sees_the_request_until_a_supervisor_closes_it(
    rig: WebRig,
) -> None:
    from campaigns.supervision import help_done, open_help_requests

    cid, _, _, _ = call_setup(rig)
    alice = rig.client("agent")
    stream = alice.get(f"/agent/events?campaign_id={cid}", buffered=False)
    seen = sse_events(stream)
    assert assist_where(seen, lambda a: True)["help"] is None

    answer = post(alice, "/agent/help", {"campaign_id": cid, "note": "  customer   wants a   manager "})
    shown = assist_where(seen, lambda a: a["help"] is not None)
    requests = open_help_requests(redis_of(rig), cid)
    help_done(redis_of(rig), cid, "alice", by="sam")
    closed = assist_where(seen, lambda a: a["help"] is None)
    stream.close()

    assert answer.status_code == 200
    assert [(r.agent_id, r.note) for r in requests] == [("alice", "customer wants a manager")]
    assert shown["help"] == {"note": "customer wants a manager", "at": requests[0].at}
    assert closed["help"] is None
    assert [(name, agent) for name, agent, _ in commands(rig, cid)] == [("help_request", "alice"),
                                                                       ("help_done", "alice")]


def test_an_agent_may_withdraw_a_help_request_and_a_note_too_long_is_refused_naming_the_note(rig: WebRig) -> None:
    from campaigns.supervision import open_help_requests

    cid = new_campaign(rig)
    alice = rig.client("agent")

    too_long = post(alice, "/agent/help", {"campaign_id": cid, "note": "x" * 501})
    not_text = post(alice, "/agent/help", {"campaign_id": cid, "note": ["help"]})
    asked = post(alice, "/agent/help", {"campaign_id": cid})
    withdrawn = post(alice, "/agent/help/cancel", {"campaign_id": cid})
    again = post(alice, "/agent/help/cancel", {"campaign_id": cid})

    assert (too_long.status_code, too_long.get_json()["field"]) == (400, "note")
    assert (not_text.status_code, not_text.get_json()["field"]) == (400, "note")
    assert asked.status_code == 200 and asked.get_json()["help"]["note"] == ""
    assert withdrawn.get_json()["closed"] is True and again.get_json()["closed"] is False
    assert open_help_requests(redis_of(rig), cid) == []
    assert [name for name, _, _ in commands(rig, cid)] == ["help_request", "help_done"]


def test_an_agent_is_told_of_a_whisper_or_a_barge_on_their_call_but_never_of_a_silent_listener(rig: WebRig) -> None:
    from campaigns.supervision import monitor_key

    cid, _, _, call_id = call_setup(rig)
    client = redis_of(rig)

    def supervisor_on(mode: str, on_call: str) -> None:
        client.hset(monitor_key(cid), "alice", json.dumps(
            {"mode": mode, "by": "sam", "supervisor": "client:sam", "leg": "LEG1", "call_id": on_call, "at": 1.0}))

    supervisor_on("listen", call_id)
    stream = rig.client("agent").get(f"/agent/events?campaign_id={cid}", buffered=False)
    seen = sse_events(stream)
    listening = assist_where(seen, lambda a: True)
    supervisor_on("whisper", call_id)
    whispering = assist_where(seen, lambda a: a["joined"])
    supervisor_on("barge", "c-an-earlier-call")
    earlier = assist_where(seen, lambda a: not a["joined"])
    supervisor_on("barge", call_id)
    barging = assist_where(seen, lambda a: a["joined"])
    stream.close()

    assert listening["joined"] == [] and "listen" not in json.dumps(listening)
    assert whispering["joined"] == [{"mode": "whisper", "by": "sam", "name": "Sam"}]
    assert earlier["joined"] == []
    assert barging["joined"] == [{"mode": "barge", "by": "sam", "name": "Sam"}]


def test_an_agent_on_a_call_is_offered_the_colleagues_who_are_ready_by_name(rig: WebRig) -> None:
    cid, _, _, _ = call_setup(rig)  # Bob Marsh is an agent of the records, login "bob"
    set_agent(rig, cid, "ready", agent="bob")
    set_agent(rig, cid, "on_call", call_id="c-other", agent="carl")
    redis_of(rig).hset(agents_key(cid), "agent001", json.dumps({"state": "ready", "since": 1.0, "bot": True}))

    stream = rig.client("agent").get(f"/agent/events?campaign_id={cid}", buffered=False)
    offered = assist_where(sse_events(stream), lambda a: a["colleagues"])
    stream.close()

    assert offered["colleagues"] == [{"agent_id": "bob", "bot": False, "name": "Bob Marsh"},
                                     {"agent_id": "agent001", "bot": True, "name": "agent001"}]


def test_a_warm_transfer_brings_a_colleague_in_and_complete_hands_the_call_to_them(rig: WebRig) -> None:
    cid, _, _, call_id = call_setup(rig)
    set_agent(rig, cid, "ready", agent="bob")
    alice = rig.client("agent")
    stream = alice.get(f"/agent/events?campaign_id={cid}", buffered=False)
    seen = sse_events(stream)

    too_soon = post(alice, "/agent/transfer/complete", {"campaign_id": cid})
    warm = post(alice, "/agent/transfer", {"campaign_id": cid, "to": "bob", "mode": "warm"})
    waiting = assist_where(seen, lambda a: a["transfer"] is not None)
    not_joined = post(alice, "/agent/transfer/complete", {"campaign_id": cid})
    set_agent(rig, cid, "reserved", call_id=call_id, agent="bob")  # the dialer brought Bob into the room
    joined = assist_where(seen, lambda a: a["transfer"] and a["transfer"]["joined"])
    done = post(alice, "/agent/transfer/complete", {"campaign_id": cid})
    stream.close()

    assert (too_soon.status_code, too_soon.get_json()["field"]) == (409, "to")
    assert warm.status_code == 200 and warm.get_json()["mode"] == "warm"
    assert (waiting["transfer"]["to"], waiting["transfer"]["name"], waiting["transfer"]["joined"]) == (
        "bob", "Bob Marsh", False)
    assert (not_joined.status_code, not_joined.get_json()["field"]) == (409, "to")
    assert "ready" in not_joined.get_json()["error"]
    assert joined["transfer"]["joined"] is True and joined["colleagues"] == []
    assert done.status_code == 200
    assert commands(rig, cid) == [("transfer", "alice", {"to": "bob", "mode": "warm", "by": "alice"}),
                                  ("transfer", "alice", {"to": "bob", "mode": "cold", "by": "alice"})]


def test_a_colleague_brought_into_a_call_sees_who_brought_them_and_the_customer_before_the_hand_over(
    rig: WebRig,
) -> None:
    cid, contact_id, _, call_id = call_setup(rig)
    dora = add_agent_user(rig, "dora", "Dora Quist")
    set_agent(rig, cid, "reserved", call_id=call_id, agent="dora")

    stream = dora.get(f"/agent/events?campaign_id={cid}", buffered=False)
    seen = sse_events(stream)
    state = next(data for event, data in seen if event == "state")
    call = next(data for event, data in seen if event == "call")
    consulting = assist_where(seen, lambda a: a["consulting"])
    stream.close()

    assert state["state"] == "reserved"
    assert call["call_id"] == call_id and call["contact"]["id"] == contact_id
    assert ">Dora Quist</span>" in call["script_html"]
    assert consulting["consulting"] == {"agent_id": "alice", "state": "on_call", "name": "Alice"}


def test_a_cold_transfer_to_a_number_goes_out_as_e164_and_bad_transfers_are_refused_naming_the_field(
    rig: WebRig,
) -> None:
    cid, _, _, call_id = call_setup(rig)
    set_agent(rig, cid, "on_call", call_id="c-someone-else", agent="bob")
    set_agent(rig, cid, "ready", agent="dora")
    alice = rig.client("agent")

    def transfer(**body: Any) -> tuple[int, str | None]:
        answer = post(alice, "/agent/transfer", {"campaign_id": cid, **body})
        return answer.status_code, (answer.get_json() or {}).get("field")

    refusals = {
        "mode": transfer(to="dora", mode="lukewarm"),
        "no target": transfer(to="  ", mode="cold"),
        "short number": transfer(to="+1 555", mode="cold"),
        "junk": transfer(to="bob; drop table", mode="cold"),
        "self": transfer(to="alice", mode="warm"),
        "logged out": transfer(to="zed", mode="warm"),
        "busy": transfer(to="bob", mode="cold"),
        "warm outside": transfer(to="+1 212 555 0177", mode="warm"),
    }
    cold_out = transfer(to="(212) 555-0177", mode="cold")
    set_agent(rig, cid, "wrap_up", call_id=call_id)
    after_the_call = transfer(to="dora", mode="cold")

    assert refusals == {"mode": (400, "mode"), "no target": (400, "to"), "short number": (400, "to"),
                        "junk": (400, "to"), "self": (400, "to"), "logged out": (409, "to"), "busy": (409, "to"),
                        "warm outside": (400, "mode")}
    assert cold_out == (200, None)
    assert after_the_call == (409, "action")
    assert commands(rig, cid) == [("transfer", "alice", {"to": "+12125550177", "mode": "cold", "by": "alice"})]


def test_the_console_has_help_and_transfer_controls_with_their_keys(rig: WebRig) -> None:
    new_campaign(rig)

    page = rig.client("agent").get("/agent").get_data(as_text=True)

    assert 'id="help-form"' in page and 'id="transfer-form"' in page and 'id="transfer-complete"' in page
    assert "<kbd>A</kbd>" in page and "<kbd>T</kbd>" in page and "<kbd>C</kbd>" in page
    assert 'data-url-transfer="/agent/transfer"' in page and 'data-url-help="/agent/help"' in page


@pytest.mark.parametrize("ending", ["complete", "hang up"])
def test_an_agent_warm_transfers_a_real_dialer_call_to_a_colleague_then_completes_it_or_hangs_up(
    tmp_path: Any, ending: str,
) -> None:
    """Completed, the customer is the colleague's; hung up, the colleague held for the call goes ready again."""
    from campaigns.db import make_engine
    from campaigns.live_dialer import DialerOptions, DialerProcess
    from campaigns.redis_conn import connect_redis
    from dialer.carriers.rooms import Role
    from dialer.carriers.simulated import SimulatedCarrier
    from dialer.simulation.scenario import parse_scenario
    from tests.test_live_dialer import lawful_numbers, run_until

    numbers = lawful_numbers(1)  # one customer: Dora, once ready, gets no call of her own
    rig = make_rig(tmp_path, AGENT_EVENTS_POLL_S=0.02, AGENT_EVENTS_LIFETIME_S=3.0, AGENT_EVENTS_ASSIST_S=0.05)
    cid = new_campaign(rig)
    with rig.sessions()() as session, session.begin():
        contact_list = ContactList(campaign_id=cid, name="Live list")
        session.add(contact_list)
        session.flush()
        contact = Contact(campaign_id=cid, list_id=contact_list.id, first_name="Pat", last_name="Doyle",
                          state=numbers.state)
        contact.phones.append(ContactPhone(campaign_id=cid, e164=numbers.e164(0), timezones=[numbers.zone]))
        session.add(contact)
    db = make_engine(rig.database_url)
    client = connect_redis(rig.app.config["REDIS_URL"])
    process = DialerProcess(db, client, DialerOptions(campaign_ids=(cid,), lease_s=5.0,
                                                      scenario=parse_scenario(ALWAYS_A_PERSON)))
    alice, dora = rig.client("agent"), add_agent_user(rig, "dora", "Dora Quist")

    def live(agent: str) -> dict[str, Any]:
        raw = client.hget(agents_key(cid), agent)
        return json.loads(raw) if raw else {}

    try:
        assert post(alice, "/agent/state", {"campaign_id": cid, "action": "ready"}).status_code == 200
        assert post(dora, "/agent/state", {"campaign_id": cid, "action": "pause", "reason": "break"}).status_code == 200
        assert run_until([process], lambda: live("alice").get("state") == "on_call"
                         and live("dora").get("state") == "paused", timeout=20), live("alice")
        call_id = live("alice")["call_id"]
        assert post(dora, "/agent/state", {"campaign_id": cid, "action": "ready"}).status_code == 200
        assert run_until([process], lambda: live("dora").get("state") == "ready", timeout=10), live("dora")

        warm = post(alice, "/agent/transfer", {"campaign_id": cid, "to": "dora", "mode": "warm"})
        assert warm.status_code == 200, warm.get_json()
        assert run_until([process], lambda: live("dora").get("call_id") == call_id, timeout=10), live("dora")
        run = process.runs[cid]
        assert isinstance(run.carrier, SimulatedCarrier)
        in_the_room = {leg.who: leg.role for leg in run.carrier.rooms.room("alice").legs.values()}
        if ending == "complete":
            complete = post(alice, "/agent/transfer/complete", {"campaign_id": cid})
            assert complete.status_code == 200, complete.get_json()
            assert run_until([process], lambda: live("dora").get("state") == "on_call"
                             and live("alice").get("call_id") != call_id, timeout=10), (live("alice"), live("dora"))
        else:
            assert post(alice, "/agent/hangup", {"campaign_id": cid}).status_code == 200
            assert run_until([process], lambda: live("alice").get("state") == "wrap_up", timeout=10)
            # The call is over: the dialer lets Dora go by herself, she is not held for a call that ended.
            assert run_until([process], lambda: live("dora").get("state") == "ready", timeout=10), live("dora")
    finally:
        process.shutdown()
        db.dispose()

    assert in_the_room["client:dora"] is Role.COLLEAGUE  # all three talked before the hand-over
    if ending == "complete":
        assert live("dora")["call_id"] == call_id
        assert live("alice")["state"] == "ready"
    else:
        assert live("dora")["call_id"] is None


# ------------------------------------------------------------------------------------------ the questionnaire

CONSOLE_POLL = {**POLL, "intro": "This is a short survey for the town council.",
                "closing": "Thank you, {first_name}. Goodbye."}


def ask_questionnaire(rig: WebRig, campaign_id: int, mode: str = "agent", definition: Any = None) -> None:
    with rig.sessions()() as session, session.begin():
        surveys.add_version(session, f"Poll {campaign_id}", definition or CONSOLE_POLL)
        questionnaire = surveys.get_questionnaire(session, f"Poll {campaign_id}")
        surveys.publish(session, questionnaire)
        surveys.assign(session, session.get_one(Campaign, campaign_id), questionnaire, mode)


def pushed_call(rig: WebRig, campaign_id: int) -> dict[str, Any]:
    stream = rig.client("agent").get(f"/agent/events?campaign_id={campaign_id}", buffered=False)
    view = next(data for event, data in sse_events(stream) if event == "call")
    stream.close()
    return view


def answer(client: FlaskClient, campaign_id: int, question_id: str, value: Any) -> Any:
    return post(client, "/agent/survey/answer", {"campaign_id": campaign_id, "question_id": question_id,
                                                 "value": value})


def stored_answers(rig: WebRig, campaign_id: int) -> dict[str, tuple[Any, int | None]]:
    with rig.sessions()() as session:
        rows = session.execute(
            select(SurveyAnswer.question_id, SurveyAnswer.value, SurveyAnswer.attempt_id)
            .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
            .where(SurveyResponse.campaign_id == campaign_id))
        return {question_id: (value, attempt_id) for question_id, value, attempt_id in rows}


def test_a_call_of_a_survey_campaign_arrives_with_its_first_question_piped_and_the_interview_started(
    rig: WebRig,
) -> None:
    cid, contact_id, attempt_id, _ = call_setup(rig)
    ask_questionnaire(rig, cid)

    survey = pushed_call(rig, cid)["survey"]

    assert survey["title"] == "Town poll" and survey["status"] == "partial" and survey["path"] == []
    question = survey["question"]
    assert question["id"] == "voter" and question["type"] == "yesno" and question["position"] == 1
    assert question["text"] == "Hello Dana, are you registered to vote?"
    assert question["intro"] == "This is a short survey for the town council."
    assert survey["attempt_id"] == attempt_id
    with rig.sessions()() as session:
        response = session.scalars(select(SurveyResponse).where(SurveyResponse.campaign_id == cid)).one()
        assert (response.contact_id, response.attempt_id, response.status) == (contact_id, attempt_id, "partial")


def test_an_agent_answers_question_by_question_and_each_answer_is_kept_with_the_call(rig: WebRig) -> None:
    cid, _, attempt_id, _ = call_setup(rig)
    ask_questionnaire(rig, cid)
    alice = rig.client("agent")

    first = answer(alice, cid, "voter", True)
    second = answer(alice, cid, "party", 1)
    third = answer(alice, cid, "score", "8")
    fourth = answer(alice, cid, "topics", [3, 1])

    assert first.status_code == 200, first.get_json()
    assert first.get_json()["survey"]["question"]["id"] == "party"
    assert [c["label"] for c in first.get_json()["survey"]["question"]["choices"]] == ["Red", "Blue", "Other"]
    assert second.get_json()["survey"]["question"]["text"].startswith("You said Red.")  # piped, "other" skipped
    assert third.get_json()["survey"]["question"]["id"] == "topics"
    shown = fourth.get_json()["survey"]
    assert shown["question"]["id"] == "age" and (shown["question"]["min"], shown["question"]["max"]) == (18, 120)
    assert [(q["id"], q["shown"]) for q in shown["path"]] == [
        ("voter", "yes"), ("party", "Red"), ("score", "8"), ("topics", "Taxes, Roads")]
    assert shown["path"][2]["text"] == "You said Red. How likely are you to vote, 0 to 10?"
    assert stored_answers(rig, cid) == {"voter": (True, attempt_id), "party": (1, attempt_id),
                                        "score": (8, attempt_id), "topics": ([1, 3], attempt_id)}


def test_a_refused_answer_names_the_question_and_nothing_is_kept(rig: WebRig) -> None:
    cid, _, _, _ = call_setup(rig)
    ask_questionnaire(rig, cid)
    alice = rig.client("agent")
    for question_id, value in (("voter", True), ("party", 1), ("score", 8), ("topics", [1])):
        assert answer(alice, cid, question_id, value).status_code == 200

    too_young = answer(alice, cid, "age", 12)
    not_a_choice = answer(alice, cid, "topics", [7])
    not_asked_yet = answer(alice, cid, "since", "2020-01-01")
    no_question = post(alice, "/agent/survey/answer", {"campaign_id": cid, "value": 40})

    assert (too_young.status_code, too_young.get_json()) == (400, {"error": "age: must be 18 or more",
                                                                   "field": "age"})
    assert (not_a_choice.status_code, not_a_choice.get_json()["field"]) == (400, "topics")
    assert not_a_choice.get_json()["error"].startswith("topics: 7 is not one of the codes")
    assert (not_asked_yet.status_code, not_asked_yet.get_json()["field"]) == (400, "since")
    assert (no_question.status_code, no_question.get_json()["field"]) == (400, "question_id")
    assert set(stored_answers(rig, cid)) == {"voter", "party", "score", "topics"}
    assert stored_answers(rig, cid)["topics"][0] == [1]


def test_going_back_to_correct_an_earlier_answer_changes_the_route_and_drops_the_answer_left_behind(
    rig: WebRig,
) -> None:
    cid, _, _, _ = call_setup(rig)
    ask_questionnaire(rig, cid)
    alice = rig.client("agent")
    answer(alice, cid, "voter", True)
    answer(alice, cid, "party", 9)
    on_other = answer(alice, cid, "other", "Green").get_json()["survey"]

    corrected = answer(alice, cid, "party", 2).get_json()["survey"]
    done = answer(alice, cid, "score", 1).get_json()["survey"]  # under 3: the interview ends

    assert [q["id"] for q in on_other["path"]] == ["voter", "party", "other"]
    assert on_other["path"][1]["value"] == 9 and on_other["question"]["id"] == "score"
    assert [q["id"] for q in corrected["path"]] == ["voter", "party"]  # "other" is off the route now
    assert corrected["question"]["text"].startswith("You said Blue.")
    assert done["status"] == "complete" and "question" not in done
    assert done["end"]["text"] == "Thank you, Dana. Goodbye."
    assert set(stored_answers(rig, cid)) == {"voter", "party", "score"}  # closing deleted what was off the path


def test_an_interview_cut_short_resumes_on_the_next_call_where_it_stopped(rig: WebRig) -> None:
    cid, contact_id, first_call, _ = call_setup(rig)
    ask_questionnaire(rig, cid)
    alice = rig.client("agent")
    answer(alice, cid, "voter", True)
    answer(alice, cid, "party", 2)
    with rig.sessions()() as session:
        phone_id = session.get_one(CallAttempt, first_call).phone_id
    assert phone_id is not None
    set_agent(rig, cid, "ready")  # the call dropped
    second_call = add_attempt(rig, cid, contact_id, phone_id, 4, connected_at=NOW + timedelta(days=1))
    set_agent(rig, cid, "on_call", call_id=f"c{cid}-{contact_id}-4")

    fetched = alice.get(f"/agent/survey?campaign_id={cid}", headers={"Accept": "application/json"})
    pushed = pushed_call(rig, cid)["survey"]
    scored = answer(alice, cid, "score", 9)

    assert fetched.status_code == 200
    resumed = fetched.get_json()["survey"]
    assert resumed["question"]["id"] == "score" and resumed["question"]["position"] == 3
    assert resumed["question"]["intro"] == ""  # the introduction was read on the first call
    assert [(q["id"], q["value"]) for q in resumed["path"]] == [("voter", True), ("party", 2)]
    assert resumed["attempt_id"] == second_call and pushed["response_id"] == resumed["response_id"]
    assert scored.status_code == 200
    assert stored_answers(rig, cid) == {"voter": (True, first_call), "party": (2, first_call),
                                        "score": (9, second_call)}


def test_a_finished_interview_shows_its_closing_in_wrap_up_and_takes_no_more_answers(rig: WebRig) -> None:
    cid, contact_id, _, _ = call_setup(rig)
    ask_questionnaire(rig, cid)
    alice = rig.client("agent")

    out = answer(alice, cid, "voter", False).get_json()["survey"]
    set_agent(rig, cid, "wrap_up", call_id=f"c{cid}-{contact_id}-3")
    in_wrap_up = alice.get(f"/agent/survey?campaign_id={cid}", headers={"Accept": "application/json"})
    again = answer(alice, cid, "voter", True)

    assert out["status"] == "screened_out" and out["end"]["reason"] == "rule at voter"
    assert out["end"]["text"] == "Thank you, that is all we need today. Goodbye."
    assert in_wrap_up.status_code == 200 and in_wrap_up.get_json()["survey"]["end"] == out["end"]
    assert [(q["id"], q["shown"]) for q in in_wrap_up.get_json()["survey"]["path"]] == [("voter", "no")]
    assert (again.status_code, again.get_json()["field"]) == (409, "status")
    assert again.get_json()["error"] == "this interview is screened out and takes no more answers"
    assert stored_answers(rig, cid)["voter"][0] is False


def test_a_plain_form_answers_a_multiple_choice_with_every_ticked_box(tmp_path: Any) -> None:
    rig = make_rig(tmp_path, csrf=False)
    cid, _, _, _ = call_setup(rig)
    ask_questionnaire(rig, cid)
    alice = rig.client("agent")
    for question_id, value in (("voter", "yes"), ("party", "1"), ("score", "5")):
        assert alice.post("/agent/survey/answer", data={"campaign_id": cid, "question_id": question_id,
                                                         "value": value}).status_code == 200

    ticked = alice.post("/agent/survey/answer", data={"campaign_id": cid, "question_id": "topics",
                                                       "value": ["2", "3"]}, headers={"Accept": "application/json"})

    assert ticked.status_code == 200, ticked.get_json()
    assert stored_answers(rig, cid)["topics"][0] == [2, 3]
    assert stored_answers(rig, cid)["voter"][0] is True


def test_the_questionnaire_wants_a_call_and_a_campaign_whose_agents_read_one(rig: WebRig) -> None:
    plain, _, _, _ = call_setup(rig)
    by_phone = new_campaign(rig)
    ask_questionnaire(rig, by_phone, "ivr", definition=KEYPAD_POLL)
    contact_id, phone_id = new_contact(rig, by_phone, e164="+13125550199")
    add_attempt(rig, by_phone, contact_id, phone_id, 1, connected_at=NOW)
    idle = new_campaign(rig)
    ask_questionnaire(rig, idle)
    alice = rig.client("agent")
    json_only = {"Accept": "application/json"}

    no_survey = alice.get(f"/agent/survey?campaign_id={plain}", headers=json_only)
    no_survey_answer = answer(alice, plain, "voter", True)
    pushed_plain = pushed_call(rig, plain)
    set_agent(rig, by_phone, "on_call", call_id=f"c{by_phone}-{contact_id}-1")
    played = alice.get(f"/agent/survey?campaign_id={by_phone}", headers=json_only)
    pushed_played = pushed_call(rig, by_phone)
    set_agent(rig, idle, "ready")
    not_on_a_call = alice.get(f"/agent/survey?campaign_id={idle}", headers=json_only)
    not_on_a_call_answer = answer(alice, idle, "voter", True)

    assert (no_survey.status_code, no_survey.get_json()["field"]) == (404, "campaign_id")
    assert (no_survey_answer.status_code, no_survey_answer.get_json()["field"]) == (404, "campaign_id")
    assert pushed_plain["survey"] is None
    assert (played.status_code, played.get_json()["field"]) == (404, "campaign_id")
    assert pushed_played["survey"] is None  # the phone plays it: the agent never reads it
    assert (not_on_a_call.status_code, not_on_a_call.get_json()["field"]) == (409, "action")
    assert "you are ready" in not_on_a_call.get_json()["error"]
    assert (not_on_a_call_answer.status_code, not_on_a_call_answer.get_json()["field"]) == (409, "action")
    with rig.sessions()() as session:
        assert session.scalars(select(SurveyResponse)).all() == []


def test_a_questionnaire_without_a_published_version_is_said_on_the_call_not_hidden(rig: WebRig) -> None:
    cid, _, _, _ = call_setup(rig)
    ask_questionnaire(rig, cid)
    with rig.sessions()() as session, session.begin():
        for version in session.scalars(select(QuestionnaireVersion)):
            version.published_at = None

    survey = pushed_call(rig, cid)["survey"]
    fetched = rig.client("agent").get(f"/agent/survey?campaign_id={cid}", headers={"Accept": "application/json"})

    assert survey["field"] == "questionnaire" and "no published version" in survey["error"]
    assert (fetched.status_code, fetched.get_json()["field"]) == (409, "questionnaire")


def test_a_colleague_held_for_a_warm_transfer_sees_the_call_but_not_the_questionnaire(rig: WebRig) -> None:
    cid, _, _, call_id = call_setup(rig)
    ask_questionnaire(rig, cid)
    set_agent(rig, cid, "on_call", call_id=call_id, agent="bob")
    set_agent(rig, cid, "reserved", call_id=call_id)

    view = pushed_call(rig, cid)

    assert view["call_id"] == call_id and "survey" not in view  # fetched when the call becomes theirs
    with rig.sessions()() as session:
        assert session.scalars(select(SurveyResponse)).all() == []


def test_the_console_has_a_questionnaire_panel_with_back_skip_and_next(rig: WebRig) -> None:
    new_campaign(rig)

    page = rig.client("agent").get("/agent").get_data(as_text=True)

    assert 'id="survey-card"' in page and 'data-url-survey="/agent/survey"' in page
    assert 'data-url-survey-answer="/agent/survey/answer"' in page
    for control in ('id="survey-back"', 'id="survey-skip"', 'id="survey-next"', 'id="survey-trail"',
                    'id="survey-end"'):
        assert control in page
