"""Scheduled callbacks: a promise to call a person back at a time they chose.

The contact row already says *when* the hopper may dial them again
(``status = "callback"``, ``next_eligible_at``); a callback record keeps what
the contact row cannot: who promised it, for whom, in which of the person's
time zones it was agreed, the note, and what became of it (which call served
it, or why it waits).  One open callback per contact: the contact has one
next time.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.models import Base, UTCDateTime, utcnow


class CallbackStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # its time has not come
    DUE = "due"  # its time has come and no call has served it yet (it may wait for the calling window)
    DIALING = "dialing"  # a call for it is in flight
    DONE = "done"  # a call for it reached the person
    MISSED = "missed"  # a call for it reached nobody; the contact's retry rules take over
    CANCELLED = "cancelled"  # called off by a supervisor, replaced by a newer one, or the contact may not be called


OPEN_STATUSES = (CallbackStatus.SCHEDULED.value, CallbackStatus.DUE.value, CallbackStatus.DIALING.value)
ALL_STATUSES = tuple(s.value for s in CallbackStatus)


class Callback(Base):
    __tablename__ = "callbacks"
    __table_args__ = (
        # The supervisor's list (a campaign's callbacks by due time) and the agent's (theirs by due time).
        Index("ix_callbacks_campaign_due", "campaign_id", "due_at"),
        Index("ix_callbacks_owner_status_due", "owner", "status", "due_at"),
        Index("ix_callbacks_contact_status", "contact_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    phone_id: Mapped[int | None] = mapped_column(ForeignKey("contact_phones.id"))
    e164: Mapped[str] = mapped_column(String(20), default="")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The zone the time was agreed in (the person's wall clock), so pages show what they were promised.
    contact_zone: Mapped[str | None] = mapped_column(String(64))
    # The engine's agent id (Agent.login) it is promised to; None: whoever is free.
    owner: Mapped[str | None] = mapped_column(String(64))
    # Until then only the owner is shown it as theirs; afterwards anyone's (due_at when no owner).
    owner_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=CallbackStatus.SCHEDULED.value)
    # Why it was cancelled or missed, in words a person reads.
    status_detail: Mapped[str] = mapped_column(Text, default="")
    # The dial gate held it back: until when (UTC) and why.
    waiting_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    waiting_reason: Mapped[str] = mapped_column(Text, default="")
    # The call on which it was agreed, and the call that served it.
    scheduled_attempt_id: Mapped[int | None] = mapped_column(ForeignKey("call_attempts.id"))
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("call_attempts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
