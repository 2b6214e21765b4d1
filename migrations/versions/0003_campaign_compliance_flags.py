"""Campaign compliance flags: ``requires_consent`` and ``prerecorded``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Both are false for existing campaigns.  Batch mode so that SQLite, which
cannot alter a column in place, rebuilds the table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("requires_consent", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("prerecorded", sa.Boolean(), nullable=False, server_default=sa.false()))
    # The model has no server default: new rows get theirs from the application.
    with op.batch_alter_table("campaigns") as batch:
        batch.alter_column("requires_consent", server_default=None)
        batch.alter_column("prerecorded", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("prerecorded")
        batch.drop_column("requires_consent")
