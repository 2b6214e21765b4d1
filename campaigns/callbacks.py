"""Scheduled callbacks: scheduling, following them through the dialer, and what people do to them.

The dialer needs nothing from this module to dial a callback: the contact row
(``status = "callback"``, ``next_eligible_at``) puts it first in the hopper when
due, and the dial gate defers it when the person's calling window is shut.  A
callback record follows that from the outside, in ``sync_callbacks``, from the
facts the dialer writes anyway (the call attempts of the contact and the gate's
decisions), so the dialer's hot path gains no statement.

Ownership: a callback promised to one agent is theirs for ``OWNER_GRACE`` after
its time.  The engine gives an answered call to whichever agent is free, so a
personal callback is held back from the hopper during that time (the contact's
next eligible time is the end of the grace) and shown to the owner as due;
after the grace it is dialed for anyone, and the pages say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Table, and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from campaigns.agent_view import ConsoleInputError, callback_to_utc, contact_zones
from campaigns.callback_models import ALL_STATUSES, OPEN_STATUSES, Callback, CallbackStatus
from campaigns.models import (
    Agent,
    CallAttempt,
    Campaign,
    Contact,
    ContactPhone,
    ContactStatus,
    DialDecisionRecord,
)
from compliance.gate import CallingWindow, CampaignPolicy, DialTarget, default_gate

OWNER_GRACE = timedelta(minutes=15)
NOTE_MAX = 2000
LIST_LIMIT = 500
# Contacts whose status cannot take a callback again without someone deciding otherwise.
_NOT_RESCHEDULABLE = (ContactStatus.DNC.value, ContactStatus.IN_CALL.value, ContactStatus.BAD_NUMBER.value)


class CallbackError(ValueError):
    """A request about a callback that cannot be done, naming the field to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Scheduled:
    """A written callback and the time the contact row must hold (later than due for a personal one)."""

    callback_id: int
    contact_next_at: datetime


def owner_until(due_at: datetime, owner: str | None, *, now: datetime | None = None) -> datetime:
    """The end of the owner's turn; a callback given to someone after its time gets the grace from now."""
    if owner is None:
        return due_at
    start = due_at if now is None else max(due_at, now)
    return start + OWNER_GRACE


# ------------------------------------------------------------------------------------------ scheduling


def schedule_callback(
    db: Connection | Session,
    *,
    campaign_id: int,
    contact_id: int,
    due_at: datetime,
    contact_zone: str | None,
    owner: str | None,
    created_by: str,
    note: str = "",
    phone_id: int | None = None,
    e164: str = "",
    scheduled_attempt_id: int | None = None,
    now: datetime,
) -> Scheduled:
    """Write the callback a person agreed; any earlier open callback of the contact is replaced.

    Safe to call twice for the same call (the console and the recorder may both
    know of it): the open callback agreed on ``scheduled_attempt_id`` is updated,
    not doubled.  The caller writes ``contact_next_at`` to the contact's
    ``next_eligible_at`` (the recorder does it in its own contact update).
    """
    if due_at.tzinfo is None:
        raise CallbackError("due_at", "give an aware UTC time")
    if len(note) > NOTE_MAX:
        raise CallbackError("note", f"at most {NOTE_MAX} characters")
    table = cast(Table, Callback.__table__)
    until = owner_until(due_at, owner)
    values: dict[str, Any] = {
        "campaign_id": campaign_id, "contact_id": contact_id, "phone_id": phone_id, "e164": e164,
        "due_at": due_at, "contact_zone": contact_zone, "owner": owner, "owner_until": until,
        "created_by": created_by, "note": note, "status": CallbackStatus.SCHEDULED.value, "status_detail": "",
        "waiting_until": None, "waiting_reason": "", "scheduled_attempt_id": scheduled_attempt_id,
        "attempt_id": None, "updated_at": now,
    }
    open_rows = db.execute(
        select(Callback.id, Callback.scheduled_attempt_id)
        .where(Callback.contact_id == contact_id, Callback.status.in_(OPEN_STATUSES))
    ).all()
    same = next((r.id for r in open_rows if scheduled_attempt_id is not None
                 and r.scheduled_attempt_id == scheduled_attempt_id), None)
    others = [r.id for r in open_rows if r.id != same]
    if others:
        db.execute(update(table).where(table.c.id.in_(others)).values(
            status=CallbackStatus.CANCELLED.value, status_detail="replaced by a newer callback", updated_at=now))
    if same is not None:
        db.execute(update(table).where(table.c.id == same).values(**values))
        return Scheduled(same, until)
    new_id = db.execute(insert(table).values(**values, created_at=now).returning(table.c.id)).scalar_one()
    return Scheduled(new_id, until)


def record_agreed_callback(
    conn: Connection | Session,
    *,
    campaign_id: int,
    contact_id: int,
    due_at: datetime,
    agent: str | None,
    personal: bool = False,
    note: str = "",
    phone_id: int | None = None,
    e164: str = "",
    attempt_id: int | None = None,
    now: datetime,
) -> datetime:
    """The recorder's door: the callback an agent agreed on a call, in the zone the person is called in.

    Returns the time the contact's ``next_eligible_at`` must hold: the due time,
    or the end of the owner's turn when ``personal`` (the agent keeps it).
    """
    contact_tz = conn.execute(select(Contact.timezone).where(Contact.id == contact_id)).scalar_one_or_none()
    phone_zones: list[str] = []
    if phone_id is not None:
        phone_zones = list(conn.execute(select(ContactPhone.timezones).where(ContactPhone.id == phone_id))
                           .scalar_one_or_none() or ())
    zone = next((z for z in (contact_tz, *phone_zones) if zone_of(z) is not None), None)
    if attempt_id is None:
        # The call being closed is the contact's latest attempt: later ones are the calls that serve the callback.
        attempt_id = conn.execute(select(func.max(CallAttempt.id)).where(CallAttempt.contact_id == contact_id)
                                  ).scalar_one_or_none()
    written = schedule_callback(
        conn, campaign_id=campaign_id, contact_id=contact_id, due_at=due_at, contact_zone=zone,
        owner=agent if personal and agent else None, created_by=agent or "system", note=note[:NOTE_MAX],
        phone_id=phone_id, e164=e164, scheduled_attempt_id=attempt_id, now=now,
    )
    return written.contact_next_at


# ------------------------------------------------------------------------------------------ following the dialer


def sync_callbacks(session: Session, now: datetime, *, campaign_id: int | None = None,
                   login: str | None = None) -> int:
    """Bring callback records up to date with what the dialer did; return how many changed.

    Open records learn whether a call served them, whether the gate holds them
    back and until when, and a personal one keeps the contact held back for its
    owner's turn; contacts waiting for a callback without a record get one (the
    recorder set their status from an agent's disposition).  ``login`` narrows
    it to one agent's callbacks, for their pages, which are read often.
    """
    changed = 0
    query = select(Callback).where(Callback.status.in_(OPEN_STATUSES))
    if campaign_id is not None:
        query = query.where(Callback.campaign_id == campaign_id)
    if login is not None:
        query = query.where(or_(Callback.owner == login, Callback.created_by == login))
    for callback in session.scalars(query).all():
        if _follow(session, callback, now):
            callback.updated_at = now
            changed += 1
    session.flush()
    # After following: a call that served one callback may have set the next.
    changed += _discover(session, now, campaign_id, login)
    session.flush()
    return changed


def _discover(session: Session, now: datetime, campaign_id: int | None, login: str | None) -> int:
    has_open = select(Callback.id).where(Callback.contact_id == Contact.id, Callback.status.in_(OPEN_STATUSES))
    query = select(Contact).where(Contact.status == ContactStatus.CALLBACK.value, ~has_open.exists())
    if campaign_id is not None:
        query = query.where(Contact.campaign_id == campaign_id)
    if login is not None:
        by_agent = (select(CallAttempt.id).join(Agent, Agent.id == CallAttempt.agent_id)
                    .where(CallAttempt.contact_id == Contact.id, Agent.login == login))
        query = query.where(by_agent.exists())
    found = 0
    for contact in session.scalars(query.order_by(Contact.id).limit(LIST_LIMIT)).all():
        row = session.execute(
            select(CallAttempt, Agent.login).outerjoin(Agent, Agent.id == CallAttempt.agent_id)
            .where(CallAttempt.contact_id == contact.id).order_by(CallAttempt.id.desc()).limit(1)
        ).first()
        attempt, by = (row[0], row[1]) if row is not None else (None, None)
        phone = session.get(ContactPhone, attempt.phone_id) if attempt is not None and attempt.phone_id else None
        zones = contact_zones(contact, phone)
        due = contact.next_eligible_at or now
        agreed = (attempt.wrap_ended_at or attempt.ended_at or attempt.queued_at) if attempt is not None else None
        written = schedule_callback(
            session, campaign_id=contact.campaign_id, contact_id=contact.id, due_at=due,
            contact_zone=zones[0] if zones else None, owner=None, created_by=by or "system",
            note=(attempt.notes or "")[:NOTE_MAX] if attempt is not None else "",
            phone_id=attempt.phone_id if attempt is not None else None,
            e164=attempt.e164 if attempt is not None else "",
            scheduled_attempt_id=attempt.id if attempt is not None else None, now=agreed or now,
        )
        _follow(session, session.get_one(Callback, written.callback_id), now)
        found += 1
    return found


def _follow(session: Session, callback: Callback, now: datetime) -> bool:
    before = (callback.status, callback.attempt_id, callback.waiting_until, callback.waiting_reason,
              callback.status_detail)
    served = _serving_attempt(session, callback)
    contact = session.get(Contact, callback.contact_id)
    if served is not None:
        callback.attempt_id = served.id
        callback.waiting_until, callback.waiting_reason = None, ""
        if served.ended_at is None:
            callback.status = CallbackStatus.DIALING.value
        elif served.connected_at is not None:
            callback.status = CallbackStatus.DONE.value
            callback.status_detail = "the person was reached"
        else:
            callback.status = CallbackStatus.MISSED.value
            what = (served.answer_class or served.end_reason or "no answer").replace("_", " ")
            callback.status_detail = f"the call for it reached nobody ({what}); the contact's retry rules take over"
    elif contact is None or contact.status != ContactStatus.CALLBACK.value:
        callback.status = CallbackStatus.CANCELLED.value
        status = contact.status.replace("_", " ") if contact is not None else "deleted"
        reason = _latest_block(session, callback)
        callback.status_detail = f"the contact is now {status}" + (f": {reason[1]}" if reason else "")
    else:
        callback.status = (CallbackStatus.DUE if callback.due_at <= now else CallbackStatus.SCHEDULED).value
        _note_wait(session, callback, now)
        _hold_for_owner(contact, callback, now)
    after = (callback.status, callback.attempt_id, callback.waiting_until, callback.waiting_reason,
             callback.status_detail)
    return before != after


def _serving_attempt(session: Session, callback: Callback) -> CallAttempt | None:
    query = select(CallAttempt).where(CallAttempt.contact_id == callback.contact_id)
    if callback.scheduled_attempt_id is not None:
        query = query.where(CallAttempt.id > callback.scheduled_attempt_id)
    else:
        query = query.where(CallAttempt.queued_at > callback.created_at)
    return session.scalars(query.order_by(CallAttempt.id).limit(1)).first()


def _latest_block(session: Session, callback: Callback) -> tuple[datetime | None, str] | None:
    """The gate's latest refusal of this contact since the callback fell due: (next allowed time, why)."""
    since = min(callback.due_at, callback.created_at)
    decision = session.scalars(
        select(DialDecisionRecord)
        .where(DialDecisionRecord.campaign_id == callback.campaign_id,
               DialDecisionRecord.contact_id == callback.contact_id, DialDecisionRecord.at >= since)
        .order_by(DialDecisionRecord.at.desc(), DialDecisionRecord.id.desc()).limit(1)
    ).first()
    if decision is None or decision.allowed:
        return None
    why = "; ".join(str(r.get("detail") or r.get("code")) for r in decision.reasons or () if not r.get("passed"))
    return decision.next_allowed_at, why or "the dial gate refused it"


def _note_wait(session: Session, callback: Callback, now: datetime) -> None:
    if callback.due_at > now:
        callback.waiting_until, callback.waiting_reason = None, ""
        return
    block = _latest_block(session, callback)
    if block is None or (block[0] is not None and block[0] <= now):
        callback.waiting_until, callback.waiting_reason = None, ""
    else:
        callback.waiting_until, callback.waiting_reason = block


def _hold_for_owner(contact: Contact, callback: Callback, now: datetime) -> None:
    """Keep the hopper off a personal callback during its owner's turn (never sooner than the gate allows)."""
    until = callback.owner_until
    if callback.owner is None or until is None or until <= now:
        return
    if contact.next_eligible_at is None or contact.next_eligible_at < until:
        contact.next_eligible_at = until


# ------------------------------------------------------------------------------------------ reading


def zone_of(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def local_text(at: datetime | None, zone: str | None, *, with_zone: bool = True) -> str:
    """A time as the person reads it on their own clock: ``Tue 3 Dec 14:30 (America/Chicago)``."""
    if at is None:
        return ""
    tz = zone_of(zone)
    if tz is None:
        return at.astimezone(UTC).strftime("%a %-d %b %H:%M UTC")
    shown = at.astimezone(tz).strftime("%a %-d %b %H:%M")
    return f"{shown} ({zone})" if with_zone else shown


def describe(callback: Callback, contact: Contact | None, now: datetime, *,
             viewer: str | None = None) -> dict[str, Any]:
    """What the pages and the console's poll show of one callback."""
    zone = callback.contact_zone
    tz = zone_of(zone)
    name = " ".join(p for p in (contact.first_name, contact.last_name) if p) if contact is not None else ""
    until = callback.owner_until
    if callback.status not in OPEN_STATUSES:
        turn = ""
    elif callback.owner is None:
        turn = "for anyone"
    elif until is not None and until > now:
        who = "yours" if viewer is not None and viewer == callback.owner else f"{callback.owner}'s"
        end = until.astimezone(tz).strftime("%H:%M") if tz else until.strftime("%H:%M UTC")
        turn = f"{who} until {end}, then anyone's"
    else:
        turn = f"{callback.owner}'s turn has passed: dialed for anyone"
    waiting = ""
    if callback.waiting_until is not None:
        waiting = (f"waiting for the calling window until {local_text(callback.waiting_until, zone)}"
                   + (f" — {callback.waiting_reason}" if callback.waiting_reason else ""))
    elif callback.waiting_reason:
        waiting = f"held by the dial gate: {callback.waiting_reason}"
    return {
        "id": callback.id,
        "campaign_id": callback.campaign_id,
        "contact_id": callback.contact_id,
        "contact_name": name or "(no name)",
        "phone": callback.e164,
        "due_at": callback.due_at.isoformat(),
        "due_local": local_text(callback.due_at, zone),
        "due_local_input": callback.due_at.astimezone(tz).strftime("%Y-%m-%dT%H:%M") if tz else "",
        "due_in_s": round((callback.due_at - now).total_seconds()),
        "contact_zone": zone,
        "contact_now": now.astimezone(tz).strftime("%a %H:%M") if tz else None,
        "owner": callback.owner,
        "owner_until": until.isoformat() if until else None,
        "turn": turn,
        "created_by": callback.created_by,
        "note": callback.note,
        "status": callback.status,
        "status_detail": callback.status_detail,
        "waiting": waiting,
        "waiting_until": callback.waiting_until.isoformat() if callback.waiting_until else None,
        "attempt_id": callback.attempt_id,
    }


@dataclass(frozen=True)
class AgentCallbacks:
    due: list[dict[str, Any]]
    upcoming: list[dict[str, Any]]
    recent: list[dict[str, Any]]


def callbacks_for_agent(session: Session, login: str, now: datetime) -> AgentCallbacks:
    """An agent's callbacks: those promised to them, and those they set for anyone."""
    mine = or_(Callback.owner == login, and_(Callback.owner.is_(None), Callback.created_by == login))
    rows = session.execute(
        select(Callback, Contact).join(Contact, Contact.id == Callback.contact_id)
        .where(mine, or_(Callback.status.in_(OPEN_STATUSES), Callback.updated_at >= now - timedelta(days=1)))
        .order_by(Callback.due_at, Callback.id).limit(LIST_LIMIT)
    ).all()
    due, upcoming, recent = [], [], []
    for callback, contact in rows:
        shown = describe(callback, contact, now, viewer=login)
        if callback.status in (CallbackStatus.DUE.value, CallbackStatus.DIALING.value):
            due.append(shown)
        elif callback.status == CallbackStatus.SCHEDULED.value:
            upcoming.append(shown)
        else:
            recent.append(shown)
    recent.sort(key=lambda c: c["due_at"], reverse=True)
    return AgentCallbacks(due, upcoming, recent)


@dataclass(frozen=True)
class CallbackFilter:
    campaign_id: int
    owner: str | None = None  # a login, "anyone" for unowned ones, None for all
    status: str | None = None
    due_from: datetime | None = None
    due_to: datetime | None = None


def parse_filter(args: Any, campaign_id: int, zone: ZoneInfo) -> CallbackFilter:
    """The supervisor list's filters from a query string; times are read in ``zone``."""
    status = (args.get("status") or "").strip() or None
    if status is not None and status not in ALL_STATUSES and status != "open":
        raise CallbackError("status", f"{status!r} is not one of open, {', '.join(ALL_STATUSES)}")
    owner = (args.get("owner") or "").strip() or None
    times: dict[str, datetime | None] = {}
    for name in ("from", "to"):
        raw = (args.get(name) or "").strip()
        if not raw:
            times[name] = None
            continue
        try:
            local = datetime.fromisoformat(raw)
        except ValueError as error:
            raise CallbackError(name, f"{raw!r} is not a date and time (YYYY-MM-DDTHH:MM)") from error
        times[name] = (local if local.tzinfo else local.replace(tzinfo=zone)).astimezone(UTC)
    if times["from"] and times["to"] and times["to"] < times["from"]:
        raise CallbackError("to", "the end of the range is before its start")
    return CallbackFilter(campaign_id, owner, status, times["from"], times["to"])


def list_callbacks(session: Session, wanted: CallbackFilter, now: datetime) -> list[dict[str, Any]]:
    query = (select(Callback, Contact).join(Contact, Contact.id == Callback.contact_id)
             .where(Callback.campaign_id == wanted.campaign_id))
    if wanted.owner == "anyone":
        query = query.where(Callback.owner.is_(None))
    elif wanted.owner:
        query = query.where(Callback.owner == wanted.owner)
    if wanted.status == "open":
        query = query.where(Callback.status.in_(OPEN_STATUSES))
    elif wanted.status:
        query = query.where(Callback.status == wanted.status)
    if wanted.due_from is not None:
        query = query.where(Callback.due_at >= wanted.due_from)
    if wanted.due_to is not None:
        query = query.where(Callback.due_at <= wanted.due_to)
    rows = session.execute(query.order_by(Callback.due_at, Callback.id).limit(LIST_LIMIT)).all()
    return [describe(callback, contact, now) for callback, contact in rows]


def status_counts(session: Session, campaign_id: int) -> dict[str, int]:
    rows = session.execute(select(Callback.status, func.count()).where(Callback.campaign_id == campaign_id)
                           .group_by(Callback.status)).all()
    return {status: int(count) for status, count in rows}


def agent_logins(session: Session) -> list[tuple[str, str]]:
    """(login, name) of every agent a callback can be given to: the dialer's agents and agent accounts."""
    from campaigns.account_models import User

    found: dict[str, str] = {}
    for login, name in session.execute(select(Agent.login, Agent.name)):
        found[login] = name or login
    for user_login, name in session.execute(select(User.agent_login, User.display_name)
                                            .where(User.role == "agent", User.agent_login.is_not(None),
                                                   User.active.is_(True))):
        if user_login:
            found[user_login] = name or found.get(user_login) or user_login
    return sorted(found.items(), key=lambda item: item[1].lower())


# ------------------------------------------------------------------------------------------ acting


def get_callback(session: Session, callback_id: int) -> Callback:
    callback = session.get(Callback, callback_id)
    if callback is None:
        raise LookupError(f"callback {callback_id} not found")
    return callback


def reassign(session: Session, callback_id: int, owner: str | None, *, now: datetime,
             known: Iterable[str] | None = None) -> Callback:
    """Give an open callback to one agent (their turn starts at its time, or now if that has passed) or to anyone."""
    callback = get_callback(session, callback_id)
    if callback.status not in OPEN_STATUSES or callback.status == CallbackStatus.DIALING.value:
        raise CallbackError("owner", f"a {callback.status} callback cannot change hands")
    if owner is not None:
        owner = owner.strip()
        if not owner:
            owner = None
        elif known is not None and owner not in set(known):
            raise CallbackError("owner", f"{owner!r} is not an agent")
    callback.owner = owner
    callback.owner_until = owner_until(callback.due_at, owner, now=now)
    callback.updated_at = now
    _hold_contact(session, callback, now)
    session.flush()
    return callback


def cancel(session: Session, callback_id: int, *, actor: str, now: datetime) -> Callback:
    """Call a callback off; the contact goes back to the campaign's ordinary retries."""
    callback = get_callback(session, callback_id)
    if callback.status not in OPEN_STATUSES or callback.status == CallbackStatus.DIALING.value:
        raise CallbackError("status", f"a {callback.status} callback cannot be cancelled")
    callback.status = CallbackStatus.CANCELLED.value
    callback.status_detail = f"cancelled by {actor}"
    callback.waiting_until, callback.waiting_reason = None, ""
    callback.updated_at = now
    contact = session.get(Contact, callback.contact_id)
    if contact is not None and contact.status == ContactStatus.CALLBACK.value:
        contact.status = ContactStatus.RETRY.value
        contact.next_eligible_at = now
    session.flush()
    return callback


@dataclass(frozen=True)
class Rescheduled:
    callback: Callback
    warning: str  # empty when the new time is inside the person's calling hours


def reschedule(session: Session, callback_id: int, local: Any, *, actor: str, now: datetime) -> Rescheduled:
    """Move a callback to a new time typed in the person's own clock; warn when their calling hours are shut then.

    A missed or cancelled callback may be set again: the contact waits for a
    callback once more (unless it may not be called at all).
    """
    callback = get_callback(session, callback_id)
    if callback.status in (CallbackStatus.DIALING.value, CallbackStatus.DONE.value):
        raise CallbackError("due_at", f"a {callback.status} callback cannot be moved")
    contact = session.get(Contact, callback.contact_id)
    if contact is None:
        raise CallbackError("due_at", "the contact no longer exists")
    if contact.status in _NOT_RESCHEDULABLE:
        raise CallbackError("due_at", f"the contact is {contact.status.replace('_', ' ')}: no callback can be set")
    if not callback.contact_zone:
        raise CallbackError("due_at", "the contact's time zone is unknown, so no callback time can be read")
    try:
        due = callback_to_utc(local, callback.contact_zone, now)
    except ConsoleInputError as error:
        raise CallbackError("due_at", error.message) from error
    callback.due_at = due
    callback.owner_until = owner_until(due, callback.owner)
    callback.status = CallbackStatus.SCHEDULED.value
    callback.status_detail = f"moved by {actor}"
    callback.waiting_until, callback.waiting_reason = None, ""
    callback.attempt_id = None
    callback.updated_at = now
    # Later calls must not count as serving the new time.
    last = session.scalar(select(func.max(CallAttempt.id)).where(CallAttempt.contact_id == contact.id))
    if last is not None:
        callback.scheduled_attempt_id = last
    contact.status = ContactStatus.CALLBACK.value
    contact.next_eligible_at = callback.owner_until if callback.owner else due
    session.flush()
    return Rescheduled(callback, window_warning(session, callback, due))


def window_warning(session: Session, callback: Callback, at: datetime) -> str:
    """Why the dial gate would hold a call at ``at`` back by time alone (calling hours, holidays), and until when."""
    contact = session.get(Contact, callback.contact_id)
    campaign = session.get(Campaign, callback.campaign_id)
    if contact is None or campaign is None:
        return ""
    phone = session.get(ContactPhone, callback.phone_id) if callback.phone_id is not None else None
    zones = tuple(phone.timezones or ()) if phone is not None else ()
    if contact.timezone:
        zones = tuple(dict.fromkeys((*zones, contact.timezone)))
    policy = CampaignPolicy(campaign.id, CallingWindow.parse(campaign.calling_window), campaign.purpose,
                            prerecorded=campaign.prerecorded)
    decision = default_gate().can_dial(
        DialTarget(callback.e164 or (phone.e164 if phone else ""), zones, contact.state, contact.postal_code,
                   contact.id, history=()), policy, at)
    timed = [r for r in decision.blocking if r.next_allowed_at is not None or r.code == "outside_hours"]
    if not timed:
        return ""
    until = decision.next_allowed_at
    why = "; ".join(r.detail for r in timed)
    when = f" until {local_text(until, callback.contact_zone)}" if until is not None else ""
    return f"the call will wait for the calling window{when}: {why}"


def _hold_contact(session: Session, callback: Callback, now: datetime) -> None:
    """After a change of owner, the contact's next time is the new turn's end (or the gate's later time)."""
    contact = session.get(Contact, callback.contact_id)
    if contact is None or contact.status != ContactStatus.CALLBACK.value:
        return
    hold = callback.owner_until if callback.owner else callback.due_at
    if hold is None:
        return
    waiting = callback.waiting_until
    contact.next_eligible_at = max(hold, waiting) if waiting is not None and waiting > now else hold


def sorted_statuses() -> Sequence[str]:
    return ("open", *ALL_STATUSES)
