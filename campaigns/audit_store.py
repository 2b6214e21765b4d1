"""The audit trail in the database: append from many processes at once, verify, export.

Rows live in ``audit_events``; the chain rules are ``compliance.audit``'s.
Appenders take turns per chain by locking the chain's row in
``audit_chain_heads`` inside their transaction:

* PostgreSQL: ``INSERT ... ON CONFLICT DO NOTHING`` makes sure the head row
  exists, then ``SELECT ... FOR UPDATE`` locks it until commit, so a second
  appender waits and then reads the head the first one left;
* SQLite: the same ``INSERT`` is a write, which takes the database's write
  lock for the rest of the transaction (other writers wait, up to the
  connection's busy timeout), so the read of the head that follows is the
  latest.

The unique ``(chain, seq)`` constraint backs this up: were two appenders ever
to read the same head, the second insert would fail rather than fork the chain.
Appends join the caller's transaction, so an event and the change it records
(a DNC addition, say) commit together or not at all.  Chains are locked in
name order, so two transactions appending to several chains cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO, cast

from sqlalchemy import Connection, Engine, String, Table, insert, select, type_coerce, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from campaigns.compliance_models import AuditChainHead, AuditEvent
from campaigns.csv_safety import safe_csv_writer
from compliance.audit import AuditRecord, ChainHead, VerifyResult, chain_for, format_time, next_record, verify

__all__ = [
    "EXPORT_COLUMNS",
    "AuditLog",
    "NewEvent",
    "append_event",
    "append_events",
    "export_csv",
    "read_records",
    "verify_trail",
]

_EVENTS = cast(Table, AuditEvent.__table__)
_HEADS = cast(Table, AuditChainHead.__table__)
_READ_BATCH = 5000

EXPORT_COLUMNS = (
    "id",
    "chain",
    "seq",
    "at",
    "kind",
    "campaign_id",
    "e164",
    "attempt_id",
    "call_id",
    "payload",
    "prev_hash",
    "hash",
)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append; its chain is its campaign's (or the company's)."""

    kind: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    campaign_id: int | None = None
    e164: str | None = None
    attempt_id: int | None = None
    call_id: str | None = None
    at: datetime | None = None  # default: now


def append_events(conn: Connection, events: Sequence[NewEvent], *, now: datetime | None = None) -> list[AuditRecord]:
    """Append ``events`` in the caller's transaction; the records come back in the order given."""
    if not events:
        return []
    moment = now or datetime.now(UTC)
    by_chain: dict[str, list[int]] = {}
    for i, event in enumerate(events):
        by_chain.setdefault(chain_for(event.campaign_id), []).append(i)
    out: list[AuditRecord | None] = [None] * len(events)
    for chain in sorted(by_chain):
        head = _lock_head(conn, chain)
        rows = []
        for i in by_chain[chain]:
            event = events[i]
            record = next_record(
                head,
                chain=chain,
                at=event.at or moment,
                kind=event.kind,
                payload=event.payload,
                campaign_id=event.campaign_id,
                e164=event.e164,
                attempt_id=event.attempt_id,
                call_id=event.call_id,
            )
            head = ChainHead(record.seq, record.hash)
            out[i] = record
            rows.append(_row(record))
        conn.execute(insert(_EVENTS), rows)
        conn.execute(
            update(_HEADS)
            .where(_HEADS.c.chain == chain)
            .values(seq=head.seq, hash=head.hash, updated_at=datetime.now(UTC))
        )
    return [record for record in out if record is not None]


def append_event(conn: Connection, kind: str, payload: Mapping[str, Any] | None = None, **fields: Any) -> AuditRecord:
    """Append one event in the caller's transaction (``fields``: those of ``NewEvent``)."""
    return append_events(conn, [NewEvent(kind, dict(payload or {}), **fields)])[0]


def _row(record: AuditRecord) -> dict[str, Any]:
    return {
        "chain": record.chain,
        "seq": record.seq,
        "at": record.at,
        "kind": record.kind,
        "campaign_id": record.campaign_id,
        "e164": record.e164,
        "attempt_id": record.attempt_id,
        "call_id": record.call_id,
        "payload": record.payload,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
    }


def _lock_head(conn: Connection, chain: str) -> ChainHead:
    """Make sure the chain's head row exists, lock it for this transaction, and read it."""
    values = {"chain": chain, "seq": 0, "hash": ChainHead().hash, "updated_at": datetime.now(UTC)}
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(postgresql.insert(_HEADS).values(values).on_conflict_do_nothing(index_elements=["chain"]))
    elif dialect == "sqlite":
        conn.execute(sqlite.insert(_HEADS).values(values).on_conflict_do_nothing(index_elements=["chain"]))
    elif conn.execute(select(_HEADS.c.chain).where(_HEADS.c.chain == chain)).first() is None:
        try:
            with conn.begin_nested():
                conn.execute(insert(_HEADS).values(values))
        except IntegrityError:
            pass  # another appender made it meanwhile
    row = conn.execute(select(_HEADS.c.seq, _HEADS.c.hash).where(_HEADS.c.chain == chain).with_for_update()).one()
    return ChainHead(int(row.seq), str(row.hash))


class AuditLog:
    """Appends events on an engine, each call its own short transaction.

    For code that has no transaction of its own to join: the dialer recording
    a gate decision or a call event.  Code that changes something and records
    it (a DNC addition) calls ``append_events`` inside its own transaction.
    """

    def __init__(self, db: Engine) -> None:
        self.db = db

    def append(self, kind: str, payload: Mapping[str, Any] | None = None, **fields: Any) -> AuditRecord:
        with self.db.begin() as conn:
            return append_event(conn, kind, payload, **fields)

    def append_many(self, events: Sequence[NewEvent]) -> list[AuditRecord]:
        with self.db.begin() as conn:
            return append_events(conn, events)

    def decision(
        self,
        decision: Any,
        *,
        campaign_id: int,
        e164: str,
        path: str = "hopper",
        contact_id: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        """Record a dial gate decision (anything with ``to_dict()`` and ``at``): every rule and its result."""
        payload = {"path": path, "contact_id": contact_id, "decision": decision.to_dict(), **(extra or {})}
        return self.append("dial_decision", payload, campaign_id=campaign_id, e164=e164, at=decision.at)


# -- reading -------------------------------------------------------------------------


def _read_at(value: Any) -> datetime | str:
    """A stored time as an aware UTC datetime; the raw text when it cannot be read (it was edited)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def read_records(
    conn: Connection,
    *,
    chains: Iterable[str] | None = None,
    campaign_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    e164: str | None = None,
    by_time: bool = False,
) -> Iterator[AuditRecord]:
    """Stored rows as records, in the order they were appended (or by time with ``by_time``), in batches.

    Times are read as stored and parsed here, so a row whose time was edited
    into nonsense comes back (and fails verification) instead of stopping the read.
    """
    at_column = type_coerce(_EVENTS.c.at, String) if conn.dialect.name == "sqlite" else _EVENTS.c.at
    columns = [c for c in _EVENTS.c if c.name != "at"] + [at_column.label("at")]
    query = select(*columns)
    if chains is not None:
        query = query.where(_EVENTS.c.chain.in_(list(chains)))
    if campaign_id is not None:
        query = query.where(_EVENTS.c.campaign_id == campaign_id)
    if start is not None:
        query = query.where(_EVENTS.c.at >= start)
    if end is not None:
        query = query.where(_EVENTS.c.at < end)
    if e164 is not None:
        query = query.where(_EVENTS.c.e164 == e164)
    # Within a chain, ids grow with seq (rows are inserted under the chain's lock), so reading by id
    # shows an edited seq where the row really is instead of where its new number would sort it.
    order = (_EVENTS.c.at, _EVENTS.c.id) if by_time else (_EVENTS.c.id,)
    result = conn.execution_options(yield_per=_READ_BATCH).execute(query.order_by(*order))
    for row in result:
        yield AuditRecord(
            chain=row.chain,
            seq=row.seq,
            at=_read_at(row.at),
            kind=row.kind,
            payload=row.payload,
            prev_hash=row.prev_hash,
            hash=row.hash,
            campaign_id=row.campaign_id,
            e164=row.e164,
            attempt_id=row.attempt_id,
            call_id=row.call_id,
            id=row.id,
        )


def chain_heads(conn: Connection) -> dict[str, ChainHead]:
    return {row.chain: ChainHead(int(row.seq), str(row.hash)) for row in conn.execute(select(_HEADS))}


def verify_trail(db: Engine | Connection, *, campaign_id: int | None = None) -> VerifyResult:
    """Verify every chain (or the one of ``campaign_id``) against its rows and its recorded head."""
    if isinstance(db, Engine):
        with db.connect() as conn:
            return verify_trail(conn, campaign_id=campaign_id)
    heads = chain_heads(db)
    if campaign_id is None:
        stored = set(db.scalars(select(_EVENTS.c.chain).distinct()))
        chains = sorted(stored | set(heads))
    else:
        chains = [chain_for(campaign_id)]
    expected = {chain: heads.get(chain, ChainHead()) for chain in chains}
    return verify(read_records(db, chains=chains), expected_heads=expected)


def export_csv(
    conn: Connection,
    out: TextIO,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    campaign_id: int | None = None,
    e164: str | None = None,
) -> int:
    """Write the rows of a time range (``start`` included, ``end`` not) as CSV, in time order; the count.

    Every column is written as stored, so the rows can be re-hashed from the file.
    """
    writer = safe_csv_writer(out)
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for record in read_records(conn, campaign_id=campaign_id, start=start, end=end, e164=e164, by_time=True):
        at = record.at
        writer.writerow(
            [
                record.id,
                record.chain,
                record.seq,
                format_time(at) if isinstance(at, datetime) else at,
                record.kind,
                record.campaign_id,
                record.e164,
                record.attempt_id,
                record.call_id,
                record.payload,
                record.prev_hash,
                record.hash,
            ]
        )
        count += 1
    return count
