"""Why a campaign is not dialing: each reason with the number of contacts it holds back and when it changes.

A supervisor looking at a silent floor needs the answer in one place: the
campaign is paused, no agent is logged in, the 30-day abandonment budget is
spent, the list is used up, or the contacts left cannot be called right now
(waiting for their retry time, on a do-not-call list, outside calling hours
where they live, out of attempts, without a working phone).  This module
reads the database (and the live state the dialer publishes) and answers with
``Blocker`` records a page, the JSON API or a test can use alike.

Outside-hours is decided by the dial gate itself (``compliance.gate``) on the
phone the hopper would dial next, one gate question per group of contacts
sharing candidate zones, state and number prefix, so a list of a million
contacts costs a few hundred gate questions; beyond ``SAMPLE_LIMIT`` eligible
contacts the split is estimated from the first ones in hopper order.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from campaigns.compliance_reports import PERIOD, abandonment_periods
from campaigns.models import (
    DIALABLE_STATUSES,
    CallAttempt,
    Campaign,
    CampaignStatus,
    Contact,
    ContactPhone,
    ContactStatus,
    DialMode,
    DncEntry,
)
from compliance.gate import CallingWindow, CampaignPolicy, DialGate, DialTarget, default_gate

SAMPLE_LIMIT = 20_000
_DNC_BATCH = 500
# Gate codes that waiting cures and that are about the hour or the day where the person lives.
HOURS_CODES = frozenset({"outside_hours", "day_ban", "sunday_ban", "holiday_ban"})
OVERDIALING_MODES = frozenset({DialMode.PREDICTIVE.value, DialMode.POWER.value})

# Campaign-wide reasons: any of them stops (or slows) all dialing.
NOT_ACTIVE = "not_active"
NO_DIALER = "no_dialer"
NO_AGENTS = "no_agents"
AGENTS_PAUSED = "agents_paused"
BUDGET_SPENT = "budget_spent"
LIST_EXHAUSTED = "list_exhausted"
NOTHING_DIALABLE_NOW = "nothing_dialable_now"
# Per-contact reasons: how many of the contacts left cannot be dialed now, and why.
RETRY_WAIT = "retry_wait"
DNC = "dnc"
OUTSIDE_HOURS = "outside_hours"
ATTEMPTS_EXHAUSTED = "attempts_exhausted"
BAD_PHONES = "bad_phones"
UNKNOWN_TIMEZONE = "unknown_timezone"
HELD = "held"
OTHER_RULE = "other_rule"


@dataclass(frozen=True)
class Blocker:
    """One reason: a stable code, how many contacts it holds (None: the whole campaign), a sentence, and when
    it is expected to change (None: not by waiting; someone must act)."""

    code: str
    count: int | None
    sentence: str
    changes_at: datetime | None = None
    estimated: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["changes_at"] = self.changes_at.isoformat() if self.changes_at else None
        return data


@dataclass(frozen=True)
class Budget:
    """The campaign's 30-day abandonment figures and how many more drops the target allows."""

    live_answers: int
    abandoned: int
    rate: float
    target: float
    left: int  # drops still allowed over the rolling 30 days before the rate passes the target
    spent: bool
    oldest_drop_leaves_at: datetime | None  # when the oldest counted drop leaves the 30-day window

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["oldest_drop_leaves_at"] = self.oldest_drop_leaves_at.isoformat() if self.oldest_drop_leaves_at else None
        return data


@dataclass(frozen=True)
class DialReport:
    """Whether the campaign can dial now, the campaign-wide blockers, and the contacts left split by reason."""

    campaign_id: int
    dialing: bool
    blockers: list[Blocker]
    contacts: list[Blocker]
    dialable_now: int
    remaining: int
    in_call: int
    budget: Budget
    at: datetime
    estimated: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "dialing": self.dialing,
            "blockers": [b.to_dict() for b in self.blockers],
            "contacts": [b.to_dict() for b in self.contacts],
            "dialable_now": self.dialable_now,
            "remaining": self.remaining,
            "in_call": self.in_call,
            "budget": self.budget.to_dict(),
            "at": self.at.isoformat(),
            "estimated": self.estimated,
        }


def abandonment_budget(conn: Connection, campaign: Campaign, now: datetime) -> Budget:
    """The rolling 30-day figures of ``compliance_reports`` against the campaign's own target.

    ``left`` counts the drops still allowed with the live answers so far (more
    answers raise it); ``spent`` follows the engine's rule (more drops than
    target x live answers, with one drop of slack), under which the dialer only
    dials for free agents.
    """
    rolling = abandonment_periods(conn, campaign.id, now)[-1]
    live, dropped = int(rolling["live_answers"]), int(rolling["abandoned"])
    target = float(campaign.target_abandon)
    allowed = target * live
    oldest = conn.execute(
        select(func.min(CallAttempt.placed_at)).where(
            CallAttempt.campaign_id == campaign.id,
            CallAttempt.abandoned_at.is_not(None),
            CallAttempt.placed_at >= now - PERIOD,
        )
    ).scalar_one_or_none()
    leaves = None if oldest is None else _aware(oldest) + PERIOD
    return Budget(
        live_answers=live,
        abandoned=dropped,
        rate=round(dropped / live, 6) if live else 0.0,
        target=target,
        left=max(0, math.floor(allowed + 1e-9) - dropped),
        spent=dropped > allowed + 1.0,
        oldest_drop_leaves_at=leaves,
    )


def why_not_dialing(
    conn: Connection,
    campaign: Campaign,
    live: Mapping[str, str] | None,
    now: datetime | None = None,
    *,
    gate: DialGate | None = None,
    sample_limit: int = SAMPLE_LIMIT,
) -> DialReport:
    """Every reason the campaign does not dial now, from the database and the dialer's live hash.

    ``live`` is the ``dialer:live:{id}`` hash as text (None or empty: no dialer
    holds the campaign).  ``gate`` defaults to the full default gate without
    stores (DNC is counted here from the lists themselves).
    """
    now = _aware(now or datetime.now(UTC))
    gate = gate or default_gate()
    budget = abandonment_budget(conn, campaign, now)
    by_status = dict(conn.execute(
        select(Contact.status, func.count()).where(Contact.campaign_id == campaign.id).group_by(Contact.status)
    ).all())
    dialable_statuses = sum(int(by_status.get(s, 0)) for s in DIALABLE_STATUSES)
    in_call = int(by_status.get(ContactStatus.IN_CALL.value, 0))

    contacts, dialable_now, estimated = _contact_reasons(conn, campaign, now, gate, by_status, sample_limit)
    blockers = _campaign_reasons(campaign, live, budget, dialable_statuses, in_call, dialable_now, contacts)
    hard = {NOT_ACTIVE, NO_DIALER, NO_AGENTS, AGENTS_PAUSED, LIST_EXHAUSTED, NOTHING_DIALABLE_NOW}
    dialing = not any(b.code in hard for b in blockers)
    return DialReport(
        campaign_id=campaign.id, dialing=dialing, blockers=blockers, contacts=contacts, dialable_now=dialable_now,
        remaining=dialable_statuses, in_call=in_call, budget=budget, at=now, estimated=estimated,
    )


def _campaign_reasons(
    campaign: Campaign,
    live: Mapping[str, str] | None,
    budget: Budget,
    dialable_statuses: int,
    in_call: int,
    dialable_now: int,
    contacts: list[Blocker],
) -> list[Blocker]:
    out: list[Blocker] = []
    status = campaign.status
    if status != CampaignStatus.ACTIVE.value:
        words = {
            CampaignStatus.DRAFT.value: "has not been started yet",
            CampaignStatus.PAUSED.value: "is paused; resume it to dial again",
            CampaignStatus.FINISHED.value: "is finished and never dials again",
        }
        out.append(Blocker(NOT_ACTIVE, None, f"The campaign {words.get(status, f'is {status}')}."))
    elif not live:
        out.append(Blocker(NO_DIALER, None, "No dialer process is running this campaign right now "
                                            "(its live state is missing); start the dialer service."))
    if live:
        working = _int(live.get("agents_working"))
        paused = _int(live.get("agents_paused"))
        if working == 0 and paused == 0:
            out.append(Blocker(NO_AGENTS, None, "No agent is logged in to this campaign."))
        elif working == 0:
            out.append(Blocker(AGENTS_PAUSED, None,
                               f"All {paused} logged-in agent{'s are' if paused != 1 else ' is'} paused."))
    if budget.spent and campaign.dial_mode in OVERDIALING_MODES:
        out.append(Blocker(
            BUDGET_SPENT, None,
            f"The abandonment budget is spent: {budget.abandoned} abandoned of {budget.live_answers} live answers "
            f"over 30 days ({budget.rate:.2%}, target {budget.target:.1%}). Held to progressive: it dials only "
            "for free agents until answers grow or old drops leave the 30-day window.",
            budget.oldest_drop_leaves_at,
        ))
    if dialable_statuses == 0:
        tail = f" ({in_call} still on a call)" if in_call else ""
        out.append(Blocker(LIST_EXHAUSTED, 0, f"The list is exhausted: no contact is left to dial{tail}."))
    elif dialable_now == 0:
        soonest = min((b.changes_at for b in contacts if b.changes_at is not None), default=None)
        when = f"; the first becomes dialable at {soonest:%H:%M} UTC" if soonest else ""
        out.append(Blocker(NOTHING_DIALABLE_NOW, dialable_statuses,
                           f"None of the {dialable_statuses} contacts left can be dialed right now{when}.", soonest))
    return out


def _contact_reasons(
    conn: Connection,
    campaign: Campaign,
    now: datetime,
    gate: DialGate,
    by_status: Mapping[str, int],
    sample_limit: int,
) -> tuple[list[Blocker], int, bool]:
    cid = campaign.id
    dialable = Contact.status.in_(DIALABLE_STATUSES)
    under_limit = or_(Contact.attempts < campaign.max_attempts, Contact.status == ContactStatus.CALLBACK.value)
    out: list[Blocker] = []

    waiting = conn.execute(
        select(func.count(), func.min(Contact.next_eligible_at)).where(
            Contact.campaign_id == cid, dialable, under_limit, Contact.next_eligible_at > now)
    ).one()
    if waiting[0]:
        first = _aware(waiting[1]) if waiting[1] is not None else None
        out.append(Blocker(RETRY_WAIT, int(waiting[0]),
                           f"{_n(waiting[0])} waiting for their retry or callback time"
                           + (f"; the first is due at {first:%Y-%m-%d %H:%M} UTC." if first else "."), first))

    over = conn.scalar(select(func.count()).where(Contact.campaign_id == cid, dialable, ~under_limit)) or 0
    exhausted = int(by_status.get(ContactStatus.EXHAUSTED.value, 0)) + int(over)
    if exhausted:
        out.append(Blocker(ATTEMPTS_EXHAUSTED, exhausted,
                           f"{_n(exhausted)} used up all {campaign.max_attempts} attempts."))

    # Eligible now by time: which phone the hopper would dial, and what the gate says of it.
    eligible = and_(Contact.campaign_id == cid, dialable, under_limit,
                    or_(Contact.next_eligible_at.is_(None), Contact.next_eligible_at <= now))
    total_eligible = int(conn.scalar(select(func.count()).where(eligible)) or 0)
    rows = conn.execute(
        select(Contact.id, Contact.attempts, Contact.state, Contact.postal_code, Contact.timezone)
        .where(eligible)
        .order_by(Contact.priority.desc(), Contact.next_eligible_at.is_not(None), Contact.next_eligible_at,
                  Contact.id)
        .limit(sample_limit)
    ).all()
    phones: dict[int, list[Any]] = {}
    ids = [r.id for r in rows]
    for start in range(0, len(ids), _DNC_BATCH):
        for phone in conn.execute(
            select(ContactPhone.contact_id, ContactPhone.e164, ContactPhone.timezones)
            .where(ContactPhone.contact_id.in_(ids[start:start + _DNC_BATCH]), ContactPhone.status == "ok")
            .order_by(ContactPhone.contact_id, ContactPhone.position, ContactPhone.id)
        ):
            phones.setdefault(phone.contact_id, []).append(phone)

    counts: Counter[str] = Counter()
    next_at: dict[str, datetime] = {}
    other_codes: Counter[str] = Counter()
    chosen: list[tuple[Any, Any]] = []
    for row in rows:
        options = phones.get(row.id)
        if not options:
            counts[BAD_PHONES] += 1
            continue
        chosen.append((row, options[row.attempts % len(options)]))
    listed = _dnc_listed(conn, cid, [phone.e164 for _, phone in chosen])

    policy = CampaignPolicy(cid, CallingWindow.parse(campaign.calling_window), campaign.purpose,
                            prerecorded=campaign.prerecorded)
    verdicts: dict[tuple[Any, ...], tuple[str | None, datetime | None, str]] = {}
    for row, phone in chosen:
        if phone.e164 in listed:
            counts[DNC] += 1
            continue
        zones = tuple(phone.timezones or ())
        if row.timezone:
            zones = tuple(dict.fromkeys((*zones, row.timezone)))
        key = (zones, row.state, row.postal_code if not zones else None, phone.e164[:5])
        verdict = verdicts.get(key)
        if verdict is None:
            verdict = verdicts[key] = _hours_verdict(gate, policy, phone.e164, zones, row, now)
        reason, when, code = verdict
        if reason is None:
            counts["ok"] += 1
            continue
        counts[reason] += 1
        if reason == OTHER_RULE:
            other_codes[code] += 1
        if when is not None and (reason not in next_at or when < next_at[reason]):
            next_at[reason] = when

    scale = total_eligible / len(rows) if rows and total_eligible > len(rows) else 1.0
    estimated = scale > 1.0

    def scaled(n: int) -> int:
        return round(n * scale)

    if counts[DNC] or by_status.get(ContactStatus.DNC.value):
        n = scaled(counts[DNC]) + int(by_status.get(ContactStatus.DNC.value, 0))
        out.append(Blocker(DNC, n, f"{_n(n)} on a do-not-call list.", estimated=estimated and counts[DNC] > 0))
    if counts[OUTSIDE_HOURS]:
        n, when = scaled(counts[OUTSIDE_HOURS]), next_at.get(OUTSIDE_HOURS)
        out.append(Blocker(OUTSIDE_HOURS, n,
                           f"{_n(n)} outside calling hours where they live right now"
                           + (f"; hours open for the first at {when:%H:%M} UTC." if when else "."),
                           when, estimated))
    bad = scaled(counts[BAD_PHONES]) + int(by_status.get(ContactStatus.BAD_NUMBER.value, 0))
    if bad:
        out.append(Blocker(BAD_PHONES, bad, f"{_n(bad)} without a working phone number.",
                           estimated=estimated and counts[BAD_PHONES] > 0))
    if counts[UNKNOWN_TIMEZONE]:
        n = scaled(counts[UNKNOWN_TIMEZONE])
        out.append(Blocker(UNKNOWN_TIMEZONE, n, f"{_n(n)} whose time zone is unknown, so their calling hours "
                                                "cannot be checked; add a state, postal code or time zone.",
                           estimated=estimated))
    held = int(by_status.get(ContactStatus.HELD.value, 0))
    if held:
        out.append(Blocker(HELD, held, f"{_n(held)} held by the dial gate until someone acts on them."))
    if counts[OTHER_RULE]:
        n, when = scaled(counts[OTHER_RULE]), next_at.get(OTHER_RULE)
        codes = ", ".join(code for code, _ in other_codes.most_common(3))
        out.append(Blocker(OTHER_RULE, n, f"{_n(n)} blocked by another calling rule ({codes}).", when, estimated))
    dialable_now = scaled(counts["ok"])
    return out, dialable_now, estimated


def _hours_verdict(
    gate: DialGate, policy: CampaignPolicy, e164: str, zones: tuple[str, ...], row: Any, now: datetime
) -> tuple[str | None, datetime | None, str]:
    """(reason or None when dialable, when it changes, the first gate code) for one group of contacts."""
    decision = gate.can_dial(DialTarget(e164, zones, row.state, row.postal_code, row.id, history=()), policy, now)
    if decision.allowed:
        return None, None, "ok"
    codes = set(decision.codes)
    first = decision.codes[0] if decision.codes else "blocked"
    if "unknown_timezone" in codes:
        return UNKNOWN_TIMEZONE, None, "unknown_timezone"
    if codes & HOURS_CODES and codes <= HOURS_CODES:
        return OUTSIDE_HOURS, decision.next_allowed_at, first
    return OTHER_RULE, decision.next_allowed_at, first


def _dnc_listed(conn: Connection, campaign_id: int, numbers: list[str]) -> set[str]:
    found: set[str] = set()
    unique = sorted(set(numbers))
    for start in range(0, len(unique), _DNC_BATCH):
        chunk = unique[start:start + _DNC_BATCH]
        found.update(conn.scalars(select(DncEntry.e164).where(
            DncEntry.e164.in_(chunk), or_(DncEntry.campaign_id.is_(None), DncEntry.campaign_id == campaign_id))))
    return found


def _n(count: int) -> str:
    return f"{count} contact{'s' if count != 1 else ''}"


def _int(value: str | None) -> int:
    try:
        return int(float(value or 0))
    except ValueError:
        return 0


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


__all__ = ["Blocker", "Budget", "DialReport", "abandonment_budget", "why_not_dialing"]
