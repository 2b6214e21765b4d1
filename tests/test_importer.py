from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from campaigns import importer, services
from campaigns.db import make_session_factory
from campaigns.importer import ImportReport, ListImportError, import_contacts
from campaigns.models import Contact, ContactList, ContactPhone
from compliance.phones import candidate_timezones

HEADER = "First Name,Last Name,Phone Number\n"


@pytest.fixture
def factory(engine):
    return make_session_factory(engine)


@pytest.fixture
def campaign_id(factory) -> int:
    with factory() as session:
        campaign = services.create_campaign(session, name="Spring", caller_id="2015550123")
        session.commit()
        return campaign.id


@pytest.fixture
def run(factory, campaign_id, tmp_path):
    """Import ``data`` (text or bytes) and return the report and the reject file's rows."""

    def run_import(data: str | bytes, **options: Any) -> tuple[ImportReport, list[dict[str, str]]]:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        rejects = tmp_path / f"rejects-{len(list(tmp_path.iterdir()))}.csv"
        options.setdefault("campaign", campaign_id)
        report = import_contacts(factory, options.pop("campaign"), io.BytesIO(raw), rejects=rejects, **options)
        with open(rejects, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return report, rows

    return run_import


def contacts(factory, list_id: int | None = None) -> list[Contact]:
    with factory() as session:
        query = select(Contact).order_by(Contact.source_row)
        if list_id is not None:
            query = query.where(Contact.list_id == list_id)
        found = list(session.scalars(query))
        for contact in found:
            _ = contact.phones
        return found


def numbers(factory) -> list[str]:
    with factory() as session:
        return sorted(session.scalars(select(ContactPhone.e164)))


def assert_accounted(report: ImportReport) -> None:
    assert report.imported + report.rejected == report.rows_read
    assert sum(report.rejected_by_reason.values()) == report.rejected


# --------------------------------------------------------------------------- the good path


def test_good_rows_land_beside_bad_ones_and_every_bad_row_is_reported_with_its_row_number(run, factory):
    report, rejects = run(HEADER + "Ann,Lee,(212) 555-0101\n" + "Bob,Ray,12345\n" + "Cy,Bo,\n" + "Di,Mo,415-555-0102\n")

    assert (report.rows_read, report.imported, report.rejected) == (4, 2, 2)
    assert report.rejected_by_reason == {"bad_number": 1, "missing_phone": 1}
    assert [(r["row"], r["reason"]) for r in rejects] == [("3", "bad_number"), ("4", "missing_phone")]
    assert rejects[0]["First Name"] == "Bob" and "too_short" in rejects[0]["detail"]
    assert [(c.source_row, c.first_name, c.phones[0].e164) for c in contacts(factory)] == [
        (2, "Ann", "+12125550101"),
        (5, "Di", "+14155550102"),
    ]
    assert_accounted(report)


def test_the_contact_list_records_its_name_source_region_and_counts(run, factory):
    report, _ = run(HEADER + "Ann,Lee,(212) 555-0101\nBob,Ray,x\n", list_name="March leads")

    with factory() as session:
        contact_list = session.get(ContactList, report.list_id)
        assert contact_list is not None
        assert contact_list.name == "March leads"
        assert contact_list.default_region == "US"
        assert (contact_list.rows_total, contact_list.rows_imported, contact_list.rows_rejected) == (2, 1, 1)


def test_a_list_imported_from_a_path_is_named_after_the_file(factory, campaign_id, tmp_path):
    path = tmp_path / "spring-leads.csv"
    path.write_text(HEADER + "Ann,Lee,(212) 555-0101\n", encoding="utf-8")

    report = import_contacts(factory, campaign_id, path)

    with factory() as session:
        contact_list = session.get(ContactList, report.list_id)
        assert contact_list is not None
        assert contact_list.name == "spring-leads.csv"
        assert contact_list.source == str(path)


def test_common_headers_are_recognised_and_other_columns_kept_as_custom_fields(run, factory):
    report, _ = run(
        "first name,LAST_NAME,E-mail,Mobile Phone,Zip Code,State,Time Zone,Priority,Customer ID,Favourite colour\n"
        + "Ann,Lee,ann@example.com,212-555-0101,10001,new york,america/new_york,5,C-1,green\n"
    )

    assert report.columns == {
        "first name": "first_name",
        "LAST_NAME": "last_name",
        "E-mail": "email",
        "Mobile Phone": "phone",
        "Zip Code": "postal_code",
        "State": "state",
        "Time Zone": "timezone",
        "Priority": "priority",
        "Customer ID": "external_id",
        "Favourite colour": "custom:Favourite colour",
    }
    (ann,) = contacts(factory)
    assert (ann.first_name, ann.last_name, ann.email) == ("Ann", "Lee", "ann@example.com")
    assert (ann.postal_code, ann.state, ann.timezone, ann.priority, ann.external_id) == (
        "10001",
        "NY",
        "America/New_York",
        5,
        "C-1",
    )
    assert ann.custom_fields == {"Favourite colour": "green"}
    assert ann.status == "new" and ann.attempts == 0


def test_an_explicit_mapping_names_columns_by_header_and_overrides_the_guess(run, factory):
    report, _ = run(
        "Name,Cell,Alt,Ref,Junk,Note,Phone\n" + "Ann,212-555-0101,415-555-0102,R1,zzz,hello,305-555-0103\n",
        mapping={
            "name": "first_name",
            "Alt": "phone2",
            "cell": "phone",
            "REF": "external_id",
            "Junk": "ignore",
            "Note": "custom:remark",
            "Phone": "phone3",
        },
    )

    assert report.imported == 1
    (ann,) = contacts(factory)
    assert ann.first_name == "Ann" and ann.external_id == "R1"
    assert [(p.e164, p.label, p.position) for p in ann.phones] == [
        ("+12125550101", "Cell", 0),
        ("+14155550102", "Alt", 1),
        ("+13055550103", "Phone", 2),
    ]
    assert ann.custom_fields == {"remark": "hello"}
    assert report.columns["Junk"] == "ignore"


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"Nope": "phone"}, "'Nope', which is not in the header"),
        ({"Phone Number": "telephone_number_please"}, "cannot map column"),
        ({"First Name": "last_name", "Last Name": "last_name"}, "both mapped to last_name"),
    ],
)
def test_a_mapping_that_cannot_apply_stops_the_import_with_a_clear_message(run, mapping, message):
    with pytest.raises(ListImportError, match=message):
        run(HEADER + "Ann,Lee,(212) 555-0101\n", mapping=mapping)


def test_a_file_without_a_phone_column_is_refused_with_a_hint(run):
    with pytest.raises(ListImportError, match=r"no column maps to phone.*Cell=phone") as caught:
        run("Name,Number\nAnn,212 555 0101\n")

    assert caught.value.row == 1


def test_a_file_starting_with_data_instead_of_a_header_is_refused(run):
    with pytest.raises(ListImportError, match="must start with a header row"):
        run("Ann,Lee,212-555-0101\nBob,Ray,415-555-0102\n")


def test_several_phones_per_contact_keep_their_order_labels_and_zones(run, factory):
    report, _ = run(
        "Name,Home Phone,Work Phone,Mobile\n"
        + "Ann,(212) 555-0101,(415) 555-0102,(907) 555-0103\n"
        + "Bob,,(808) 555-0104,\n"
    )

    assert report.imported == 2 and report.phones_imported == 4
    ann, bob = contacts(factory)
    assert [(p.e164, p.label, p.position, p.timezones) for p in ann.phones] == [
        ("+12125550101", "Home Phone", 0, ["America/New_York"]),
        ("+14155550102", "Work Phone", 1, ["America/Los_Angeles"]),
        ("+19075550103", "Mobile", 2, list(candidate_timezones("+19075550103"))),
    ]
    assert "America/Anchorage" in ann.phones[2].timezones  # Alaska: more than one candidate zone
    assert [(p.e164, p.position, p.timezones) for p in bob.phones] == [("+18085550104", 0, ["Pacific/Honolulu"])]


def test_candidate_time_zones_of_each_phone_are_stored_including_all_zones_of_toll_free(run, factory):
    run(HEADER + "Ann,Lee,800-555-0101\n")

    (ann,) = contacts(factory)
    zones = ann.phones[0].timezones
    assert {"America/New_York", "America/Los_Angeles", "Pacific/Honolulu"} <= set(zones)


def test_the_same_number_twice_on_one_row_is_stored_once(run, factory):
    report, rejects = run("Name,Phone,Mobile\nAnn,212-555-0101,(212) 555-0101\n")

    assert report.imported == 1 and report.phones_imported == 1
    assert rejects == []


def test_a_bad_second_phone_is_left_out_and_reported_while_the_contact_lands(run, factory):
    report, rejects = run("Name,Phone,Mobile\nAnn,212-555-0101,12345\n")

    assert (report.imported, report.rejected) == (1, 0)
    assert report.phones_dropped_by_reason == {"bad_number": 1}
    assert [(r["row"], r["reason"]) for r in rejects] == [("2", "phone_dropped")]
    assert "Mobile '12345'" in rejects[0]["detail"]
    assert [p.e164 for p in contacts(factory)[0].phones] == ["+12125550101"]


def test_a_number_written_as_a_formula_is_stored_as_text_and_neutralized_in_the_reject_file(run, factory):
    report, rejects = run(
        "Name,Phone,Notes\n"
        + 'Ann,212-555-0101,"=HYPERLINK(""http://x.example"",""go"")"\n'
        + '"=1+2",=cmd|calc,@SUM(A1)\n'
    )

    assert report.imported == 1
    assert contacts(factory)[0].custom_fields == {"Name": "Ann", "Notes": '=HYPERLINK("http://x.example","go")'}
    (reject,) = rejects
    assert reject["reason"] == "bad_number"
    assert (reject["Name"], reject["Phone"], reject["Notes"]) == ("'=1+2", "'=cmd|calc", "'@SUM(A1)")


# --------------------------------------------------------------------------- duplicates


def test_a_number_repeated_in_the_list_is_rejected_naming_the_first_row(run, factory):
    report, rejects = run(HEADER + "Ann,Lee,212-555-0101\nBob,Ray,415-555-0102\nAnn,Again,+1 212 555 0101\n")

    assert report.rejected_by_reason == {"duplicate_in_list": 1}
    assert report.duplicates == 1
    assert rejects[0]["row"] == "4" and "already on row 2" in rejects[0]["detail"]


def test_a_duplicate_is_found_across_batches_and_commits(run):
    rows = "".join(f"P{i},X,212-555-{i:04d}\n" for i in range(30))
    report, rejects = run(HEADER + rows + "Z,Z,212-555-0003\n", batch_size=4, commit_interval_s=0)

    assert report.imported == 30
    assert [(r["row"], r["reason"]) for r in rejects] == [("32", "duplicate_in_list")]
    assert "already on row 5" in rejects[0]["detail"]


def test_numbers_already_in_the_campaign_are_skipped_and_other_campaigns_do_not_count(run, factory):
    first, _ = run(HEADER + "Ann,Lee,212-555-0101\n")
    with factory() as session:
        other = services.create_campaign(session, name="Autumn", caller_id="2015550123").id
        session.commit()
    in_other, _ = run(HEADER + "Ann,Lee,212-555-0101\n", campaign=other)

    again, rejects = run(HEADER + "Ann,Lee,(212) 555-0101\nBob,Ray,415-555-0102\n")

    assert (first.imported, in_other.imported) == (1, 1)
    assert (again.imported, again.rejected_by_reason) == (1, {"duplicate_in_campaign": 1})
    assert rejects[0]["row"] == "2" and "already in the campaign" in rejects[0]["detail"]


def test_importing_the_same_file_twice_lands_nothing_new(run, factory):
    data = HEADER + "".join(f"P{i},X,212-555-{i:04d}\n" for i in range(50))

    first, _ = run(data)
    second, _ = run(data)

    assert (first.imported, second.imported) == (50, 0)
    assert second.rejected_by_reason == {"duplicate_in_campaign": 50}
    assert len(numbers(factory)) == 50


def test_a_second_phone_already_in_the_campaign_is_left_out_but_the_contact_lands(run, factory):
    run(HEADER + "Ann,Lee,212-555-0101\n")

    report, rejects = run("Name,Phone,Mobile\nBob,415-555-0102,212-555-0101\n")

    assert report.imported == 1
    assert report.phones_dropped_by_reason == {"duplicate_in_campaign": 1}
    assert rejects[0]["reason"] == "phone_dropped"


def test_numbers_another_import_lands_meanwhile_are_skipped_not_failed(run, factory, campaign_id, monkeypatch):
    load = importer._Import._load_campaign_numbers

    def load_then_race(self):
        load(self)
        with factory() as other:  # another import lands +14155550102 now
            contact_list = ContactList(campaign_id=campaign_id, name="other")
            other.add(contact_list)
            other.flush()
            contact = Contact(campaign_id=campaign_id, list_id=contact_list.id)
            other.add(contact)
            other.flush()
            other.add(ContactPhone(contact_id=contact.id, campaign_id=campaign_id, e164="+14155550102"))
            other.commit()

    monkeypatch.setattr(importer._Import, "_load_campaign_numbers", load_then_race)

    report, rejects = run(HEADER + "Ann,Lee,212-555-0101\nBob,Ray,415-555-0102\nCy,Bo,305-555-0103\n")

    assert report.imported == 2
    assert report.rejected_by_reason == {"duplicate_in_campaign": 1}
    assert rejects[0]["row"] == "3"
    assert numbers(factory) == ["+12125550101", "+13055550103", "+14155550102"]
    assert_accounted(report)


# --------------------------------------------------------------------------- malformed files


def test_a_quoted_field_spanning_lines_is_one_row_and_later_rows_keep_spreadsheet_numbers(run, factory):
    report, rejects = run(
        "Name,Address,Phone\n"
        + 'Ann,"1 Main St\nApt 4\nSpringfield",212-555-0101\n'
        + "Bob,Elm St,12345\n"
        + "Cy,Oak St,415-555-0102\n"
    )

    assert report.rows_read == 3
    assert rejects[0]["row"] == "3"
    ann, cy = contacts(factory)
    assert (ann.source_row, cy.source_row) == (2, 4)
    assert ann.custom_fields["Address"] == "1 Main St\nApt 4\nSpringfield"
    assert any("line 5" in error for error in report.errors)  # row 3 is on line 5 of the file


def test_ragged_rows_are_rejected_one_by_one_and_a_trailing_empty_cell_is_tolerated(run, factory):
    report, rejects = run(
        HEADER + "Ann,Lee\n" + "Bob,Ray,415-555-0102,surprise\n" + "Cy,Bo,305-555-0103,\n" + "Di,Mo,206-555-0104\n"
    )

    assert report.rejected_by_reason == {"ragged_row": 2}
    assert [r["row"] for r in rejects] == ["2", "3"]
    assert "2 cells where the header has 3" in rejects[0]["detail"]
    assert [c.first_name for c in contacts(factory)] == ["Cy", "Di"]


def test_a_quote_left_open_fails_only_its_row_and_the_rest_of_the_file_lands(run, factory):
    report, rejects = run(
        HEADER + "Ann,Lee,212-555-0101\n" + 'Bob,"Ray,415-555-0102\n' + "Cy,Bo,305-555-0103\n" + "Di,Mo,206-555-0104\n"
    )

    assert report.rejected_by_reason == {"unterminated_quote": 1}
    assert rejects[0]["row"] == "3"
    assert "quote opened on line 3" in rejects[0]["detail"]
    assert [(c.first_name, c.source_row) for c in contacts(factory)] == [("Ann", 2), ("Cy", 4), ("Di", 5)]
    assert_accounted(report)


def test_a_quote_never_closed_within_the_line_limit_does_not_swallow_the_file(run, factory, monkeypatch):
    monkeypatch.setattr(importer, "MAX_RECORD_LINES", 5)
    body = "".join(f"P{i},X,212-555-{i:04d}\n" for i in range(20))

    report, rejects = run(HEADER + 'Bob,"Ray,415-555-0102\n' + body)

    assert report.rejected_by_reason == {"unterminated_quote": 1}
    assert "still open after" in rejects[0]["detail"]
    assert report.imported == 20
    assert [c.source_row for c in contacts(factory)] == list(range(3, 23))


def test_two_stray_quotes_do_not_merge_the_rows_between_them(run, factory):
    report, rejects = run(
        HEADER + 'Ann,"Lee,212-555-0101\nBob,Ray,415-555-0102\nCy,Bo",305-555-0103\nDi,Mo,206-555-0104\n'
    )

    assert rejects[0]["row"] == "2" and rejects[0]["reason"] == "unterminated_quote"
    assert [(c.first_name, c.source_row) for c in contacts(factory)] == [("Bob", 3), ("Cy", 4), ("Di", 5)]
    assert_accounted(report)


def test_a_line_break_in_a_phone_or_name_column_is_taken_as_a_stray_quote(run, factory):
    report, rejects = run(HEADER + 'Ann,"Lee\nSmith",212-555-0101\nBob,Ray,415-555-0102\n')

    assert rejects[0]["row"] == "2" and rejects[0]["reason"] == "unterminated_quote"
    assert [c.first_name for c in contacts(factory)] == ["Bob"]
    assert_accounted(report)


def test_a_note_spanning_lines_is_kept_when_no_line_in_it_looks_like_a_contact(run, factory):
    report, _ = run("Name,Phone,Notes\n" + 'Ann,212-555-0101,"called twice, no answer\nretry later, maybe"\n')

    assert report.imported == 1
    assert contacts(factory)[0].custom_fields["Notes"] == "called twice, no answer\nretry later, maybe"


def test_text_after_a_closing_quote_is_a_bad_quoting_row(run, factory):
    report, rejects = run(HEADER + 'Ann,"Lee"x,212-555-0101\nBob,Ray,415-555-0102\n')

    assert report.rejected_by_reason == {"bad_quoting": 1}
    assert rejects[0]["row"] == "2"
    assert [c.first_name for c in contacts(factory)] == ["Bob"]


def test_a_ten_megabyte_line_is_rejected_as_too_long_and_the_next_rows_land(run, factory):
    huge = "Bob,Ray," + "9" * (10 * 1024 * 1024) + "\n"

    report, rejects = run(HEADER + "Ann,Lee,212-555-0101\n" + huge + "Cy,Bo,305-555-0103\n")

    assert report.rejected_by_reason == {"field_too_long": 1}
    assert rejects[0]["row"] == "3" and "bytes long" in rejects[0]["detail"]
    assert [c.source_row for c in contacts(factory)] == [2, 4]


def test_a_cell_over_the_csv_field_limit_is_rejected_and_the_next_rows_land(run, factory):
    report, rejects = run(HEADER + "Ann,Lee," + "9" * 200_000 + "\nBob,Ray,415-555-0102\n")

    assert report.rejected_by_reason == {"field_too_long": 1}
    assert "longer than 131,072 characters" in rejects[0]["detail"]
    assert [c.first_name for c in contacts(factory)] == ["Bob"]


def test_a_stray_carriage_return_in_an_unquoted_cell_rejects_only_that_row(run, factory):
    report, rejects = run(HEADER + "Ann,Le\re,212-555-0101\nBob,Ray,415-555-0102\n")

    assert report.rejected_by_reason == {"bad_quoting": 1}
    assert "carriage return" in rejects[0]["detail"]
    assert [c.first_name for c in contacts(factory)] == ["Bob"]


def test_a_cell_longer_than_its_column_is_rejected_as_field_too_long(run):
    report, rejects = run(HEADER + "A" * 101 + ",Lee,212-555-0101\n")

    assert report.rejected_by_reason == {"field_too_long": 1}
    assert "at most 100" in rejects[0]["detail"]


def test_a_row_with_a_nul_byte_is_rejected_and_the_reject_file_stays_readable(run, factory, tmp_path):
    report, rejects = run(HEADER + "Ann,Le\x00e,212-555-0101\nBob,Ray,415-555-0102\n")

    assert report.rejected_by_reason == {"nul_byte": 1}
    assert rejects[0]["Last Name"] == "Le\\x00e"
    assert all(b"\x00" not in path.read_bytes() for path in tmp_path.iterdir())
    assert [c.first_name for c in contacts(factory)] == ["Bob"]


def test_rows_that_are_not_valid_utf8_are_rejected_with_the_bad_bytes_shown(run, factory):
    data = HEADER.encode() + "José,Pérez,212-555-0101\n".encode("cp1252") + b"Bob,Ray,415-555-0102\n"

    report, rejects = run(data)

    assert report.rejected_by_reason == {"encoding_error": 1}
    assert rejects[0]["First Name"] == "Jos\\xe9"
    assert "e9" in rejects[0]["detail"]
    assert [c.first_name for c in contacts(factory)] == ["Bob"]


def test_a_windows_encoded_file_imports_when_its_encoding_is_given(run, factory):
    data = (HEADER + "José,Pérez,212-555-0101\n").encode("cp1252")

    report, _ = run(data, encoding="cp1252")

    assert report.imported == 1 and report.encoding == "cp1252"
    assert contacts(factory)[0].first_name == "José"


def test_a_utf8_byte_order_mark_does_not_hide_the_first_column(run, factory):
    report, _ = run(b"\xef\xbb\xbf" + (HEADER + "Ann,Lee,212-555-0101\n").encode())

    assert report.columns["First Name"] == "first_name"
    assert contacts(factory)[0].first_name == "Ann"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\n\n  \n", "empty"),
        (b"\xff\xfeP\x00h\x00o\x00n\x00e\x00\n\x00", "UTF-16"),
        (b"PK\x03\x04\x14\x00\x06\x00", "Excel workbook"),
        (b"Phone,Na\xefme\n212-555-0101,x\n", "not valid utf-8"),
        (b"Phone\x00,Name\n", "NUL"),
        (b'Phone,"Name\n212-555-0101,x\n', "header"),
        (b"Name,Phone\rAnn,212-555-0101\r", "carriage return alone"),
    ],
)
def test_a_file_that_cannot_be_a_contact_list_is_refused_with_a_clear_message(run, data, message):
    with pytest.raises(ListImportError, match=message):
        run(data)


def test_an_unknown_encoding_or_a_non_ascii_compatible_one_is_refused(run):
    with pytest.raises(ListImportError, match="unknown encoding"):
        run(HEADER, encoding="klingon")
    with pytest.raises(ListImportError, match="not supported"):
        run(HEADER, encoding="utf-16")


def test_a_header_only_file_makes_an_empty_list(run):
    report, rejects = run(HEADER)

    assert (report.rows_read, report.imported, report.rejected) == (0, 0, 0)
    assert report.list_id is not None
    assert rejects == []


def test_blank_rows_are_skipped_and_counted_but_keep_their_row_numbers(run, factory):
    report, _ = run(HEADER + "Ann,Lee,212-555-0101\n\n,,\nBob,Ray,415-555-0102\n")

    assert (report.rows_read, report.blank_rows, report.imported) == (2, 2, 2)
    assert [c.source_row for c in contacts(factory)] == [2, 5]


def test_a_semicolon_separated_file_is_read_by_its_header(run, factory):
    report, _ = run("First Name;Phone\nAnn;212-555-0101\n")

    assert report.imported == 1
    assert any("';'" in note for note in report.notes)


def test_bad_priority_and_bad_time_zone_reject_their_rows(run):
    report, rejects = run(
        "Name,Phone,Priority,Time Zone\n"
        + "Ann,212-555-0101,high,\n"
        + "Bob,415-555-0102,,EST\n"
        + "Cy,305-555-0103,-3,America/Chicago\n"
    )

    assert report.rejected_by_reason == {"bad_priority": 1, "bad_timezone": 1}
    assert [r["reason"] for r in rejects] == ["bad_priority", "bad_timezone"]
    assert "daylight saving" in rejects[1]["detail"]
    assert report.imported == 1


def test_an_unknown_campaign_or_region_is_refused_before_reading(run):
    with pytest.raises(ListImportError, match="campaign 999 does not exist"):
        run(HEADER, campaign=999)
    with pytest.raises(ListImportError, match="unknown region"):
        run(HEADER, region="ZZ")


def test_numbers_are_read_in_the_region_given_for_the_list(run, factory):
    report, _ = run("Name,Phone\nAnn,020 7946 0958\n", region="GB")

    assert report.imported == 1
    assert contacts(factory)[0].phones[0].e164 == "+442079460958"


def test_a_missing_file_is_a_clear_error(factory, campaign_id, tmp_path):
    with pytest.raises(ListImportError, match="cannot read"):
        import_contacts(factory, campaign_id, tmp_path / "missing.csv")


# --------------------------------------------------------------------------- streaming and batches


class LineOnlyStream(io.BytesIO):
    """A file that fails if anyone asks for more than a line's worth at once."""

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > importer.MAX_LINE_BYTES + 1:
            raise AssertionError("the whole file was asked for")
        return super().read(size)

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        raise AssertionError("the whole file was asked for")


def test_the_file_is_read_a_line_at_a_time_and_progress_is_reported_in_bytes(factory, campaign_id):
    data = (HEADER + "".join(f"P{i},X,212-555-{i:04d}\n" for i in range(3000))).encode()
    seen: list[tuple[int, int]] = []
    importer_progress_every = importer._PROGRESS_EVERY
    try:
        importer._PROGRESS_EVERY = 4096
        report = import_contacts(
            factory, campaign_id, LineOnlyStream(data), progress=lambda done, total: seen.append((done, total))
        )
    finally:
        importer._PROGRESS_EVERY = importer_progress_every

    assert report.imported == 3000
    assert len(seen) > 5
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1] == (len(data), len(data))
    assert all(total == len(data) for _, total in seen)


def test_a_session_may_be_passed_instead_of_a_factory(factory, campaign_id):
    with factory() as session:
        report = import_contacts(session, campaign_id, io.BytesIO((HEADER + "Ann,Lee,212-555-0101\n").encode()))
        assert session.scalar(select(func.count()).select_from(Contact)) == 1
    assert report.imported == 1


def test_small_batches_and_per_batch_commits_give_the_same_result(run, factory):
    data = HEADER + "".join(f"P{i},X,212-555-{i:04d}\n" for i in range(57)) + "Bad,X,1\n"

    report, _ = run(data, batch_size=5, commit_interval_s=0)

    assert (report.imported, report.rejected, report.phones_imported) == (57, 1, 57)
    found = contacts(factory)
    assert [c.phones[0].e164 for c in found] == [f"+1212555{i:04d}" for i in range(57)]
    with factory() as session:
        contact_list = session.get(ContactList, report.list_id)
        assert contact_list is not None
        assert (contact_list.rows_total, contact_list.rows_imported, contact_list.rows_rejected) == (58, 57, 1)


def test_if_sqlite_ids_are_not_consecutive_the_import_falls_back_to_returning_ids(run, factory, monkeypatch):
    check = importer._Writer._check_ids
    calls = []

    def fail_once(self, *args):
        calls.append(1)
        if len(calls) == 1:
            raise importer._IdsNotConsecutive
        return check(self, *args)

    monkeypatch.setattr(importer._Writer, "_check_ids", fail_once)
    data = HEADER + "".join(f"P{i},X,212-555-{i:04d}\n" for i in range(12))

    report, _ = run(data, batch_size=5, commit_interval_s=60)

    assert report.imported == 12
    assert any("RETURNING" in note for note in report.notes)
    for contact in contacts(factory):
        assert contact.phones[0].e164 == f"+1212555{int(contact.first_name[1:]):04d}"


def test_the_portable_insert_path_stores_the_same_rows(run, factory, monkeypatch):
    init = importer._Writer.__init__

    def portable(self, session):
        init(self, session)
        self.fast = False

    monkeypatch.setattr(importer._Writer, "__init__", portable)

    report, _ = run("Name,Phone,Mobile,Notes\nAnn,212-555-0101,415-555-0102,hi\nBob,305-555-0103,,\n")

    assert report.imported == 2
    ann, bob = contacts(factory)
    assert ann.custom_fields == {"Name": "Ann", "Notes": "hi"} and bob.custom_fields == {"Name": "Bob"}
    assert [(p.e164, p.timezones) for p in ann.phones] == [
        ("+12125550101", ["America/New_York"]),
        ("+14155550102", ["America/Los_Angeles"]),
    ]
    assert ann.created_at.tzinfo is not None


# --------------------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(max_size=400))
def test_garbage_after_a_header_never_crashes_and_every_row_is_accounted_for(run, garbage):
    try:
        report, rejects = run(HEADER.encode() + garbage)
    except ListImportError:
        return
    assert_accounted(report)
    assert len([r for r in rejects if r["reason"] != "phone_dropped"]) == report.rejected


_CSVISH = st.lists(
    st.sampled_from(["Ann", "212-555-0101", "415 555 0102", '"', '""', ",", "\n", "\r\n", "\x00", "\xe9", "=1", " "]),
    max_size=40,
).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=300), _CSVISH.map(str.encode)))
def test_any_file_gives_a_list_import_error_or_a_report_that_accounts_for_every_row(run, body):
    try:
        report, _ = run(body)
    except ListImportError:
        return
    assert_accounted(report)


def test_the_reject_file_can_be_a_text_stream(factory, campaign_id):
    out = io.StringIO(newline="")

    report = import_contacts(factory, campaign_id, io.BytesIO((HEADER + "Ann,Lee,x\n").encode()), rejects=out)

    assert report.rejected == 1
    assert out.getvalue().splitlines()[0] == "row,reason,detail,First Name,Last Name,Phone Number"


def test_every_reason_code_is_documented_in_the_module():
    doc = importer.__doc__ or ""
    for reason in importer.REASONS:
        assert f"``{reason}``" in doc


def test_reports_convert_to_plain_dicts_for_json():
    report = ImportReport(list_id=1, campaign_id=2, imported=3)

    assert report.to_dict()["imported"] == 3


def test_a_path_like_source_is_accepted(factory, campaign_id, tmp_path):
    path = Path(tmp_path) / "x.csv"
    path.write_bytes((HEADER + "Ann,Lee,212-555-0101\n").encode())

    assert import_contacts(factory, campaign_id, str(path)).imported == 1


def test_the_sqlite_shortcut_stores_exactly_what_the_orm_stores(run, factory, campaign_id):
    report, _ = run("Name,Phone,Notes\nAnn,212-555-0101,hi\n")
    with factory() as session:
        contact = Contact(
            campaign_id=campaign_id,
            list_id=report.list_id,
            custom_fields={"Name": "Ann", "Notes": "hi"},
            created_at=contacts(factory)[0].created_at,
        )
        session.add(contact)
        session.flush()
        session.add(
            ContactPhone(
                contact_id=contact.id, campaign_id=campaign_id, e164="+19995550000", timezones=["America/New_York"]
            )
        )
        session.commit()
        raw_contacts = (
            session.connection().exec_driver_sql("SELECT custom_fields, created_at FROM contacts ORDER BY id").all()
        )
        raw_zones = session.connection().exec_driver_sql("SELECT timezones FROM contact_phones ORDER BY id").all()

    imported, orm = raw_contacts
    assert imported == orm
    assert raw_zones[0] == raw_zones[1]


def test_an_unwritable_reject_file_stops_the_import_before_a_list_is_made(factory, campaign_id, tmp_path):
    with pytest.raises(ListImportError, match="cannot write the reject file"):
        import_contacts(
            factory,
            campaign_id,
            io.BytesIO((HEADER + "Ann,Lee,212-555-0101\n").encode()),
            rejects=tmp_path / "no" / "such" / "dir.csv",
        )

    with factory() as session:
        assert session.scalar(select(func.count()).select_from(ContactList)) == 0


def test_windows_line_endings_are_read_like_unix_ones(run, factory):
    report, _ = run(
        'First Name,Last Name,Phone Number,Notes\r\nAnn,Lee,212-555-0101,"two\r\nlines"\r\nBob,Ray,415-555-0102,\r\n'
    )

    assert (report.imported, report.rejected) == (2, 0)
    ann, bob = contacts(factory)
    assert (ann.last_name, ann.custom_fields["Notes"], bob.source_row) == ("Lee", "two\r\nlines", 3)


def test_an_import_counts_its_phones_on_the_company_and_campaign_lists_and_still_lands_them(run, factory, campaign_id):
    from campaigns import dnc_store

    with factory() as session:
        dnc_store.add_number(session, "+12125550101", source="api", actor="ops")
        dnc_store.add_number(session, "+14155550102", source="api", actor="ops", campaign_id=campaign_id)
        dnc_store.add_number(session, "+13055550103", source="api", actor="ops", campaign_id=campaign_id)
        session.commit()
    report, _ = run(HEADER + "Ann,Lee,(212) 555-0101\nCy,Bo,415-555-0102\nDi,Mo,646-555-0104\n")
    assert report.imported == 3
    assert report.on_dnc_by_list == {"company": 1, "campaign": 1}
    assert report.to_dict()["on_dnc_by_list"] == {"company": 1, "campaign": 1}
    assert any("national registry" in note for note in report.notes)
    assert sorted(numbers(factory)) == ["+12125550101", "+14155550102", "+16465550104"]


def test_an_import_scrub_counts_only_the_phones_of_that_import(run, factory, campaign_id):
    from campaigns import dnc_store

    run(HEADER + "Ann,Lee,(212) 555-0101\n")
    with factory() as session:
        dnc_store.add_number(session, "+12125550101", source="api", actor="ops")
        session.commit()
    report, _ = run(HEADER + "Cy,Bo,415-555-0102\n")
    assert report.on_dnc_by_list == {"company": 0, "campaign": 0}


def test_an_import_counts_its_phones_on_the_loaded_national_registry(run, factory, tmp_path):
    from datetime import UTC, datetime, timedelta

    from campaigns import dnc_store
    from compliance.registry import load_registry_files

    source = tmp_path / "ftc.txt"
    source.write_text("2125550101\n4155550102\n")
    info, load_report = load_registry_files(
        [source], tmp_path / "registry.bin", downloaded_at=datetime.now(UTC) - timedelta(days=1)
    )
    with factory() as session:
        dnc_store.record_registry_load(session, info, load_report, loaded_by="ops")
        session.commit()
    report, _ = run(HEADER + "Ann,Lee,(212) 555-0101\nCy,Bo,415-555-0102\nDi,Mo,646-555-0104\n")
    assert report.imported == 3
    assert report.on_dnc_by_list == {"company": 0, "campaign": 0, "national": 2}
