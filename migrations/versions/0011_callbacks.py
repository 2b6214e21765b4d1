"""Scheduled callbacks: who promised them, for whom, at which local time, and what became of them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

A new table only (``callbacks``); contacts already waiting for a callback get
their record the first time the callback pages or the scheduler look at them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from campaigns.models import UTCDateTime

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("phone_id", sa.Integer(), nullable=True),
        sa.Column("e164", sa.String(20), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("contact_zone", sa.String(64), nullable=True),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("owner_until", UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_detail", sa.Text(), nullable=False),
        sa.Column("waiting_until", UTCDateTime(), nullable=True),
        sa.Column("waiting_reason", sa.Text(), nullable=False),
        sa.Column("scheduled_attempt_id", sa.Integer(), nullable=True),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], name="fk_callbacks_campaign_id_campaigns"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name="fk_callbacks_contact_id_contacts"),
        sa.ForeignKeyConstraint(["phone_id"], ["contact_phones.id"], name="fk_callbacks_phone_id_contact_phones"),
        sa.ForeignKeyConstraint(["scheduled_attempt_id"], ["call_attempts.id"],
                                name="fk_callbacks_scheduled_attempt_id_call_attempts"),
        sa.ForeignKeyConstraint(["attempt_id"], ["call_attempts.id"], name="fk_callbacks_attempt_id_call_attempts"),
        sa.PrimaryKeyConstraint("id", name="pk_callbacks"),
    )
    op.create_index("ix_callbacks_campaign_due", "callbacks", ["campaign_id", "due_at"])
    op.create_index("ix_callbacks_owner_status_due", "callbacks", ["owner", "status", "due_at"])
    op.create_index("ix_callbacks_contact_status", "callbacks", ["contact_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_callbacks_contact_status", table_name="callbacks")
    op.drop_index("ix_callbacks_owner_status_due", table_name="callbacks")
    op.drop_index("ix_callbacks_campaign_due", table_name="callbacks")
    op.drop_table("callbacks")
