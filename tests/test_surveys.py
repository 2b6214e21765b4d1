"""Surveys on the database: versions, interviews that resume across calls, quotas, the export and the CLI."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import surveys
from campaigns.cli import main
from campaigns.models import CallAttempt, Campaign, Contact, ContactList, ContactPhone
from campaigns.questionnaire import Ask, Finished
from campaigns.services import create_campaign
from campaigns.settings import get_settings
from campaigns.survey_models import SurveyAnswer, SurveyResponse
from tests.test_questionnaire import POLL


def make_campaign(session: Session, name: str = "Town poll") -> Campaign:
    return create_campaign(session, name=name, caller_id="+12015550123", purpose="survey")


def add_contact(session: Session, campaign: Campaign, e164: str, **fields: Any) -> Contact:
    listing = session.scalar(select(ContactList).where(ContactList.campaign_id == campaign.id))
    if listing is None:
        listing = ContactList(campaign_id=campaign.id, name="list")
        session.add(listing)
        session.flush()
    contact = Contact(campaign_id=campaign.id, list_id=listing.id, **fields)
    contact.phones.append(ContactPhone(campaign_id=campaign.id, e164=e164))
    session.add(contact)
    session.flush()
    return contact


def call(session: Session, contact: Contact, number: int) -> int:
    phone = contact.phones[0]
    attempt = CallAttempt(campaign_id=contact.campaign_id, contact_id=contact.id, phone_id=phone.id, e164=phone.e164,
                          attempt_number=number, placed_at=datetime(2026, 12, 1, 15, number, tzinfo=UTC))
    session.add(attempt)
    session.flush()
    return attempt.id


@pytest.fixture
def poll(session: Session) -> Campaign:
    campaign = make_campaign(session)
    version, _ = surveys.add_version(session, "Town poll", POLL, created_by="pat")
    surveys.publish(session, surveys.get_questionnaire(session, "Town poll"), version.version)
    surveys.assign(session, campaign, surveys.get_questionnaire(session, "Town poll"))
    return campaign


def answer_all(session: Session, campaign: Campaign, contact: Contact, *answers: tuple[str, Any]) -> Any:
    state = surveys.start_interview(session, campaign.id, contact.id)
    for question_id, value in answers:
        state = surveys.record_answer(session, state.response.id, question_id, value)
    return state


RED_VOTER = (("voter", True), ("party", 1), ("score", 8), ("topics", [1, 3]), ("age", 45), ("since", None))


# ---------------------------------------------------------------------- versions


def test_importing_a_changed_definition_adds_a_version_and_the_same_one_again_adds_nothing(session):
    first, new_first = surveys.add_version(session, "Town poll", POLL)
    again, new_again = surveys.add_version(session, "Town poll", POLL)
    changed, new_changed = surveys.add_version(session, "Town poll", {**POLL, "title": "Town poll, autumn"})

    assert (first.version, new_first) == (1, True)
    assert (again.id, new_again) == (first.id, False)
    assert (changed.version, new_changed) == (2, True)
    assert first.published_at is None


def test_a_bad_definition_is_not_stored_and_the_error_names_the_field(session):
    with pytest.raises(surveys.SurveyError) as refused:
        surveys.add_version(session, "Broken", {"questions": [{"id": "a", "text": "a", "type": "essay"}]})

    assert refused.value.field == "a.type"
    with pytest.raises(surveys.SurveyError, match="no questionnaire"):
        surveys.get_questionnaire(session, "Broken")


def test_a_campaign_asks_only_a_published_questionnaire_and_a_phone_survey_only_one_a_keypad_can_answer(session):
    campaign = make_campaign(session)
    surveys.add_version(session, "Town poll", POLL)
    questionnaire = surveys.get_questionnaire(session, "Town poll")

    with pytest.raises(surveys.SurveyError, match="no published version"):
        surveys.assign(session, campaign, questionnaire)
    surveys.publish(session, questionnaire)
    with pytest.raises(surveys.SurveyError) as refused:
        surveys.assign(session, campaign, questionnaire, "ivr")
    assert refused.value.field == "other.type"

    assert surveys.assign(session, campaign, questionnaire, "agent").mode == "agent"


# ---------------------------------------------------------------------- interviews


def test_an_interview_started_on_one_call_resumes_on_the_next_at_the_first_unanswered_question(session, poll):
    ann = add_contact(session, poll, "+12025550101", first_name="Ann")
    first_call, second_call = call(session, ann, 1), call(session, ann, 2)

    state = surveys.start_interview(session, poll.id, ann.id, attempt_id=first_call)
    assert isinstance(state.step, Ask) and state.step.text == "Hello Ann, are you registered to vote?"
    surveys.record_answer(session, state.response.id, "voter", "yes", attempt_id=first_call)
    surveys.record_answer(session, state.response.id, "party", 2, attempt_id=first_call)
    session.commit()  # the first call drops here

    resumed = surveys.start_interview(session, poll.id, ann.id, attempt_id=second_call)
    assert resumed.response.id == state.response.id and resumed.response.status == "partial"
    assert isinstance(resumed.step, Ask) and resumed.step.question.id == "score"
    assert resumed.step.text == "You said Blue. How likely are you to vote, 0 to 10?"
    surveys.record_answer(session, resumed.response.id, "score", 9, attempt_id=second_call)

    given_on = dict(session.execute(select(SurveyAnswer.question_id, SurveyAnswer.attempt_id)).all())
    assert given_on == {"voter": first_call, "party": first_call, "score": second_call}


def test_a_refused_answer_names_the_question_and_stores_nothing(session, poll):
    ann = add_contact(session, poll, "+12025550101")
    state = surveys.start_interview(session, poll.id, ann.id)

    with pytest.raises(surveys.SurveyError) as refused:
        surveys.record_answer(session, state.response.id, "voter", "perhaps")

    assert refused.value.field == "voter"
    assert session.scalars(select(SurveyAnswer)).all() == []


def test_an_interview_keeps_its_version_when_a_new_one_is_published(session, poll):
    ann = add_contact(session, poll, "+12025550101")
    started = surveys.start_interview(session, poll.id, ann.id)
    reworded = {**POLL, "questions": [{**POLL["questions"][0], "text": "Are you on the voters' roll?"},
                                      *POLL["questions"][1:]]}
    version, _ = surveys.add_version(session, "Town poll", reworded)
    surveys.publish(session, surveys.get_questionnaire(session, "Town poll"))
    bob = add_contact(session, poll, "+12025550102")

    assert surveys.start_interview(session, poll.id, ann.id).version.id == started.version.id
    later = surveys.start_interview(session, poll.id, bob.id)
    assert later.version.id == version.id
    assert isinstance(later.step, Ask) and later.step.text == "Are you on the voters' roll?"


def test_a_finished_interview_takes_no_more_answers_and_drops_answers_off_its_path(session, poll):
    ann = add_contact(session, poll, "+12025550101")
    state = answer_all(session, poll, ann, ("voter", True), ("party", 9), ("other", "Green"))
    response_id = state.response.id
    surveys.record_answer(session, response_id, "party", 1)  # a correction: Red skips "other"
    for question_id, value in RED_VOTER[2:]:
        state = surveys.record_answer(session, response_id, question_id, value)

    assert state.response.status == "complete" and state.response.completed_at is not None
    kept = set(session.scalars(select(SurveyAnswer.question_id).where(SurveyAnswer.response_id == response_id)))
    assert kept == {"voter", "party", "score", "topics", "age", "since"}
    with pytest.raises(surveys.SurveyError) as refused:
        surveys.record_answer(session, response_id, "age", 50)
    assert refused.value.field == "status"


def test_an_interview_is_refused_for_a_contact_or_call_of_another_campaign(session, poll):
    other = make_campaign(session, "Elsewhere")
    stranger = add_contact(session, other, "+12025550199")
    ann = add_contact(session, poll, "+12025550101")

    with pytest.raises(surveys.SurveyError) as contact_refused:
        surveys.start_interview(session, poll.id, stranger.id)
    with pytest.raises(surveys.SurveyError) as call_refused:
        surveys.start_interview(session, poll.id, ann.id, attempt_id=call(session, stranger, 1))

    assert (contact_refused.value.field, call_refused.value.field) == ("contact_id", "attempt_id")
    with pytest.raises(surveys.SurveyError, match="asks no questionnaire"):
        surveys.start_interview(session, other.id, stranger.id)


# ---------------------------------------------------------------------- quotas


def test_a_quota_cell_fills_and_then_screens_out_new_respondents_and_is_skipped_when_dialing(session, poll):
    contacts = [add_contact(session, poll, f"+1202555010{n}", state="NY") for n in range(4)]
    screen = surveys.quota_screen(session, poll.id)
    assert screen(contacts[3]) is None

    for contact in contacts[:2]:
        assert answer_all(session, poll, contact, *RED_VOTER).response.status == "complete"
    third = answer_all(session, poll, contacts[2], ("voter", True), ("party", 1))

    assert third.response.status == "screened_out" and third.response.end_reason == "quota red"
    assert isinstance(third.step, Finished) and third.step.reason == "quota red"
    report = {cell["id"]: cell for cell in surveys.quota_report(session, poll.id)}
    assert (report["red"]["completes"], report["red"]["full"]) == (2, True)
    assert (report["young"]["completes"], report["young"]["full"]) == (0, False)
    screen = surveys.quota_screen(session, poll.id)
    assert screen(contacts[3]) == "red"
    assert screen(add_contact(session, poll, "+12025550190", state="CA")) is None
    blue = answer_all(session, poll, add_contact(session, poll, "+12025550191"), ("voter", True), ("party", 2))
    assert blue.response.status == "partial"


def test_a_partial_interview_in_a_cell_that_filled_meanwhile_is_screened_out_when_it_resumes(session, poll):
    late = add_contact(session, poll, "+12025550109")
    waiting = answer_all(session, poll, late, ("voter", True), ("party", 1), ("score", 7))
    for n in range(2):
        answer_all(session, poll, add_contact(session, poll, f"+1202555012{n}"), *RED_VOTER)

    resumed = surveys.start_interview(session, poll.id, late.id)
    assert isinstance(resumed.step, Finished) and resumed.step.reason == "quota red"
    with pytest.raises(surveys.SurveyError):
        surveys.record_answer(session, waiting.response.id, "topics", [1])


# ---------------------------------------------------------------------- export


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_the_export_has_one_row_per_respondent_with_codes_and_a_codebook_that_describes_every_column(session, poll):
    ann = add_contact(session, poll, "+12025550101", external_id="=HYPERLINK(1)", first_name="Ann")
    bob = add_contact(session, poll, "+12025550102", external_id="B-2")
    first_call = call(session, ann, 1)
    state = surveys.start_interview(session, poll.id, ann.id, attempt_id=first_call)
    for question_id, value in RED_VOTER:
        surveys.record_answer(session, state.response.id, question_id, value, attempt_id=first_call)
    answer_all(session, poll, bob, ("voter", False))
    answers, codebook = io.StringIO(newline=""), io.StringIO(newline="")

    assert surveys.export_responses(session, poll.id, answers) == 2
    columns = surveys.export_codebook(session, poll.id, codebook)

    rows = read_csv(answers.getvalue())
    ann_row, bob_row = rows
    assert ann_row["external_id"] == "'=HYPERLINK(1)"  # formula-safe
    # A leading + is a formula to a spreadsheet, so the number is written as text, as in every export.
    assert (ann_row["phone"], ann_row["campaign"], ann_row["version"]) == ("'+12025550101", "Town poll", "1")
    assert (ann_row["status"], ann_row["voter"], ann_row["party"], ann_row["score"]) == ("complete", "1", "1", "8")
    assert (ann_row["topics_1"], ann_row["topics_2"], ann_row["topics_3"]) == ("1", "0", "1")
    assert (ann_row["other"], ann_row["age"], ann_row["since"]) == ("", "45", "")
    assert ann_row["completed"] and datetime.fromisoformat(ann_row["started"]).tzinfo is not None
    assert (bob_row["status"], bob_row["end_reason"], bob_row["voter"], bob_row["party"]) == (
        "screened_out", "rule at voter", "2", "")
    assert bob_row["topics_1"] == ""

    book = {row["column"]: row for row in read_csv(codebook.getvalue())}
    assert columns == len(book) == len(rows[0])
    assert set(book) == set(rows[0])
    assert book["party"]["codes"] == "1=Red; 2=Blue; 9=Other"
    assert book["voter"]["codes"] == "1=yes; 2=no"
    assert book["topics_3"]["codes"] == "1=Roads chosen; 0=not chosen"
    age = book["age"]
    assert (age["type"], age["codes"], age["versions"]) == ("number", "whole number 18..120", "1")
    assert book["score"]["text"] == "You said {party}. How likely are you to vote, 0 to 10?"


def test_the_export_covers_respondents_of_every_version_with_a_column_for_each_question_asked(session, poll):
    answer_all(session, poll, add_contact(session, poll, "+12025550101"), ("voter", True))
    newer = {**POLL, "questions": [*POLL["questions"], {"id": "email_ok", "text": "May we email?", "type": "yesno"}]}
    surveys.add_version(session, "Town poll", newer)
    surveys.publish(session, surveys.get_questionnaire(session, "Town poll"))
    answer_all(session, poll, add_contact(session, poll, "+12025550102"), ("voter", True))
    answers, codebook = io.StringIO(newline=""), io.StringIO(newline="")

    surveys.export_responses(session, poll.id, answers)
    surveys.export_codebook(session, poll.id, codebook)

    rows = read_csv(answers.getvalue())
    book = {row["column"]: row for row in read_csv(codebook.getvalue())}
    assert [row["version"] for row in rows] == ["1", "2"]
    assert (book["email_ok"]["versions"], book["voter"]["versions"]) == ("2", "1, 2")
    assert rows[0]["email_ok"] == ""


# ---------------------------------------------------------------------- the dialer survey command


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'dialer.db'}")
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str) -> Any:
        get_settings.cache_clear()
        return runner.invoke(main, list(args), catch_exceptions=False)

    yield run
    get_settings.cache_clear()


def test_the_survey_command_imports_publishes_assigns_reports_quotas_and_exports(cli, tmp_path):
    (tmp_path / "poll.json").write_text(json.dumps(POLL))
    assert cli("campaign", "create", "Spring", "--caller-id", "2015550123").exit_code == 0

    checked = cli("survey", "check", "poll.json")
    imported = cli("survey", "import", "poll.json", "--name", "Town poll", "--publish", "--by", "pat")
    again = cli("survey", "import", "poll.json", "--name", "Town poll")
    ivr = cli("survey", "assign", "Town poll", "--campaign", "Spring", "--mode", "ivr")
    assigned = cli("survey", "assign", "Town poll", "--campaign", "Spring")
    quotas = cli("survey", "quotas", "--campaign", "Spring", "--json")
    listed = cli("survey", "list")
    exported = cli("survey", "export", "--campaign", "Spring", "--out", "answers.csv", "--codebook", "book.csv")

    assert checked.exit_code == 0 and "7 questions, 2 quota cells, valid" in checked.output
    assert "other.type: free text cannot be typed" in checked.output
    assert imported.output.strip() == "Town poll: version 1 stored, published"
    assert again.output.strip() == "Town poll: version 1 unchanged, published"
    assert ivr.exit_code == 1 and "other.type" in ivr.output
    assert assigned.output.strip() == "Spring asks Town poll (agent)"
    assert [(c["id"], c["target"], c["completes"]) for c in json.loads(quotas.output)] == [("red", 2, 0),
                                                                                          ("young", 1, 0)]
    assert "Town poll  versions 1*" in listed.output
    assert exported.exit_code == 0
    assert (tmp_path / "answers.csv").read_text().startswith("contact_id,external_id,phone,campaign,version")
    assert len(read_csv((tmp_path / "book.csv").read_text())) == 9 + 9  # respondent columns + questions


def test_the_survey_command_says_what_is_wrong_with_a_file(cli, tmp_path):
    (tmp_path / "bad.json").write_text('{"questions": [{"id": "a", "text": "a", "type": "essay"}]}')
    (tmp_path / "broken.json").write_text("{nope")

    bad = cli("survey", "check", "bad.json")
    broken = cli("survey", "import", "broken.json", "--name", "x")

    assert bad.exit_code == 1 and "a.type: must be one of single" in bad.output
    assert broken.exit_code == 1 and "broken.json is not JSON: line 1" in broken.output
    assert not (tmp_path / "dialer.db").exists()


def test_responses_are_unique_per_contact_and_campaign(session, poll):
    ann = add_contact(session, poll, "+12025550101")
    first = surveys.start_interview(session, poll.id, ann.id)
    second = surveys.start_interview(session, poll.id, ann.id)

    assert first.response.id == second.response.id
    assert len(session.scalars(select(SurveyResponse)).all()) == 1


@pytest.mark.integration
def test_on_postgresql_an_interview_resumes_fills_a_quota_and_exports_like_on_sqlite(pg_url):
    from campaigns.db import make_engine, make_session_factory
    from campaigns.models import Base

    engine = make_engine(pg_url)
    Base.metadata.create_all(engine)
    try:
        with make_session_factory(engine)() as session:
            campaign = make_campaign(session)
            surveys.add_version(session, "Town poll", POLL)
            questionnaire = surveys.get_questionnaire(session, "Town poll")
            surveys.publish(session, questionnaire)
            surveys.assign(session, campaign, questionnaire)
            people = [add_contact(session, campaign, f"+1202555010{n}", state="NJ") for n in range(3)]
            session.commit()
            first_call = call(session, people[0], 1)
            partial = surveys.start_interview(session, campaign.id, people[0].id, attempt_id=first_call)
            surveys.record_answer(session, partial.response.id, "voter", True)
            session.commit()
            resumed = answer_all(session, campaign, people[0], *RED_VOTER[1:])  # "voter" came on the first call
            fresh = answer_all(session, campaign, people[1], *RED_VOTER)
            assert (resumed.response.id, resumed.response.status) == (partial.response.id, "complete")
            assert fresh.response.status == "complete"
            session.commit()
            skipped = answer_all(session, campaign, people[2], ("voter", True), ("party", 1))
            session.commit()
            out = io.StringIO(newline="")
            surveys.export_responses(session, campaign.id, out)

            assert skipped.response.end_reason == "quota red"
            assert surveys.quota_screen(session, campaign.id)(people[2]) == "red"
            rows = read_csv(out.getvalue())
            assert [row["status"] for row in rows] == ["complete", "complete", "screened_out"]
            assert [row["since"] for row in rows] == ["", "", ""]  # a skipped date is stored as JSON null
            assert rows[0]["topics_3"] == "1"
    finally:
        engine.dispose()


# ---------------------------------------------------------------------- the phone survey through Twilio

TOKEN = "survey-test-token"
BASE = "https://dialer.example.com"
KEYPAD_POLL = {**POLL, "intro": "A short survey for the town.",
               "questions": [q for q in POLL["questions"] if q["id"] != "other"]}


@pytest.fixture
def phone_survey(tmp_path: Path) -> Any:
    import uuid

    from campaigns import db
    from web import create_app
    from web.survey_ivr import bp

    url = f"sqlite:///{tmp_path / 'ivr.db'}"
    db.ensure_schema(url)
    engine = db.make_engine(url)
    with db.make_session_factory(engine)() as session, session.begin():
        campaign = make_campaign(session)
        surveys.add_version(session, "Keypad poll", KEYPAD_POLL)
        questionnaire = surveys.get_questionnaire(session, "Keypad poll")
        surveys.publish(session, questionnaire)
        surveys.assign(session, campaign, questionnaire, "ivr")
        ann = add_contact(session, campaign, "+12025550101", first_name="Ann")
        first, second = call(session, ann, 1), call(session, ann, 2)
        ids = {"campaign": campaign.id, "contact": ann.id, "first": first, "second": second}
        session.get(CallAttempt, second).carrier_call_id = "CA" + "7" * 32  # type: ignore[union-attr]
    app = create_app({"TESTING": True, "DATABASE_URL": url, "REDIS_URL": f"memory://survey-{uuid.uuid4().hex}",
                      "TWILIO_AUTH_TOKEN": TOKEN, "PUBLIC_BASE_URL": BASE})
    if "survey_ivr" not in app.blueprints:
        app.register_blueprint(bp)
    yield app.test_client(), ids, db.make_session_factory(engine)
    engine.dispose()


def twilio_post(client: Any, url: str, form: dict[str, str] | None = None, *, sign: bool = True) -> Any:
    from twilio.request_validator import RequestValidator

    form = form or {}
    headers = {"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url, form)} if sign else {}
    return client.post(url.removeprefix(BASE), data=form, headers=headers)


def gather_of(response: Any) -> tuple[dict[str, str], str, str]:
    """The gather's attributes, what it says, and where the call goes if it ends in silence."""
    import xml.etree.ElementTree as ET

    assert response.status_code == 200, response.get_data(as_text=True)
    root = ET.fromstring(response.get_data(as_text=True))
    gather = root.find("Gather")
    assert gather is not None, response.get_data(as_text=True)
    say = gather.find("Say")
    redirect = root.find("Redirect")
    assert say is not None and redirect is not None
    return dict(gather.attrib), say.text or "", redirect.text or ""


def test_a_phone_survey_asks_by_key_presses_resumes_on_the_next_call_and_hangs_up_at_the_end(phone_survey):
    from web.survey_ivr import survey_url

    client, ids, sessions = phone_survey
    start = survey_url(BASE, ids["campaign"], ids["first"])

    first, said, _ = gather_of(twilio_post(client, start))
    assert said == ("A short survey for the town. Hello Ann, are you registered to vote? "
                    "For yes, press 1. For no, press 2.")
    assert (first["numDigits"], first["finishOnKey"], first["input"]) == ("1", "#", "dtmf")
    assert first["action"] == survey_url(BASE, ids["campaign"], ids["first"], "voter")

    party, said, _ = gather_of(twilio_post(client, first["action"], {"Digits": "1"}))
    assert said.startswith("Which party do you lean to? For Red, press 1.")
    retry, said, _ = gather_of(twilio_post(client, party["action"], {"Digits": "7"}))
    assert said.startswith("Sorry, we could not take that answer. Key 7 is not one of the choices. Which party")
    assert retry["action"].endswith("q=party&tries=1")
    score, said, _ = gather_of(twilio_post(client, retry["action"], {"Digits": "1"}))
    assert said.startswith("You said Red. How likely") and score["numDigits"] == "2"
    # The call drops; the next call reaches the survey by its CallSid and resumes at the same question.
    again, said, _ = gather_of(twilio_post(client, f"{BASE}/twilio/survey?campaign={ids['campaign']}",
                                           {"CallSid": "CA" + "7" * 32}))
    assert said.startswith("You said Red.") and f"attempt={ids['second']}" in again["action"]
    topics, _, _ = gather_of(twilio_post(client, again["action"], {"Digits": "8"}))
    age, _, _ = gather_of(twilio_post(client, topics["action"], {"Digits": "13"}))
    since, said, _ = gather_of(twilio_post(client, age["action"], {"Digits": "12"}))
    assert said.startswith("Sorry, we could not take that answer. The answer must be 18 or more.")
    since, said, _ = gather_of(twilio_post(client, since["action"], {"Digits": "45"}))
    assert said.endswith("To skip this question, press star.") and since["numDigits"] == "8"
    done = twilio_post(client, since["action"], {"Digits": "*"})

    assert done.get_data(as_text=True).endswith("<Say>Thank you for your time. Goodbye.</Say><Hangup /></Response>")
    with sessions() as session:
        response = session.scalar(select(SurveyResponse))
        assert (response.status, response.attempt_id) == ("complete", ids["first"])
        given_on = dict(session.execute(select(SurveyAnswer.question_id, SurveyAnswer.attempt_id)).all())
    assert given_on == {"voter": ids["first"], "party": ids["first"], "score": ids["second"],
                        "topics": ids["second"], "age": ids["second"], "since": ids["second"]}


def test_a_phone_survey_hangs_up_after_three_silences_and_leaves_the_interview_to_resume(phone_survey):
    from web.survey_ivr import survey_url

    client, ids, sessions = phone_survey
    gather, _, silent = gather_of(twilio_post(client, survey_url(BASE, ids["campaign"], ids["first"])))
    gather, said, silent = gather_of(twilio_post(client, silent))
    assert said.startswith("Sorry, we did not hear a key.") and silent.endswith("tries=1")
    gather, said, _ = gather_of(twilio_post(client, gather["action"], {"Digits": ""}))  # an empty gather
    assert said.startswith("Sorry, we could not take that answer. No keys were pressed.")

    ended = twilio_post(client, gather["action"], {"Digits": ""}).get_data(as_text=True)

    assert "We did not get an answer. We will call again another time. Goodbye." in ended and "<Hangup" in ended
    with sessions() as session:
        assert session.scalar(select(SurveyResponse.status)) == "partial"


def test_a_late_repeat_of_an_answered_step_puts_the_current_question_without_changing_the_answer(phone_survey):
    from web.survey_ivr import survey_url

    client, ids, sessions = phone_survey
    voter = survey_url(BASE, ids["campaign"], ids["first"], "voter")
    twilio_post(client, survey_url(BASE, ids["campaign"], ids["first"]))
    twilio_post(client, voter, {"Digits": "1"})

    _, said, _ = gather_of(twilio_post(client, voter, {"Digits": "2"}))

    assert said.startswith("Which party")
    with sessions() as session:
        assert session.scalar(select(SurveyAnswer.value).where(SurveyAnswer.question_id == "voter")) is True


def test_the_phone_survey_refuses_unsigned_requests_and_calls_it_does_not_know(phone_survey):
    from web.survey_ivr import survey_url

    client, ids, _ = phone_survey

    assert twilio_post(client, survey_url(BASE, ids["campaign"], ids["first"]), sign=False).status_code == 403
    assert twilio_post(client, survey_url(BASE, ids["campaign"], 999)).status_code == 404
    assert twilio_post(client, survey_url(BASE, 999, ids["first"])).status_code == 404
    assert twilio_post(client, f"{BASE}/twilio/survey?campaign=x").status_code == 400
    assert twilio_post(client, f"{BASE}/twilio/survey?campaign={ids['campaign']}").status_code == 400
    assert twilio_post(client, f"{BASE}/twilio/survey?campaign={ids['campaign']}",
                       {"CallSid": "CA" + "0" * 32}).status_code == 404


def test_the_current_step_reads_as_json_for_a_console_with_the_question_piped_and_its_choices(session, poll):
    ann = add_contact(session, poll, "+12025550101", first_name="Ann")
    state = answer_all(session, poll, ann, ("voter", True), ("party", 1))

    shown = surveys.step_to_dict(state)
    ended = surveys.step_to_dict(surveys.record_answer(session, state.response.id, "score", 1))

    assert shown["answers"] == {"voter": True, "party": 1} and shown["status"] == "partial"
    assert shown["question"]["id"] == "score" and shown["question"]["text"].startswith("You said Red.")
    assert (shown["question"]["min"], shown["question"]["max"], shown["question"]["position"]) == (0, 10, 3)
    assert ended["end"] == {"status": "complete", "reason": "", "text": "Thank you for your time. Goodbye."}
    assert "question" not in ended and ended["status"] == "complete"


def test_an_interview_that_completes_after_another_took_the_last_place_of_its_cell_is_screened_out(
    session, poll, monkeypatch
):
    racer, late = (add_contact(session, poll, f"+1202555013{n}") for n in range(2))
    answer_all(session, poll, add_contact(session, poll, "+12025550139"), *RED_VOTER)
    waiting = answer_all(session, poll, late, *RED_VOTER[:-1])  # one answer from the end, in cell "red"
    answer_all(session, poll, racer, *RED_VOTER)  # takes the last place: red is full (2 of 2)
    real_counts = surveys.quota_counts
    reads: list[dict[str, int]] = []

    def stale_then_real(session: Session, campaign_id: int, questionnaire: Any) -> dict[str, int]:
        counted = real_counts(session, campaign_id, questionnaire)
        reads.append(counted)
        # The first read happened before the other interview completed (as in a concurrent request).
        return {"red": 1, "young": 0} if len(reads) == 1 else counted

    monkeypatch.setattr(surveys, "quota_counts", stale_then_real)

    state = surveys.record_answer(session, waiting.response.id, "since", None)

    assert (state.response.status, state.response.end_reason) == ("screened_out", "quota red")
    assert isinstance(state.step, Finished) and state.step.reason == "quota red"
    assert reads[-1]["red"] == 2
    monkeypatch.undo()
    assert {c["id"]: c["completes"] for c in surveys.quota_report(session, poll.id)}["red"] == 2
