"""Durable records of compliance: DNC change log, registry loads, consent, the audit trail.

Kept apart from ``campaigns.models`` (same ``Base``, same metadata); import
this module wherever the whole schema must be known (Alembic's ``env.py``,
the tests' fixtures).  The tables are created by migration ``0002``.

The audit tables carry no foreign keys on purpose: an audit row must be
writable whatever happens to the rows it talks about, and must never be
removed by a cascade or block the removal of something else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.models import Base, UTCDateTime, utcnow

# 64-bit ids on PostgreSQL (the trail grows by millions of rows a day); SQLite's
# row ids are 64-bit already and only INTEGER PRIMARY KEY autoincrements.
BigId = BigInteger().with_variant(Integer(), "sqlite")

DNC_ACTIONS = ("add", "remove")
CONSENT_KINDS = ("consent", "revocation")


class DncChange(Base):
    """One change to a company or campaign DNC list, or a request that found the number listed already.

    Never updated or deleted: the list in ``dnc_entries`` is the present, this
    table is how it came to be (who, when, why, from where, and how long a
    request took to be honoured: ``effective_at - received_at``).
    """

    __tablename__ = "dnc_changes"
    __table_args__ = (
        CheckConstraint("action IN ('add', 'remove')", name="ck_dnc_changes_action"),
        Index("ix_dnc_changes_e164_effective", "e164", "effective_at"),
        Index("ix_dnc_changes_campaign_effective", "campaign_id", "effective_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    e164: Mapped[str] = mapped_column(String(20))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))  # None: the company list
    action: Mapped[str] = mapped_column(String(8))
    changed: Mapped[bool] = mapped_column(Boolean)  # False: the list was already so
    reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(100))
    evidence: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RegistryLoad(Base):
    """A copy of the national DNC registry loaded into a registry file."""

    __tablename__ = "registry_loads"

    id: Mapped[int] = mapped_column(primary_key=True)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    downloaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    path: Mapped[str] = mapped_column(String(1000))
    digest: Mapped[str] = mapped_column(String(64))
    numbers: Mapped[int] = mapped_column(BigInteger)
    area_codes: Mapped[int] = mapped_column(Integer)
    lines: Mapped[int] = mapped_column(BigInteger, default=0)
    duplicates: Mapped[int] = mapped_column(BigInteger, default=0)
    malformed: Mapped[int] = mapped_column(BigInteger, default=0)
    sources: Mapped[list[Any]] = mapped_column(default=list)
    malformed_by_reason: Mapped[dict[str, Any]] = mapped_column(default=dict)
    loaded_by: Mapped[str] = mapped_column(String(100), default="")


class ConsentRecord(Base):
    """A consent given, or revoked, for one number.  Append-only: a revocation is a row of its own.

    ``at`` is when the consent was given (or revoked), ``recorded_at`` when we
    wrote it down.  ``scope`` says what the consent covers ("all", or a
    purpose such as "telemarketing"); ``campaign_id`` narrows it to one campaign.
    """

    __tablename__ = "consent_records"
    __table_args__ = (
        CheckConstraint("kind IN ('consent', 'revocation')", name="ck_consent_records_kind"),
        Index("ix_consent_records_e164_at", "e164", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    e164: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(32), default="all")
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    source: Mapped[str] = mapped_column(String(64))  # web_form, paper, ivr...; for a revocation, the channel
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    text_shown: Mapped[str] = mapped_column(Text, default="")  # the consent language, or the words of a revocation
    evidence: Mapped[str] = mapped_column(Text, default="")  # where the proof is (form id, recording...)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(100), default="")


class AuditEvent(Base):
    """One link of a hash chain (see ``compliance.audit``): never updated, never deleted."""

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("chain", "seq", name="uq_audit_events_chain_seq"),
        Index("ix_audit_events_campaign_at", "campaign_id", "at"),
        Index("ix_audit_events_at", "at"),
        Index("ix_audit_events_e164", "e164"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    chain: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(40))
    campaign_id: Mapped[int | None] = mapped_column(Integer)
    e164: Mapped[str | None] = mapped_column(String(20))
    attempt_id: Mapped[int | None] = mapped_column(Integer)
    call_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON text, hashed byte for byte
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The last row of each chain: the row appenders lock to take turns, and the check on the chain's end."""

    __tablename__ = "audit_chain_heads"

    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
