"""The hash-chained audit trail: pure chain rules, the database store, many writers, the commands."""

from __future__ import annotations

import csv
import hashlib
import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, delete, select, text, update

from campaigns import audit_store
from campaigns.cli import main
from campaigns.compliance_models import AuditEvent
from campaigns.db import make_engine, upgrade
from campaigns.settings import get_settings
from compliance.audit import (
    GENESIS_HASH,
    AuditRecord,
    ChainHead,
    canonical_json,
    chain_for,
    next_record,
    record_hash,
    verify,
)

T0 = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)


def make_chain(n: int, chain: str = "campaign:1", campaign_id: int | None = 1) -> list[AuditRecord]:
    records, head = [], ChainHead()
    for i in range(n):
        record = next_record(
            head,
            chain=chain,
            at=T0 + timedelta(seconds=i, microseconds=7),
            kind="dial_decision" if i % 2 else "call_event",
            payload={"i": i, "rule": "hours.us", "zones": ["America/New_York"], "note": "é ✓", "ms": 1.25},
            campaign_id=campaign_id,
            e164="+12125550100",
            attempt_id=100 + i,
            call_id=f"CA{i:032x}",
        )
        records.append(replace(record, id=len(records) + 1))
        head = ChainHead(record.seq, record.hash)
    return records


# -- pure rules ------------------------------------------------------------------------


def test_canonical_json_has_sorted_keys_no_whitespace_and_utf8_text():
    assert canonical_json({"b": [1, 2.5], "a": "é", "c": None}) == '{"a":"é","b":[1,2.5],"c":null}'
    assert canonical_json({"at": T0}) == '{"at":"2026-03-02T13:00:00.000000Z"}'
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_a_row_hash_is_sha256_of_the_previous_hash_and_the_rows_canonical_json():
    record = make_chain(1)[0]
    body = {
        "at": "2026-03-02T13:00:00.000007Z",
        "attempt_id": 100,
        "call_id": record.call_id,
        "campaign_id": 1,
        "chain": "campaign:1",
        "e164": "+12125550100",
        "kind": "call_event",
        "payload": json.loads(record.payload),
        "seq": 1,
    }
    expected = hashlib.sha256(GENESIS_HASH.encode() + canonical_json(body).encode("utf-8")).hexdigest()

    assert record.prev_hash == GENESIS_HASH
    assert record.hash == expected == record_hash(record)


def test_an_untouched_chain_verifies_and_reports_its_head():
    records = make_chain(6) + make_chain(3, chain="company", campaign_id=None)

    result = verify(records)

    assert result.ok, result.problem
    assert result.rows == 9
    assert result.heads == {
        "campaign:1": ChainHead(6, records[5].hash),
        "company": ChainHead(3, records[8].hash),
    }


def test_chains_may_come_interleaved_as_long_as_each_is_in_order():
    one, two = make_chain(3), make_chain(3, chain="campaign:2", campaign_id=2)

    assert verify([one[0], two[0], two[1], one[1], one[2], two[2]]).ok


def flip_one_byte(value: object) -> object:
    if isinstance(value, bool) or value is None:
        raise AssertionError("not a field to flip")
    if isinstance(value, int):
        return value ^ 8  # one bit; far enough not to collide with a neighbour
    if isinstance(value, datetime):
        return value + timedelta(microseconds=1)
    text_value = str(value)
    middle = len(text_value) // 2
    changed = "0" if text_value[middle] != "0" else "1"
    return text_value[:middle] + changed + text_value[middle + 1 :]


EDITABLE = (
    "chain",
    "seq",
    "at",
    "kind",
    "payload",
    "prev_hash",
    "hash",
    "campaign_id",
    "e164",
    "attempt_id",
    "call_id",
)


@pytest.mark.parametrize("field", EDITABLE)
@pytest.mark.parametrize("index", [0, 3, 5])
def test_a_one_byte_edit_to_any_field_of_any_row_fails_verify_at_that_row(field, index):
    records = make_chain(6)
    records[index] = replace(records[index], **{field: flip_one_byte(getattr(records[index], field))})

    result = verify(records)

    assert not result.ok
    assert result.bad is records[index]
    assert "edited" in (result.problem or "") or field in ("seq", "chain")


def test_a_space_added_to_the_stored_payload_text_is_an_edit_even_though_the_json_means_the_same():
    records = make_chain(3)
    records[1] = replace(records[1], payload=records[1].payload.replace(",", ", ", 1))

    result = verify(records)

    assert (result.ok, result.bad) == (False, records[1])
    assert result.problem == "its payload text is not in canonical form (edited)"


def test_a_deleted_row_is_found_at_the_row_after_the_gap():
    records = make_chain(6)
    del records[2]

    result = verify(records)

    assert (result.ok, result.bad) == (False, records[2])
    assert result.problem == "rows #3 of chain campaign:1 are missing before it (deleted, or moved elsewhere)"


def test_rows_cut_off_the_end_are_found_against_the_recorded_head():
    records = make_chain(6)
    head = ChainHead(6, records[5].hash)

    assert verify(records, expected_heads={"campaign:1": head}).ok
    result = verify(records[:4], expected_heads={"campaign:1": head})

    assert not result.ok and result.bad is None
    assert result.problem == "rows #5 to #6 at the end of chain campaign:1 are missing (deleted)"


def test_reordered_rows_are_found():
    records = make_chain(6)
    records[2], records[3] = records[3], records[2]

    result = verify(records)

    assert (result.ok, result.bad) == (False, records[2])
    assert "missing before it" in (result.problem or "")


def test_a_row_inserted_with_a_valid_hash_of_its_own_breaks_the_link_to_it():
    records = make_chain(4)
    forged = next_record(ChainHead(2, "f" * 64), chain="campaign:1", at=T0, kind="call_event", campaign_id=1)
    records[2] = forged  # replaces #3 with a self-consistent row that does not follow #2

    result = verify(records)

    assert (result.ok, result.bad) == (False, forged)
    assert "prev_hash does not match" in (result.problem or "")


def test_a_rewritten_chain_end_is_found_against_the_recorded_head():
    records = make_chain(4)
    rewritten = [*records[:3], next_record(ChainHead(3, records[2].hash), chain="campaign:1", at=T0, kind="x")]

    result = verify(rewritten, expected_heads={"campaign:1": ChainHead(4, records[3].hash)})

    assert not result.ok and "rewritten" in (result.problem or "")


def test_a_naive_time_or_an_empty_kind_cannot_enter_the_chain():
    with pytest.raises(ValueError, match="aware"):
        next_record(ChainHead(), chain="company", at=datetime(2026, 1, 1), kind="x")
    with pytest.raises(ValueError, match="kind"):
        next_record(ChainHead(), chain="company", at=T0, kind="")


# -- the database store -----------------------------------------------------------------


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def append_some(db: Engine, n: int, campaign_id: int | None = 1) -> list[AuditRecord]:
    log = audit_store.AuditLog(db)
    return [
        log.append(
            "call_event",
            {"i": i, "amd": "human", "answer_to_agent_ms": 640 + i},
            campaign_id=campaign_id,
            e164="+12125550100",
            attempt_id=i,
            call_id=f"CA{i}",
            at=T0 + timedelta(minutes=i),
        )
        for i in range(n)
    ]


def test_appended_events_are_stored_as_one_chain_per_campaign_and_verify(sqlite_db):
    append_some(sqlite_db, 4, campaign_id=1)
    append_some(sqlite_db, 2, campaign_id=2)
    append_some(sqlite_db, 1, campaign_id=None)

    result = audit_store.verify_trail(sqlite_db)

    assert result.ok, result.problem
    assert {name: head.seq for name, head in result.heads.items()} == {"campaign:1": 4, "campaign:2": 2, "company": 1}
    assert audit_store.verify_trail(sqlite_db, campaign_id=2).rows == 2


def test_events_appended_in_one_call_keep_their_order_and_come_back_as_given(sqlite_db):
    events = [audit_store.NewEvent("a", {"n": n}, campaign_id=n % 2 or None) for n in range(5)]

    with sqlite_db.begin() as conn:
        records = audit_store.append_events(conn, events, now=T0)

    assert [json.loads(r.payload)["n"] for r in records] == [0, 1, 2, 3, 4]
    assert [(r.chain, r.seq) for r in records] == [
        ("company", 1),
        ("campaign:1", 1),
        ("company", 2),
        ("campaign:1", 2),
        ("company", 3),
    ]
    assert audit_store.verify_trail(sqlite_db).ok


def stored_text(db: Engine, row_id: int, column: str) -> object:
    with db.connect() as conn:
        return conn.execute(text(f"SELECT {column} FROM audit_events WHERE id = :id"), {"id": row_id}).scalar()


@pytest.mark.parametrize("column", EDITABLE)
def test_a_one_byte_edit_in_the_database_fails_verify_naming_the_row(sqlite_db, column):
    records = append_some(sqlite_db, 5)
    with sqlite_db.connect() as conn:
        ids = conn.execute(select(AuditEvent.id).order_by(AuditEvent.seq)).scalars().all()
    target = ids[2]
    value = stored_text(sqlite_db, target, column)
    with sqlite_db.begin() as conn:
        conn.execute(
            text(f"UPDATE audit_events SET {column} = :v WHERE id = :id"), {"v": flip_one_byte(value), "id": target}
        )

    result = audit_store.verify_trail(sqlite_db)

    assert not result.ok
    assert result.bad is not None
    assert result.bad.id == target
    assert len(records) == 5


def test_a_row_deleted_from_the_database_is_named_by_the_row_after_it_and_a_cut_end_by_the_head(sqlite_db):
    append_some(sqlite_db, 5)
    with sqlite_db.begin() as conn:
        conn.execute(delete(AuditEvent).where(AuditEvent.seq == 3))
    result = audit_store.verify_trail(sqlite_db)
    assert (result.ok, result.bad and result.bad.seq) == (False, 4)

    with sqlite_db.begin() as conn:
        conn.execute(delete(AuditEvent).where(AuditEvent.seq >= 3))
    result = audit_store.verify_trail(sqlite_db)
    assert not result.ok
    assert result.problem == "rows #3 to #5 at the end of chain campaign:1 are missing (deleted)"


def test_contents_swapped_between_two_rows_are_found(sqlite_db):
    append_some(sqlite_db, 4)
    with sqlite_db.begin() as conn:
        rows = conn.execute(select(AuditEvent.id, AuditEvent.payload, AuditEvent.hash).order_by(AuditEvent.seq)).all()
        a, b = rows[1], rows[2]
        conn.execute(update(AuditEvent).where(AuditEvent.id == a.id).values(payload=b.payload, hash=b.hash))
        conn.execute(update(AuditEvent).where(AuditEvent.id == b.id).values(payload=a.payload, hash=a.hash))

    result = audit_store.verify_trail(sqlite_db)

    assert (result.ok, result.bad and result.bad.id) == (False, rows[1].id)


def appenders_keep_one_chain(db: Engine, threads: int = 6, each: int = 15) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(worker: int) -> None:
        try:
            start.wait()
            log = audit_store.AuditLog(db)
            for i in range(each):
                log.append("call_event", {"worker": worker, "i": i}, campaign_id=7)
        except BaseException as error:  # reported below
            errors.append(error)

    pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()

    assert errors == []
    result = audit_store.verify_trail(db)
    assert result.ok, result.problem
    assert result.heads["campaign:7"].seq == threads * each
    with db.connect() as conn:
        seqs = conn.execute(select(AuditEvent.seq).order_by(AuditEvent.seq)).scalars().all()
    assert seqs == list(range(1, threads * each + 1))


def test_several_appenders_on_their_own_connections_keep_one_chain_on_sqlite(sqlite_db):
    appenders_keep_one_chain(sqlite_db)


@pytest.mark.integration
def test_several_appenders_keep_one_chain_on_postgresql(pg_url):
    engine = make_engine(pg_url, pool_size=8)
    upgrade(engine)
    try:
        appenders_keep_one_chain(engine, threads=8, each=12)
    finally:
        engine.dispose()


@pytest.mark.integration
def test_a_one_byte_edit_on_postgresql_fails_verify_naming_the_row(pg_url):
    engine = make_engine(pg_url)
    upgrade(engine)
    try:
        append_some(engine, 3)
        with engine.begin() as conn:
            target = conn.execute(select(AuditEvent.id).where(AuditEvent.seq == 2)).scalar_one()
            conn.execute(text("UPDATE audit_events SET kind = 'call_evenu' WHERE id = :id"), {"id": target})
        result = audit_store.verify_trail(engine)
        assert (result.ok, result.bad and result.bad.id) == (False, target)
    finally:
        engine.dispose()


def test_a_gate_decision_is_recorded_with_every_rule_and_its_time():
    class FakeDecision:
        at = T0

        def to_dict(self) -> dict[str, object]:
            return {"allowed": False, "reasons": [{"code": "outside_hours"}]}

    engine = make_engine("sqlite://")
    upgrade(engine)
    record = audit_store.AuditLog(engine).decision(FakeDecision(), campaign_id=3, e164="+12125550100", contact_id=9)

    assert (record.chain, record.kind, record.at) == (chain_for(3), "dial_decision", T0)
    assert json.loads(record.payload)["decision"]["reasons"] == [{"code": "outside_hours"}]
    assert json.loads(record.payload)["contact_id"] == 9
    engine.dispose()


# -- the commands -------------------------------------------------------------------------


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


def test_audit_verify_exits_0_on_a_good_trail_and_1_naming_the_first_bad_row(cli, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'dialer.db'}")
    upgrade(engine)
    append_some(engine, 3)

    good = cli("audit", "verify")
    assert good.exit_code == 0, good.output
    assert "OK: 3 rows checked" in good.output

    with engine.begin() as conn:
        target = conn.execute(select(AuditEvent.id).where(AuditEvent.seq == 2)).scalar_one()
        conn.execute(
            text("UPDATE audit_events SET payload = replace(payload, '641', '642') WHERE id = :id"), {"id": target}
        )
    engine.dispose()
    bad = cli("audit", "verify")

    assert bad.exit_code == 1
    assert f"FAILED at row id {target} (campaign:1 #2): its content does not match its hash" in bad.output
    as_json = json.loads(cli("audit", "verify", "--json").output)
    assert as_json["first_bad"]["id"] == target


def test_audit_export_writes_the_rows_of_the_date_range_through_the_safe_writer(cli, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'dialer.db'}")
    upgrade(engine)
    log = audit_store.AuditLog(engine)
    log.append("x", {"cell": "=HYPERLINK(1)"}, campaign_id=None, at=datetime(2026, 2, 28, 23, 59, tzinfo=UTC))
    log.append("y", {"day": 1}, campaign_id=None, e164="+12125550100", at=datetime(2026, 3, 1, 0, 0, tzinfo=UTC))
    log.append("z", {"day": 31}, campaign_id=None, at=datetime(2026, 3, 31, 23, 59, tzinfo=UTC))
    log.append("w", {"day": 32}, campaign_id=None, at=datetime(2026, 4, 1, 0, 0, tzinfo=UTC))
    engine.dispose()

    result = cli("audit", "export", "--from", "2026-03-01", "--to", "2026-03-31", "--out", "march.csv")

    assert result.exit_code == 0, result.output
    with open(tmp_path / "march.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["kind"] for r in rows] == ["y", "z"]
    assert rows[0]["e164"] == "'+12125550100"  # a leading + would be a formula to a spreadsheet
    assert rows[0]["at"] == "2026-03-01T00:00:00.000000Z"
    assert "Wrote 2 rows" in result.output


def test_every_audit_command_has_help_with_examples(cli):
    for args in (("audit",), ("audit", "verify"), ("audit", "export")):
        result = cli(*args, "--help")
        assert result.exit_code == 0
        assert "Example" in result.output
