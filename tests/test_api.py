"""The REST API under /api/: each resource's happy paths and refusals, with API tokens of each role."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import accounts, services
from campaigns.compliance_models import AuditEvent
from campaigns.models import Agent, CallAttempt, Campaign, Contact, ContactList, ContactPhone
from tests.web_support import ROLE_USERS, WebRig

DAY = datetime(2026, 11, 30, tzinfo=UTC)


@dataclass
class Floor:
    campaign_id: int
    list_id: int
    contact_id: int
    phone: str
    call_ids: list[int]


def seed_floor(session: Session) -> Floor:
    """A campaign with one list, one contact and three calls of 30 Nov 2026 (New York time): one sale, one drop."""
    campaign = services.create_campaign(session, name="Seeded", caller_id="+12015550123")
    campaign.schedule_tz = "America/New_York"
    contact_list = ContactList(campaign_id=campaign.id, name="Leads")
    session.add(contact_list)
    session.flush()
    contact = Contact(campaign_id=campaign.id, list_id=contact_list.id, first_name="Grace", last_name="Hopper",
                      email="grace@example.com")
    contact.phones = [ContactPhone(campaign_id=campaign.id, e164="+13125550142", label="mobile")]
    agent = Agent(login="alice", name="Alice")
    session.add_all([contact, agent])
    session.flush()
    at_ten = DAY + timedelta(hours=15)  # 10:00 in New York
    calls = [
        CallAttempt(campaign_id=campaign.id, contact_id=contact.id, phone_id=contact.phones[0].id,
                    e164="+13125550142", attempt_number=1, answer_class="human", placed_at=at_ten,
                    answered_at=at_ten + timedelta(seconds=9), connected_at=at_ten + timedelta(seconds=10),
                    ended_at=at_ten + timedelta(seconds=70), agent_id=agent.id, disposition="SALE", talk_s=60.0),
        CallAttempt(campaign_id=campaign.id, contact_id=contact.id, phone_id=contact.phones[0].id,
                    e164="+13125550142", attempt_number=2, answer_class="human",
                    placed_at=at_ten + timedelta(minutes=5), answered_at=at_ten + timedelta(minutes=5, seconds=8),
                    abandoned_at=at_ten + timedelta(minutes=5, seconds=10), disposition="DROP"),
        CallAttempt(campaign_id=campaign.id, contact_id=contact.id, phone_id=contact.phones[0].id,
                    e164="+13125550142", attempt_number=3, answer_class="machine",
                    placed_at=at_ten + timedelta(hours=2), answered_at=at_ten + timedelta(hours=2, seconds=7)),
    ]
    session.add_all(calls)
    session.flush()
    return Floor(campaign.id, contact_list.id, contact.id, "+13125550142", [call.id for call in calls])


def issue_tokens(session: Session) -> dict[str, str]:
    tokens = {}
    for role, username in ROLE_USERS.items():
        user = accounts.get_user(session, username)
        assert user is not None
        tokens[role] = accounts.issue_token(session, user, "tests").token
    return tokens


class Api:
    """A test client speaking to /api/ with the token of one role or another."""

    def __init__(self, rig: WebRig, tokens: dict[str, str], floor: Floor) -> None:
        self.rig = rig
        self.client = rig.app.test_client()
        self.tokens = tokens
        self.floor = floor

    def __call__(self, method: str, path: str, role: str | None = "supervisor", **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if role is not None:
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def session(self) -> Session:
        session: Session = self.rig.sessions()()
        return session


@pytest.fixture
def api(tmp_path, web) -> Api:  # type: ignore[no-untyped-def]
    web.app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    with web.sessions()() as session, session.begin():
        floor = seed_floor(session)
        tokens = issue_tokens(session)
    return Api(web, tokens, floor)


# -- campaigns -------------------------------------------------------------------------------------


def test_a_supervisor_creates_a_campaign_and_reads_it_back_by_id_and_by_name(api):
    created = api("POST", "/api/campaigns", json={
        "name": "Spring renewals", "caller_id": "(201) 555-0199", "dial_mode": "predictive",
        "schedule": [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}], "schedule_tz": "America/Chicago"})

    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["caller_id"] == "+12015550199" and body["pacer"] == "predictive" and body["status"] == "draft"
    assert body["schedule"] == [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}]
    by_id = api("GET", created.headers["Location"]).get_json()
    by_name = api("GET", "/api/campaigns/Spring renewals").get_json()
    assert by_id["id"] == by_name["id"] == body["id"]
    assert by_id["summary"]["contacts"] == 0
    listed = api("GET", "/api/campaigns?status=draft").get_json()["campaigns"]
    assert "Spring renewals" in [campaign["name"] for campaign in listed]


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "X", "caller_id": "12"}, "caller_id"),
    ({"name": "X", "caller_id": "+12015550199", "ring_timeout_s": 10}, "ring_timeout_s"),
    ({"name": "X", "caller_id": "+12015550199", "target_abandon": "0.02"}, "target_abandon"),
    ({"name": "X", "caller_id": "+12015550199", "colour": "red"}, "colour"),
    ({"name": "X"}, "caller_id"),
    ({"name": "X", "caller_id": "+12015550199", "schedule": [{"days": [7], "start": "09:00", "end": "17:00"}]},
     "schedule"),
    ({"name": "X", "caller_id": "+12015550199", "schedule_tz": "Mars/Olympus"}, "schedule_tz"),
    ({"name": "X\ud800", "caller_id": "+12015550199"}, "name"),
])
def test_a_campaign_with_a_wrong_setting_is_refused_naming_the_setting(api, body, field):
    response = api("POST", "/api/campaigns", json=body)

    assert response.status_code == 400
    assert response.get_json()["field"] == field
    assert response.get_json()["error"]


def test_a_body_that_is_not_a_json_object_is_refused(api):
    as_form = api("POST", "/api/campaigns", data={"name": "X", "caller_id": "+12015550199"})
    as_list = api("POST", "/api/campaigns", json=["name"])

    assert as_form.status_code == 415 and as_form.get_json()["field"] == "body"
    assert as_list.status_code == 400 and as_list.get_json()["field"] == "body"


def test_a_supervisor_lowers_the_target_and_the_change_is_audited_with_who_made_it(api):
    response = api("PATCH", f"/api/campaigns/{api.floor.campaign_id}",
                   json={"target_abandon": 0.015, "script": "Hello {first_name}"})

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["changes"]["target_abandon"] == {"from": 0.03, "to": 0.015}
    assert body["campaign"]["script"] == "Hello {first_name}"
    with api.session() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.kind == "campaign.pacing_changed"))
        assert event is not None and json.loads(event.payload)["actor"] == "sam"


def test_a_change_of_dial_mode_brings_its_pacer_along(api):
    response = api("PATCH", f"/api/campaigns/{api.floor.campaign_id}", json={"dial_mode": "power"})

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["campaign"]["pacer"] == "ratio:1.5"


def test_a_change_that_breaks_a_rule_leaves_the_campaign_as_it_was(api):
    response = api("PATCH", f"/api/campaigns/{api.floor.campaign_id}",
                   json={"record_calls": True, "name": "Renamed"})

    assert response.status_code == 400
    assert response.get_json()["field"] == "recording_announcement"
    with api.session() as session:
        campaign = session.get(Campaign, api.floor.campaign_id)
        assert campaign is not None and campaign.name == "Seeded" and not campaign.record_calls


def test_a_campaign_starts_and_pauses_and_a_draft_cannot_pause(api):
    created = api("POST", "/api/campaigns", json={"name": "Autumn", "caller_id": "+12015550199"}).get_json()

    refused = api("POST", f"/api/campaigns/{created['id']}/pause")
    started = api("POST", f"/api/campaigns/{created['id']}/start")
    paused = api("POST", "/api/campaigns/Autumn/pause")

    assert refused.status_code == 400 and refused.get_json()["field"] == "status"
    assert started.get_json()["status"] == "active"
    assert paused.get_json()["status"] == "paused"


def test_a_compliance_officer_reads_campaigns_but_may_not_change_them(api):
    assert api("GET", "/api/campaigns", role="compliance").status_code == 200
    refused = api("PATCH", f"/api/campaigns/{api.floor.campaign_id}", role="compliance", json={"script": "x"})
    assert refused.status_code == 403
    assert refused.get_json()["error"].startswith("your role (compliance)")


def test_an_agent_token_opens_no_part_of_the_api_but_the_document(api):
    for path in ("/api/campaigns", f"/api/contacts/{api.floor.contact_id}", "/api/calls", "/api/docs",
                 "/api/dnc/check?phone=%2B13125550142"):
        assert api("GET", path, role="agent").status_code == 403, path
    assert api("GET", "/api/openapi.json", role=None).status_code == 200


def test_a_request_without_credentials_is_told_to_send_a_token(api):
    anonymous = api("GET", "/api/campaigns", role=None)
    forged = api("GET", "/api/campaigns", role=None, headers={"Authorization": "Bearer nope"})

    assert anonymous.status_code == 401 and anonymous.get_json()["field"] == "Authorization"
    assert forged.status_code == 401 and forged.get_json()["field"] == "Authorization"


def test_unknown_paths_wrong_methods_and_impossible_ids_answer_json_not_a_server_error(api):
    missing = api("GET", "/api/nothing-here")
    wrong_method = api("DELETE", "/api/campaigns")
    huge = api("GET", f"/api/contacts/{10**30}")
    unknown_campaign = api("GET", "/api/campaigns/99999999999999999999999")

    assert missing.status_code == 404 and missing.get_json()["field"] == "path"
    assert wrong_method.status_code == 405 and "POST" in wrong_method.headers["Allow"]
    assert huge.status_code == 404 and huge.get_json()["field"] == "contact_id"
    assert unknown_campaign.status_code == 404 and unknown_campaign.get_json()["field"] == "campaign"


# -- lists -----------------------------------------------------------------------------------------


def test_an_uploaded_list_is_imported_by_a_worker_and_its_rejected_rows_are_reported(api, monkeypatch):
    from rq import SimpleWorker

    from campaigns import jobs
    from campaigns.settings import get_settings
    from web import resources

    csv_bytes = b"first_name,phone\nAda,+12025550111\nBad,12\nLin,(212) 555-0166\n"
    response = api("POST", f"/api/campaigns/{api.floor.campaign_id}/lists",
                   data={"file": (io.BytesIO(csv_bytes), "october.csv"), "name": "October"},
                   content_type="multipart/form-data")
    assert response.status_code == 202, response.get_json()
    job_id = response.get_json()["job_id"]

    monkeypatch.setenv("DATABASE_URL", api.rig.database_url)
    get_settings.cache_clear()
    try:
        with api.rig.app.app_context():
            connection = resources().redis
        SimpleWorker(jobs.QUEUES, connection=connection).work(burst=True)
    finally:
        get_settings.cache_clear()

    job = api("GET", f"/api/jobs/{job_id}").get_json()
    assert job["state"] == "finished", job
    list_id = job["result"]["list_id"]
    detail = api("GET", f"/api/lists/{list_id}").get_json()
    assert detail["name"] == "October" and detail["contacts"] == 2 and detail["rows_rejected"] == 1
    rejects = api("GET", f"/api/lists/{list_id}/rejects").get_json()
    assert rejects["available"] and rejects["total"] == 1
    assert rejects["items"][0]["row"] == 3 and rejects["items"][0]["cells"]["first_name"] == "Bad"
    names = [item["name"] for item in api("GET", f"/api/campaigns/{api.floor.campaign_id}/lists").get_json()["lists"]]
    assert names == ["Leads", "October"]


@pytest.mark.parametrize(("data", "field", "status"), [
    ({"name": "October"}, "file", 400),
    ({"file": (io.BytesIO(b""), "empty.csv")}, "file", 400),
    ({"file": (io.BytesIO(b"phone\n1\n"), "a.csv"), "encoding": "ebcdic"}, "encoding", 400),
    ({"file": (io.BytesIO(b"phone\n1\n"), "a.csv"), "mapping": "no equals sign"}, "mapping", 400),
    ({"file": (io.BytesIO(b"phone\n1\n"), "a.csv"), "colour": "red"}, "colour", 400),
])
def test_an_upload_with_a_wrong_part_is_refused_naming_the_part(api, data, field, status):
    response = api("POST", f"/api/campaigns/{api.floor.campaign_id}/lists", data=data,
                   content_type="multipart/form-data")

    assert response.status_code == status
    assert response.get_json()["field"] == field


def test_a_list_uploaded_as_json_is_refused_as_the_wrong_media_type(api):
    response = api("POST", f"/api/campaigns/{api.floor.campaign_id}/lists", json={"file": "phone\n"})

    assert response.status_code == 415


# -- contacts --------------------------------------------------------------------------------------


def test_a_contact_added_by_hand_is_found_by_phone_and_by_name(api):
    created = api("POST", f"/api/campaigns/{api.floor.campaign_id}/contacts", json={
        "first_name": "Ada", "last_name": "Lovelace", "phones": ["(202) 555-0173", {"number": "+12025550174",
                                                                                      "label": "work"}],
        "custom_fields": {"plan": "gold"}, "timezone": "America/New_York"})

    assert created.status_code == 201, created.get_json()
    contact = created.get_json()
    assert [phone["e164"] for phone in contact["phones"]] == ["+12025550173", "+12025550174"]
    assert contact["phones"][0]["timezones"] == ["America/New_York"]
    by_phone = api("GET", f"/api/campaigns/{api.floor.campaign_id}/contacts?phone=2025550174").get_json()
    by_name = api("GET", "/api/campaigns/Seeded/contacts?q=lovel").get_json()
    assert [item["id"] for item in by_phone["items"]] == [contact["id"]]
    assert [item["id"] for item in by_name["items"]] == [contact["id"]]


def test_contacts_come_in_pages_with_the_total(api):
    for number in range(3):
        api("POST", f"/api/campaigns/{api.floor.campaign_id}/contacts", json={"phones": [f"+1202555018{number}"]})

    first = api("GET", f"/api/campaigns/{api.floor.campaign_id}/contacts?limit=2").get_json()
    second = api("GET", f"/api/campaigns/{api.floor.campaign_id}/contacts?limit=2&offset=2").get_json()
    too_big = api("GET", f"/api/campaigns/{api.floor.campaign_id}/contacts?limit=501")

    assert first["total"] == second["total"] == 4
    assert len(first["items"]) == 2 and len(second["items"]) == 2
    assert {item["id"] for item in first["items"]}.isdisjoint(item["id"] for item in second["items"])
    assert too_big.status_code == 400 and too_big.get_json()["field"] == "limit"


def test_a_phone_already_in_the_campaign_is_refused_as_a_conflict(api):
    response = api("POST", f"/api/campaigns/{api.floor.campaign_id}/contacts", json={"phones": [api.floor.phone]})

    assert response.status_code == 409
    assert response.get_json()["field"] == "phones"


@pytest.mark.parametrize(("body", "field"), [
    ({"phones": []}, "phones"),
    ({"phones": ["555"]}, "phones"),
    ({"phones": ["+12025550190"], "priority": 1.5}, "priority"),
    ({"phones": ["+12025550190"], "timezone": "EST5"}, "timezone"),
    ({"phones": ["+12025550190"], "first_name": "x" * 101}, "first_name"),
    ({"phones": ["+12025550190"], "list_id": 999}, "list_id"),
    ({"phones": ["+12025550190"], "nickname": "Al"}, "nickname"),
])
def test_a_contact_with_a_wrong_field_is_refused_naming_it(api, body, field):
    response = api("POST", f"/api/campaigns/{api.floor.campaign_id}/contacts", json=body)

    assert response.status_code in (400, 404)
    assert response.get_json()["field"] == field


def test_a_contact_shows_its_phones_and_every_call_with_its_agent(api):
    contact = api("GET", f"/api/contacts/{api.floor.contact_id}").get_json()

    assert contact["first_name"] == "Grace"
    assert [call["attempt_number"] for call in contact["calls"]] == [1, 2, 3]
    assert contact["calls"][0]["agent"] == "alice"


def test_a_corrected_contact_keeps_its_phones(api):
    response = api("PATCH", f"/api/contacts/{api.floor.contact_id}", json={"email": "g@navy.mil", "priority": 3})

    assert response.status_code == 200
    assert response.get_json()["email"] == "g@navy.mil" and response.get_json()["priority"] == 3
    assert response.get_json()["phones"][0]["e164"] == api.floor.phone


def test_a_finished_contact_is_never_dialed_again_and_the_audit_says_who(api):
    response = api("POST", f"/api/contacts/{api.floor.contact_id}/finish", json={"reason": "moved abroad"})

    assert response.status_code == 200
    assert response.get_json()["status"] == "done"
    with api.session() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.kind == "contact.finished"))
        assert event is not None
        assert json.loads(event.payload) == {"actor": "sam", "contact_id": api.floor.contact_id, "from": "new",
                                             "reason": "moved abroad"}


def test_a_contact_on_a_call_cannot_be_finished(api):
    with api.session() as session, session.begin():
        contact = session.get(Contact, api.floor.contact_id)
        assert contact is not None
        contact.status = "in_call"

    response = api("POST", f"/api/contacts/{api.floor.contact_id}/finish", json={})

    assert response.status_code == 409 and response.get_json()["field"] == "status"


# -- do not call -----------------------------------------------------------------------------------


def test_a_compliance_officer_lists_a_number_and_everyone_in_the_office_sees_it(api):
    added = api("POST", "/api/dnc/entries", role="compliance",
                json={"phone": "(312) 555-0142", "reason": "asked on the phone", "evidence": "call 1"})
    again = api("POST", "/api/dnc/entries", role="compliance", json={"phone": "+13125550142"})
    check = api("GET", "/api/dnc/check?phone=%2B13125550142", role="supervisor").get_json()

    assert added.status_code == 201 and added.get_json()["changed"] is True
    assert added.get_json()["actor"] == "cora" and added.get_json()["source"] == "api"
    assert again.status_code == 200 and again.get_json()["changed"] is False
    assert check["listed"] is True and check["company"]["reason"] == "asked on the phone"
    entries = api("GET", "/api/dnc/entries", role="compliance").get_json()
    assert [entry["e164"] for entry in entries["items"]] == ["+13125550142"]


def test_a_number_is_removed_only_with_a_reason_and_the_log_keeps_both_changes(api):
    api("POST", "/api/dnc/entries", role="compliance", json={"phone": "+13125550142"})

    no_reason = api("POST", "/api/dnc/removals", role="compliance", json={"phone": "+13125550142", "reason": " "})
    removed = api("POST", "/api/dnc/removals", role="compliance",
                  json={"phone": "+13125550142", "reason": "typed the wrong digit"})
    not_listed = api("POST", "/api/dnc/removals", role="compliance",
                     json={"phone": "+13125550142", "reason": "again"})

    assert no_reason.status_code == 400 and no_reason.get_json()["field"] == "reason"
    assert removed.status_code == 200 and removed.get_json()["action"] == "remove"
    assert not_listed.status_code == 404 and not_listed.get_json()["field"] == "phone"
    log = api("GET", "/api/dnc/changes?phone=%2B13125550142", role="compliance").get_json()
    assert [change["action"] for change in log["items"]] == ["add", "remove"]
    assert api("GET", "/api/dnc/check?phone=%2B13125550142", role="compliance").get_json()["listed"] is False


def test_a_supervisor_may_check_numbers_but_not_change_the_lists(api):
    assert api("GET", "/api/dnc/check?phone=%2B13125550142").status_code == 200
    assert api("POST", "/api/dnc/entries", json={"phone": "+13125550142"}).status_code == 403


@pytest.mark.parametrize(("path", "body", "field", "status"), [
    ("/api/dnc/entries", {"phone": "12"}, "phone", 400),
    ("/api/dnc/entries", {"phone": "+13125550142", "campaign_id": 999}, "campaign_id", 404),
    ("/api/dnc/entries", {"phone": "+13125550142", "received_at": "2999-01-01T00:00:00Z"}, "received_at", 400),
    ("/api/dnc/entries", {"phone": "+13125550142", "received_at": "yesterday"}, "received_at", 400),
    ("/api/dnc/entries", {"phone": "+13125550142", "region": "ZZ"}, "region", 400),
    ("/api/dnc/removals", {"phone": "+13125550142"}, "reason", 400),
])
def test_a_dnc_change_with_a_wrong_field_is_refused_naming_it(api, path, body, field, status):
    response = api("POST", path, role="compliance", json=body)

    assert response.status_code == status
    assert response.get_json()["field"] == field


def test_a_check_without_a_number_is_refused_naming_phone(api):
    response = api("GET", "/api/dnc/check", role="compliance")

    assert response.status_code == 400 and response.get_json()["field"] == "phone"


# -- calls -----------------------------------------------------------------------------------------


def test_calls_are_found_by_number_outcome_agent_and_time(api):
    def ids(query: str) -> list[int]:
        response = api("GET", f"/api/calls?{query}")
        assert response.status_code == 200, response.get_json()
        return [call["id"] for call in response.get_json()["items"]]

    first, dropped, machine = api.floor.call_ids
    assert ids("number=%2B13125550142") == [machine, dropped, first]
    assert ids("outcome=abandoned") == [dropped]
    assert ids("outcome=connected&agent=alice") == [first]
    assert ids("campaign=Seeded&from=2026-11-30T16:00:00Z&to=2026-12-01") == [machine]
    assert ids("disposition=sale") == [first]
    assert ids("agent=bob") == []


@pytest.mark.parametrize(("query", "field"), [
    ("from=yesterday", "from"),
    ("outcome=lost", "outcome"),
    ("number=12", "number"),
    ("from=2026-12-02&to=2026-12-01", "to"),
    ("offset=-1", "offset"),
])
def test_a_call_search_with_a_wrong_filter_is_refused_naming_it(api, query, field):
    response = api("GET", f"/api/calls?{query}")

    assert response.status_code == 400
    assert response.get_json()["field"] == field


def test_a_call_shows_every_timestamp_of_its_life(api):
    call = api("GET", f"/api/calls/{api.floor.call_ids[0]}").get_json()

    assert call["timestamps"]["placed_at"] == "2026-11-30T15:00:00+00:00"
    assert call["timestamps"]["connected_at"] == "2026-11-30T15:00:10+00:00"
    assert call["timestamps"]["abandoned_at"] is None
    assert call["agent"] == "alice" and call["disposition"] == "SALE"
    assert api("GET", "/api/calls/999").get_json()["field"] == "call_id"


# -- reports ---------------------------------------------------------------------------------------


def test_a_report_counts_the_day_by_hour_in_the_campaign_zone_with_its_abandonment(api):
    report = api("GET", f"/api/campaigns/{api.floor.campaign_id}/report?day=2026-11-30").get_json()

    assert report["timezone"] == "America/New_York"
    assert report["totals"] == {"attempts": 3, "answers": 3, "live_answers": 2, "connects": 1, "abandoned": 1,
                                "abandonment_rate": 0.5}
    busy = {hour["hour"][11:16]: hour["attempts"] for hour in report["by_hour"] if hour["attempts"]}
    assert busy == {"10:00": 2, "12:00": 1}
    assert len(report["by_hour"]) == 24
    assert report["rolling_30_days"]["period"] == "rolling 30 days"


def test_a_report_of_another_day_or_zone_is_asked_for_by_name(api):
    utc = api("GET", f"/api/campaigns/{api.floor.campaign_id}/report?day=2026-11-30&tz=UTC").get_json()
    bad_day = api("GET", f"/api/campaigns/{api.floor.campaign_id}/report?day=30/11/2026")
    bad_zone = api("GET", f"/api/campaigns/{api.floor.campaign_id}/report?tz=Moon")

    assert [hour["attempts"] for hour in utc["by_hour"]][15] == 2
    assert bad_day.status_code == 400 and bad_day.get_json()["field"] == "day"
    assert bad_zone.status_code == 400 and bad_zone.get_json()["field"] == "tz"


# -- the document and its page ----------------------------------------------------------------------


def test_the_document_is_open_to_anyone_and_names_the_roles_of_each_operation(api):
    document = api("GET", "/api/openapi.json", role=None).get_json()

    assert document["openapi"].startswith("3.1")
    add = document["paths"]["/api/dnc/entries"]["post"]
    assert add["x-roles"] == ["admin", "compliance"]
    assert add["responses"]["400"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_the_docs_page_lists_every_operation_with_an_example(api, web):
    page = web.client("supervisor").get("/api/docs")

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    document = api("GET", "/api/openapi.json", role=None).get_json()
    for path in document["paths"]:
        assert path in text
    assert "curl -X POST" in text and "Bearer $DIALER_TOKEN" in text
    assert "https://" not in text.replace("https://example", "")  # nothing fetched from elsewhere


def test_a_signed_in_browser_writes_through_the_api_with_its_csrf_token_and_not_without(api, web):
    from tests.web_support import csrf_token

    browser = web.client("supervisor")
    token = csrf_token(browser, "/api/docs")
    body = {"name": "From the browser", "caller_id": "+12015550199"}

    refused = browser.post("/api/campaigns", json=body)
    accepted = browser.post("/api/campaigns", json=body, headers={"X-CSRFToken": token})

    assert refused.status_code == 400 and refused.get_json()["field"] == "csrf_token"
    assert accepted.status_code == 201
