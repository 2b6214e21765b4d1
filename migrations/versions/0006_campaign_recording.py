"""Campaign settings ``record_calls`` and ``recording_announcement``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Existing campaigns do not record.  Batch mode so that SQLite, which cannot
alter a column in place, rebuilds the table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("record_calls", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("recording_announcement", sa.Text(), nullable=False, server_default=""))
    # The model has no server defaults: new rows get theirs from the application.
    with op.batch_alter_table("campaigns") as batch:
        batch.alter_column("record_calls", server_default=None)
        batch.alter_column("recording_announcement", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("recording_announcement")
        batch.drop_column("record_calls")
