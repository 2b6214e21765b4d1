"""Company and campaign DNC lists with their change log, bulk upload, scrub, the registry's copy, the commands."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from campaigns import audit_store, dnc_store
from campaigns.cli import main
from campaigns.compliance_models import DncChange, RegistryLoad
from campaigns.db import make_engine, make_session_factory, upgrade
from campaigns.models import Campaign, Contact, ContactList, ContactPhone, DncEntry
from campaigns.settings import get_settings
from compliance.gate import CampaignPolicy, DialTarget, RegistryAnswer, default_gate
from compliance.registry import Registry, load_registry_files

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'dnc.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def campaign(db: Engine, name: str = "Spring", phones: tuple[str, ...] = ()) -> int:
    with db.begin() as conn:
        campaign_id = conn.execute(
            insert(Campaign)
            .values(name=name, caller_id="+12125550100", drop_message="m", retry_delays_min=[60])
            .returning(Campaign.id)
        ).scalar_one()
        list_id = conn.execute(
            insert(ContactList).values(campaign_id=campaign_id, name="l").returning(ContactList.id)
        ).scalar_one()
        for e164 in phones:
            contact_id = conn.execute(
                insert(Contact).values(campaign_id=campaign_id, list_id=list_id, custom_fields={}).returning(Contact.id)
            ).scalar_one()
            conn.execute(insert(ContactPhone).values(contact_id=contact_id, campaign_id=campaign_id, e164=e164))
    return campaign_id


def session(db: Engine) -> Session:
    return make_session_factory(db)()


def test_an_addition_is_listed_logged_with_who_when_why_and_audited_and_counts_at_once_elsewhere(db):
    lookup = dnc_store.SqlDncLookup(db)  # another process's view: it keeps no copy
    assert lookup.listed("+12015550123", 1) is None

    with session(db) as s, s.begin():
        change = dnc_store.add_number(
            s,
            "(201) 555-0123",
            reason="asked on the call",
            source="agent",
            actor="alice",
            now=NOW,
            received_at=NOW - timedelta(hours=2),
            evidence="recording CA1 at 00:41",
        )

    assert lookup.listed("+12015550123", 1) == "company"
    with session(db) as s:
        (entry,) = s.scalars(select(DncEntry)).all()
        (logged,) = s.scalars(select(DncChange)).all()
    assert (entry.e164, entry.campaign_id, entry.source, entry.reason) == (
        "+12015550123",
        None,
        "agent",
        "asked on the call",
    )
    assert (logged.id, logged.action, logged.changed, logged.actor) == (change.id, "add", True, "alice")
    assert logged.effective_at - logged.received_at == timedelta(hours=2)  # the honour latency
    assert logged.evidence == "recording CA1 at 00:41"
    with db.connect() as conn:
        (event,) = audit_store.read_records(conn)
    assert (event.kind, event.chain, event.e164) == ("dnc_add", "company", "+12015550123")
    assert json.loads(event.payload)["change_id"] == change.id
    assert audit_store.verify_trail(db).ok


def test_an_addition_through_a_bare_connection_is_listed_logged_and_audited_in_that_transaction(db):
    with db.begin() as conn:
        (change,) = dnc_store.add_numbers(
            conn, ["+12015550123"], reason="disposition DNC", source="agent", actor="agent:7", now=NOW
        )
    assert dnc_store.SqlDncLookup(db).listed("+12015550123", 1) == "company"
    with db.connect() as conn:
        assert [r.kind for r in audit_store.read_records(conn)] == ["dnc_add"]
    with pytest.raises(RuntimeError), db.begin() as conn:  # rolled back: neither the entry nor the log stay
        dnc_store.add_numbers(conn, ["+12015550124"], source="agent", actor="agent:7", now=NOW)
        raise RuntimeError
    with session(db) as s:
        assert [c.id for c in dnc_store.changes(s)] == [change.id]
    assert dnc_store.SqlDncLookup(db).listed("+12015550124", 1) is None


def test_a_request_for_a_number_listed_already_is_logged_but_lists_it_once(db):
    with session(db) as s, s.begin():
        dnc_store.add_number(s, "+12015550123", source="web", actor="form", now=NOW)
        again = dnc_store.add_number(s, "+12015550123", source="sms", actor="gateway", reason="STOP", now=NOW)

    assert again.changed is False
    with session(db) as s:
        assert s.scalar(select(func.count()).select_from(DncEntry)) == 1
        assert [(c.source, c.changed) for c in dnc_store.changes(s)] == [("web", True), ("sms", False)]


def test_campaign_lists_are_apart_from_the_company_list_and_the_company_list_wins(db):
    spring, autumn = campaign(db, "Spring"), campaign(db, "Autumn")
    with session(db) as s, s.begin():
        dnc_store.add_number(s, "+12015550001", campaign_id=spring, source="api", actor="crm", now=NOW)
        dnc_store.add_number(s, "+12015550002", campaign_id=spring, source="api", actor="crm", now=NOW)
        dnc_store.add_number(s, "+12015550002", source="api", actor="crm", now=NOW)
    lookup = dnc_store.SqlDncLookup(db)

    assert lookup.listed("+12015550001", spring) == "campaign"
    assert lookup.listed("+12015550001", autumn) is None
    assert lookup.listed("+12015550002", spring) == "company"
    assert lookup.listed("+12015550002", autumn) == "company"
    with session(db) as s:
        assert [e.e164 for e in dnc_store.list_entries(s, campaign_id=spring)] == ["+12015550002", "+12015550001"]
        assert [e.e164 for e in dnc_store.list_entries(s)] == ["+12015550002"]
        assert len(dnc_store.list_entries(s, every_list=True)) == 3
    with db.connect() as conn:
        chains = sorted({r.chain for r in audit_store.read_records(conn)})
    assert chains == [f"campaign:{spring}", "company"]


def test_a_removal_needs_a_reason_and_someone_and_is_logged_and_counts_at_once(db):
    with session(db) as s, s.begin():
        dnc_store.add_number(s, "+12015550123", source="manual", actor="alice", now=NOW)
    lookup = dnc_store.SqlDncLookup(db)

    with session(db) as s, pytest.raises(dnc_store.DncError, match="needs a reason"):
        dnc_store.remove_number(s, "+12015550123", reason=" ", actor="bob")
    with session(db) as s, pytest.raises(dnc_store.DncError, match="who makes the change"):
        dnc_store.remove_number(s, "+12015550123", reason="typo", actor="")
    with session(db) as s, s.begin():
        removed = dnc_store.remove_number(s, "+12015550123", reason="typo", actor="bob", now=NOW)

    assert lookup.listed("+12015550123", 1) is None
    assert (removed.action, removed.reason, removed.actor) == ("remove", "typo", "bob")
    with session(db) as s, pytest.raises(dnc_store.DncError, match="is not on the company do-not-call list"):
        dnc_store.remove_number(s, "+12015550123", reason="again", actor="bob")
    with db.connect() as conn:
        assert [r.kind for r in audit_store.read_records(conn)] == ["dnc_add", "dnc_remove"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": "carrier-pigeon"}, "unknown source"),
        ({"actor": " "}, "who makes the change"),
        ({"campaign_id": 99}, "no campaign has the id 99"),
        ({"received_at": NOW + timedelta(minutes=5)}, "received after it takes effect"),
    ],
)
def test_an_addition_with_a_bad_source_actor_campaign_or_time_is_refused_and_writes_nothing(db, kwargs, message):
    args = {"source": "manual", "actor": "alice", "now": NOW, **kwargs}
    with session(db) as s, pytest.raises(dnc_store.DncError, match=message):
        dnc_store.add_number(s, "+12015550123", **args)
    with session(db) as s:
        assert s.scalar(select(func.count()).select_from(DncChange)) == 0


def test_a_number_that_is_not_a_phone_number_cannot_be_listed(db):
    with session(db) as s, pytest.raises(dnc_store.DncError, match="is not a number that can be listed"):
        dnc_store.add_number(s, "12", source="manual", actor="alice")


def test_a_bulk_upload_gives_every_row_an_outcome_numbered_as_a_spreadsheet_shows_it(db):
    with session(db) as s, s.begin():
        dnc_store.add_number(s, "+12015550104", source="manual", actor="alice", now=NOW)
    data = (
        b"Name,Phone Number,Reason\n"
        b"Ann,201-555-0101,web form\n"
        b"Bob,,\n"
        b"Cy,not a phone,\n"
        b"Di,(201) 555-0101,again\n"
        b",,\n"
        b"Ed,+1 201 555 0104,\n"
        b"Flo,2015550105,\n"
    )

    with session(db) as s, s.begin():
        report = dnc_store.upload_csv(s, io.BytesIO(data), actor="ops", reason="bulk list", now=NOW)

    assert [(r.row, r.status) for r in report.rows] == [
        (2, "added"),
        (3, "rejected"),
        (4, "rejected"),
        (5, "duplicate"),
        (7, "already_listed"),
        (8, "added"),
    ]
    assert report.counts == {"added": 2, "rejected": 2, "duplicate": 1, "already_listed": 1}
    assert report.rows[1].detail == "no phone number in the row"
    assert report.rows[2].detail.startswith("not_a_number")
    assert report.rows[3].detail == "the same number as row 2"
    with session(db) as s:
        reasons = {c.e164: c.reason for c in dnc_store.changes(s) if c.source == "bulk"}
    assert reasons == {"+12015550101": "web form", "+12015550104": "bulk list", "+12015550105": "bulk list"}
    out = io.StringIO()
    report.write_csv(out)
    assert list(csv.reader(io.StringIO(out.getvalue())))[1] == [
        "2",
        "added",
        "'+12015550101",
        "",
        "Ann,201-555-0101,web form",
    ]


def test_a_file_without_a_header_is_read_from_its_first_column_and_one_without_a_phone_column_is_refused(db):
    with session(db) as s, s.begin():
        report = dnc_store.upload_csv(s, io.BytesIO(b"2015550101\n2015550102,x\n"), actor="ops", now=NOW)
    assert [(r.row, r.status, r.e164) for r in report.rows] == [
        (1, "added", "+12015550101"),
        (2, "added", "+12015550102"),
    ]

    with session(db) as s, pytest.raises(dnc_store.DncError, match="cannot find the phone column"):
        dnc_store.upload_csv(s, io.BytesIO(b"name,email\nAnn,a@b.c\n"), actor="ops")


def write_registry(tmp_path: Path, lines: str, downloaded: datetime = NOW - timedelta(days=2)) -> Path:
    source = tmp_path / "ftc.txt"
    source.write_text(lines)
    info, _ = load_registry_files([source], tmp_path / "registry.bin", downloaded_at=downloaded)
    return Path(info.path)


def test_a_scrub_counts_the_campaigns_phones_on_each_list(db, tmp_path):
    phones = ("+12015550001", "+12015550002", "+12015550003", "+12015550004", "+13125550005", "+442071234567")
    spring, other = campaign(db, "Spring", phones), campaign(db, "Other")
    with session(db) as s, s.begin():
        dnc_store.add_number(s, "+12015550001", source="manual", actor="a", now=NOW)
        dnc_store.add_number(s, "+12015550002", campaign_id=spring, source="manual", actor="a", now=NOW)
        dnc_store.add_number(s, "+12015550003", campaign_id=other, source="manual", actor="a", now=NOW)
    path = write_registry(tmp_path, "2015550001\n2015550004\n")

    with session(db) as s, Registry(path) as registry:
        report = dnc_store.scrub_campaign(s, spring, registry=registry, now=NOW, keep_hits=True)

    assert (report.phones, report.company, report.campaign, report.national, report.on_any) == (6, 1, 1, 2, 3)
    assert report.not_covered == 2  # 312 was not downloaded, and a UK number is on no US registry
    assert (report.registry_age_days, report.registry_stale) == (2.0, False)
    assert sorted((e164, lists) for e164, _, lists in report.hits) == [
        ("+12015550001", ("company", "national")),
        ("+12015550002", ("campaign",)),
        ("+12015550004", ("national",)),
    ]


def test_a_scrub_without_a_registry_says_so_and_an_old_copy_is_flagged_stale(db, tmp_path):
    spring = campaign(db, "Spring", ("+12015550001",))
    with session(db) as s:
        assert dnc_store.scrub_campaign(s, spring, now=NOW).to_dict()["on_list"]["national"] is None
    path = write_registry(tmp_path, "2015550001\n", downloaded=NOW - timedelta(days=31, minutes=1))

    with session(db) as s, Registry(path) as registry:
        report = dnc_store.scrub_campaign(s, spring, registry=registry, now=NOW)

    assert report.registry_stale and report.national == 1


def test_the_national_registry_for_the_gate_follows_the_newest_load_and_has_no_age_before_any(db, tmp_path):
    ticks = iter(range(0, 10_000, 100))
    national = dnc_store.SqlNationalRegistry(db, refresh_s=50, clock=lambda: next(ticks))
    assert national.registry_age_days(NOW) is None
    assert not national.listed("+12015550001")
    assert national.problem == "no registry copy has been loaded"

    for number, name in (("2015550001", "a.bin"), ("2015550002", "b.bin")):
        source = tmp_path / "ftc.txt"
        source.write_text(number + "\n")
        info, report = load_registry_files([source], tmp_path / name, downloaded_at=NOW - timedelta(days=3))
        with session(db) as s, s.begin():
            dnc_store.record_registry_load(s, info, report, loaded_by="ops", now=NOW)
        if name == "a.bin":
            assert national.listed("+12015550001")
            assert national.registry_age_days(NOW) == 3.0

    assert national.listed("+12015550002") and not national.listed("+12015550001")
    with session(db) as s:
        assert s.scalar(select(func.count()).select_from(RegistryLoad)) == 2
    with db.connect() as conn:
        assert [r.kind for r in audit_store.read_records(conn)] == ["registry_loaded", "registry_loaded"]
    national.close()


def test_a_registry_file_that_is_not_the_recorded_copy_is_not_used(db, tmp_path):
    path = write_registry(tmp_path, "2015550001\n")
    with Registry(path) as registry:
        info = registry.info
    with session(db) as s, s.begin():
        from compliance.registry import LoadReport

        dnc_store.record_registry_load(s, info, LoadReport(), loaded_by="ops", now=NOW)
    write_registry(tmp_path, "2015550009\n")  # someone replaced the file behind the database's back

    national = dnc_store.SqlNationalRegistry(db)

    assert national.registry_age_days(NOW) is None
    assert "digest differs" in (national.problem or "")


# -- the commands ---------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'dialer.db'}")
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str):
        get_settings.cache_clear()
        return runner.invoke(main, list(args), catch_exceptions=False)

    yield run
    get_settings.cache_clear()


def test_dnc_add_list_and_remove_from_the_command_line(cli):
    assert cli("campaign", "create", "Spring", "--caller-id", "2125550100").exit_code == 0

    added = cli("dnc", "add", "201 555 0123", "--reason", "asked", "--source", "phone", "--by", "alice")
    again = cli("dnc", "add", "+12015550123", "--by", "bob")
    own = cli("dnc", "add", "2015550124", "--campaign", "Spring", "--by", "bob", "--json")
    listed = cli("dnc", "list", "--json")
    refused = cli("dnc", "remove", "+12015550123", "--by", "carol")
    removed = cli("dnc", "remove", "+12015550123", "--reason", "typo", "--by", "carol")
    log = cli("dnc", "list", "--changes", "--phone", "2015550123", "--json")

    assert added.output == "+12015550123 added to the company do-not-call list (change 1).\n"
    assert again.output == "+12015550123 already on the company do-not-call list (change 2).\n"
    assert json.loads(own.output)["list"] == "campaign 1"
    assert [(e["e164"], e["actor"]) for e in json.loads(listed.output)] == [("+12015550123", "alice")]
    assert refused.exit_code == 2 and "--reason" in refused.output
    assert removed.exit_code == 0
    assert [(c["action"], c["changed"], c["actor"]) for c in json.loads(log.output)] == [
        ("add", True, "alice"),
        ("add", False, "bob"),
        ("remove", True, "carol"),
    ]
    assert cli("audit", "verify").exit_code == 0


def test_dnc_upload_load_registry_and_scrub_from_the_command_line(cli, tmp_path):
    cli("campaign", "create", "Spring", "--caller-id", "2125550100")
    (tmp_path / "c.csv").write_text("phone\n2015550001\n2015550002\n2015550003\n")
    assert cli("import", "c.csv", "--campaign", "Spring").exit_code == 0
    (tmp_path / "optout.csv").write_text("phone\n2015550001\nnope\n")
    (tmp_path / "ftc.txt").write_text("2015550002\n201,5550003\n20155500\n")

    upload = cli("dnc", "upload", "optout.csv", "--reason", "web", "--report", "out.csv")
    load = cli("dnc", "load-registry", "ftc.txt", "--downloaded", "2026-11-30", "--out", "reg.bin", "--json")
    scrub = cli("dnc", "scrub", "--campaign", "Spring", "--json", "--out", "hits.csv")

    assert upload.output.startswith(
        "optout.csv: 1 added to the company list, 0 already listed, 0 duplicates, 1 rejected."
    )
    assert "row 3: not_a_number" in upload.output
    loaded = json.loads(load.output)
    assert (loaded["numbers"], loaded["malformed"], loaded["malformed_by_reason"]) == (2, 1, {"wrong_length": 1})
    assert loaded["problems"] == [{"source": "ftc.txt", "line": 3, "reason": "wrong_length", "text": "20155500"}]
    assert json.loads(scrub.output)["on_list"] == {"company": 1, "campaign": 0, "national": 2}
    assert (tmp_path / "hits.csv").read_text().count("\n") == 4


def test_a_registry_download_date_in_the_future_or_a_file_of_nothing_is_refused(cli, tmp_path):
    (tmp_path / "ftc.txt").write_text("2015550002\n")
    (tmp_path / "junk.txt").write_text("junk\n")
    future = (datetime.now(UTC) + timedelta(days=5)).strftime("%Y-%m-%d")

    late = cli("dnc", "load-registry", "ftc.txt", "--downloaded", future)
    empty = cli("dnc", "load-registry", "junk.txt", "--downloaded", "2026-11-30")

    assert late.exit_code == 1 and "in the future" in late.output
    assert empty.exit_code == 1 and "no number was read" in empty.output
    assert "junk.txt:1: not_digits: 'junk'" in empty.output


def test_every_dnc_command_has_help_with_examples(cli):
    for command in ("", "add", "remove", "list", "upload", "load-registry", "scrub"):
        result = cli("dnc", *([command] if command else []), "--help")
        assert result.exit_code == 0
        assert "Example" in result.output, command
    text = " ".join(cli("dnc", "load-registry", "--help").output.split())
    assert "malformed: not_digits, wrong_length, bad_area_code, bad_exchange." in text


# -- the stores behind the dial gate ------------------------------------------------------------


def test_the_dial_gate_blocks_on_the_stored_lists_and_on_a_missing_or_stale_registry_copy(db, tmp_path):
    spring, survey = campaign(db, "Spring"), campaign(db, "Survey")
    national = dnc_store.SqlNationalRegistry(db, refresh_s=0)
    gate = default_gate(dnc_store.SqlDncLookup(db), registry=national)
    at = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # a Tuesday, 11:00 in New York

    def codes(e164: str, campaign_id: int = spring, purpose: str = "telemarketing", when: datetime = at):
        return gate.can_dial(DialTarget(e164), CampaignPolicy(campaign_id, purpose=purpose), when).codes

    assert codes("+12125550100") == ("registry_stale",)  # no copy loaded yet: nothing could be scrubbed
    source = tmp_path / "ftc.txt"
    source.write_text("2125550101\n")
    info, report = load_registry_files([source], tmp_path / "r.bin", downloaded_at=at - timedelta(days=2))
    with session(db) as s, s.begin():
        dnc_store.record_registry_load(s, info, report, loaded_by="ops", now=at)
        dnc_store.add_number(s, "+12125550102", source="keypress", actor="ivr", now=at)
        dnc_store.add_number(s, "+12125550103", campaign_id=spring, source="agent", actor="al", now=at)

    assert codes("+12125550100") == ()
    assert codes("+12125550101") == ("dnc_national",)
    assert codes("+12125550101", survey, "survey") == ()  # the registry binds telemarketing only
    assert codes("+12125550102", survey, "survey") == ("dnc_company",)
    assert codes("+12125550103") == ("dnc_campaign",)
    assert codes("+12125550103", survey, "survey") == ()
    assert codes("+13125550100") == ("registry_stale",)  # area code 312 was not in the download
    assert "registry_stale" in codes("+12125550100", when=at + timedelta(days=30))
    national.close()


@pytest.mark.integration
def test_lists_change_log_upload_scrub_and_registry_loads_work_on_postgresql(pg_url, tmp_path):
    engine = make_engine(pg_url)
    upgrade(engine)
    try:
        spring = campaign(engine, "Spring", ("+12015550001", "+12015550002", "+12015550003"))
        with session(engine) as s, s.begin():
            dnc_store.add_number(s, "+12015550001", source="manual", actor="a", now=NOW)
            dnc_store.add_number(s, "+12015550002", campaign_id=spring, source="api", actor="b", now=NOW)
            report = dnc_store.upload_csv(s, io.BytesIO(b"phone\n2015550001\nbad\n"), actor="c", now=NOW)
            info, load = load_registry_files(
                [_text(tmp_path, "2015550003\n")], tmp_path / "r.bin", downloaded_at=NOW - timedelta(days=1)
            )
            dnc_store.record_registry_load(s, info, load, loaded_by="ops", now=NOW)
        lookup = dnc_store.SqlDncLookup(engine)
        national = dnc_store.SqlNationalRegistry(engine)
        with session(engine) as s, Registry(info.path) as registry:
            scrub = dnc_store.scrub_campaign(s, spring, registry=registry, now=NOW)
            entries = dnc_store.list_entries(s, every_list=True)

        assert report.counts == {"already_listed": 1, "rejected": 1}
        assert (lookup.listed("+12015550001", spring), lookup.listed("+12015550002", spring)) == ("company", "campaign")
        assert (scrub.company, scrub.campaign, scrub.national, scrub.on_any) == (1, 1, 1, 3)
        assert sorted((e.e164, e.actor) for e in entries) == [("+12015550001", "a"), ("+12015550002", "b")]
        assert national.lookup("US", "+12015550003") == RegistryAnswer(True, NOW - timedelta(days=1))
        assert audit_store.verify_trail(engine).ok
        national.close()
    finally:
        engine.dispose()


def _text(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "lines.txt"
    path.write_text(body)
    return path
