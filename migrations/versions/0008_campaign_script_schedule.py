"""Campaign ``script``, extra ``caller_ids``, and a dialing ``schedule`` in ``schedule_tz``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

Existing campaigns get an empty script, no extra caller IDs and no schedule
(started and paused by hand, as before).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("script", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("caller_ids", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("schedule", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("schedule_tz", sa.String(64), nullable=False, server_default="America/New_York"))
    with op.batch_alter_table("campaigns") as batch:
        for name in ("script", "caller_ids", "schedule", "schedule_tz"):
            batch.alter_column(name, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        for name in ("schedule_tz", "schedule", "caller_ids", "script"):
            batch.drop_column(name)
