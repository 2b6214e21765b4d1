"""The engine's database adapters: leads in, call records and outcomes out.

The engine is pure and knows nothing of SQL; these classes implement its
``LeadSource``, ``Recorder`` and ``DecisionLog`` interfaces.  Two rules hold
whatever the buffering:

* a lead is claimed (its attempt row inserted under a unique constraint and
  the contact's attempt count moved on) and committed *before* the call is
  placed, so a crash can never dial the same attempt twice;
* call records are written from the engine's ``Call`` object, which holds
  every milestone; a late flush rewrites the whole row, so nothing is lost
  by batching except the last unflushed seconds of a crash, which the
  carrier's webhooks replay.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    Table,
    bindparam,
    case,
    false,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns import surveys
from campaigns.audit_store import NewEvent, append_events
from campaigns.dnc_store import add_numbers
from campaigns.lead_filters import FilterError, compile_filter
from campaigns.models import (
    DIALABLE_STATUSES,
    Agent,
    AgentStateChange,
    CallAttempt,
    Campaign,
    Contact,
    ContactPhone,
    ContactStatus,
    DialDecisionRecord,
    DispositionCode,
    DncEntry,
)
from campaigns.recycling import (
    PhoneOption,
    SettingError,
    lead_order_by,
    next_phone,
    parse_lead_order,
    parse_phone_order,
)
from campaigns.survey_models import CampaignSurvey
from compliance.gate import CampaignPolicy, Decision, DialTarget
from compliance.history import Attempt
from dialer.agents import AgentMove
from dialer.calls import Call
from dialer.hopper import Lead
from dialer.outcomes import ContactUpdate, DispositionRule, RetryPolicy, next_step, stays_on_phone

log = logging.getLogger(__name__)


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def to_dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


#: The reason code of a contact kept back because the list puts them in a full quota cell.
QUOTA_FULL = "quota_full"
#: How long such a contact waits before the hopper looks at it again: a cell reopens when a supervisor
#: publishes a version with a higher target, and its contacts come back within this time.
QUOTA_RECHECK_S = 3600.0
# Fetches in one refill when contacts of full cells take the places: each round defers them, so the next
# finds others.
_QUOTA_ROUNDS = 4


class SqlLeadSource:
    """Eligible contacts of one campaign, in the campaign's lead order; each with the phone to dial next.

    The campaign's ``lead_order``, ``lead_filter`` and ``phone_order`` are read
    at start and again every ``settings_refresh_s`` (of the engine's clock), so
    a supervisor's change reaches a running campaign within that time.
    Statements are built only when the settings change: the hopper runs every
    tick, and building SQLAlchemy expressions costs more than running them on
    SQLite.

    A campaign that asks a questionnaire with quota cells skips the contacts
    its list already puts in a full cell (``campaigns.surveys``, counted once
    per fetch): each is deferred by ``QUOTA_RECHECK_S`` and counted in
    ``skipped`` under ``QUOTA_FULL``, so the floor can say why they wait.
    """

    def __init__(self, db: Engine, campaign_id: int, *, max_attempts: int,
                 settings_refresh_s: float = 30.0) -> None:
        self.db = db
        self.campaign_id = campaign_id
        self.max_attempts = max_attempts
        self.settings_refresh_s = settings_refresh_s
        self._settings: tuple[Any, ...] | None = None
        self._settings_at: float | None = None
        self.phone_order: list[str] = []
        self.lead_order = "priority"
        self._eligible: Select[Any] = cast(Select[Any], select(Contact.id))
        self.skipped: Counter[str] = Counter()  # reason code -> contacts kept back by the source itself
        self._asks_survey = False
        self._load_settings()
        self._phones = (
            select(ContactPhone.id, ContactPhone.contact_id, ContactPhone.e164, ContactPhone.timezones,
                   ContactPhone.label, ContactPhone.position, ContactPhone.attempts)
            .where(ContactPhone.contact_id.in_(bindparam("ids", expanding=True)), ContactPhone.status == "ok")
            .order_by(ContactPhone.contact_id, ContactPhone.position, ContactPhone.id)
        )
        self._take = (
            update(Contact)
            .where(
                Contact.id == bindparam("cid"),
                Contact.attempts == bindparam("before"),
                Contact.status.in_(DIALABLE_STATUSES),
            )
            .values(status=ContactStatus.IN_CALL.value, attempts=bindparam("after"),
                    last_attempt_at=bindparam("when"))
        )
        # A phone's dials count its turns in the contact's rounds (see campaigns.recycling.next_phone).
        self._dial_phones = (
            update(ContactPhone)
            .where(ContactPhone.id.in_(bindparam("pids", expanding=True)))
            .values(attempts=ContactPhone.attempts + 1)
        )
        self._attempt = insert(CallAttempt).returning(CallAttempt.id)
        self._attempts = insert(CallAttempt).returning(CallAttempt.id, sort_by_parameter_order=True)

    def _load_settings(self) -> None:
        with self.db.connect() as conn:
            row = conn.execute(
                select(Campaign.lead_order, Campaign.lead_filter, Campaign.phone_order)
                .where(Campaign.id == self.campaign_id)
            ).one_or_none()
            self._asks_survey = conn.execute(
                select(CampaignSurvey.campaign_id).where(CampaignSurvey.campaign_id == self.campaign_id)
            ).first() is not None
        settings = (row.lead_order, row.lead_filter, row.phone_order) if row is not None else ("priority", {}, [])
        if settings == self._settings:
            return
        self._settings = settings
        lead_order, lead_filter, phone_order = settings
        try:
            self.lead_order = parse_lead_order(lead_order)
        except SettingError as exc:
            log.error("campaign %s: %s; dialing in priority order", self.campaign_id, exc)
            self.lead_order = "priority"
        try:
            self.phone_order = parse_phone_order(phone_order)
        except SettingError as exc:
            log.error("campaign %s: %s; dialing phones in the list's order", self.campaign_id, exc)
            self.phone_order = []
        chosen: ColumnElement[bool]
        try:
            chosen = compile_filter(lead_filter)
        except FilterError as exc:
            # Closed, not open: a filter exists to keep contacts out, and dialing them all may break a promise.
            log.error("campaign %s: %s; dialing no contact until the filter is fixed", self.campaign_id, exc)
            chosen = false()
        self._eligible = cast(Select[Any], (
            select(
                Contact.id, Contact.attempts, Contact.priority, Contact.state,
                Contact.postal_code, Contact.timezone, Contact.status, Contact.next_phone_id,
            )
            .where(
                Contact.campaign_id == self.campaign_id,
                Contact.status.in_(DIALABLE_STATUSES),
                or_(Contact.attempts < self.max_attempts, Contact.status == ContactStatus.CALLBACK.value),
                or_(Contact.next_eligible_at.is_(None), Contact.next_eligible_at <= bindparam("when")),
                chosen,
            )
            .order_by(*lead_order_by(self.lead_order, self.campaign_id))
            .limit(bindparam("limit"))
        ))

    def fetch(self, now: float, limit: int, exclude: Collection[int]) -> list[Lead]:
        if self._settings_at is None:
            self._settings_at = now
        elif now - self._settings_at >= self.settings_refresh_s:
            self._settings_at = now
            self._load_settings()
        rows = self._eligible_rows(now, limit, exclude)
        if not rows:
            return []
        with self.db.connect() as conn:
            phones: dict[int, list[Any]] = {}
            for phone in conn.execute(self._phones, {"ids": [r.id for r in rows]}):
                phones.setdefault(phone.contact_id, []).append(phone)
        leads = []
        for row in rows:
            found = {p.id: p for p in phones.get(row.id, ())}
            choice = next_phone(
                [PhoneOption(p.id, p.label, p.position, p.attempts) for p in found.values()],
                self.phone_order, row.next_phone_id,
            )
            if choice is None:
                continue  # no usable phone: left for the list-health report, never dialed
            phone = found[choice.id]
            zones = tuple(phone.timezones or ())
            if row.timezone:
                zones = tuple(dict.fromkeys((*zones, row.timezone)))
            leads.append(
                Lead(row.id, phone.e164, row.attempts + 1, phone.id, zones, row.state, row.postal_code,
                     row.priority, callback=row.status == ContactStatus.CALLBACK.value)
            )
        return leads

    def _eligible_rows(self, now: float, limit: int, exclude: Collection[int]) -> list[Any]:
        """The next eligible contacts, less those the list puts in a full quota cell (deferred here)."""
        screen = self._quota_screen() if self._asks_survey else None
        kept: list[Any] = []
        for _ in range(_QUOTA_ROUNDS):
            leave_out = {*exclude, *(r.id for r in kept)}
            wanted = limit - len(kept)
            with self.db.connect() as conn:
                rows = [
                    r for r in conn.execute(self._eligible, {"when": to_dt(now), "limit": wanted + len(leave_out)})
                    if r.id not in leave_out
                ][:wanted]
            if screen is None or not rows:
                return kept + rows
            full = self._in_full_cells(rows, screen)
            kept += [r for r in rows if r.id not in full]
            if not full:
                return kept
            with self.db.begin() as conn:
                conn.execute(update(Contact).where(Contact.id.in_(full))
                             .values(next_eligible_at=to_dt(now + QUOTA_RECHECK_S)))
            self.skipped[QUOTA_FULL] += len(full)
            if len(kept) >= limit:
                return kept
        return kept

    def _quota_screen(self) -> Callable[[dict[str, Any]], str | None] | None:
        try:
            with Session(self.db) as session:
                return surveys.full_cell_screen(session, self.campaign_id)
        except surveys.SurveyError as exc:
            log.error("campaign %s: %s; dialing without the quota screen", self.campaign_id, exc)
            return None

    def _in_full_cells(self, rows: list[Any], screen: Callable[[dict[str, Any]], str | None]) -> set[int]:
        with self.db.connect() as conn:
            custom: dict[int, Any] = dict(conn.execute(
                select(Contact.id, Contact.custom_fields).where(Contact.id.in_([r.id for r in rows]))).all())
        return {
            r.id for r in rows
            if r.status != ContactStatus.CALLBACK.value  # a callback is a promise to the person: kept
            and screen({"state": r.state, "postal_code": r.postal_code, "timezone": r.timezone,
                       "custom_fields": custom.get(r.id) or {}}) is not None
        }

    def claim(self, leads: list[Lead], now: float) -> list[Lead]:
        """Claim in one transaction of four statements whatever the number of leads.

        The live dialer claims on its only thread, and a statement per lead (four
        round trips each) held it for a tenth of a second at fifty calls a second,
        while answered people waited for their connect.
        """
        when = to_dt(now)
        if not leads:
            return []
        if len({lead.contact_id for lead in leads}) != len(leads):
            return self._claim_each(leads, when)
        with self.db.begin() as conn:
            moved = set(conn.scalars(
                update(Contact)
                .where(
                    Contact.id.in_([lead.contact_id for lead in leads]),
                    Contact.status.in_(DIALABLE_STATUSES),
                    # Only if nobody took it or changed it since it was fetched.
                    Contact.attempts == case({lead.contact_id: lead.attempt_number - 1 for lead in leads},
                                             value=Contact.id),
                )
                .values(status=ContactStatus.IN_CALL.value, attempts=Contact.attempts + 1, last_attempt_at=when)
                .returning(Contact.id)
            ))
            taken = [lead for lead in leads if lead.contact_id in moved]
            if not taken:
                return []
            rows = [self._attempt_row(lead, when) for lead in taken]
            try:
                with conn.begin_nested():
                    ids = list(conn.scalars(self._attempts, rows))
                claimed = [replace(lead, attempt_id=attempt_id) for lead, attempt_id in zip(taken, ids, strict=True)]
            except IntegrityError:
                claimed = self._insert_each(conn, taken, rows)
            self._count_dials(conn, claimed)
        return claimed

    def _count_dials(self, conn: Connection, claimed: list[Lead]) -> None:
        phone_ids = [lead.phone_id for lead in claimed if lead.phone_id is not None]
        if phone_ids:
            conn.execute(self._dial_phones, {"pids": phone_ids})

    def _claim_each(self, leads: list[Lead], when: datetime | None) -> list[Lead]:
        claimed = []
        with self.db.begin() as conn:
            for lead in leads:
                moved = conn.execute(
                    self._take,
                    {"cid": lead.contact_id, "before": lead.attempt_number - 1,
                     "after": lead.attempt_number, "when": when},
                ).rowcount
                if moved != 1:
                    continue  # someone else took it, or it changed since it was fetched
                claimed += self._insert_each(conn, [lead], [self._attempt_row(lead, when)])
            self._count_dials(conn, claimed)
        return claimed

    def _insert_each(self, conn: Connection, leads: list[Lead], rows: list[dict[str, Any]]) -> list[Lead]:
        """One attempt row at a time: an attempt that exists already (the unique constraint) is not ours."""
        claimed = []
        for lead, row in zip(leads, rows, strict=True):
            try:
                with conn.begin_nested():
                    attempt_id = conn.execute(self._attempt, row).scalar_one()
            except IntegrityError:
                continue
            claimed.append(replace(lead, attempt_id=attempt_id))
        return claimed

    def _attempt_row(self, lead: Lead, when: datetime | None) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id, "contact_id": lead.contact_id, "phone_id": lead.phone_id,
            "e164": lead.e164, "caller_id": "", "attempt_number": lead.attempt_number, "state": "queued",
            "queued_at": when, "notes": "",
        }

    def defer(self, lead: Lead, until: float | None, codes: tuple[str, ...]) -> None:
        values: dict[str, Any]
        if until is not None:
            values = {"next_eligible_at": to_dt(until)}
        elif any(code.startswith("dnc_") for code in codes):
            values = {"status": ContactStatus.DNC.value}
        elif "max_attempts" in codes:
            values = {"status": ContactStatus.EXHAUSTED.value}
        else:
            values = {"status": ContactStatus.HELD.value}
        with self.db.begin() as conn:
            conn.execute(update(Contact).where(Contact.id == lead.contact_id).values(**values))


class SqlDnc:
    """Company and campaign do-not-call lists, read into memory and refreshed now and then."""

    def __init__(self, db: Engine, *, refresh_s: float = 60.0,
                 clock: Callable[[], float] | None = None) -> None:
        self.db = db
        self.refresh_s = refresh_s
        self.clock = clock
        self._loaded_at: float | None = None
        self._company: set[str] = set()
        self._added: set[str] = set()
        self._campaign: set[tuple[str, int]] = set()

    def listed(self, e164: str, campaign_id: int) -> str | None:
        self._maybe_refresh()
        if e164 in self._company:
            return "company"
        if (e164, campaign_id) in self._campaign:
            return "campaign"
        return None

    def add_company(self, e164: str) -> None:
        """Listed in memory at once; kept across refreshes, which may run before the database row is written."""
        self._company.add(e164)
        self._added.add(e164)

    def _maybe_refresh(self) -> None:
        now = self.clock() if self.clock else datetime.now(UTC).timestamp()
        if self._loaded_at is not None and now - self._loaded_at < self.refresh_s:
            return
        self._loaded_at = now
        with self.db.connect() as conn:
            rows = conn.execute(select(DncEntry.e164, DncEntry.campaign_id)).all()
        self._company = {r.e164 for r in rows if r.campaign_id is None} | self._added
        self._campaign = {(r.e164, r.campaign_id) for r in rows if r.campaign_id is not None}


_ATTEMPT_COLUMNS = (
    "carrier_call_id", "state", "answer_class", "amd_verdict", "end_reason", "placed_at", "ringing_at",
    "answered_at", "amd_at", "agent_reserved_at", "connected_at", "abandoned_at", "message_played_at",
    "ended_at", "wrap_ended_at", "agent_id", "ring_s", "talk_s", "wrap_s", "disposition", "notes", "caller_id",
)


class SqlRecorder:
    """Writes call records, contact outcomes, agent moves and gate decisions.

    ``autoflush`` writes at every event; a simulation turns it off and calls
    ``flush`` on a timer, which is much faster on SQLite, and so does the live
    dialer, once per pass of its loop and before every claim (one transaction
    for a pass's events instead of one for each).
    """

    def __init__(
        self,
        db: Engine,
        campaign_id: int,
        retry: RetryPolicy,
        *,
        autoflush: bool = True,
        dnc: SqlDnc | None = None,
        history: CampaignAttemptHistory | None = None,
    ) -> None:
        self.db = db
        self.history = history
        self.campaign_id = campaign_id
        self.retry = retry
        self.autoflush = autoflush
        self.dnc = dnc
        self._calls: dict[int, Call] = {}
        self._finished: list[Call] = []
        self._moves: list[dict[str, Any]] = []
        self._decisions: list[dict[str, Any]] = []
        self._audit: list[NewEvent] = []
        self._rules: dict[str, DispositionRule] = {}
        self._update_attempt = (
            update(_table(CallAttempt))
            .where(_table(CallAttempt).c.id == bindparam("attempt_id"))
            .values({name: bindparam(name) for name in _ATTEMPT_COLUMNS})
        )
        self._update_contact = (
            update(_table(Contact))
            .where(_table(Contact).c.id == bindparam("contact_id"),
                   _table(Contact).c.status == ContactStatus.IN_CALL.value)
            .values(status=bindparam("new_status"), next_eligible_at=bindparam("next_at"),
                    last_disposition=bindparam("code"), next_phone_id=bindparam("next_phone"))
        )
        with self.db.connect() as conn:
            codes = conn.execute(
                select(DispositionCode).where(
                    or_(DispositionCode.campaign_id.is_(None), DispositionCode.campaign_id == campaign_id)
                ).order_by(DispositionCode.campaign_id.is_not(None))
            ).all()
            for code in codes:  # campaign codes come last and override the defaults
                self._rules[code.code] = DispositionRule(
                    code.code, code.final, code.retry_after_min, code.adds_to_dnc, code.callback,
                    code.human_answered, sale=code.sale, wrong_number=code.wrong_number,
                    answering_machine=code.answering_machine, max_retries=code.max_retries,
                    different_hour=code.different_hour,
                )
            self._campaign_zone = _zone(
                conn.scalar(select(Campaign.schedule_tz).where(Campaign.id == campaign_id)), UTC
            ) or UTC
            self._agent_ids: dict[str, int] = {
                row.login: row.id for row in conn.execute(select(Agent.login, Agent.id))
            }

    # Recorder ---------------------------------------------------------------------------
    def call_changed(self, call: Call, milestone: str) -> None:
        if call.attempt_id is not None:
            self._calls[call.attempt_id] = call
        if self.autoflush:
            self.flush()

    def call_finished(self, call: Call) -> None:
        if call.attempt_id is not None:
            self._calls[call.attempt_id] = call
        self._finished.append(call)
        if self.history is not None:
            self.history.record(call)
        if self.dnc is not None and self._plan_outcome(call).add_to_dnc:
            # The gate must know at once, not when the batch is written: the next dial may be the same number.
            self.dnc.add_company(call.e164)
        if self.autoflush:
            self.flush()

    def agent_moved(self, move: AgentMove) -> None:
        self._moves.append({"login": move.agent_id, "state": move.new.value, "reason": move.reason,
                            "at": to_dt(move.at)})
        if self.autoflush:
            self.flush()

    # DecisionLog ------------------------------------------------------------------------
    def record(self, lead: Lead, decision: Decision, path: str) -> None:
        self._audit.append(NewEvent(
            "dial_decision",
            {"path": path, "contact_id": lead.contact_id, "decision": decision.to_dict(),
             "candidate_zones": list(lead.timezones)},
            campaign_id=self.campaign_id, e164=lead.e164, at=decision.at,
        ))
        self._decisions.append({
            "at": decision.at, "campaign_id": self.campaign_id, "contact_id": lead.contact_id,
            "e164": lead.e164, "path": path, "allowed": decision.allowed,
            "reasons": [
                {"rule": r.rule, "code": r.code, "passed": r.passed, "detail": r.detail}
                for r in decision.results
            ],
            "next_allowed_at": None if decision.allowed else decision.next_allowed_at,
        })
        if self.autoflush:
            self.flush()

    # writing ----------------------------------------------------------------------------
    @property
    def pending(self) -> bool:
        """Whether anything waits to be written (a flush with nothing to write costs nothing)."""
        return bool(self._calls or self._finished or self._moves or self._decisions or self._audit)

    def discard(self) -> None:
        """Forget what was not written: another process owns the campaign now and replays it from the bus."""
        self._calls, self._finished, self._moves, self._decisions, self._audit = {}, [], [], [], []

    def flush(self) -> None:
        batch = self.take()
        if batch is None:
            return
        try:
            self.write(batch)
        except Exception:
            self.put_back(batch)  # kept for the next flush: a database hiccup must not lose a call record
            raise

    def take(self) -> RecorderBatch | None:
        """What is buffered, as rows, taken on the engine's thread (the calls are the engine's live objects)."""
        if not self.pending:
            return None
        calls, self._calls = self._calls, {}
        finished, self._finished = self._finished, []
        moves, self._moves = self._moves, []
        decisions, self._decisions = self._decisions, []
        audit, self._audit = self._audit, []
        attempts = [{**attempt_row(call), "attempt_id": attempt_id} for attempt_id, call in calls.items()]
        return RecorderBatch(
            calls, finished, moves, decisions, audit, attempts,
            [*audit, *(call_closed_event(call) for call in finished)],
            [self._plan_outcome(call) for call in finished],
        )

    def write(self, batch: RecorderBatch) -> None:
        """One transaction for a taken batch; any thread may run it, one batch at a time."""
        agents = dict(self._agent_ids)
        try:
            with self.db.begin() as conn:
                append_events(conn, batch.events)
                if batch.decisions:
                    conn.execute(insert(DialDecisionRecord), batch.decisions)
                if batch.moves:
                    self._write_moves(conn, batch.moves)
                if batch.attempts:
                    rows = []
                    for attempt in batch.attempts:
                        row = dict(attempt)
                        login = row.pop("agent_login")
                        row["agent_id"] = self._agent_ids.get(login) if login else None
                        rows.append(row)
                    conn.execute(self._update_attempt, rows)
                outcomes = [self._outcome(conn, plan) for plan in batch.outcomes]
                if outcomes:
                    conn.execute(self._update_contact, outcomes)
        except Exception:
            self._agent_ids = agents  # agent rows inserted in the failed transaction do not exist
            raise

    def put_back(self, batch: RecorderBatch) -> None:
        """A batch whose write failed goes back in front of what came since, to be taken again."""
        self._calls = {**batch.calls, **self._calls}
        self._finished[:0] = batch.finished
        self._moves[:0] = batch.moves
        self._decisions[:0] = batch.decisions
        self._audit[:0] = batch.audit

    def _write_moves(self, conn: Connection, moves: list[dict[str, Any]]) -> None:
        for login in {m["login"] for m in moves} - set(self._agent_ids):
            self._agent_ids[login] = conn.execute(
                insert(Agent).values(login=login, name=login, state="offline").returning(Agent.id)
            ).scalar_one()
        conn.execute(insert(AgentStateChange), [
            {"agent_id": self._agent_ids[m["login"]], "campaign_id": self.campaign_id,
             "state": m["state"], "reason": m["reason"], "at": m["at"]} for m in moves
        ])
        last: dict[str, dict[str, Any]] = {m["login"]: m for m in moves}
        conn.execute(
            update(_table(Agent)).where(_table(Agent).c.id == bindparam("agent_id"))
            .values(state=bindparam("new_state"), state_since=bindparam("since")),
            [{"agent_id": self._agent_ids[login], "new_state": m["state"], "since": m["at"]}
             for login, m in last.items()],
        )

    def _plan_outcome(self, call: Call) -> OutcomePlan:
        """The contact's next step, decided from the call (pure); ``_outcome`` writes it.

        What the person said outranks the code's rule: a do-not-call request puts the
        number on the company list whatever the code, and a callback time the agent
        agreed with them is when the contact is due (unless the number is dead or barred).
        A rule that counts the contact's earlier codes or places the retry in their day
        is finished in ``_outcome``, which reads what it needs.
        """
        code = call.disposition or "NA"
        rule = self._rules.get(code) or DispositionRule(code)
        ended = call.at("wrap_ended") or call.at("ended") or call.at("queued") or 0.0
        placed = call.at("queued") or ended
        callback_at = call.at("callback")
        step = next_step(rule, attempts=call.attempt_number, policy=self.retry, now=ended, callback_at=callback_at)
        status, next_at, add_to_dnc = step.status, step.next_eligible_at, step.add_to_dnc
        if call.has("dnc_requested"):
            status, next_at, add_to_dnc = ContactStatus.DNC.value, None, True
        elif callback_at is not None and not step.add_to_dnc and not step.phone_bad:
            status, next_at = ContactStatus.CALLBACK.value, callback_at
        return OutcomePlan(call.contact_id, call.phone_id, call.attempt_number, call.e164, call.agent_id, code, ended,
                           status, next_at, step.phone_bad, add_to_dnc, rule=rule, placed=placed)

    def _outcome(self, conn: Connection, plan: OutcomePlan) -> dict[str, Any]:
        """Write what the outcome needs besides the contact row (DNC, bad phones); return the contact's row update."""
        status, next_at = plan.status, plan.next_at
        if plan.rule is not None and plan.rule.needs_history and status == ContactStatus.RETRY.value:
            step = next_step(
                plan.rule, attempts=plan.attempt_number, policy=self.retry, now=plan.ended,
                code_count=self._code_count(conn, plan), last_attempt_at=plan.placed,
                zone=self._contact_zone(conn, plan),
            )
            status, next_at = step.status, step.next_eligible_at
        if plan.phone_bad and plan.phone_id is not None:
            conn.execute(update(ContactPhone).where(ContactPhone.id == plan.phone_id).values(status="bad"))
            others = conn.scalar(
                select(ContactPhone.id).where(
                    ContactPhone.contact_id == plan.contact_id, ContactPhone.status == "ok"
                ).limit(1)
            )
            if others is not None:
                # The next phone at once while the contact has attempts left; without any, it is used up.
                if plan.attempt_number < self.retry.max_attempts:
                    status, next_at = ContactStatus.RETRY.value, plan.ended
                else:
                    status, next_at = ContactStatus.EXHAUSTED.value, None
        if plan.add_to_dnc:
            # Through the DNC store: a change-log row and an audit event, like every other source.
            add_numbers(conn, [plan.e164], reason=f"disposition {plan.code}", source="agent",
                        actor=plan.agent_id or "system", received_at=to_dt(plan.ended), now=to_dt(plan.ended))
        stay = (not plan.phone_bad and plan.rule is not None
                and stays_on_phone(plan.rule, ContactUpdate(status, next_at, plan.code)))
        return {"contact_id": plan.contact_id, "new_status": status, "next_at": to_dt(next_at), "code": plan.code,
                "next_phone": plan.phone_id if stay else None}

    def _code_count(self, conn: Connection, plan: OutcomePlan) -> int:
        """How many of the contact's attempts closed with this code, this one included."""
        earlier = conn.scalar(
            select(func.count()).select_from(CallAttempt).where(
                CallAttempt.contact_id == plan.contact_id,
                CallAttempt.disposition == plan.code,
                CallAttempt.attempt_number != plan.attempt_number,
            )
        )
        return int(earlier or 0) + 1

    def _contact_zone(self, conn: Connection, plan: OutcomePlan) -> tzinfo:
        """The zone of the contact's day: the one they stated, else the phone's first candidate, else the campaign's."""
        stated = conn.scalar(select(Contact.timezone).where(Contact.id == plan.contact_id))
        candidates: list[Any] = []
        if plan.phone_id is not None:
            candidates = conn.scalar(select(ContactPhone.timezones).where(ContactPhone.id == plan.phone_id)) or []
        for name in (stated, *candidates):
            zone = _zone(name, None)
            if zone is not None:
                return zone
        return self._campaign_zone


def _zone(name: Any, default: tzinfo | None = UTC) -> tzinfo | None:
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return default


@dataclass(frozen=True, slots=True)
class OutcomePlan:
    """A finished call's consequence for its contact, decided on the engine's thread."""

    contact_id: int
    phone_id: int | None
    attempt_number: int
    e164: str
    agent_id: str | None
    code: str
    ended: float
    status: str
    next_at: float | None
    phone_bad: bool
    add_to_dnc: bool
    rule: DispositionRule | None = None
    placed: float | None = None  # when this attempt was dialed, for a rule that moves the retry's hour


@dataclass(frozen=True, slots=True)
class RecorderBatch:
    """What one flush writes: rows built from the calls when taken, and the originals to put back on failure."""

    calls: dict[int, Call]
    finished: list[Call]
    moves: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    audit: list[NewEvent]
    attempts: list[dict[str, Any]]
    events: list[NewEvent]
    outcomes: list[OutcomePlan]


def attempt_outcome(answer_class: str | None, *, abandoned: bool, connected: bool) -> str:
    """A call's outcome in the words of the frequency-cap rules (compliance.history.OUTCOMES).

    A drop that reached a machine is a machine answer, not an abandoned call: the
    law counts people, and so do the lockouts that follow an abandoned call.
    """
    if answer_class in ("machine", "fax"):
        return answer_class
    if abandoned:
        return "abandoned"
    if answer_class in ("busy", "failed"):
        return answer_class
    if answer_class in ("human", "unknown"):
        return "human" if connected or answer_class == "human" else "unknown"
    return "no-answer"


class CampaignAttemptHistory:
    """Earlier attempts of a campaign's contacts, for the gate's frequency caps and lockouts.

    Loaded once (the last 31 days) and kept current by the recorder as calls
    close, so the gate counts without a query per dial.
    """

    def __init__(self, db: Engine, campaign_id: int, *, now: float) -> None:
        self._by_contact: dict[int, list[Attempt]] = {}
        since = to_dt(now - 31 * 86400.0)
        with db.connect() as conn:
            rows = conn.execute(
                select(CallAttempt.contact_id, CallAttempt.e164, CallAttempt.queued_at, CallAttempt.answer_class,
                       CallAttempt.abandoned_at, CallAttempt.connected_at)
                .where(CallAttempt.campaign_id == campaign_id, CallAttempt.queued_at >= since,
                       CallAttempt.ended_at.is_not(None))
                .order_by(CallAttempt.queued_at)
            )
            for row in rows:
                self.add(row.contact_id, Attempt(row.queued_at, attempt_outcome(
                    row.answer_class, abandoned=row.abandoned_at is not None, connected=row.connected_at is not None,
                ), row.e164))

    def add(self, contact_id: int, attempt: Attempt) -> None:
        self._by_contact.setdefault(contact_id, []).append(attempt)

    def record(self, call: Call) -> None:
        queued = call.at("queued")
        if queued is None:
            return
        answer_class = call.answer_class
        outcome = attempt_outcome(answer_class.value if answer_class else None,
                                  abandoned=call.has("abandoned"),
                                  connected=call.has("connected"))
        self.add(call.contact_id, Attempt(datetime.fromtimestamp(queued, UTC), outcome, call.e164))

    def attempts(self, target: DialTarget, policy: CampaignPolicy, now: datetime) -> Sequence[Attempt]:
        if target.contact_id is None:
            return ()
        found = self._by_contact.get(target.contact_id, ())
        horizon = now.timestamp() - 31 * 86400.0
        return [a for a in found if a.at.timestamp() >= horizon]


def call_closed_event(call: Call) -> NewEvent:
    """The audit record of one call: every moment of it, the verdict, how fast an agent came."""
    answered, connected = call.at("answered"), call.at("connected")
    row = attempt_row(call)
    payload = {
        key: (value.isoformat() if isinstance(value, datetime) else value)
        for key, value in row.items()
    }
    payload["answer_to_agent_ms"] = (
        round(1000 * (connected - answered)) if answered is not None and connected is not None else None
    )
    payload["contact_id"] = call.contact_id
    payload["attempt_number"] = call.attempt_number
    return NewEvent(
        "call_closed", payload, campaign_id=call.campaign_id, e164=call.e164, attempt_id=call.attempt_id,
        call_id=call.call_id, at=to_dt(call.at("wrap_ended") or call.at("ended") or call.at("queued")),
    )


def attempt_row(call: Call) -> dict[str, Any]:
    """The call_attempts row for a call, rebuilt whole from its milestones."""
    answer_class = call.answer_class
    talk = call.seconds("connected", "ended")
    wrap = call.seconds("ended", "wrap_ended")
    return {
        "carrier_call_id": call.carrier_sid,
        "state": call.state.value,
        "answer_class": answer_class.value if answer_class else None,
        "amd_verdict": call.amd_verdict,
        "end_reason": call.end_status,
        "placed_at": to_dt(call.at("queued")),
        "ringing_at": to_dt(call.at("ringing")),
        "answered_at": to_dt(call.at("answered")),
        "amd_at": to_dt(call.at("amd")),
        "agent_reserved_at": to_dt(call.at("reserved")),
        "connected_at": to_dt(call.at("connected")),
        "abandoned_at": to_dt(call.at("abandoned")),
        "message_played_at": to_dt(call.at("message_played")),
        "ended_at": to_dt(call.at("ended")),
        "wrap_ended_at": to_dt(call.at("wrap_ended")),
        "agent_login": call.agent_id,
        "ring_s": call.seconds("ringing", "answered") if call.is_answered else call.seconds("ringing", "ended"),
        "talk_s": talk if call.has("connected") else None,
        "wrap_s": wrap,
        "disposition": call.disposition,
        "notes": call.milestones["wrap_ended"].detail if call.has("wrap_ended") else "",
        "caller_id": call.caller_id,
    }


def recover_interrupted_attempts(
    db: Engine, campaign_id: int, *, now: float, retry: RetryPolicy, older_than_s: float = 600.0
) -> int:
    """Close the attempts a dialer claimed and never finished (it died), and let their contacts retry.

    The attempt keeps its number, so the contact's next dial is a new
    attempt: a crash never makes the same attempt twice.  Whether the call
    rang is unknown here, so it is closed as ``interrupted`` (at ``now``) and
    the contact waits the campaign's retry delay, as after a no-answer.
    """
    cutoff = to_dt(now - older_than_s)
    at = to_dt(now)
    with db.begin() as conn:
        stale = conn.execute(
            select(CallAttempt.id, CallAttempt.contact_id, CallAttempt.attempt_number).where(
                CallAttempt.campaign_id == campaign_id,
                CallAttempt.ended_at.is_(None),
                CallAttempt.queued_at < cutoff,
            )
        ).all()
        for attempt in stale:
            conn.execute(
                update(CallAttempt).where(CallAttempt.id == attempt.id).values(
                    state="ended", end_reason="interrupted", ended_at=at,
                    disposition=func.coalesce(CallAttempt.disposition, "NA"),
                )
            )
            exhausted = attempt.attempt_number >= retry.max_attempts
            conn.execute(
                update(Contact)
                .where(Contact.id == attempt.contact_id, Contact.status == ContactStatus.IN_CALL.value)
                .values(
                    status=ContactStatus.EXHAUSTED.value if exhausted else ContactStatus.RETRY.value,
                    next_eligible_at=None if exhausted else to_dt(now + retry.delay_s(attempt.attempt_number)),
                )
            )
    return len(stale)
