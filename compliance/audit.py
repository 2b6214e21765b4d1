"""The audit trail as a hash chain: any edited, deleted, inserted or reordered row shows.

Each record belongs to a *chain* (one per campaign, ``campaign:ID``, and one
for company-wide events, ``company``) and has a sequence number ``seq``
counting from 1 in its chain.  Its hash is

    SHA-256( prev_hash  ||  canonical JSON of the record's fields )

where ``prev_hash`` is the hash of the record before it in the chain (64
zeros for the first), ``||`` is concatenation of the UTF-8 bytes, and the
canonical JSON is the object of every field but ``hash`` (``at``,
``attempt_id``, ``call_id``, ``campaign_id``, ``chain``, ``e164``, ``kind``,
``payload``, ``seq``) written with sorted keys, no whitespace, UTF-8 text
(not ``\\u`` escapes), and times as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC.
``prev_hash`` is part of the hashed bytes, so a row cannot be moved, and
``seq`` is, so a deletion leaves a gap the next row names.

The payload is stored as its canonical JSON text and hashed as the object it
holds; ``verify`` also requires the stored text to be canonical, so a change
of even one byte (a space) in the payload is found.

A chain proves the order and content of what it holds; it cannot by itself
show that rows were cut off its end.  ``verify`` takes the expected heads
(``seq`` and hash of each chain's last row, kept apart by the store and worth
exporting now and then to write-once storage) to close that gap.

Pure: standard library only, no I/O.  Anyone can re-check an export with this
module and nothing else.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import UTC, date, datetime, time
from enum import Enum
from typing import Any

__all__ = [
    "GENESIS_HASH",
    "AuditRecord",
    "ChainHead",
    "VerifyResult",
    "canonical_json",
    "chain_for",
    "format_time",
    "next_record",
    "record_hash",
    "verify",
]

GENESIS_HASH = "0" * 64
COMPANY_CHAIN = "company"


def chain_for(campaign_id: int | None) -> str:
    """The chain a record joins: its campaign's, or the company's when it has no campaign."""
    return COMPANY_CHAIN if campaign_id is None else f"campaign:{campaign_id}"


def format_time(value: datetime) -> str:
    """The one text of an instant in the chain: UTC, microseconds, ``Z``."""
    if value.tzinfo is None:
        raise ValueError("audit times must be aware datetimes")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _plain(value: Any) -> Any:
    """Values JSON has no type for, as the text or structure the chain stores."""
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted((_plain(v) for v in value), key=lambda v: canonical_json(v))
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in fields(value)}
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    raise TypeError(f"{type(value).__name__} cannot be written to the audit trail")


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text; NaN and infinities refused."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_plain)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One row of the trail as stored.  ``id`` is the database's and is not hashed."""

    chain: str
    seq: int
    at: datetime | str  # a string only when a stored time could not be read back
    kind: str
    payload: str  # canonical JSON text
    prev_hash: str
    hash: str
    campaign_id: int | None = None
    e164: str | None = None
    attempt_id: int | None = None
    call_id: str | None = None
    id: int | None = None

    def payload_object(self) -> Any:
        return json.loads(self.payload)

    @property
    def ref(self) -> str:
        """How a person finds the row: its database id, else its place in its chain."""
        return f"id {self.id}" if self.id is not None else f"{self.chain} #{self.seq}"


def _hashed_fields(record: AuditRecord, payload: Any) -> dict[str, Any]:
    at = record.at
    return {
        "at": format_time(at) if isinstance(at, datetime) else at,
        "attempt_id": record.attempt_id,
        "call_id": record.call_id,
        "campaign_id": record.campaign_id,
        "chain": record.chain,
        "e164": record.e164,
        "kind": record.kind,
        "payload": payload,
        "seq": record.seq,
    }


def record_hash(record: AuditRecord, payload: Any = None) -> str:
    """The hash the record should carry, from its fields and ``prev_hash`` (``payload`` parsed, if at hand)."""
    if payload is None:
        payload = json.loads(record.payload)
    body = canonical_json(_hashed_fields(record, payload)).encode("utf-8")
    return hashlib.sha256(record.prev_hash.encode("ascii", "replace") + body).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last row of a chain: where the next record links to."""

    seq: int = 0
    hash: str = GENESIS_HASH


def next_record(
    head: ChainHead,
    *,
    chain: str,
    at: datetime,
    kind: str,
    payload: Mapping[str, Any] | None = None,
    campaign_id: int | None = None,
    e164: str | None = None,
    attempt_id: int | None = None,
    call_id: str | None = None,
) -> AuditRecord:
    """The record that follows ``head`` in ``chain``, hashed."""
    if not kind:
        raise ValueError("an audit record needs a kind")
    format_time(at)  # refuses a naive time
    text = canonical_json(dict(payload or {}))
    record = AuditRecord(
        chain=chain,
        seq=head.seq + 1,
        at=at.astimezone(UTC),
        kind=kind,
        payload=text,
        prev_hash=head.hash,
        hash="",
        campaign_id=campaign_id,
        e164=e164,
        attempt_id=attempt_id,
        call_id=call_id,
    )
    # Hash the object a reader will parse back, so writer and verifier hash the same thing.
    return replace(record, hash=record_hash(record, json.loads(text)))


@dataclass(slots=True)
class VerifyResult:
    """The outcome of a verification: ``ok``, or the first bad row and what is wrong with it."""

    ok: bool = True
    rows: int = 0
    heads: dict[str, ChainHead] = field(default_factory=dict)
    bad: AuditRecord | None = None
    bad_chain: str | None = None
    problem: str | None = None

    def fail(self, record: AuditRecord | None, chain: str, problem: str) -> VerifyResult:
        self.ok, self.bad, self.bad_chain, self.problem = False, record, chain, problem
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "chains": {name: {"seq": h.seq, "hash": h.hash} for name, h in sorted(self.heads.items())},
            "first_bad": None
            if self.ok
            else {
                "id": self.bad.id if self.bad else None,
                "chain": self.bad_chain,
                "seq": self.bad.seq if self.bad else None,
                "problem": self.problem,
            },
        }


def verify(rows: Iterable[AuditRecord], *, expected_heads: Mapping[str, ChainHead] | None = None) -> VerifyResult:
    """Check every row, in chain order; stop at the first bad one and say what is wrong.

    ``rows`` may hold several chains, interleaved or not, each in ``seq`` order
    (the store reads them so).  With ``expected_heads``, a chain whose last row
    is not the expected head has lost rows at its end (or gained some).
    """
    result = VerifyResult()
    heads = result.heads
    for record in rows:
        chain = record.chain
        head = heads.get(chain, ChainHead())
        problem = _content_problem(record)
        if problem is not None:
            return result.fail(record, chain, problem)
        expected = head.seq + 1
        if record.seq != expected:
            if isinstance(record.seq, int) and record.seq > expected:
                missing = f"#{expected}" if record.seq == expected + 1 else f"#{expected} to #{record.seq - 1}"
                return result.fail(
                    record,
                    chain,
                    f"rows {missing} of chain {chain} are missing before it (deleted, or moved elsewhere)",
                )
            return result.fail(
                record, chain, f"it is #{record.seq} of chain {chain} but comes after #{head.seq} (rows reordered)"
            )
        if record.prev_hash != head.hash:
            return result.fail(
                record,
                chain,
                f"its prev_hash does not match the row before it (#{head.seq}): "
                "a row was inserted, replaced or rewritten before it",
            )
        heads[chain] = ChainHead(record.seq, record.hash)
        result.rows += 1
    for chain, want in sorted((expected_heads or {}).items()):
        have = heads.get(chain, ChainHead())
        if have == want:
            continue
        if have.seq < want.seq:
            first = have.seq + 1
            rows_text = f"#{first}" if first == want.seq else f"#{first} to #{want.seq}"
            return result.fail(None, chain, f"rows {rows_text} at the end of chain {chain} are missing (deleted)")
        return result.fail(
            None,
            chain,
            f"chain {chain} ends at #{have.seq} but its recorded head is #{want.seq} "
            "with another hash: the end of the chain was rewritten",
        )
    return result


def _content_problem(record: AuditRecord) -> str | None:
    """Why the row's own content is not what was written, or None."""
    if not isinstance(record.payload, str):
        return "its payload is not text (edited)"
    try:
        payload = json.loads(record.payload)
    except ValueError:
        return "its payload is not valid JSON (edited)"
    try:
        if canonical_json(payload) != record.payload:
            return "its payload text is not in canonical form (edited)"
        if record_hash(record, payload) != record.hash:
            return "its content does not match its hash (the row was edited)"
    except (TypeError, ValueError):
        return "its fields cannot be read as written (edited)"
    return None
