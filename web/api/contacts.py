"""Contacts: search a campaign's contacts, read one with its phones and calls, add one, correct one, finish one.

Contacts are never deleted: their calls and DNC history must stay explainable,
so "remove" is ``finish`` (status ``done``: never dialed again), written to the
campaign's audit chain with who did it.  A phone already in the campaign is
refused (the same number twice would be dialed twice).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns.audit_store import append_event
from campaigns.models import Agent, CallAttempt, Contact, ContactList, ContactPhone, ContactStatus
from compliance.phones import PhoneError, candidate_timezones, normalize_phone
from web import get_session
from web.api import errors
from web.api.errors import ApiError, Conflict
from web.api.inputs import (
    check_text_storable,
    integer,
    json_object,
    optional_id,
    paging,
    query_choice,
    query_int,
    query_text,
    text,
    timezone_name,
)
from web.api.lookups import campaign_by_ref, row_by_id
from web.api.shapes import call_to_dict, contact_to_dict, page
from web.auth import OFFICE, STAFF, blueprint_roles, roles

bp = Blueprint("contacts_api", __name__)
blueprint_roles(bp, *OFFICE)
errors.install(bp)

API_LIST_NAME = "Added through the API"
TEXT_FIELDS = {"first_name": 100, "last_name": 100, "email": 200, "external_id": 100, "state": 8, "postal_code": 16}
EDITABLE = (*TEXT_FIELDS, "timezone", "priority", "custom_fields")
MAX_PHONES = 10
MAX_CUSTOM_FIELDS = 50
MIN_PRIORITY, MAX_PRIORITY = -1_000_000, 1_000_000
STATUSES = tuple(status.value for status in ContactStatus)
UNFINISHABLE = (ContactStatus.IN_CALL.value,)


@bp.get("/api/campaigns/<campaign_ref>/contacts")
def search_contacts(campaign_ref: str) -> ResponseReturnValue:
    """A page of the campaign's contacts, filtered by status, list, phone or name."""
    session = get_session()
    campaign = campaign_by_ref(session, campaign_ref)
    status = query_choice("status", STATUSES)
    list_id = query_int("list_id")
    phone = query_text("phone", max_length=40)
    name = query_text("q", max_length=100)
    limit, offset = paging()
    query = select(Contact).where(Contact.campaign_id == campaign.id)
    if status is not None:
        query = query.where(Contact.status == status)
    if list_id is not None:
        query = query.where(Contact.list_id == list_id)
    if phone is not None:
        e164 = _phone("phone", phone, campaign.default_region)
        query = query.where(Contact.id.in_(select(ContactPhone.contact_id).where(
            ContactPhone.campaign_id == campaign.id, ContactPhone.e164 == e164)))
    if name is not None:
        pattern = "%" + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(
            Contact.first_name.ilike(pattern, escape="\\"),
            Contact.last_name.ilike(pattern, escape="\\"),
            Contact.email.ilike(pattern, escape="\\"),
            Contact.external_id.ilike(pattern, escape="\\"),
        ))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    found = session.scalars(query.order_by(Contact.id).limit(limit).offset(offset)).all()
    return jsonify(page([contact_to_dict(contact) for contact in found], total, limit, offset))


@bp.get("/api/contacts/<int:contact_id>")
def show_contact(contact_id: int) -> ResponseReturnValue:
    """One contact with its phones and every call made to it, oldest first."""
    session = get_session()
    contact = row_by_id(session, Contact, contact_id, "contact_id", "contact")
    rows = session.execute(
        select(CallAttempt, Agent.login)
        .outerjoin(Agent, Agent.id == CallAttempt.agent_id)
        .where(CallAttempt.contact_id == contact.id)
        .order_by(CallAttempt.attempt_number, CallAttempt.id)
    ).all()
    return jsonify({**contact_to_dict(contact), "calls": [call_to_dict(call, login) for call, login in rows]})


@bp.post("/api/campaigns/<campaign_ref>/contacts")
@roles(*STAFF)
def create_contact(campaign_ref: str) -> ResponseReturnValue:
    """Add one contact with one or more phones; it is dialed like an imported one (the dial gate still applies)."""
    data = json_object(required=("phones",), optional=(*EDITABLE, "list_id"))
    session = get_session()
    campaign = campaign_by_ref(session, campaign_ref)
    fields = _fields(data)
    phones = _phones(data.get("phones"), campaign.default_region)
    taken = session.scalars(select(ContactPhone.e164).where(
        ContactPhone.campaign_id == campaign.id, ContactPhone.e164.in_([number for number, _ in phones]))).all()
    if taken:
        raise Conflict("phones", f"{', '.join(sorted(taken))} is in this campaign already")
    list_id = optional_id(data, "list_id")
    contact_list = _api_list(session, campaign.id) if list_id is None else row_by_id(
        session, ContactList, list_id, "list_id", "list")
    if contact_list.campaign_id != campaign.id:
        raise ApiError("list_id", f"list {list_id} belongs to another campaign")
    contact = Contact(campaign_id=campaign.id, list_id=contact_list.id, status=ContactStatus.NEW.value, **fields)
    contact.phones = [
        ContactPhone(campaign_id=campaign.id, e164=number, label=label, position=position,
                     timezones=list(candidate_timezones(number)))
        for position, (number, label) in enumerate(phones)
    ]
    session.add(contact)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict("phones", "one of the phones was added to this campaign a moment ago") from None
    contact_list.rows_imported += 1
    contact_list.rows_total += 1
    session.commit()
    location = url_for("contacts_api.show_contact", contact_id=contact.id)
    return jsonify(contact_to_dict(contact)), 201, {"Location": location}


@bp.patch("/api/contacts/<int:contact_id>")
@roles(*STAFF)
def update_contact(contact_id: int) -> ResponseReturnValue:
    """Correct a contact's details (name, email, time zone, priority, custom fields); phones stay as dialed."""
    data = json_object(optional=EDITABLE)
    session = get_session()
    contact = row_by_id(session, Contact, contact_id, "contact_id", "contact")
    for key, value in _fields(data).items():
        setattr(contact, key, value)
    session.commit()
    return jsonify(contact_to_dict(contact))


@bp.post("/api/contacts/<int:contact_id>/finish")
@roles(*STAFF)
def finish_contact(contact_id: int) -> ResponseReturnValue:
    """Never dial this contact again (status ``done``), with a reason written to the audit trail."""
    data = json_object(optional=("reason",))
    reason = text(data, "reason", max_length=500) if "reason" in data else ""
    session = get_session()
    contact = row_by_id(session, Contact, contact_id, "contact_id", "contact")
    if contact.status in UNFINISHABLE:
        raise Conflict("status", "the contact is on a call now; finish it after the call ends")
    before = contact.status
    if before != ContactStatus.DONE.value:
        contact.status = ContactStatus.DONE.value
        contact.next_eligible_at = None
        session.flush()
        append_event(session.connection(), "contact.finished",
                     {"actor": current_user.username, "contact_id": contact.id, "from": before, "reason": reason},
                     campaign_id=contact.campaign_id)
    session.commit()
    return jsonify(contact_to_dict(contact))


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, length in TEXT_FIELDS.items():
        if key in data:
            if data[key] is None and key in ("external_id", "state", "postal_code"):
                out[key] = None
            else:
                out[key] = text(data, key, max_length=length)
    if "timezone" in data:
        out["timezone"] = None if data["timezone"] is None else timezone_name("timezone", data["timezone"])
    if "priority" in data:
        out["priority"] = integer(data, "priority", low=MIN_PRIORITY, high=MAX_PRIORITY)
    if "custom_fields" in data:
        out["custom_fields"] = _custom_fields(data["custom_fields"])
    return out


def _custom_fields(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ApiError("custom_fields", "must be an object of names to text, numbers or booleans")
    if len(value) > MAX_CUSTOM_FIELDS:
        raise ApiError("custom_fields", f"must hold at most {MAX_CUSTOM_FIELDS} fields")
    for key, item in value.items():
        if not key.strip() or len(key) > 100:
            raise ApiError("custom_fields", "each name must be 1 to 100 characters")
        if item is not None and not isinstance(item, str | int | float | bool):
            raise ApiError("custom_fields", f"{key!r} must be text, a number, a boolean or null")
        if isinstance(item, str) and len(item) > 1000:
            raise ApiError("custom_fields", f"{key!r} must be at most 1000 characters")
    return dict(value)


def _phone(field: str, raw: str, region: str) -> str:
    check_text_storable(field, raw)
    try:
        return normalize_phone(raw, region)
    except PhoneError as error:
        raise ApiError(field, f"{error.code}: {error.message}") from None


def _phones(value: Any, region: str) -> list[tuple[str, str]]:
    """(E.164, label) of each phone given as "+1..." or {"number": ..., "label": ...}, each once."""
    if not isinstance(value, list) or not value:
        raise ApiError("phones", "must be a non-empty list of numbers or {\"number\", \"label\"} objects")
    if len(value) > MAX_PHONES:
        raise ApiError("phones", f"must hold at most {MAX_PHONES} numbers")
    found: list[tuple[str, str]] = []
    for item in value:
        if isinstance(item, str):
            raw, label = item, "phone"
        elif isinstance(item, dict) and "number" in item and set(item) <= {"number", "label"}:
            raw, label = item["number"], item.get("label", "phone")
            if not isinstance(label, str) or not label.strip() or len(label) > 32:
                raise ApiError("phones", "a label must be text of 1 to 32 characters")
        else:
            raise ApiError("phones", "each phone must be a number or {\"number\", \"label\"}")
        if not isinstance(raw, str):
            raise ApiError("phones", "each number must be text such as +12015550123")
        number = _phone("phones", raw, region)
        if number in [known for known, _ in found]:
            raise ApiError("phones", f"{number} is given twice")
        found.append((number, label.strip()))
    return found


def _api_list(session: Session, campaign_id: int) -> ContactList:
    """The campaign's list of contacts added one at a time, made on first use."""
    found = session.scalar(select(ContactList).where(
        ContactList.campaign_id == campaign_id, ContactList.name == API_LIST_NAME,
        ContactList.import_key.is_(None)).order_by(ContactList.id).limit(1))
    if found is not None:
        return found
    created = ContactList(campaign_id=campaign_id, name=API_LIST_NAME, source="api")
    session.add(created)
    session.flush()
    return created
