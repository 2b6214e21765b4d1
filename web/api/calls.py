"""Calls: search every attempt by number, campaign, time, outcome or agent, and read one with every timestamp.

A call's whole life is in its ``call_attempts`` row (queued, placed, ringing,
answered, machine verdict, agent reserved, connected or abandoned, message
played, ended, wrap-up ended), so one read answers "what happened to this
call, and when?" without joining anything but the agent's login.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import Select, func, select

from campaigns.models import Agent, CallAttempt
from campaigns.services import ANSWER_CLASSES
from compliance.phones import PhoneError, normalize_phone
from web import get_session
from web.api import errors
from web.api.errors import ApiError
from web.api.inputs import paging, query_choice, query_text, query_time
from web.api.lookups import campaign_by_ref, row_by_id
from web.api.shapes import call_to_dict, page
from web.auth import OFFICE, blueprint_roles

bp = Blueprint("calls_api", __name__, url_prefix="/api/calls")
blueprint_roles(bp, *OFFICE)
errors.install(bp)

#: ``outcome``: an answer class, or what happened after the answer.
OUTCOMES = (*ANSWER_CLASSES, "connected", "abandoned", "pending")


def _outcome_filter(query: Select[CallAttempt, str], outcome: str) -> Select[CallAttempt, str]:
    if outcome == "connected":
        return query.where(CallAttempt.connected_at.is_not(None))
    if outcome == "abandoned":
        return query.where(CallAttempt.abandoned_at.is_not(None))
    if outcome == "pending":
        return query.where(CallAttempt.answer_class.is_(None))
    return query.where(CallAttempt.answer_class == outcome)


@bp.get("")
def search_calls() -> ResponseReturnValue:
    """A page of calls, newest placed first, filtered by number, campaign, time, outcome, disposition or agent."""
    session = get_session()
    query = select(CallAttempt, Agent.login).outerjoin(Agent, Agent.id == CallAttempt.agent_id)
    number = query_text("number", max_length=40)
    campaign_ref = query_text("campaign", max_length=200)
    region = "US"
    if campaign_ref is not None:
        campaign = campaign_by_ref(session, campaign_ref)
        region = campaign.default_region or "US"
        query = query.where(CallAttempt.campaign_id == campaign.id)
    if number is not None:
        try:
            e164 = normalize_phone(number, region)
        except PhoneError as error:
            raise ApiError("number", f"{error.code}: {error.message}") from None
        query = query.where(CallAttempt.e164 == e164)
    start, end = query_time("from"), query_time("to")
    if start is not None and end is not None and start >= end:
        raise ApiError("to", "must come after from")
    if start is not None:
        query = query.where(CallAttempt.placed_at >= start)
    if end is not None:
        query = query.where(CallAttempt.placed_at < end)
    outcome = query_choice("outcome", OUTCOMES)
    if outcome is not None:
        query = _outcome_filter(query, outcome)
    disposition = query_text("disposition", max_length=32)
    if disposition is not None:
        query = query.where(CallAttempt.disposition == disposition.upper())
    agent = query_text("agent", max_length=64)
    if agent is not None:
        query = query.where(Agent.login == agent)
    limit, offset = paging()
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        query.order_by(CallAttempt.placed_at.desc(), CallAttempt.id.desc()).limit(limit).offset(offset)
    ).all()
    return jsonify(page([call_to_dict(call, login) for call, login in rows], total, limit, offset))


@bp.get("/<int:call_id>")
def show_call(call_id: int) -> ResponseReturnValue:
    """One call with every timestamp of its life, its durations, outcome, disposition and agent."""
    session = get_session()
    call = row_by_id(session, CallAttempt, call_id, "call_id", "call")
    login = session.scalar(select(Agent.login).where(Agent.id == call.agent_id)) if call.agent_id else None
    return jsonify(call_to_dict(call, login))
