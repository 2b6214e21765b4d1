"""Campaign setting ``max_dial_level``: the supervisor's ceiling on lines per working agent.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Existing campaigns get 3.0, VICIdial's default maximum.  Batch mode so that
SQLite, which cannot alter a column in place, rebuilds the table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("max_dial_level", sa.Float(), nullable=False, server_default="3.0"))
    # The model has no server default: new rows get theirs from the application.
    with op.batch_alter_table("campaigns") as batch:
        batch.alter_column("max_dial_level", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("max_dial_level")
