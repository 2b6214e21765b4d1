"""Questionnaires with immutable versions, the questionnaire each survey campaign asks, and the interviews.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

New tables only: ``questionnaires``, ``questionnaire_versions``,
``campaign_surveys``, ``survey_responses`` (one per contact and campaign) and
``survey_answers`` (one per question of a response, naming the call it was
given on).  Existing campaigns ask no questionnaire.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from campaigns.models import UTCDateTime

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "questionnaires",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_questionnaires"),
        sa.UniqueConstraint("name", name="uq_questionnaires_name"),
    )
    op.create_table(
        "questionnaire_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("questionnaire_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["questionnaire_id"], ["questionnaires.id"],
                                name="fk_questionnaire_versions_questionnaire_id_questionnaires"),
        sa.PrimaryKeyConstraint("id", name="pk_questionnaire_versions"),
        sa.UniqueConstraint("questionnaire_id", "version", name="uq_questionnaire_version"),
    )
    op.create_table(
        "campaign_surveys",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("questionnaire_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("assigned_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], name="fk_campaign_surveys_campaign_id_campaigns"),
        sa.ForeignKeyConstraint(["questionnaire_id"], ["questionnaires.id"],
                                name="fk_campaign_surveys_questionnaire_id_questionnaires"),
        sa.PrimaryKeyConstraint("campaign_id", name="pk_campaign_surveys"),
    )
    op.create_index("ix_campaign_surveys_questionnaire_id", "campaign_surveys", ["questionnaire_id"])
    op.create_table(
        "survey_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("end_reason", sa.String(64), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], name="fk_survey_responses_campaign_id_campaigns"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name="fk_survey_responses_contact_id_contacts"),
        sa.ForeignKeyConstraint(["version_id"], ["questionnaire_versions.id"],
                                name="fk_survey_responses_version_id_questionnaire_versions"),
        sa.ForeignKeyConstraint(["attempt_id"], ["call_attempts.id"],
                                name="fk_survey_responses_attempt_id_call_attempts"),
        sa.PrimaryKeyConstraint("id", name="pk_survey_responses"),
        sa.UniqueConstraint("campaign_id", "contact_id", name="uq_survey_response_contact"),
    )
    op.create_index("ix_survey_responses_contact_id", "survey_responses", ["contact_id"])
    op.create_index("ix_survey_responses_version_id", "survey_responses", ["version_id"])
    op.create_index("ix_survey_responses_campaign_status", "survey_responses", ["campaign_id", "status"])
    op.create_table(
        "survey_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(40), nullable=False),
        sa.Column("value", sa.JSON(none_as_null=False), nullable=True),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["response_id"], ["survey_responses.id"],
                                name="fk_survey_answers_response_id_survey_responses"),
        sa.ForeignKeyConstraint(["attempt_id"], ["call_attempts.id"],
                                name="fk_survey_answers_attempt_id_call_attempts"),
        sa.PrimaryKeyConstraint("id", name="pk_survey_answers"),
        sa.UniqueConstraint("response_id", "question_id", name="uq_survey_answer_question"),
    )
    op.create_index("ix_survey_answers_attempt_id", "survey_answers", ["attempt_id"])


def downgrade() -> None:
    op.drop_index("ix_survey_answers_attempt_id", table_name="survey_answers")
    op.drop_table("survey_answers")
    op.drop_index("ix_survey_responses_campaign_status", table_name="survey_responses")
    op.drop_index("ix_survey_responses_version_id", table_name="survey_responses")
    op.drop_index("ix_survey_responses_contact_id", table_name="survey_responses")
    op.drop_table("survey_responses")
    op.drop_index("ix_campaign_surveys_questionnaire_id", table_name="campaign_surveys")
    op.drop_table("campaign_surveys")
    op.drop_table("questionnaire_versions")
    op.drop_table("questionnaires")
