"""The survey tables of the reports: how interviews ended, day by day, and how full each quota cell is.

They join the calls and agents tables through ``campaigns.reports.register_extension``
(done when this module is imported), so the reports page and its CSV export show
them like the rest.

Definitions:

* An interview belongs to the local day, campaign, list and agent of the call
  that **started** it (the response's first call, ``survey_responses.attempt_id``;
  an interview started without a call counts at its ``started_at``), so a day's
  row follows that day's respondents to wherever they are now: **started** =
  **partial** (still open, waiting for a call that resumes it) + **complete** +
  **screened out** (by a rule or by a **quota**).
* **resumed**: the interview's answers came on more than one call (it broke off
  and a later call picked it up where it stopped).
* **completion rate** = complete / started.
* **Quota status** is the campaign's cells as they stand now, whatever the
  range: completed interviews in each cell (counted from the answers with the
  published version's definitions, as the interviews themselves count them),
  its target and the places still **open** (target - complete, never below 0).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import Connection, distinct, func, select
from sqlalchemy.orm import Session, aliased

from campaigns.models import CallAttempt, Campaign, Contact
from campaigns.reports import (
    Column,
    ReportFilter,
    ReportTable,
    _bucket_size,
    _bucket_start,
    _utc_bucket,
    extensions,
    register_extension,
)
from campaigns.survey_models import CampaignSurvey, SurveyAnswer, SurveyResponse
from campaigns.surveys import load_definition, published_version, quota_counts

__all__ = ["COMPLETION", "QUOTAS", "SurveyReports", "install", "quota_status", "survey_completion"]

COMPLETION = "survey_completion"
QUOTAS = "survey_quotas"
STATUSES = ("partial", "complete", "screened_out")


def survey_completion(conn: Connection, f: ReportFilter) -> ReportTable:
    """Interviews by the local day and campaign of the call that started them, with where each stands now."""
    first_call = aliased(CallAttempt)
    started = func.coalesce(first_call.placed_at, SurveyResponse.started_at)
    size = _bucket_size(f)
    bucket = _utc_bucket(conn, started, size).label("bucket")
    calls = (
        select(func.count(distinct(SurveyAnswer.attempt_id)))
        .where(SurveyAnswer.response_id == SurveyResponse.id)
        .scalar_subquery()
    )
    scope = [started >= f.start, started < f.end]
    if f.campaign_id is not None:
        scope.append(SurveyResponse.campaign_id == f.campaign_id)
    if f.agent_id is not None:
        scope.append(first_call.agent_id == f.agent_id)
    if f.list_id is not None:
        scope.append(SurveyResponse.contact_id.in_(select(Contact.id).where(Contact.list_id == f.list_id)))
    rows = conn.execute(
        select(
            SurveyResponse.campaign_id, bucket, SurveyResponse.status,
            func.count().label("interviews"),
            func.count().filter(SurveyResponse.end_reason.like("quota %")).label("by_quota"),
            func.count().filter(calls > 1).label("resumed"),
        )
        .select_from(SurveyResponse)
        .outerjoin(first_call, first_call.id == SurveyResponse.attempt_id)
        .where(*scope)
        .group_by(SurveyResponse.campaign_id, bucket, SurveyResponse.status)
    ).all()
    sums: dict[tuple[date, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        day = _bucket_start(row.bucket, size).astimezone(f.zone).date()
        counts = sums[(day, row.campaign_id)]
        counts["started"] += int(row.interviews)
        counts[row.status] += int(row.interviews)
        counts["by_quota"] += int(row.by_quota)
        counts["resumed"] += int(row.resumed)
    names = _campaign_names(conn, {campaign_id for _, campaign_id in sums})
    out = []
    for (day, campaign_id), counts in sorted(sums.items(), key=lambda item: (item[0][0], names[item[0][1]])):
        started_n = counts["started"]
        out.append({
            "day": day, "campaign_id": campaign_id, "campaign": names[campaign_id], "started": started_n,
            **{status: counts[status] for status in STATUSES}, "by_quota": counts["by_quota"],
            "resumed": counts["resumed"], "completion_rate": counts["complete"] / started_n if started_n else None,
        })
    return ReportTable(COMPLETION, f"Survey completion by day ({f.zone.key})", (
        Column("day", "Day", "day"), Column("campaign", "Campaign", "text"), Column("started", "Started"),
        Column("partial", "Partial now"), Column("complete", "Complete"), Column("screened_out", "Screened out"),
        Column("by_quota", "Of which by quota"), Column("resumed", "Resumed"),
        Column("completion_rate", "Completion rate", "rate"),
    ), out, note="Each row is the interviews the day's calls started and where they stand now; resumed interviews "
                 "took more than one call.")


def quota_status(conn: Connection, f: ReportFilter) -> ReportTable:
    """Each quota cell of each survey campaign in the filter, filled to now (the range does not apply)."""
    session = Session(bind=conn)
    try:
        query = select(CampaignSurvey.campaign_id, CampaignSurvey.questionnaire_id)
        if f.campaign_id is not None:
            query = query.where(CampaignSurvey.campaign_id == f.campaign_id)
        links = session.execute(query).all()
        names = _campaign_names(conn, {link.campaign_id for link in links})
        out: list[dict[str, Any]] = []
        for link in sorted(links, key=lambda link: names[link.campaign_id]):
            version = published_version(session, link.questionnaire_id)
            if version is None:
                continue
            questionnaire = load_definition(version.definition)
            counts = quota_counts(session, link.campaign_id, questionnaire)
            for cell in questionnaire.quotas:
                out.append({
                    "campaign_id": link.campaign_id, "campaign": names[link.campaign_id], "cell": cell.id,
                    "label": cell.label or cell.id, "target": cell.target, "complete": counts[cell.id],
                    "open": max(0, cell.target - counts[cell.id]),
                })
    finally:
        session.close()
    return ReportTable(QUOTAS, "Survey quotas", (
        Column("campaign", "Campaign", "text"), Column("cell", "Cell", "text"), Column("label", "Label", "text"),
        Column("target", "Target"), Column("complete", "Complete"), Column("open", "Open"),
    ), out, note="Cells as they stand now, whatever the range: a full cell screens out the next respondent in it.")


def _campaign_names(conn: Connection, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(conn.execute(select(Campaign.id, Campaign.name).where(Campaign.id.in_(sorted(ids)))).all())


class SurveyReports:
    """The survey tables, as a reports extension."""

    name = "surveys"
    tables: tuple[str, ...] = (COMPLETION, QUOTAS)

    def run(self, conn: Connection, f: ReportFilter) -> list[ReportTable]:
        return [survey_completion(conn, f), quota_status(conn, f)]


def install() -> None:
    """Register the survey tables once, however often this is called (importing the module does it)."""
    if not any(extension.name == SurveyReports.name for extension in extensions()):
        register_extension(SurveyReports())


install()
