"""Contact lists remember their import key and how far the import got, so a re-run resumes it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08

A background import killed mid-way (a worker lost, the database connection
dropped) is run again by RQ; ``import_key`` finds the list it was filling,
``rows_through`` says which rows already landed or were rejected, and
``finished_at`` marks a list whose import ended.  Existing lists get no key
(NULLs never collide in the unique constraint) and 0 rows through.  Batch mode
so that SQLite, which cannot add a constraint in place, rebuilds the table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contact_lists") as batch:
        batch.add_column(sa.Column("import_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("rows_through", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_unique_constraint("uq_contact_list_import_key", ["campaign_id", "import_key"])
    # The model has no server default: new rows get theirs from the application.
    with op.batch_alter_table("contact_lists") as batch:
        batch.alter_column("rows_through", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("contact_lists") as batch:
        batch.drop_constraint("uq_contact_list_import_key", type_="unique")
        batch.drop_column("finished_at")
        batch.drop_column("rows_through")
        batch.drop_column("import_key")
