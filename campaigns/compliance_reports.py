"""Compliance reports an officer exports: read-only queries over the dialer's records.

Each function takes an open ``Connection``, writes nothing, and returns a list
of flat dicts (one per CSV row) in a stable order:

* ``abandonment_periods``: abandoned calls over live answers, per successive
  30-day period from the campaign's first placed call, plus the rolling 30 days
  ending ``now``, with the numerator and denominator split by answer class;
* ``calls_outside_window``: placed calls whose local time, in any candidate zone
  of the phone, was outside the campaign's window or the federal 08:00-21:00
  (the report must be empty);
* ``dnc_honor_latency``: per DNC change, how long it took to take effect, and
  how many calls were placed to the number after it did (must be 0);
* ``cap_hits``: blocked dial decisions counted per rule id and reason code;
* ``number_dossier``: every attempt, DNC change, consent record and audit event
  of one number, in time order.

Times come back as aware UTC datetimes (``UTCDateTime``); the CLI formats them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Table, and_, case, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from campaigns.compliance_models import AuditEvent, ConsentRecord, DncChange
from campaigns.models import CallAttempt, Campaign, ContactPhone, DialDecisionRecord

__all__ = [
    "ABANDON_LIMIT",
    "FEDERAL_WINDOW",
    "PERIOD",
    "abandonment_periods",
    "calls_outside_window",
    "cap_hits",
    "dnc_honor_latency",
    "number_dossier",
]

#: 47 CFR 64.1200(a)(7): at most 3% of live-answered calls abandoned, per 30-day period.
ABANDON_LIMIT = 0.03
PERIOD = timedelta(days=30)
#: 47 CFR 64.1200(c)(1): no calls before 8 a.m. or after 9 p.m. the called party's local time.
FEDERAL_WINDOW = "08:00-21:00"

_ATTEMPTS = cast(Table, CallAttempt.__table__)
_LIVE = ("human", "unknown")
_NOT_LIVE_ANSWERS = ("machine", "fax")


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _abandoned() -> ColumnElement[bool]:
    return CallAttempt.abandoned_at.is_not(None)


def _period_row(conn: Connection, campaign_id: int, kind: str, start: datetime, end: datetime) -> dict[str, Any]:
    cls = CallAttempt.answer_class
    abandoned = _abandoned()
    row = conn.execute(
        select(
            _count(cls == "human").label("live_human"),
            _count(cls == "unknown").label("live_unknown"),
            _count(and_(abandoned, cls == "human")).label("abandoned_human"),
            _count(and_(abandoned, cls == "unknown")).label("abandoned_unknown"),
            _count(and_(abandoned, or_(cls.is_(None), cls.not_in(_LIVE + _NOT_LIVE_ANSWERS)))).label(
                "abandoned_unclassified"
            ),
            _count(cls == "machine").label("machine_answers"),
            _count(cls == "fax").label("fax_answers"),
            _count(and_(abandoned, cls.in_(_NOT_LIVE_ANSWERS))).label("machine_fax_dropped"),
            _count(CallAttempt.placed_at.is_not(None)).label("placed"),
        ).where(
            CallAttempt.campaign_id == campaign_id,
            CallAttempt.placed_at >= start,
            CallAttempt.placed_at < end,
        )
    ).one()
    counts = {key: int(value) for key, value in row._mapping.items()}
    live = counts["live_human"] + counts["live_unknown"]
    abandoned_total = counts["abandoned_human"] + counts["abandoned_unknown"] + counts["abandoned_unclassified"]
    rate = abandoned_total / live if live else 0.0
    return {
        "campaign_id": campaign_id,
        "period": kind,
        "start": start,
        "end": end,
        "placed": counts["placed"],
        "live_answers": live,
        "live_human": counts["live_human"],
        "live_unknown": counts["live_unknown"],
        "abandoned": abandoned_total,
        "abandoned_human": counts["abandoned_human"],
        "abandoned_unknown": counts["abandoned_unknown"],
        "abandoned_unclassified": counts["abandoned_unclassified"],
        "machine_answers": counts["machine_answers"],
        "fax_answers": counts["fax_answers"],
        "machine_fax_dropped": counts["machine_fax_dropped"],
        "rate": round(rate, 6),
        "over_limit": rate > ABANDON_LIMIT,
    }


def abandonment_periods(conn: Connection, campaign_id: int, now: datetime) -> list[dict[str, Any]]:
    """The abandonment rate per successive 30-day period from the first placed call, then the rolling 30 days.

    Denominator: live answers (answer class ``human`` or ``unknown``).  Numerator:
    calls with ``abandoned_at`` set whose answer class is not ``machine`` or
    ``fax`` (an abandoned call with no class is counted, in
    ``abandoned_unclassified``: the safe side).  A call belongs to the period of
    its ``placed_at``.  The last successive period may still be running (its
    ``end`` is after ``now``).  ``over_limit`` is true above 3%.
    """
    now = _aware(now)
    first = conn.execute(
        select(func.min(CallAttempt.placed_at)).where(CallAttempt.campaign_id == campaign_id)
    ).scalar_one_or_none()
    rows: list[dict[str, Any]] = []
    if first is not None:
        first = _aware(first)
        start = first
        number = 1
        while start <= now:
            rows.append(_period_row(conn, campaign_id, f"period {number}", start, start + PERIOD))
            start += PERIOD
            number += 1
    rows.append(_period_row(conn, campaign_id, "rolling 30 days", now - PERIOD, now))
    return rows


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_window(window: str) -> tuple[time, time]:
    """``"HH:MM-HH:MM"`` as (start, end); the start is included, the end excluded."""
    first, _, last = window.strip().partition("-")
    try:
        return time.fromisoformat(first.strip()), time.fromisoformat(last.strip())
    except ValueError as error:
        raise ValueError(f"{window!r} is not a calling window HH:MM-HH:MM") from error


def _inside(local: time, window: tuple[time, time]) -> bool:
    start, end = window
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # a window across midnight


def calls_outside_window(
    conn: Connection, campaign_id: int, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Placed calls of ``[start, end)`` that were outside a calling window in some candidate zone.

    Each call's ``placed_at`` is converted (zoneinfo, so daylight saving counts)
    into every zone of its phone's ``contact_phones.timezones``; the local time
    must be inside both the campaign's ``calling_window`` and the federal
    08:00-21:00.  One row per (call, zone) outside; a call whose phone has no
    readable zone is reported too (``zone`` empty): it should never have been
    placed.  The report of a lawful campaign is empty.
    """
    campaign_window = conn.execute(
        select(Campaign.calling_window).where(Campaign.id == campaign_id)
    ).scalar_one_or_none()
    windows = [("federal", parse_window(FEDERAL_WINDOW))]
    if campaign_window:
        windows.append(("campaign", parse_window(campaign_window)))
    result = conn.execute(
        select(
            CallAttempt.id,
            CallAttempt.e164,
            CallAttempt.placed_at,
            CallAttempt.contact_id,
            ContactPhone.timezones,
        )
        .select_from(_ATTEMPTS)
        .outerjoin(ContactPhone, ContactPhone.id == CallAttempt.phone_id)
        .where(
            CallAttempt.campaign_id == campaign_id,
            CallAttempt.placed_at.is_not(None),
            CallAttempt.placed_at >= start,
            CallAttempt.placed_at < end,
        )
        .order_by(CallAttempt.placed_at, CallAttempt.id)
    )
    rows: list[dict[str, Any]] = []
    for attempt_id, e164, placed_at, contact_id, zones in result:
        base = {"attempt_id": attempt_id, "campaign_id": campaign_id, "contact_id": contact_id, "e164": e164,
                "placed_at": placed_at}
        readable = []
        for name in zones or []:
            try:
                readable.append((name, ZoneInfo(str(name))))
            except (ZoneInfoNotFoundError, ValueError):
                continue
        if not readable:
            rows.append({**base, "zone": "", "local_time": "", "window": "", "rule": "unknown_timezone"})
            continue
        for name, zone in readable:
            local = placed_at.astimezone(zone)
            for rule, window in windows:
                if not _inside(local.time(), window):
                    rows.append({
                        **base,
                        "zone": name,
                        "local_time": local.isoformat(timespec="seconds"),
                        "window": f"{window[0]:%H:%M}-{window[1]:%H:%M}",
                        "rule": rule,
                    })
    return rows


def dnc_honor_latency(
    conn: Connection, start: datetime, end: datetime, *, campaign_id: int | None = None
) -> list[dict[str, Any]]:
    """Every DNC addition received in ``[start, end)``: received, effective, latency, calls placed after.

    ``calls_after_effective`` counts calls placed to the number at or after the
    change took effect and before a later removal from the same list: calls in
    any campaign for the company list, in that campaign for a campaign list.
    It must be 0.  With ``campaign_id``, only the company list's and that
    campaign's changes, and only that campaign's calls, count.
    """
    query = (
        select(DncChange)
        .where(DncChange.action == "add", DncChange.received_at >= start, DncChange.received_at < end)
        .order_by(DncChange.received_at, DncChange.id)
    )
    if campaign_id is not None:
        query = query.where(or_(DncChange.campaign_id.is_(None), DncChange.campaign_id == campaign_id))
    rows: list[dict[str, Any]] = []
    for change in conn.execute(query).mappings():
        effective = change["effective_at"]
        scope_match = (
            DncChange.campaign_id.is_(None)
            if change["campaign_id"] is None
            else DncChange.campaign_id == change["campaign_id"]
        )
        removed_at = conn.execute(
            select(func.min(DncChange.effective_at)).where(
                DncChange.e164 == change["e164"],
                DncChange.action == "remove",
                DncChange.changed.is_(True),
                DncChange.effective_at > effective,
                scope_match,
            )
        ).scalar_one_or_none()
        calls = select(func.count()).select_from(_ATTEMPTS).where(
            CallAttempt.e164 == change["e164"],
            CallAttempt.placed_at.is_not(None),
            CallAttempt.placed_at >= effective,
        )
        if removed_at is not None:
            calls = calls.where(CallAttempt.placed_at < removed_at)
        if change["campaign_id"] is not None:
            calls = calls.where(CallAttempt.campaign_id == change["campaign_id"])
        elif campaign_id is not None:
            calls = calls.where(CallAttempt.campaign_id == campaign_id)
        latency = (effective - change["received_at"]).total_seconds()
        rows.append({
            "change_id": change["id"],
            "e164": change["e164"],
            "list": "company" if change["campaign_id"] is None else f"campaign {change['campaign_id']}",
            "source": change["source"],
            "actor": change["actor"],
            "changed": bool(change["changed"]),
            "received_at": change["received_at"],
            "effective_at": effective,
            "latency_s": round(latency, 3),
            "removed_at": removed_at,
            "calls_after_effective": int(conn.execute(calls).scalar_one()),
        })
    return rows


def cap_hits(conn: Connection, campaign_id: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Blocked dial decisions of ``[start, end)`` counted per (rule id, reason code), most frequent first.

    Counts every reason with ``passed`` false in ``dial_decisions.reasons`` of a
    refused decision: one decision blocked by two rules counts once for each.
    ``numbers`` is how many distinct numbers the rule blocked.
    """
    result = conn.execute(
        select(DialDecisionRecord.at, DialDecisionRecord.e164, DialDecisionRecord.reasons).where(
            DialDecisionRecord.campaign_id == campaign_id,
            DialDecisionRecord.allowed.is_(False),
            DialDecisionRecord.at >= start,
            DialDecisionRecord.at < end,
        )
    )
    tally: dict[tuple[str, str], dict[str, Any]] = {}
    for at, e164, reasons in result:
        for reason in _as_list(reasons):
            if not isinstance(reason, dict) or reason.get("passed", True):
                continue
            key = (str(reason.get("rule") or ""), str(reason.get("code") or ""))
            entry = tally.setdefault(key, {"count": 0, "numbers": set(), "first_at": at, "last_at": at})
            entry["count"] += 1
            entry["numbers"].add(e164)
            entry["first_at"] = min(entry["first_at"], at)
            entry["last_at"] = max(entry["last_at"], at)
    rows = [
        {
            "campaign_id": campaign_id,
            "rule": rule,
            "code": code,
            "blocked": entry["count"],
            "numbers": len(entry["numbers"]),
            "first_at": entry["first_at"],
            "last_at": entry["last_at"],
        }
        for (rule, code), entry in tally.items()
    ]
    rows.sort(key=lambda row: (-row["blocked"], row["rule"], row["code"]))
    return rows


def _as_list(value: Any) -> Iterable[Any]:
    if isinstance(value, str):  # a driver that hands JSON back as text
        value = json.loads(value)
    return value if isinstance(value, list) else []


def _detail(values: dict[str, Any]) -> str:
    return json.dumps(
        {key: (value.isoformat() if isinstance(value, datetime) else value) for key, value in values.items()
         if value is not None and value != ""},
        sort_keys=True,
        ensure_ascii=False,
    )


def number_dossier(conn: Connection, e164: str) -> list[dict[str, Any]]:
    """Everything on record about one number, in time order, across campaigns.

    Rows: ``at``, ``record`` (attempt, dnc_change, consent, audit), ``kind``,
    ``campaign_id``, ``ref_id`` (the row's id in its table) and ``detail`` (the
    row's other fields as JSON).  Attempts are dated by when they were placed
    (queued when never placed).
    """
    rows: list[dict[str, Any]] = []
    for attempt in conn.execute(select(CallAttempt).where(CallAttempt.e164 == e164)).mappings():
        at = attempt["placed_at"] or attempt["queued_at"]
        rows.append({
            "at": at, "record": "attempt", "kind": attempt["answer_class"] or attempt["state"],
            "campaign_id": attempt["campaign_id"], "ref_id": attempt["id"],
            "detail": _detail({key: attempt[key] for key in (
                "attempt_number", "state", "answer_class", "amd_verdict", "end_reason", "placed_at",
                "answered_at", "connected_at", "abandoned_at", "message_played_at", "ended_at",
                "disposition", "agent_id", "carrier_call_id",
            )}),
        })
    for change in conn.execute(select(DncChange).where(DncChange.e164 == e164)).mappings():
        rows.append({
            "at": change["effective_at"], "record": "dnc_change", "kind": change["action"],
            "campaign_id": change["campaign_id"], "ref_id": change["id"],
            "detail": _detail({key: change[key] for key in (
                "changed", "reason", "source", "actor", "evidence", "received_at", "effective_at",
            )}),
        })
    for consent in conn.execute(select(ConsentRecord).where(ConsentRecord.e164 == e164)).mappings():
        rows.append({
            "at": consent["at"], "record": "consent", "kind": consent["kind"],
            "campaign_id": consent["campaign_id"], "ref_id": consent["id"],
            "detail": _detail({key: consent[key] for key in (
                "scope", "source", "text_shown", "evidence", "recorded_at", "recorded_by",
            )}),
        })
    for event in conn.execute(select(AuditEvent).where(AuditEvent.e164 == e164)).mappings():
        rows.append({
            "at": event["at"], "record": "audit", "kind": event["kind"],
            "campaign_id": event["campaign_id"], "ref_id": event["id"],
            "detail": event["payload"],
        })
    order = {"dnc_change": 0, "consent": 1, "attempt": 2, "audit": 3}
    far = datetime.max.replace(tzinfo=UTC)
    rows.sort(key=lambda row: (row["at"] or far, order[row["record"]], row["ref_id"]))
    return rows
