"""Lead lifecycle: recycling rules per disposition, phone order, list order and a lead filter per campaign.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

Disposition codes gain ``wrong_number``, ``answering_machine``, ``max_retries``
and ``different_hour``; the default set marks WRONG and BAD as wrong numbers
and AM as an answering machine.  Campaigns gain ``phone_order`` (empty: the
list's column order, as before), ``lead_order`` (``priority``, as before) and
``lead_filter`` (empty: every contact, as before).  Contacts gain
``next_phone_id``.  A phone's ``attempts`` now counts its dials, so the next
phone of a contact is the least tried one; existing phones are given the
count of their recorded attempts.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("disposition_codes") as batch:
        batch.add_column(sa.Column("wrong_number", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("answering_machine", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("max_retries", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("different_hour", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("phone_order", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("lead_order", sa.String(16), nullable=False, server_default="priority"))
        batch.add_column(sa.Column("lead_filter", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("next_phone_id", sa.Integer(), nullable=True))
    # The model has no server defaults: new rows get theirs from the application.  SQLite can only drop a
    # default by copying the table, and copying campaigns fails once other tables' rows refer to it, so
    # there the harmless defaults stay.
    if op.get_bind().dialect.name != "sqlite":
        for table, names in (("disposition_codes", ("wrong_number", "answering_machine", "different_hour")),
                             ("campaigns", ("phone_order", "lead_order", "lead_filter"))):
            for name in names:
                op.alter_column(table, name, server_default=None)

    codes = sa.table(
        "disposition_codes",
        sa.column("campaign_id", sa.Integer()),
        sa.column("code", sa.String()),
        sa.column("wrong_number", sa.Boolean()),
        sa.column("answering_machine", sa.Boolean()),
    )
    defaults = codes.c.campaign_id.is_(None)
    op.execute(codes.update().where(defaults, codes.c.code.in_(["WRONG", "BAD"])).values(wrong_number=True))
    op.execute(codes.update().where(defaults, codes.c.code == "AM").values(answering_machine=True))

    phones = sa.table("contact_phones", sa.column("id", sa.Integer()), sa.column("attempts", sa.Integer()))
    attempts = sa.table("call_attempts", sa.column("phone_id", sa.Integer()))
    dialed = (
        sa.select(sa.func.count()).select_from(attempts).where(attempts.c.phone_id == phones.c.id).scalar_subquery()
    )
    op.execute(phones.update().values(attempts=dialed))


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("next_phone_id")
    with op.batch_alter_table("campaigns") as batch:
        for name in ("lead_filter", "lead_order", "phone_order"):
            batch.drop_column(name)
    with op.batch_alter_table("disposition_codes") as batch:
        for name in ("different_hour", "max_retries", "answering_machine", "wrong_number"):
            batch.drop_column(name)
