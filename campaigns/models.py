"""Durable records of the dialer: campaigns, lists, contacts, calls, agents.

Times are stored as UTC.  SQLite forgets time zones, so ``UTCDateTime`` hands
back aware datetimes on every backend; code never compares naive with aware.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC when read back."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a time zone first")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Every constraint gets a predictable name, so later migrations can drop or alter
# it by name on PostgreSQL and in SQLite's batch mode alike.  (Check constraints
# are all named by hand below.)
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class DialMode(enum.StrEnum):
    PREVIEW = "preview"
    PROGRESSIVE = "progressive"
    POWER = "power"
    PREDICTIVE = "predictive"


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    FINISHED = "finished"


class ContactStatus(enum.StrEnum):
    NEW = "new"  # never dialed
    RETRY = "retry"  # dialed, may be dialed again from next_eligible_at
    IN_CALL = "in_call"  # an attempt is in flight
    CALLBACK = "callback"  # a person asked to be called back
    DONE = "done"  # a final disposition was reached
    EXHAUSTED = "exhausted"  # max attempts used up
    DNC = "dnc"
    BAD_NUMBER = "bad_number"  # no valid phone left
    HELD = "held"  # the dial gate blocks it until someone acts (e.g. unknown time zone)


DIALABLE_STATUSES = (ContactStatus.NEW.value, ContactStatus.RETRY.value, ContactStatus.CALLBACK.value)


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("ring_timeout_s >= 15", name="ck_campaign_ring_timeout_min_15"),
        CheckConstraint("target_abandon > 0 AND target_abandon <= 0.03", name="ck_campaign_target_abandon"),
        CheckConstraint("max_attempts >= 1", name="ck_campaign_max_attempts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    purpose: Mapped[str] = mapped_column(String(32), default="telemarketing")
    dial_mode: Mapped[str] = mapped_column(String(16), default=DialMode.PROGRESSIVE.value)
    pacer: Mapped[str] = mapped_column(String(64), default="progressive")
    caller_id: Mapped[str] = mapped_column(String(20))
    default_region: Mapped[str] = mapped_column(String(2), default="US")
    ring_timeout_s: Mapped[int] = mapped_column(Integer, default=25)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    retry_delays_min: Mapped[list[Any]] = mapped_column(default=lambda: [60, 240, 1440])
    target_abandon: Mapped[float] = mapped_column(Float, default=0.03)
    safe_harbour_s: Mapped[float] = mapped_column(Float, default=2.0)
    amd_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    machine_action: Mapped[str] = mapped_column(String(16), default="hangup")  # or "voicemail"
    voicemail_message: Mapped[str] = mapped_column(Text, default="")
    drop_message: Mapped[str] = mapped_column(Text)
    calling_window: Mapped[str] = mapped_column(String(11), default="08:00-21:00")
    # Prior express written consent needed for every number (e.g. autodialed calls to mobiles).
    requires_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    # The campaign plays a prerecorded message (artificial or prerecorded voice).
    prerecorded: Mapped[bool] = mapped_column(Boolean, default=False)
    # Lines (dialing, ringing, waiting or connected) per working agent that no pacer may pass.
    max_dial_level: Mapped[float] = mapped_column(Float, default=3.0)
    # Record conversations; the announcement is what the customer is told (the agent's
    # script opens with it) where the law of the called party asks for notice or consent.
    record_calls: Mapped[bool] = mapped_column(Boolean, default=False)
    recording_announcement: Mapped[str] = mapped_column(Text, default="")
    # What the agent reads, with merge fields such as {first_name} or {agent_name}.
    script: Mapped[str] = mapped_column(Text, default="")
    # More caller IDs to present besides caller_id (E.164), used in turn.
    caller_ids: Mapped[list[Any]] = mapped_column(default=list)
    # When the campaign dials by itself: [{"days": [0..6, Monday=0], "start": "HH:MM", "end": "HH:MM"}]
    # in schedule_tz; empty: started and paused by hand only.  The scheduler process applies it.
    schedule: Mapped[list[Any]] = mapped_column(default=list)
    schedule_tz: Mapped[str] = mapped_column(String(64), default="America/New_York")
    # Lead lifecycle (campaigns/recycling.py, campaigns/lead_filters.py): the phone labels to try first,
    # in order (empty: the list's column order); the order contacts are dialed in (priority,
    # newest_first, oldest_first, random); and which contacts to dial at all (empty: every one).
    phone_order: Mapped[list[Any]] = mapped_column(default=list)
    lead_order: Mapped[str] = mapped_column(String(16), default="priority")
    lead_filter: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.DRAFT.value, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    lists: Mapped[list[ContactList]] = relationship(back_populates="campaign")


class ContactList(Base):
    __tablename__ = "contact_lists"
    __table_args__ = (
        # One list per import key and campaign: a re-run of the same import resumes it instead of adding another.
        UniqueConstraint("campaign_id", "import_key", name="uq_contact_list_import_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(500), default="")
    default_region: Mapped[str] = mapped_column(String(2), default="US")
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_imported: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Idempotency of background imports (campaigns/jobs.py): the key of the file and options imported,
    # the last spreadsheet row whose outcome (landed or rejected) is committed, and when the import ended.
    import_key: Mapped[str | None] = mapped_column(String(64))
    rows_through: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    campaign: Mapped[Campaign] = relationship(back_populates="lists")


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        # The hopper's query: the next dialable contacts of a campaign, best first.
        Index("ix_contacts_hopper", "campaign_id", "status", "next_eligible_at", "priority"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    list_id: Mapped[int] = mapped_column(ForeignKey("contact_lists.id"), index=True)
    source_row: Mapped[int | None] = mapped_column(Integer)
    external_id: Mapped[str | None] = mapped_column(String(100))
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str | None] = mapped_column(String(8))
    postal_code: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))  # stated by the contact or the list
    custom_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=ContactStatus.NEW.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    next_eligible_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_disposition: Mapped[str | None] = mapped_column(String(32))
    # The phone the person was reached on, dialed next (a callback, a retry after a conversation);
    # None: the campaign's phone order picks.  No foreign key: phones already refer to their contact.
    next_phone_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    phones: Mapped[list[ContactPhone]] = relationship(
        back_populates="contact", order_by="ContactPhone.position", cascade="all, delete-orphan"
    )


class ContactPhone(Base):
    __tablename__ = "contact_phones"
    __table_args__ = (
        # Deduplication against the campaign, enforced by the database itself.
        UniqueConstraint("campaign_id", "e164", name="uq_phone_per_campaign"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    e164: Mapped[str] = mapped_column(String(20), index=True)
    label: Mapped[str] = mapped_column(String(32), default="phone")
    position: Mapped[int] = mapped_column(Integer, default=0)
    timezones: Mapped[list[Any]] = mapped_column(default=list)  # candidate IANA zones
    status: Mapped[str] = mapped_column(String(16), default="ok")  # ok | bad
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    contact: Mapped[Contact] = relationship(back_populates="phones")


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(16), default="offline")
    state_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AgentStateChange(Base):
    __tablename__ = "agent_state_changes"
    __table_args__ = (
        Index("ix_agent_state_changes_agent_at", "agent_id", "at"),
        # The agent-time report: a campaign's changes of a range, read agent by agent in time order.
        Index("ix_agent_state_changes_campaign_agent_at", "campaign_id", "agent_id", "at", "id",
              postgresql_include=["state", "reason"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class CallAttempt(Base):
    """One dial of one phone: every moment of its life is a timestamp here."""

    __tablename__ = "call_attempts"
    __table_args__ = (
        # A contact attempt is claimed once: two processes can never place the same attempt.
        UniqueConstraint("contact_id", "attempt_number", name="uq_attempt_per_contact"),
        Index("ix_call_attempts_campaign_placed", "campaign_id", "placed_at"),
        # Reports of one agent's calls within a range.
        Index("ix_call_attempts_agent_placed", "agent_id", "placed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    phone_id: Mapped[int | None] = mapped_column(ForeignKey("contact_phones.id"))
    e164: Mapped[str] = mapped_column(String(20), index=True)
    caller_id: Mapped[str] = mapped_column(String(20), default="")
    attempt_number: Mapped[int] = mapped_column(Integer)
    carrier_call_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    # human|machine|fax|unknown|no_answer|busy|failed
    answer_class: Mapped[str | None] = mapped_column(String(16))
    amd_verdict: Mapped[str | None] = mapped_column(String(16))
    end_reason: Mapped[str | None] = mapped_column(String(32))
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    placed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ringing_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    amd_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agent_reserved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    abandoned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_played_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wrap_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    ring_s: Mapped[float | None] = mapped_column(Float)
    talk_s: Mapped[float | None] = mapped_column(Float)
    wrap_s: Mapped[float | None] = mapped_column(Float)
    disposition: Mapped[str | None] = mapped_column(String(32))
    notes: Mapped[str] = mapped_column(Text, default="")


class DispositionCode(Base):
    __tablename__ = "disposition_codes"
    __table_args__ = (
        UniqueConstraint("campaign_id", "code", name="uq_disposition_per_campaign"),
        # NULLs are distinct in a unique constraint, so the default set needs its own guard.
        Index(
            "uq_disposition_default_code",
            "code",
            unique=True,
            sqlite_where=text("campaign_id IS NULL"),
            postgresql_where=text("campaign_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))  # None: the default set
    code: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(100))
    human_answered: Mapped[bool] = mapped_column(Boolean, default=True)
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    retry_after_min: Mapped[int | None] = mapped_column(Integer)
    adds_to_dnc: Mapped[bool] = mapped_column(Boolean, default=False)
    callback: Mapped[bool] = mapped_column(Boolean, default=False)
    sale: Mapped[bool] = mapped_column(Boolean, default=False)
    # The phone reached the wrong person: it is marked bad and the contact moves to its next phone.
    wrong_number: Mapped[bool] = mapped_column(Boolean, default=False)
    answering_machine: Mapped[bool] = mapped_column(Boolean, default=False)
    # Recycling: at most this many retries after this code (None: the campaign's max_attempts only),
    # and whether a retry must fall in another hour of the contact's day than the attempt that got it.
    max_retries: Mapped[int | None] = mapped_column(Integer)
    different_hour: Mapped[bool] = mapped_column(Boolean, default=False)


class DncEntry(Base):
    """A number that must not be called: company-wide (campaign_id None) or for one campaign."""

    __tablename__ = "dnc_entries"
    __table_args__ = (
        UniqueConstraint("e164", "campaign_id", name="uq_dnc_number_scope"),
        # NULLs are distinct in a unique constraint, so company-wide entries need their own guard.
        Index(
            "uq_dnc_company_number",
            "e164",
            unique=True,
            sqlite_where=text("campaign_id IS NULL"),
            postgresql_where=text("campaign_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    e164: Mapped[str] = mapped_column(String(20), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    reason: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(64), default="manual")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DialDecisionRecord(Base):
    """Every answer to "may we dial this number now?", with its reasons."""

    __tablename__ = "dial_decisions"
    __table_args__ = (Index("ix_dial_decisions_campaign_at", "campaign_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    e164: Mapped[str] = mapped_column(String(20))
    path: Mapped[str] = mapped_column(String(16), default="hopper")  # hopper|manual|callback|api
    allowed: Mapped[bool] = mapped_column(Boolean)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    next_allowed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


DEFAULT_DISPOSITIONS: tuple[dict[str, Any], ...] = (
    {"code": "SALE", "label": "Sale / completed", "final": True, "sale": True},
    {"code": "NI", "label": "Not interested", "final": True},
    {"code": "CB", "label": "Call back", "callback": True},
    {"code": "DNC", "label": "Do not call", "final": True, "adds_to_dnc": True},
    {"code": "WRONG", "label": "Wrong number", "final": True},
    {"code": "NA", "label": "No answer", "human_answered": False, "retry_after_min": 60},
    {"code": "BUSY", "label": "Busy", "human_answered": False, "retry_after_min": 15},
    {"code": "AM", "label": "Answering machine", "human_answered": False, "retry_after_min": 240},
    {"code": "DROP", "label": "Dropped (no agent)", "retry_after_min": 1440},
    {"code": "HUP", "label": "Customer hung up", "retry_after_min": 120},
    {"code": "BAD", "label": "Invalid number", "human_answered": False, "final": True},
)
