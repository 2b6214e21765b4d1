"""The compliance desk's pages and exports, through the Flask test client, on seeded calls."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from campaigns.compliance_models import AuditEvent, DncChange
from campaigns.models import CallAttempt, Contact, DncEntry
from tests.test_call_log import NOW, Floor, seed
from tests.web_support import csrf_token

PAGES = ("/compliance/calls", "/compliance/abandonment", "/compliance/dnc", "/compliance/audit")


@pytest.fixture
def floor(web) -> Floor:
    with web.sessions()() as session:
        seeded = seed(session)
        session.commit()
    return seeded


@pytest.fixture
def officer(web):
    return web.client("compliance")


def rows_of(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def shown_attempts(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'data-attempt="(\d+)"', page)]


def post(client, path: str, data: dict, *, page: str = "/compliance/dnc", **kwargs):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page)}, **kwargs)


# -- roles -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_agents_and_supervisors_are_refused_every_desk_page(web, floor, role):
    client = web.client(role)

    for path in (*PAGES, f"/compliance/calls/{floor.attempt['connected']}", "/compliance/calls/export.csv"):
        assert client.get(path).status_code == 403, path


@pytest.mark.parametrize("role", ["compliance", "admin"])
def test_compliance_officers_and_admins_open_every_desk_page(web, floor, role):
    client = web.client(role)

    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
        assert "Open dialer" in response.get_data(as_text=True)


# -- call log ----------------------------------------------------------------------------------


def test_the_call_log_lists_calls_newest_first_with_their_outcome(officer, floor):
    page = officer.get("/compliance/calls").get_data(as_text=True)

    shown = shown_attempts(page)
    assert shown[0] == floor.attempt["late"]
    assert set(shown) == set(floor.attempt.values())
    assert "Times in" in page and "UTC" in page


@pytest.mark.parametrize(("args", "key"), [
    ({"number": "(202) 555-0102", "outcome": "abandoned"}, "abandoned"),
    ({"agent": "a200"}, "late"),
    ({"disposition": "SALE"}, "connected"),
    ({"outcome": "interrupted"}, "interrupted"),
])
def test_each_search_filter_narrows_the_table(officer, floor, args, key):
    page = officer.get("/compliance/calls", query_string=args).get_data(as_text=True)

    assert shown_attempts(page) == [floor.attempt[key]]


def test_a_search_by_campaign_and_dates_keeps_only_that_campaigns_calls_of_those_days(officer, floor):
    day = NOW.date()
    args = {"campaign": floor.campaign["winter"], "from": (day - timedelta(days=1)).isoformat(),
            "to": day.isoformat()}
    page = officer.get("/compliance/calls", query_string=args).get_data(as_text=True)

    assert set(shown_attempts(page)) <= {floor.attempt["failed"], floor.attempt["interrupted"]}
    assert floor.attempt["interrupted"] in shown_attempts(page) or NOW.hour < 5


@pytest.mark.parametrize(("args", "field_name"), [
    ({"number": "not a number"}, "number"),
    ({"campaign": "4242"}, "campaign"),
    ({"from": "31/12/2026"}, "from"),
    ({"outcome": "sold"}, "outcome"),
    ({"tz": "Nowhere/Land"}, "tz"),
    ({"page": "-2"}, "page"),
])
def test_a_bad_filter_gets_a_message_naming_its_field_not_a_crash(officer, floor, args, field_name):
    response = officer.get("/compliance/calls", query_string=args)
    export = officer.get("/compliance/calls/export.csv", query_string=args, headers={"Accept": "application/json"})

    assert response.status_code == 400
    assert f'data-field="{field_name}"' in response.get_data(as_text=True)
    if field_name != "page":
        assert export.status_code == 400
        assert export.get_json()["field"] == field_name


def test_the_export_holds_the_rows_of_the_table_with_the_same_filters(officer, floor):
    args = {"campaign": floor.campaign["spring"], "order": "oldest"}
    page = officer.get("/compliance/calls", query_string=args).get_data(as_text=True)

    rows = rows_of(officer.get("/compliance/calls/export.csv", query_string=args))

    assert [int(row["attempt_id"]) for row in rows] == shown_attempts(page)
    by_id = {int(row["attempt_id"]): row for row in rows}
    assert by_id[floor.attempt["connected"]]["answer_to_agent_s"] == "0.4"
    assert by_id[floor.attempt["abandoned"]]["outcome"] == "abandoned"


def test_the_export_holds_every_page_of_a_long_log(web, officer, floor):
    with web.sessions()() as session:
        contact = session.get(Contact, session.get(CallAttempt, floor.attempt["connected"]).contact_id)
        for n in range(3, 63):
            session.add(CallAttempt(campaign_id=contact.campaign_id, contact_id=contact.id, e164="+12025550101",
                                    attempt_number=n, state="ended", answer_class="no_answer",
                                    placed_at=NOW - timedelta(days=3, minutes=n)))
        session.commit()
    args = {"number": "+12025550101"}
    first = officer.get("/compliance/calls", query_string=args).get_data(as_text=True)
    second = officer.get("/compliance/calls", query_string={**args, "page": 2}).get_data(as_text=True)

    rows = rows_of(officer.get("/compliance/calls/export.csv", query_string=args))

    assert len(shown_attempts(first)) == 50
    assert "62 found" in first and "page 2 of 2" in second
    assert [int(row["attempt_id"]) for row in rows] == shown_attempts(first) + shown_attempts(second)


# -- one call's record -------------------------------------------------------------------------


def test_the_record_page_shows_the_two_second_check_met(officer, floor):
    page = officer.get(f"/compliance/calls/{floor.attempt['connected']}").get_data(as_text=True)

    assert 'data-check="met"' in page
    assert "0.400 s" in page
    assert "hours.federal" in page and "Allowed" in page.title()
    assert "Yes, Spring Co may call me" in page
    assert "call_closed" in page


def test_the_record_page_of_an_abandoned_call_shows_the_miss_and_the_drop_message(officer, floor):
    page = officer.get(f"/compliance/calls/{floor.attempt['abandoned']}").get_data(as_text=True)

    assert 'data-check="missed"' in page
    assert "counts against the 3% limit" in page
    assert "press 9" in page


def test_the_record_exports_as_csv_and_json_with_the_same_check(officer, floor):
    attempt = floor.attempt["late"]

    rows = officer.get(f"/compliance/calls/{attempt}/record.csv", query_string={"tz": "America/New_York"})
    data = officer.get(f"/compliance/calls/{attempt}/record.json").get_json(force=True)

    check = [row for row in rows_of(rows) if row["section"] == "two_second_rule"]
    assert [(row["item"], row["value"]) for row in check] == [("missed", "2.8")]
    assert data["two_second_rule"] == {**data["two_second_rule"], "status": "missed", "delay_s": 2.8}
    assert data["agent"]["login"] == "a200"


def test_an_unknown_call_is_not_found(officer, floor):
    assert officer.get("/compliance/calls/999999").status_code == 404
    assert officer.get("/compliance/calls/999999/record.json").status_code == 404


# -- abandonment --------------------------------------------------------------------------------


def test_the_abandonment_report_shows_each_campaigns_rate_and_a_daily_chart(officer, floor):
    page = officer.get("/compliance/abandonment",
                       query_string={"campaign": floor.campaign["spring"]}).get_data(as_text=True)

    assert "Spring renewals" in page and "Winter survey" in page
    assert "33.33%" in page  # one abandoned of three live answers
    assert "<svg" in page and "3% limit" in page


def test_the_abandonment_exports_match_the_report(officer, floor):
    query = {"campaign": floor.campaign["spring"], "tz": "America/New_York"}

    overview = rows_of(officer.get("/compliance/abandonment/export.csv", query_string={**query, "table": "overview"}))
    days = rows_of(officer.get("/compliance/abandonment/export.csv", query_string={**query, "table": "days"}))
    periods = rows_of(officer.get("/compliance/abandonment/export.csv", query_string={**query, "table": "periods"}))

    spring = next(row for row in overview if row["campaign"] == "Spring renewals")
    assert (spring["live_answers"], spring["abandoned"], spring["over_limit"]) == ("3", "1", "true")
    assert sum(int(row["abandoned"]) for row in days) == 1
    assert sum(int(row["live_answers"]) for row in days) == 3
    assert periods[-1]["period"] == "rolling 30 days"


def test_an_unknown_campaign_on_the_abandonment_report_is_a_clear_error(officer, floor):
    response = officer.get("/compliance/abandonment", query_string={"campaign": "777"})
    export = officer.get("/compliance/abandonment/export.csv", query_string={"table": "bogus"})

    assert response.status_code == 400
    assert "no campaign has the id" in response.get_data(as_text=True)
    assert export.status_code == 400


# -- do not call ---------------------------------------------------------------------------------


def test_a_number_added_at_the_desk_lands_in_the_change_log_with_the_officer(web, officer, floor):
    response = post(officer, "/compliance/dnc/add",
                    {"number": "(415) 555-0199", "list": "company", "reason": "asked by phone", "source": "phone"})

    assert response.status_code == 302
    page = officer.get(response.headers["Location"]).get_data(as_text=True)
    assert "+14155550199" in page and "asked by phone" in page
    with web.sessions()() as session:
        change = session.scalars(select(DncChange).where(DncChange.e164 == "+14155550199")).one()
        assert (change.action, change.actor, change.source, change.campaign_id) == ("add", "cora", "phone", None)
        assert session.scalars(select(DncEntry).where(DncEntry.e164 == "+14155550199")).one()


def test_a_removal_needs_a_reason_and_is_logged_with_the_officer(web, officer, floor):
    spring = str(floor.campaign["spring"])
    refused = post(officer, "/compliance/dnc/remove", {"number": "202-555-0103", "list": spring, "reason": " "})

    done = post(officer, "/compliance/dnc/remove",
                {"number": "202-555-0103", "list": spring, "reason": "listed in error", "evidence": "ticket 12"})

    assert refused.status_code == 400
    assert "a removal needs a reason" in refused.get_data(as_text=True)
    assert done.status_code == 302
    with web.sessions()() as session:
        changes = session.scalars(select(DncChange).where(DncChange.e164 == "+12025550103")
                                  .order_by(DncChange.id)).all()
        assert [(c.action, c.actor) for c in changes] == [("add", "cora"), ("remove", "cora")]
        assert changes[-1].reason == "listed in error"
        assert not session.scalars(select(DncEntry).where(DncEntry.e164 == "+12025550103")).all()


def test_removing_a_number_that_is_not_listed_says_so(officer, floor):
    response = post(officer, "/compliance/dnc/remove",
                    {"number": "+12025550101", "list": "company", "reason": "checking"})

    assert response.status_code == 400
    assert "is not on the company do-not-call list" in response.get_data(as_text=True)


def test_a_bulk_upload_reports_each_row_and_logs_the_officer(web, officer, floor):
    body = "phone,reason\n(415) 555-0101,mail\n415-555-0102,\nnonsense,\n4155550101,\n"
    response = post(officer, "/compliance/dnc/upload",
                    {"list": "company", "reason": "March opt-outs", "file": (io.BytesIO(body.encode()), "out.csv")},
                    content_type="multipart/form-data")

    page = response.get_data(as_text=True)
    assert response.status_code == 200, page[:400]
    report_link = re.search(r'href="(/compliance/dnc/uploads/[^"]+\.csv)"', page)
    assert report_link
    report = rows_of(officer.get(report_link.group(1)))
    assert [row["status"] for row in report] == ["added", "added", "rejected", "duplicate"]
    with web.sessions()() as session:
        changes = session.scalars(select(DncChange).where(DncChange.source == "bulk")).all()
        assert {(c.e164, c.reason, c.actor) for c in changes} == {
            ("+14155550101", "mail", "cora"), ("+14155550102", "March opt-outs", "cora")}


def test_an_upload_without_a_file_or_over_the_row_limit_is_refused(officer, floor, monkeypatch):
    from web import desk

    missing = post(officer, "/compliance/dnc/upload", {"list": "company", "reason": "x"})
    monkeypatch.setattr(desk, "UPLOAD_MAX_ROWS", 2)
    body = "phone\n4155550101\n4155550102\n4155550103\n"
    too_long = post(officer, "/compliance/dnc/upload",
                    {"list": "company", "reason": "x", "file": (io.BytesIO(body.encode()), "big.csv")},
                    content_type="multipart/form-data")

    assert missing.status_code == 400 and "choose a CSV file" in missing.get_data(as_text=True)
    assert too_long.status_code == 400 and "up to 2 at a time" in too_long.get_data(as_text=True)


def test_the_change_log_filters_and_exports_what_it_shows_formula_safe(officer, floor):
    post(officer, "/compliance/dnc/add",
         {"number": "4155550177", "list": "company", "reason": "=HYPERLINK(\"http://x\")", "source": "email"})
    args = {"actor": "cora", "list": "company"}

    page = officer.get("/compliance/dnc", query_string=args).get_data(as_text=True)
    rows = rows_of(officer.get("/compliance/dnc/changes.csv", query_string=args))

    shown = [int(found) for found in re.findall(r'data-change="(\d+)"', page)]
    assert [int(row["change_id"]) for row in rows] == shown
    # E.164 starts with "+", a formula trigger: the export shows it as text, as every export of the dialer does.
    assert [row["number"] for row in rows] == ["'+14155550177"]
    assert rows[0]["reason"].startswith("'=HYPERLINK")


def test_searching_a_number_shows_its_listings_and_exports_them(officer, floor):
    page = officer.get("/compliance/dnc", query_string={"number": "202.555.0103"}).get_data(as_text=True)
    rows = rows_of(officer.get("/compliance/dnc/entries.csv", query_string={"number": "202.555.0103"}))

    assert "asked by letter" in page
    assert [(row["number"], row["list"]) for row in rows] == [("'+12025550103", f"campaign {floor.campaign['spring']}")]


def test_a_bad_change_log_filter_names_its_field(officer, floor):
    response = officer.get("/compliance/dnc", query_string={"list": "99", "action": "add"})
    export = officer.get("/compliance/dnc/changes.csv", query_string={"action": "delete"},
                         headers={"Accept": "application/json"})

    assert response.status_code == 400
    assert "is not a list" in response.get_data(as_text=True)
    assert export.status_code == 400 and export.get_json()["field"] == "action"


# -- audit ---------------------------------------------------------------------------------------


def test_verification_of_an_untouched_trail_says_it_is_intact(officer, floor):
    page = officer.get("/compliance/audit", query_string={"verify": 1}).get_data(as_text=True)

    assert 'data-verified="ok"' in page
    assert "The chain is intact" in page


def test_verification_finds_a_tampered_row_and_names_it(web, officer, floor):
    with web.sessions()() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.kind == "call_closed")).one()
        session.execute(text("UPDATE audit_events SET payload = :p WHERE id = :id"),
                        {"p": '{"answer_to_agent_ms":100}', "id": event.id})
        session.commit()

    page = officer.get("/compliance/audit", query_string={"verify": 1}).get_data(as_text=True)

    assert 'data-verified="broken"' in page
    assert "does not match its hash" in page
    assert f'<span class="mono">{event.id}</span>' in page


def test_the_audit_export_matches_the_filtered_events(officer, floor):
    spring = floor.campaign["spring"]
    page = officer.get("/compliance/audit", query_string={"campaign": spring}).get_data(as_text=True)
    by_kind = {"campaign": spring, "kind": "dnc_add"}

    rows = rows_of(officer.get("/compliance/audit/export.csv", query_string={"campaign": spring}))
    kinds = rows_of(officer.get("/compliance/audit/export.csv", query_string=by_kind))

    shown = sorted(int(found) for found in re.findall(r'data-event="(\d+)"', page))
    assert sorted(int(row["id"]) for row in rows) == shown
    assert [row["kind"] for row in kinds] == ["dnc_add"]
    assert json.loads(kinds[0]["payload"])["actor"] == "cora"
    assert {"prev_hash", "hash", "seq"} <= set(rows[0])


def test_a_bad_audit_filter_names_its_field(officer, floor):
    response = officer.get("/compliance/audit", query_string={"attempt": "abc"})

    assert response.status_code == 400
    assert 'data-field="attempt"' in response.get_data(as_text=True)


def test_the_kept_verification_names_the_officer_and_the_first_bad_row(web, officer, floor):
    intact = officer.get("/compliance/audit/verification.json").get_json(force=True)
    with web.sessions()() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.kind == "dnc_add")).one()
        session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": event.id})
        session.commit()

    broken = officer.get("/compliance/audit/verification.json").get_json(force=True)

    assert intact["ok"] is True and intact["checked_by"] == "cora" and intact["rows"] == 4
    assert broken["ok"] is False
    assert "missing" in broken["first_bad"]["problem"]


def test_a_record_opened_from_a_search_leads_back_to_that_search(officer, floor):
    page = officer.get("/compliance/calls", query_string={"outcome": "connected"}).get_data(as_text=True)
    link = re.search(r'href="(/compliance/calls/\d+\?[^"]+)"', page)
    assert link

    record = officer.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    elsewhere = officer.get(f"/compliance/calls/{floor.attempt['late']}",
                            query_string={"back": "https://example.com/"}).get_data(as_text=True)

    assert 'href="/compliance/calls?outcome=connected"' in record
    assert "example.com" not in elsewhere
