"""The campaign manager's pages: the table, the campaign form, list upload with its mapping, list health."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from campaigns import services
from campaigns.compliance_models import AuditEvent
from campaigns.models import Campaign, Contact, ContactList, DispositionCode
from campaigns.settings import get_settings
from tests.web_support import csrf_token, make_rig

CALLER = "+12015550199"


class Staff:
    """A signed-in test client whose posts carry the page's CSRF token, as the browser's forms do."""

    def __init__(self, client) -> None:
        self.client = client
        self.token = csrf_token(client, "/campaigns")

    def get(self, *args, **kwargs):
        return self.client.get(*args, **kwargs)

    def post(self, url, data=None, **kwargs):
        return self.client.post(url, data={**(data or {}), "csrf_token": self.token}, **kwargs)


def staff(rig, role: str = "supervisor") -> Staff:
    return Staff(rig.client(role))


@pytest.fixture
def rig(tmp_path, monkeypatch):
    """The app with uploads under tmp_path, and the worker's settings pointing at the same database."""
    made = make_rig(tmp_path, LIST_UPLOAD_FOLDER=str(tmp_path / "uploads"))
    monkeypatch.setenv("DATABASE_URL", made.database_url)
    get_settings.cache_clear()
    yield made
    get_settings.cache_clear()
    from web import resources

    with made.app.app_context():
        resources().engine.dispose()


def form_for(name: str = "Spring renewals", **overrides: str) -> dict[str, str]:
    data = {
        "name": name, "description": "renewals due in May", "purpose": "telemarketing", "dial_mode": "predictive",
        "pacer": "", "caller_id": "(201) 555-0199", "caller_ids": "201-555-0198\n+12015550197",
        "default_region": "US", "ring_timeout_s": "25", "max_attempts": "4", "retry_delays_min": "30, 120",
        "target_abandon_pct": "2.5", "safe_harbour_s": "2", "max_dial_level": "3", "machine_action": "hangup",
        "amd_enabled": "on", "voicemail_message": "", "drop_message": "", "calling_window": "09:00-20:00",
        "recording_announcement": "", "script": "Hello {first_name}, this is {agent_name} from {campaign}.",
        "schedule_tz": "America/Chicago",
        "schedule-0-start": "09:00", "schedule-0-end": "17:30",
        **{f"schedule-0-day-{d}": "on" for d in range(5)},
        "code-0-code": "SALE", "code-0-label": "Sale", "code-0-final": "on", "code-0-sale": "on",
        "code-0-human_answered": "on",
        "code-1-code": "NA", "code-1-label": "No answer", "code-1-retry_after_min": "45",
    }  # fmt: skip
    data.update(overrides)
    return data


def only_campaign(rig) -> Campaign:
    with rig.sessions()() as session:
        campaign = session.scalars(select(Campaign)).one()
        session.expunge(campaign)
        return campaign


def events(rig, kind: str) -> list[dict]:
    """The payloads of the audit events of one kind, oldest first."""
    with rig.sessions()() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id))
        return [json.loads(row.payload) if isinstance(row.payload, str) else row.payload for row in rows]


def test_a_supervisor_creates_a_campaign_with_every_setting_and_it_is_audited(rig):
    client = staff(rig)

    response = client.post("/campaigns/new", data=form_for())

    assert response.status_code == 302
    campaign = only_campaign(rig)
    assert campaign.status == "draft"
    assert campaign.caller_id == CALLER
    assert campaign.caller_ids == ["+12015550198", "+12015550197"]
    assert campaign.schedule == [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:30"}]
    assert campaign.schedule_tz == "America/Chicago"
    assert campaign.target_abandon == pytest.approx(0.025)
    assert campaign.retry_delays_min == [30, 120]
    assert campaign.script.startswith("Hello {first_name}")
    assert "telemarketing" in campaign.drop_message  # written for it, lawful
    with rig.sessions()() as session:
        codes = {c.code: c for c in session.scalars(select(DispositionCode).where(
            DispositionCode.campaign_id == campaign.id))}  # fmt: skip
    assert set(codes) == {"SALE", "NA"}
    assert codes["NA"].retry_after_min == 45 and not codes["NA"].human_answered
    assert codes["SALE"].final and codes["SALE"].sale
    [created] = events(rig, "campaign.created")
    assert created["actor"] == "sam"


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"caller_id": "12"}, "caller_id", "not a valid phone number"),
        ({"caller_ids": "+1201555019"}, "caller_ids", "not a valid phone number"),
        ({"ring_timeout_s": "10"}, "ring_timeout_s", "at least 15"),
        ({"target_abandon_pct": "5"}, "target_abandon", "at most 0.03"),
        ({"schedule-0-end": "08:00"}, "schedule", "must start before it ends"),
        ({"schedule_tz": "EST"}, "schedule_tz", "abbreviation"),
        ({"drop_message": "Acme called. Call 201-555-0199."}, "drop_message", "does not name the seller"),
        ({"record_calls": "on"}, "recording_announcement", "is required when calls are recorded"),
        ({"code-1-code": "SALE"}, "dispositions", "appears twice"),
        ({"code-0-retry_after_min": "30"}, "dispositions", "a final disposition is never retried"),
    ],
)
def test_a_refused_setting_is_shown_next_to_its_field_and_what_was_typed_is_kept(rig, overrides, field, words):
    client = staff(rig)

    response = client.post("/campaigns/new", data=form_for(**overrides))

    page = response.get_data(as_text=True)
    assert response.status_code == 400
    found = re.search(rf'<div class="m-error" id="err-{field}" role="alert">([^<]*)</div>', page)
    assert found, page[:3000]
    assert words in found.group(1).replace("&#39;", "'")
    assert 'value="Spring renewals"' in page  # nothing typed is lost
    with rig.sessions()() as session:
        assert session.scalars(select(Campaign)).first() is None


def test_the_form_offers_every_default_disposition_and_the_merge_fields(rig):
    page = staff(rig, "admin").get("/campaigns/new").get_data(as_text=True)

    for code in ("SALE", "NI", "CB", "DNC", "NA", "BUSY", "AM", "DROP"):
        assert f'value="{code}"' in page
    for merge in ("{first_name}", "{last_name}", "{phone}", "{agent_name}", "{campaign}"):
        assert f'data-merge="{merge}"' in page


def test_the_first_edit_copies_the_default_codes_and_pacing_changes_go_through_the_audited_door(rig):
    with rig.sessions()() as session, session.begin():
        campaign_id = services.create_campaign(session, name="Autumn", caller_id=CALLER).id
    client = staff(rig)
    page = client.get(f"/campaigns/{campaign_id}/edit").get_data(as_text=True)
    data = {name: value for name, value in re.findall(r'<input name="([^"]+)" value="([^"]*)"', page)}
    codes = {value: name.split("-")[1] for name, value in data.items() if name.endswith("-code")}
    form = form_for("Autumn", dial_mode="progressive", **{
        key: "" for key in form_for() if key.startswith("code-")})
    for code, n in codes.items():
        form[f"code-{n}-code"] = code
        form[f"code-{n}-label"] = data[f"code-{n}-label"]
        form[f"code-{n}-retry_after_min"] = data.get(f"code-{n}-retry_after_min", "")
    form[f"code-{codes['NA']}-retry_after_min"] = "20"
    form[f"code-{codes['SALE']}-final"] = "on"
    form["target_abandon_pct"] = "1.5"
    form["drop_message"] = services.default_drop_message("Autumn", CALLER)

    response = client.post(f"/campaigns/{campaign_id}/edit", data=form)

    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    with rig.sessions()() as session:
        own = {c.code: c for c in session.scalars(select(DispositionCode).where(
            DispositionCode.campaign_id == campaign_id))}  # fmt: skip
        defaults = session.scalars(select(DispositionCode).where(DispositionCode.campaign_id.is_(None))).all()
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None and campaign.target_abandon == pytest.approx(0.015)
    assert set(own) == {d.code for d in defaults}
    assert own["NA"].retry_after_min == 20
    [pacing] = events(rig, "campaign.pacing_changed")
    assert pacing["changes"]["target_abandon"] == {"from": 0.03, "to": 0.015}
    [settings_changed] = events(rig, "campaign.settings_changed")
    assert settings_changed["dispositions"]["NA"]["retry_after_min"] == {"from": 60, "to": 20}
    assert settings_changed["changes"]["schedule_tz"]["to"] == "America/Chicago"


def test_the_campaigns_table_shows_status_counts_and_starts_and_pauses_by_hand(rig):
    with rig.sessions()() as session, session.begin():
        campaign = services.create_campaign(session, name="Winter", caller_id=CALLER)
        campaign_id = campaign.id
        listed = ContactList(campaign_id=campaign.id, name="w.csv")
        session.add(listed)
        session.flush()
        session.add(Contact(campaign_id=campaign.id, list_id=listed.id))
    client = staff(rig)

    page = client.get("/campaigns").get_data(as_text=True)
    assert "Winter" in page and 'class="pill m-status-draft"' in page

    assert client.post(f"/campaigns/{campaign_id}/status", data={"action": "start"}).status_code == 302
    assert only_campaign(rig).status == "active"
    page = client.get("/campaigns").get_data(as_text=True)
    assert 'value="pause"' in page
    assert client.post(f"/campaigns/{campaign_id}/status", data={"action": "explode"}).status_code == 400
    assert [e["to"] for e in events(rig, "campaign.status_changed")] == ["active"]


def test_agents_and_compliance_officers_cannot_open_the_manager(rig):
    assert rig.client("agent").get("/campaigns").status_code == 403
    assert rig.client("compliance").get("/campaigns/new").status_code == 403


def test_the_form_pages_carry_the_csrf_token_and_a_post_without_it_is_refused(rig):
    client = rig.client("supervisor")

    token = csrf_token(client, "/campaigns/new")

    assert client.post("/campaigns/new", data=form_for()).status_code == 400
    assert client.post("/campaigns/new", data={**form_for(), "csrf_token": token}).status_code == 302


LEADS = (
    "First Name,Surname,Cell,Work Phone,ZIP,Plan\n"
    "Ada,Lovelace,(312) 555-0101,,60601,gold\n"
    "Bob,Byte,not a phone,,60602,silver\n"
    "Cy,Code,312-555-0103,312-555-0104,60603,gold\n"
    "Di,Dup,(312) 555-0101,,60604,bronze\n"
)


def upload(client, campaign_id: int, text: str = LEADS, name: str = "spring.csv"):
    return client.post(f"/campaigns/{campaign_id}/lists/new",
                       data={"file": (io.BytesIO(text.encode()), name)}, content_type="multipart/form-data")


def make_campaign(rig, name: str = "Lists") -> int:
    with rig.sessions()() as session, session.begin():
        return services.create_campaign(session, name=name, caller_id=CALLER).id


def test_an_upload_shows_the_columns_with_the_importers_guesses_and_the_first_rows(rig, tmp_path):
    campaign_id = make_campaign(rig)
    client = staff(rig)

    response = upload(client, campaign_id)

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    selected = dict(re.findall(r'name="map-(\d+)"[^>]*>.*?<option value="([a-z_]+)" selected', page, re.S))
    assert selected == {"0": "first_name", "1": "last_name", "2": "phone", "3": "phone", "4": "postal_code",
                        "5": "custom"}
    assert "(312) 555-0101" in page and "Lovelace" in page
    saved = list((tmp_path / "uploads").glob("*.csv"))
    assert len(saved) == 1 and "static" not in str(saved[0])


def test_a_confirmed_mapping_imports_in_the_background_and_the_reject_report_names_each_row(rig):
    campaign_id = make_campaign(rig)
    client = staff(rig)
    page = upload(client, campaign_id).get_data(as_text=True)
    token = re.search(r'name="token" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]

    response = client.post(f"/campaigns/{campaign_id}/lists/import", data={
        "token": token, "list_name": "Spring leads", "region": "US",
        "map-0": "first_name", "map-1": "last_name", "map-2": "phone", "map-3": "phone",
        "map-4": "postal_code", "map-5": "custom",
    })  # fmt: skip

    assert response.status_code == 302
    job_url = response.headers["Location"]
    status = client.get(job_url + ".json").get_json()
    assert status["state"] == "finished" and status["percent"] == 100.0
    assert (status["rows_read"], status["landed"], status["rejected"]) == (4, 2, 2)
    assert status["rejected_by_reason"] == {"bad_number": 1, "duplicate_in_list": 1}
    page = client.get(job_url).get_data(as_text=True)
    assert "Download the reject report" in page
    report = client.get(status["rejects_url"])
    assert report.status_code == 200 and report.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(report.get_data(as_text=True))))
    assert rows[0][:3] == ["row", "reason", "detail"] and rows[0][3:] == LEADS.splitlines()[0].split(",")
    by_row = {row[0]: row for row in rows[1:]}
    assert by_row["3"][1] == "bad_number" and by_row["3"][3] == "Bob"
    assert by_row["5"][1] == "duplicate_in_list"
    with rig.sessions()() as session:
        listed = session.scalars(select(ContactList)).one()
        contacts = session.scalars(select(Contact).order_by(Contact.id)).all()
        assert [c.custom_fields for c in contacts] == [{"Plan": "gold"}, {"Plan": "gold"}]
        assert [len(c.phones) for c in contacts] == [1, 2]
    assert listed.name == "Spring leads"


def test_a_mapping_without_a_phone_or_with_a_field_twice_is_sent_back_with_the_reason(rig):
    campaign_id = make_campaign(rig)
    client = staff(rig)
    page = upload(client, campaign_id).get_data(as_text=True)
    token = re.search(r'name="token" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]
    base = {"token": token, "map-0": "first_name", "map-1": "last_name", "map-4": "postal_code", "map-5": "custom"}

    url = f"/campaigns/{campaign_id}/lists/import"

    no_phone = client.post(url, data={**base, "map-2": "ignore", "map-3": "ignore"})
    twice = client.post(url, data={**base, "map-1": "first_name", "map-2": "phone", "map-3": "phone"})

    assert no_phone.status_code == 400 and "map at least one column to Phone" in no_phone.get_data(as_text=True)
    assert twice.status_code == 400 and "both mapped to first_name" in twice.get_data(as_text=True)


def test_an_empty_or_utf16_file_is_refused_with_what_to_do(rig):
    campaign_id = make_campaign(rig)
    client = staff(rig)

    empty = upload(client, campaign_id, "")
    utf16 = client.post(f"/campaigns/{campaign_id}/lists/new",
                        data={"file": (io.BytesIO("phone\n123\n".encode("utf-16")), "x.csv")},
                        content_type="multipart/form-data")  # fmt: skip
    none = client.post(f"/campaigns/{campaign_id}/lists/new", data={}, content_type="multipart/form-data")

    assert empty.status_code == 400 and "the file is empty" in empty.get_data(as_text=True)
    assert utf16.status_code == 400 and "CSV UTF-8" in utf16.get_data(as_text=True)
    assert none.status_code == 400 and "choose a CSV file" in none.get_data(as_text=True)


def test_an_upload_token_of_another_campaign_or_a_made_up_job_is_not_found(rig):
    first, second = make_campaign(rig, "First"), make_campaign(rig, "Second")
    client = staff(rig)
    page = upload(client, first).get_data(as_text=True)
    token = re.search(r'name="token" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]

    assert client.post(f"/campaigns/{second}/lists/import", data={"token": token}).status_code == 404
    assert client.post(f"/campaigns/{first}/lists/import", data={"token": "../../etc/passwd"}).status_code == 404
    assert client.get(f"/campaigns/{second}/lists/job/import-{first}-abc.json").status_code == 404
    assert client.get(f"/campaigns/{first}/lists/9/rejects.csv").status_code == 404


def test_list_health_shows_what_is_dialable_and_why_the_rest_is_not(rig):
    campaign_id = make_campaign(rig)
    with rig.sessions()() as session, session.begin():
        listed = ContactList(campaign_id=campaign_id, name="health.csv")
        session.add(listed)
        session.flush()
        session.add_all([
            Contact(campaign_id=campaign_id, list_id=listed.id, status="done", last_disposition="SALE"),
            Contact(campaign_id=campaign_id, list_id=listed.id, status="exhausted", attempts=5),
            Contact(campaign_id=campaign_id, list_id=listed.id, status="new"),  # no phone at all
        ])  # fmt: skip
    client = staff(rig)

    page = client.get(f"/campaigns/{campaign_id}/health").get_data(as_text=True)
    data = client.get(f"/campaigns/{campaign_id}/health", headers={"Accept": "application/json"}).get_json()

    assert data["total"]["finished_by"] == {"SALE": 1}
    assert data["total"]["not_by"]["attempts_exhausted"] == 1
    assert data["total"]["not_by"]["bad_phones"] == 1
    assert data["lists"][0]["name"] == "health.csv"
    assert "<svg" in page and "health.csv" in page and "Attempts exhausted" in page


def test_junk_ids_get_not_found_instead_of_an_error(rig):
    client = staff(rig)

    for url in ("/campaigns/99/edit", "/campaigns/99/health", "/campaigns/99/lists/new"):
        assert client.get(url).status_code == 404
    assert client.post("/campaigns/99/status", data={"action": "start"}).status_code == 404


def test_uploads_go_to_the_instance_folder_when_none_is_configured(tmp_path):
    rig = make_rig(tmp_path)
    rig.app.instance_path = str(tmp_path / "instance")
    with rig.app.test_request_context():
        from web.manager import _upload_folder

        folder = _upload_folder()

    assert folder == tmp_path / "instance" / "list-uploads"
    assert (folder / "rejects").is_dir()
    assert Path(rig.app.static_folder or "") not in folder.parents


def test_moving_the_dial_mode_with_the_old_pacer_left_in_place_takes_the_new_modes_pacer(rig):
    with rig.sessions()() as session, session.begin():
        campaign_id = services.create_campaign(session, name="Modes", caller_id=CALLER).id
    client = staff(rig)
    form = form_for("Modes", dial_mode="power", pacer="progressive",
                    drop_message=services.default_drop_message("Modes", CALLER))

    response = client.post(f"/campaigns/{campaign_id}/edit", data=form)
    refused = client.post(f"/campaigns/{campaign_id}/edit", data={**form, "dial_mode": "preview", "pacer": "ratio:2"})

    assert response.status_code == 302
    campaign = only_campaign(rig)
    assert (campaign.dial_mode, campaign.pacer) == ("power", "ratio:1.5")
    assert refused.status_code == 400 and "does not fit dial mode" in refused.get_data(as_text=True)


# --------------------------------------------------------------------------- the questionnaire

FREE_TEXT_POLL = {
    "title": "Neighbourhood",
    "questions": [
        {"id": "voter", "text": "Are you registered to vote, {first_name}?", "type": "yesno"},
        {"id": "why", "text": "Why?", "type": "text"},
    ],
}
KEYPAD_POLL = {
    "title": "Quick poll",
    "questions": [{"id": "score", "text": "From 0 to 10, how likely are you to vote?", "type": "rating"}],
}


def stored_questionnaire(rig, name: str, definition: dict, *, published: bool = True) -> int:
    from campaigns import surveys

    with rig.sessions()() as session, session.begin():
        surveys.add_version(session, name, definition)
        questionnaire = surveys.get_questionnaire(session, name)
        if published:
            surveys.publish(session, questionnaire)
        return questionnaire.id


def asked(rig, campaign_id: int) -> tuple[int, str] | None:
    from campaigns.survey_models import CampaignSurvey

    with rig.sessions()() as session:
        link = session.get(CampaignSurvey, campaign_id)
        return (link.questionnaire_id, link.mode) if link else None


def test_a_campaign_is_created_asking_a_published_questionnaire_read_by_its_agents(rig):
    free_text = stored_questionnaire(rig, "Neighbourhood", FREE_TEXT_POLL)
    stored_questionnaire(rig, "Draft poll", KEYPAD_POLL, published=False)
    client = staff(rig)

    page = client.get("/campaigns/new").get_data(as_text=True)
    response = client.post("/campaigns/new", data=form_for(questionnaire_id=str(free_text), survey_mode="agent"))

    assert 'name="questionnaire_id"' in page and 'name="survey_mode"' in page
    assert f'<option value="{free_text}">Neighbourhood (version 1)</option>' in page
    assert re.search(r'<option value="\d+" disabled>Draft poll \(not published yet\)</option>', page)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    campaign = only_campaign(rig)
    assert asked(rig, campaign.id) == (free_text, "agent")
    [created] = events(rig, "campaign.created")
    assert created["questionnaire"] == "Neighbourhood (read by agents)"
    table = client.get("/campaigns").get_data(as_text=True)
    assert "asks <em>Neighbourhood</em>" in table


def test_a_phone_survey_a_keypad_cannot_answer_or_an_unpublished_questionnaire_is_refused_at_its_field(rig):
    free_text = stored_questionnaire(rig, "Neighbourhood", FREE_TEXT_POLL)
    draft = stored_questionnaire(rig, "Draft poll", KEYPAD_POLL, published=False)
    client = staff(rig)

    by_phone = client.post("/campaigns/new", data=form_for(questionnaire_id=str(free_text), survey_mode="ivr"))
    unpublished = client.post("/campaigns/new", data=form_for(questionnaire_id=str(draft)))
    bad_mode = client.post("/campaigns/new", data=form_for(questionnaire_id=str(free_text), survey_mode="robot"))
    junk = client.post("/campaigns/new", data=form_for(questionnaire_id="x"))
    gone = client.post("/campaigns/new", data=form_for(questionnaire_id="999"))

    text = by_phone.get_data(as_text=True)
    assert by_phone.status_code == 400
    assert 'id="err-questionnaire"' in text and "why.type: free text cannot be typed on a phone keypad" in text
    assert f'<option value="{free_text}" selected>' in text  # what was chosen is kept
    assert '<option value="ivr" selected>' in text
    assert unpublished.status_code == 400 and "Draft poll has no published version yet" in unpublished.get_data(
        as_text=True)
    assert bad_mode.status_code == 400 and 'id="err-survey_mode"' in bad_mode.get_data(as_text=True)
    assert junk.status_code == 400 and "choose a questionnaire from the list" in junk.get_data(as_text=True)
    assert gone.status_code == 400 and "no questionnaire has the id or name" in gone.get_data(as_text=True)
    with rig.sessions()() as session:
        assert session.scalars(select(Campaign)).all() == []  # nothing half saved


def test_an_edit_changes_the_questionnaire_and_its_mode_or_removes_it_and_each_change_is_audited(rig):
    free_text = stored_questionnaire(rig, "Neighbourhood", FREE_TEXT_POLL)
    keypad = stored_questionnaire(rig, "Quick poll", KEYPAD_POLL)
    client = staff(rig)
    client.post("/campaigns/new", data=form_for("Autumn", questionnaire_id=str(free_text)))
    campaign_id = only_campaign(rig).id
    drop = {"drop_message": only_campaign(rig).drop_message}

    page = client.get(f"/campaigns/{campaign_id}/edit").get_data(as_text=True)
    to_phone = client.post(f"/campaigns/{campaign_id}/edit",
                           data=form_for("Autumn", questionnaire_id=str(keypad), survey_mode="ivr", **drop))
    by_phone = asked(rig, campaign_id)
    untouched = client.post(f"/campaigns/{campaign_id}/edit", data=form_for("Autumn", **drop))
    still = asked(rig, campaign_id)
    removed = client.post(f"/campaigns/{campaign_id}/edit", data=form_for("Autumn", questionnaire_id="", **drop))

    assert f'<option value="{free_text}" selected>Neighbourhood (version 1)</option>' in page
    assert to_phone.status_code == 302, to_phone.get_data(as_text=True)[:2000]
    assert by_phone == (keypad, "ivr")
    assert untouched.status_code == 302 and still == (keypad, "ivr")  # a post without the field keeps it
    assert removed.status_code == 302 and asked(rig, campaign_id) is None
    changes = [e["changes"]["questionnaire"] for e in events(rig, "campaign.settings_changed")
               if "questionnaire" in e["changes"]]
    assert changes == [
        {"from": "Neighbourhood (read by agents)", "to": "Quick poll (played by the phone)"},
        {"from": "Quick poll (played by the phone)", "to": None},
    ]
