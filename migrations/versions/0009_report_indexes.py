"""Indexes the reports need: calls by agent and time, agents' state changes by campaign, agent and time.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

The reports count a campaign's calls by ``(campaign_id, placed_at)``, which
exists.  A report of one agent reads that agent's calls of the range
(``agent_id, placed_at``) instead of the whole campaign's, and the agent-time
report reads a campaign's state changes of the range agent by agent in time
order (``campaign_id, agent_id, at, id``, carrying ``state`` and ``reason`` on
PostgreSQL so the index alone answers), so its window function needs no sort.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_call_attempts_agent_placed", "call_attempts", ["agent_id", "placed_at"], unique=False)
    op.create_index("ix_agent_state_changes_campaign_agent_at", "agent_state_changes",
                    ["campaign_id", "agent_id", "at", "id"], unique=False, postgresql_include=["state", "reason"])


def downgrade() -> None:
    op.drop_index("ix_agent_state_changes_campaign_agent_at", table_name="agent_state_changes")
    op.drop_index("ix_call_attempts_agent_placed", table_name="call_attempts")
