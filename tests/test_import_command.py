from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from campaigns.cli import main
from campaigns.db import make_engine, make_session_factory
from campaigns.models import Contact
from campaigns.settings import get_settings

LIST = (
    "First Name,Last Name,Phone Number,Mobile,Notes\n"
    "Ann,Lee,(212) 555-0101,,\n"
    'Bob,Ray,12345,,=HYPERLINK("http://x.example")\n'
    "Cy,Bo,415-555-0102,305-555-0103,\n"
    "Di,Mo,(212) 555-0101,,\n"
)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run ``dialer`` in an empty directory whose database is ``dialer.db`` there."""
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "REDIS_URL", "DIALER_CARRIER", "DIALER_LOG_LEVEL", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str) -> Result:
        get_settings.cache_clear()
        return runner.invoke(main, list(args))

    created = run("campaign", "create", "Spring", "--caller-id", "2015550123")
    assert created.exit_code == 0, created.output
    yield run
    get_settings.cache_clear()


@pytest.fixture
def contacts_csv(tmp_path: Path) -> Path:
    path = tmp_path / "leads.csv"
    path.write_text(LIST, encoding="utf-8")
    return path


def stored_contacts(tmp_path: Path) -> list[Contact]:
    engine = make_engine(f"sqlite:///{tmp_path / 'dialer.db'}")
    try:
        with make_session_factory(engine)() as session:
            found = list(session.scalars(select(Contact).order_by(Contact.source_row)))
            for contact in found:
                _ = contact.phones
            return found
    finally:
        engine.dispose()


def test_import_prints_the_counts_and_the_rejected_rows_by_reason(cli, contacts_csv, tmp_path):
    result = cli("import", str(contacts_csv), "--campaign", "Spring")

    assert result.exit_code == 0, result.output
    assert "Imported 2 of 4 rows into list 1 of campaign 'Spring'" in result.stdout
    assert "bad_number" in result.stdout and "duplicate_in_list" in result.stdout
    assert "row 3: bad_number" in result.stdout
    assert "--rejects" in result.stdout
    assert [c.first_name for c in stored_contacts(tmp_path)] == ["Ann", "Cy"]


def test_the_campaign_may_be_named_by_id(cli, contacts_csv):
    result = cli("import", str(contacts_csv), "--campaign", "1")

    assert result.exit_code == 0, result.output


def test_json_output_is_one_object_with_the_documented_keys(cli, contacts_csv, tmp_path):
    rejects = tmp_path / "rejected.csv"

    result = cli("import", str(contacts_csv), "--campaign", "Spring", "--json", "--rejects", str(rejects))

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"imported", "rejected", "rejected_by_reason", "rows_read", "list_id", "rejects_file", "elapsed_s"} <= set(
        data
    )
    assert (data["imported"], data["rejected"], data["rows_read"]) == (2, 2, 4)
    assert data["rejected_by_reason"] == {"bad_number": 1, "duplicate_in_list": 1}
    assert data["rejects_file"] == str(rejects)
    assert data["list_id"] == 1


def test_the_reject_file_has_row_reason_detail_and_the_original_cells_neutralized(cli, contacts_csv, tmp_path):
    rejects = tmp_path / "out" / "rejected.csv"
    rejects.parent.mkdir()

    result = cli("import", str(contacts_csv), "--campaign", "Spring", "--rejects", str(rejects))

    assert result.exit_code == 0, result.output
    assert str(rejects) in result.stdout
    with open(rejects, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["row", "reason", "detail", "First Name", "Last Name", "Phone Number", "Mobile", "Notes"]
    assert [(r[0], r[1]) for r in rows[1:]] == [("3", "bad_number"), ("5", "duplicate_in_list")]
    assert rows[1][7] == '\'=HYPERLINK("http://x.example")'


def test_map_region_and_list_name_options_reach_the_import(cli, tmp_path):
    path = tmp_path / "uk.csv"
    path.write_text("Who,Tel,Account\nAnn,020 7946 0958,A-1\n", encoding="utf-8")

    result = cli(
        "import", str(path), "--campaign", "Spring", "--map", "Who=first_name", "--map", "Tel=phone",
        "--map", "Account=external_id", "--region", "GB", "--list-name", "UK partners", "--json",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    (ann,) = stored_contacts(tmp_path)
    assert (ann.first_name, ann.external_id, ann.phones[0].e164) == ("Ann", "A-1", "+442079460958")


def test_the_encoding_option_reads_a_windows_file(cli, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("Name,Phone\nJosé,212-555-0101\n".encode("cp1252"))

    plain = cli("import", str(path), "--campaign", "Spring")
    assert "encoding_error" in plain.stdout and "--encoding cp1252" in plain.stdout

    result = cli("import", str(path), "--campaign", "Spring", "--encoding", "cp1252", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["imported"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--campaign", "Nope"], "no campaign has the id or name 'Nope'"),
        (["--campaign", "Spring", "--map", "nonsense"], "COLUMN=FIELD"),
        (["--campaign", "Spring", "--map", "Foo=phone"], "not in the header"),
        (["--campaign", "Spring", "--region", "ZZ"], "unknown region"),
        (["--campaign", "Spring", "--encoding", "nope"], "unknown encoding"),
    ],
)
def test_a_refused_import_prints_one_clear_error_and_no_traceback(cli, contacts_csv, args, message):
    result = cli("import", str(contacts_csv), *args)

    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"Name,Number\nAnn,x\n", "no column maps to phone"),
        (b"\xff\xfeN\x00", "UTF-16"),
        (b'Phone,"Name\n', "row 1 (the header)"),
    ],
)
def test_a_malformed_file_is_a_clear_error_naming_the_problem(cli, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)

    result = cli("import", str(path), "--campaign", "Spring")

    assert result.exit_code == 1
    assert message in result.output and "bad.csv" in result.output
    assert "Traceback" not in result.output


def test_a_missing_or_unreadable_file_is_a_clear_error(cli, tmp_path):
    missing = cli("import", str(tmp_path / "missing.csv"), "--campaign", "Spring")
    directory = cli("import", str(tmp_path), "--campaign", "Spring")

    assert missing.exit_code != 0 and "missing.csv" in missing.output
    assert directory.exit_code != 0 and "Traceback" not in directory.output


def test_json_mode_keeps_stdout_to_the_json_object_alone(cli, contacts_csv):
    result = cli("import", str(contacts_csv), "--campaign", "Spring", "--json")

    json.loads(result.stdout)
    assert "importing" not in result.stdout


def test_the_help_explains_mapping_reasons_and_gives_examples(cli):
    result = cli("import", "--help")

    assert result.exit_code == 0
    for text in ("--campaign", "--map", "COLUMN=FIELD", "--region", "--rejects", "--encoding", "--json"):
        assert text in result.output
    assert "Examples:" in result.output and "dialer import leads.csv --campaign Spring" in result.output
    assert "duplicate_in_campaign" in result.output and "spreadsheet row number" in result.output


def test_import_reports_how_many_imported_phones_are_on_each_dnc_list_in_text_and_json(cli, contacts_csv, tmp_path):
    assert cli("dnc", "add", "2125550101", "--campaign", "Spring", "--reason", "asked").exit_code == 0
    assert cli("dnc", "add", "6465550177", "--reason", "asked").exit_code == 0

    as_json = cli("import", str(contacts_csv), "--campaign", "Spring", "--json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["on_dnc_by_list"] == {"company": 0, "campaign": 1}

    more = tmp_path / "more.csv"
    more.write_text("First Name,Phone Number\nEd,646-555-0177\nFay,646-555-0178\n", encoding="utf-8")
    text = cli("import", str(more), "--campaign", "Spring")
    assert text.exit_code == 0, text.output
    assert "on do-not-call lists" in text.stdout and "company 1, campaign 0" in text.stdout
