"""Stored questionnaires and the interviews given with them.

A questionnaire's wording lives in numbered versions that never change once
written: a response names the version it was asked with, so an export always
knows which text and codes an answer meant, even after the questionnaire was
reworded.  Answers are rows (one per question of a response) that name the
call attempt they were given on, so an interview spread over two calls shows
which call gave what.  Quota counts are not stored: they are counted from the
completed responses, so they can never drift from the answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.models import Base, UTCDateTime, utcnow

RESPONSE_STATUSES = ("partial", "complete", "screened_out")
SURVEY_MODES = ("agent", "ivr")


class Questionnaire(Base):
    __tablename__ = "questionnaires"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuestionnaireVersion(Base):
    """One wording of a questionnaire; written once.  Interviews start on the newest published version."""

    __tablename__ = "questionnaire_versions"
    __table_args__ = (UniqueConstraint("questionnaire_id", "version", name="uq_questionnaire_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CampaignSurvey(Base):
    """The questionnaire a campaign asks, read by its agents (``agent``) or played by the carrier (``ivr``)."""

    __tablename__ = "campaign_surveys"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"), index=True)
    mode: Mapped[str] = mapped_column(String(8), default="agent")
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SurveyResponse(Base):
    """One respondent's interview in a campaign: one per contact, resumed across calls until it ends."""

    __tablename__ = "survey_responses"
    __table_args__ = (
        UniqueConstraint("campaign_id", "contact_id", name="uq_survey_response_contact"),
        Index("ix_survey_responses_campaign_status", "campaign_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_versions.id"), index=True)
    # The call the interview started on; each answer names its own call.
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("call_attempts.id"))
    status: Mapped[str] = mapped_column(String(16), default="partial")
    end_reason: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SurveyAnswer(Base):
    """The answer to one question of a response (JSON: a code, codes, a number, yes/no, text or a date)."""

    __tablename__ = "survey_answers"
    __table_args__ = (UniqueConstraint("response_id", "question_id", name="uq_survey_answer_question"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("survey_responses.id"))
    question_id: Mapped[str] = mapped_column(String(40))
    value: Mapped[Any] = mapped_column(JSON(none_as_null=False), nullable=True)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("call_attempts.id"), index=True)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
