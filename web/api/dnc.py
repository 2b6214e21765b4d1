"""Do-not-call lists over the API: check a number, add one, remove one with a reason, read the change log.

Every change goes through ``campaigns.dnc_store``, so it is logged and audited
exactly as one made at the command line, with the signed-in user as the actor
and ``api`` (token) or ``web`` (browser session) as the source.  Supervisors
may look; only compliance officers and administrators may change the lists.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import phonenumbers
from flask import Blueprint, current_app, g, jsonify
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select

from campaigns import dnc_store
from campaigns.compliance_models import DncChange
from campaigns.models import Campaign, DncEntry
from web import get_session, resources
from web.api import errors
from web.api.errors import ApiError, NotFound
from web.api.inputs import json_object, optional_id, paging, query_int, query_text, query_time, text
from web.api.shapes import iso, page
from web.auth import COMPLIANCE, OFFICE, blueprint_roles, roles

bp = Blueprint("dnc_api", __name__, url_prefix="/api/dnc")
blueprint_roles(bp, *OFFICE)
errors.install(bp)

REGISTRY_KEY = "dialer.api.national_registry"


def _region(value: Any) -> str:
    region = (value if isinstance(value, str) else "").strip().upper() or "US"
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ApiError("region", f"{str(value)[:20]!r} is not a two-letter region code such as US or CA")
    return region


def _number(raw: str, region: str) -> str:
    try:
        return dnc_store.normalize_number(raw, region)
    except dnc_store.DncError as error:
        raise ApiError("phone", str(error)) from None


def _campaign(campaign_id: int | None) -> int | None:
    if campaign_id is not None and get_session().get(Campaign, campaign_id) is None:
        raise NotFound("campaign_id", f"no campaign has the id {campaign_id}")
    return campaign_id


def _national() -> dnc_store.SqlNationalRegistry:
    """One registry reader per app: it maps the file once and follows reloads."""
    found = current_app.extensions.get(REGISTRY_KEY)
    if found is None:
        found = current_app.extensions[REGISTRY_KEY] = dnc_store.SqlNationalRegistry(resources().engine)
    registry: dnc_store.SqlNationalRegistry = found
    return registry


def change_to_dict(change: DncChange) -> dict[str, Any]:
    return {
        "id": change.id,
        "e164": change.e164,
        "campaign_id": change.campaign_id,
        "list": "company" if change.campaign_id is None else f"campaign {change.campaign_id}",
        "action": change.action,
        "changed": change.changed,
        "reason": change.reason,
        "source": change.source,
        "actor": change.actor,
        "evidence": change.evidence,
        "received_at": iso(change.received_at),
        "effective_at": iso(change.effective_at),
    }


def entry_to_dict(entry: dnc_store.ListedEntry) -> dict[str, Any]:
    return {**entry.to_dict(), "campaign_id": entry.campaign_id}


@bp.get("/check")
def check_number() -> ResponseReturnValue:
    """Is this number on the company list, a campaign's list or the national registry?"""
    raw = query_text("phone", max_length=40)
    if raw is None:
        raise ApiError("phone", "is required, e.g. ?phone=%2B12015550123")
    e164 = _number(raw, _region(query_text("region", max_length=10)))
    campaign_id = _campaign(query_int("campaign_id"))
    session = get_session()
    entries = dnc_store.list_entries(session, every_list=True, phone=e164)
    company = next((entry for entry in entries if entry.campaign_id is None), None)
    campaign = next((e for e in entries if campaign_id is not None and e.campaign_id == campaign_id), None)
    national: dict[str, Any] | None = None
    registry = _national()
    try:
        answer = registry.lookup("US", e164)
    except Exception as error:  # a registry file unreadable now: say so, do not fail the other lists
        current_app.logger.warning("national registry lookup failed: %s", error)
        answer = None
    if answer is not None:
        national = {"listed": answer.listed, "covered": answer.copy_at is not None,
                    "copy_downloaded_at": iso(answer.copy_at), "version": registry.version}
    listed = company is not None or campaign is not None or bool(national and national["listed"])
    return jsonify({
        "e164": e164,
        "campaign_id": campaign_id,
        "listed": listed,
        "company": None if company is None else entry_to_dict(company),
        "campaign": None if campaign is None else entry_to_dict(campaign),
        "national": national,
        "every_list": [entry_to_dict(entry) for entry in entries],
    })


@bp.get("/entries")
def list_entries() -> ResponseReturnValue:
    """A page of the company list (or of one campaign's with ``campaign_id``), newest first."""
    campaign_id = _campaign(query_int("campaign_id"))
    limit, offset = paging()
    session = get_session()
    scope = DncEntry.campaign_id.is_(None) if campaign_id is None else DncEntry.campaign_id == campaign_id
    total = session.scalar(select(func.count()).select_from(DncEntry).where(scope)) or 0
    found = dnc_store.list_entries(session, campaign_id=campaign_id, limit=offset + limit)[offset:]
    return jsonify(page([entry_to_dict(entry) for entry in found], total, limit, offset))


def _source() -> str:
    return "api" if g.get("via_token") else "web"


@bp.post("/entries")
@roles(*COMPLIANCE)
def add_entry() -> ResponseReturnValue:
    """Put a number on the company list (or a campaign's): effective at once, logged and audited.

    A number listed already stays listed; the request is logged all the same
    and answered 200 with ``changed`` false (201 when it was added).
    """
    data = json_object(required=("phone",), optional=("reason", "campaign_id", "evidence", "received_at", "region"))
    region = _region(data.get("region", "US")) if "region" in data else "US"
    e164 = _number(text(data, "phone", max_length=40, required=True), region)
    reason = text(data, "reason", max_length=200) if "reason" in data else ""
    evidence = text(data, "evidence", max_length=2000) if "evidence" in data else ""
    campaign_id = _campaign(optional_id(data, "campaign_id"))
    received_at = _moment(data, "received_at") if data.get("received_at") is not None else None
    if received_at is not None and received_at > datetime.now(UTC):
        raise ApiError("received_at", "is in the future: a request cannot be received after it takes effect")
    session = get_session()
    change = dnc_store.add_number(session, e164, reason=reason, source=_source(), actor=current_user.username,
                                  campaign_id=campaign_id, received_at=received_at, evidence=evidence)
    session.commit()
    return jsonify(change_to_dict(change)), 201 if change.changed else 200


@bp.post("/removals")
@roles(*COMPLIANCE)
def remove_entry() -> ResponseReturnValue:
    """Take a number off the company list (or a campaign's); a reason is required and kept for good."""
    data = json_object(required=("phone", "reason"), optional=("campaign_id", "evidence", "region"))
    region = _region(data.get("region", "US")) if "region" in data else "US"
    e164 = _number(text(data, "phone", max_length=40, required=True), region)
    reason = text(data, "reason", max_length=2000, required=True)
    evidence = text(data, "evidence", max_length=2000) if "evidence" in data else ""
    campaign_id = _campaign(optional_id(data, "campaign_id"))
    session = get_session()
    try:
        change = dnc_store.remove_number(session, e164, reason=reason, actor=current_user.username,
                                         source=_source(), campaign_id=campaign_id, evidence=evidence)
    except dnc_store.DncError as error:
        raise NotFound("phone", str(error)) from None
    session.commit()
    return jsonify(change_to_dict(change))


@bp.get("/changes")
def list_changes() -> ResponseReturnValue:
    """The change log, oldest first: every addition, removal and repeated request, with who, when and why."""
    raw = query_text("phone", max_length=40)
    e164 = None if raw is None else _number(raw, _region(query_text("region", max_length=10)))
    campaign_id = _campaign(query_int("campaign_id"))
    since = query_time("since")
    limit, offset = paging()
    query = select(DncChange)
    if e164 is not None:
        query = query.where(DncChange.e164 == e164)
    if campaign_id is not None:
        query = query.where(DncChange.campaign_id == campaign_id)
    if since is not None:
        query = query.where(DncChange.effective_at >= since)
    session = get_session()
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    found = session.scalars(query.order_by(DncChange.effective_at, DncChange.id).limit(limit).offset(offset)).all()
    return jsonify(page([change_to_dict(change) for change in found], total, limit, offset))


def _moment(data: dict[str, Any], field: str) -> datetime:
    value = data.get(field)
    if not isinstance(value, str):
        raise ApiError(field, "must be an ISO 8601 time such as 2026-11-30T14:00:00Z")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ApiError(field, f"must be an ISO 8601 time such as 2026-11-30T14:00:00Z, not {value[:40]!r}") from None
    if not 1 < moment.year < 9999:
        raise ApiError(field, "must be a time between the years 2 and 9998")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
