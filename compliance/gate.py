"""The one answer to "may we dial this number now?".

Every path that can place a call (the hopper, a manual dial, a callback, the
API, ``dialer compliance explain``) asks ``DialGate.can_dial`` and records the
``Decision``.  A decision lists every rule that was evaluated with its result,
so a compliance officer sees not only why a call was blocked but also which
rules a placed call passed, under which rule-set version, in which candidate
zones and jurisdictions.  ``default_gate`` holds every rule: the campaign's
own window and caps, the rules of law as dated data (``compliance.ruleset``),
the do-not-call lists, consent, reassigned numbers and the abandonment budget.
A campaign narrows the law (its window and caps are checked on top of it) and
can never widen it.

Reason codes (``RuleResult.code``; stable, for machines; ``detail`` is the
sentence for people).  A blocking reason is time-based when waiting cures it:
its ``next_allowed_at`` is then the first instant it would pass, and the
decision's ``next_allowed_at`` is the first instant every rule passes at once.

=======================  ==========================================================  ===========
code                     meaning                                                     waiting
=======================  ==========================================================  ===========
``ok``                   the rule passed
``outside_hours``        outside a calling window in some candidate zone             helps
``day_ban``              no calls on this day of the week there (e.g. FR Saturday)   helps
``sunday_ban``           no calls on Sunday there                                    helps
``holiday_ban``          a holiday on the called party's local date                  helps
``no_holiday_calendar``  no reviewed holiday dates for that year in the rule set     never
``frequency_cap``        a cap on calls in a rolling window is reached, or the       helps
                         quiet days after a conversation (Reg F) are running
``abandon_lockout``      too soon after an abandoned call (UK: 72 h)                 helps
``machine_lockout``      too soon after an answering machine (UK: 24 h)              helps
``unknown_timezone``     no candidate zone is known (or one is unreadable)           never
``dnc_company``          on the company-wide do-not-call list                        never
``dnc_campaign``         on this campaign's do-not-call list                         never
``dnc_national``         on a national registry (US DNC, UK TPS, Canada DNCL)        never
``registry_stale``       the registry copy is too old (31 days US, 28 UK) or missing never
``no_consent``           the campaign needs prior express written consent; none      never
``consent_revoked``      consent was revoked, by any channel                         never
``reassigned_number``    the number was disconnected after the consent was given     never
``abandon_budget``       the campaign's abandonment budget is spent (overdialing)    when the
                                                                                     store says
=======================  ==========================================================  ===========

"never" means waiting alone does not help: someone must act (refresh the
registry, record consent, add the contact's address...), so the decision's
``next_allowed_at`` is None.  The hopper adds ``max_attempts`` (the campaign's
attempt limit) of its own.

Stores built elsewhere plug in through the small protocols below
(``DncLookup``, ``NationalRegistry``, ``ConsentLookup``, ``ReassignedNumbers``,
``AbandonBudget``, ``AttemptHistory``); each has a default that never blocks
and says in its detail that nothing was checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Final, Protocol, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from compliance.history import COUNTED, Attempt, cap_status, counted
from compliance.ruleset import PURPOSES, ROUNDS, LawRule, Moment, RuleSet, default_ruleset, weekly_next
from compliance.timezones import Resolution, resolve

__all__ = [
    "PURPOSES", "AbandonBudget", "AbandonBudgetRule", "AttemptHistory", "BudgetStatus", "CallingHoursRule",
    "CallingWindow", "CampaignCapRule", "CampaignPolicy", "ConsentLookup", "ConsentRecord", "ConsentRule",
    "Decision", "DialGate", "DialTarget", "DncLookup", "DoNotCallRule", "FrequencyCap", "LawRules",
    "NationalRegistry", "NoAbandonBudget", "NoConsentRecords", "NoDnc", "NoHistory", "NoReassignedData",
    "NoRegistry", "ReassignedNumbers", "ReassignedRule", "RegistryAnswer", "Rule", "RuleGroup", "RuleResult",
    "default_gate", "next_time_inside",
]


@dataclass(frozen=True, slots=True)
class DialTarget:
    """The called party as far as the rules need to know it."""

    e164: str
    timezones: tuple[str, ...] = ()  # candidate IANA zones from the number, postal code, state
    state: str | None = None
    postal_code: str | None = None
    contact_id: int | None = None
    history: tuple[Attempt, ...] | None = None  # earlier attempts; None: ask the gate's history store
    resolution: Resolution | None = None  # set by the gate: every candidate zone and jurisdiction


@dataclass(frozen=True, slots=True)
class CallingWindow:
    """Local hours during which calls may be placed; the start is in, the end is out."""

    start: time = time(8, 0)
    end: time | None = time(21, 0)  # None means midnight at the end of the day

    @classmethod
    def parse(cls, text: str) -> CallingWindow:
        try:
            start_s, end_s = text.strip().split("-")
            start = _parse_hhmm(start_s)
            end = None if end_s.strip() == "24:00" else _parse_hhmm(end_s)
        except ValueError as exc:
            raise ValueError(f"calling window must look like 08:00-21:00, got {text!r}") from exc
        if end is not None and end <= start:
            raise ValueError(f"calling window {text!r} ends before it starts")
        return cls(start, end)

    def contains(self, local: time) -> bool:
        return self.start <= local and (self.end is None or local < self.end)

    def __str__(self) -> str:
        end = "24:00" if self.end is None else self.end.strftime("%H:%M")
        return f"{self.start.strftime('%H:%M')}-{end}"

    def intervals(self) -> tuple[tuple[int, int], ...]:
        """The window in seconds after local midnight, for the time arithmetic of ``compliance.ruleset``."""

        def seconds(t: time) -> int:  # windows are kept to the second
            return t.hour * 3600 + t.minute * 60 + t.second

        return ((seconds(self.start), 86400 if self.end is None else seconds(self.end)),)


def _parse_hhmm(text: str) -> time:
    hh, mm = text.strip().split(":")
    return time(int(hh), int(mm))


@dataclass(frozen=True, slots=True)
class FrequencyCap:
    """A campaign's own cap: at most ``max_calls`` per rolling ``window_hours``, counting ``count``."""

    max_calls: int
    window_hours: float
    count: str = "attempts"  # attempts, connected or conversations

    def __post_init__(self) -> None:
        if self.max_calls < 1 or self.window_hours <= 0 or self.count not in COUNTED:
            raise ValueError(f"a cap needs max_calls >= 1, window_hours > 0 and a count of {', '.join(COUNTED)}")


@dataclass(frozen=True, slots=True)
class CampaignPolicy:
    campaign_id: int
    window: CallingWindow = field(default_factory=CallingWindow)
    purpose: str = "telemarketing"  # telemarketing, debt_collection or survey
    caps: tuple[FrequencyCap, ...] = ()  # the campaign's own caps, on top of the law's
    prerecorded: bool = False  # prerecorded or artificial voice: state device (ADAD) rules apply
    requires_consent: bool = False  # prior express written consent needed (autodialed calls to mobiles)
    overdial: bool = False  # dials run ahead of free agents (predictive, power): the abandonment budget applies


@dataclass(frozen=True, slots=True)
class RuleResult:
    rule: str  # stable rule id, e.g. "hours.federal"
    code: str  # stable reason code, e.g. "outside_hours"; "ok" when passed
    passed: bool
    detail: str  # a sentence a person understands
    next_allowed_at: datetime | None = None  # when a blocked rule would pass; None: not by waiting


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    at: datetime
    results: tuple[RuleResult, ...]
    ruleset_version: str | None = None
    zones: tuple[str, ...] = ()  # the candidate zones the rules were checked in
    jurisdictions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # how the zones were found, what was left out
    next_at: datetime | _Unset | None = UNSET  # the gate's joint answer; UNSET: the latest rule's time

    @property
    def blocking(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    @property
    def codes(self) -> tuple[str, ...]:
        """The distinct codes of the blocking rules, in the order the rules were checked."""
        return tuple(dict.fromkeys(r.code for r in self.results if not r.passed))

    @property
    def next_allowed_at(self) -> datetime | None:
        """When every blocking rule would pass at once, or None if waiting alone never helps."""
        if self.allowed:
            return self.at
        if not isinstance(self.next_at, _Unset):
            return self.next_at
        times = [r.next_allowed_at for r in self.blocking]
        if any(t is None for t in times):
            return None
        return max(t for t in times if t is not None)

    def to_dict(self) -> dict[str, object]:
        nxt = self.next_allowed_at
        out: dict[str, object] = {
            "allowed": self.allowed,
            "at": self.at.isoformat(),
            "reasons": [
                {"code": r.code, "rule": r.rule, "detail": r.detail} for r in self.blocking
            ],
            "checked": [{"rule": r.rule, "passed": r.passed, "code": r.code} for r in self.results],
            "next_allowed_at": nxt.isoformat() if nxt else None,
        }
        if self.ruleset_version is not None:
            out["ruleset_version"] = self.ruleset_version
        if self.zones or self.jurisdictions or self.notes:
            out["zones"] = [{"zone": z, "local": self.at.astimezone(ZoneInfo(z)).isoformat()} for z in self.zones]
            out["jurisdictions"] = list(self.jurisdictions)
            out["notes"] = list(self.notes)
        return out


class Rule(Protocol):
    id: str

    def check(self, target: DialTarget, policy: CampaignPolicy, now: datetime) -> RuleResult: ...


class RuleGroup(Protocol):
    """Several rules checked together (one result each), e.g. every rule of law that binds the call."""

    id: str

    def check_all(
        self, target: DialTarget, policy: CampaignPolicy, now: datetime, *, times_only: bool = False
    ) -> tuple[RuleResult, ...]: ...


# --- the stores' interfaces -----------------------------------------------------------------------


class DncLookup(Protocol):
    def listed(self, e164: str, campaign_id: int) -> str | None:
        """Return the list that holds the number ("company" or "campaign"), or None."""
        ...


@dataclass(frozen=True, slots=True)
class RegistryAnswer:
    """What a registry store knows of a number: listed or not, and the date of the copy that says so."""

    listed: bool
    copy_at: datetime | None  # when the copy covering the number was downloaded; None: no copy covers it


class NationalRegistry(Protocol):
    def lookup(self, registry: str, e164: str) -> RegistryAnswer | None:
        """The answer of ``registry`` ("US", "GB", "CA"); None when this deployment keeps no such registry."""
        ...


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """The consent on record for a number, as the consent store sees it."""

    state: str  # "given", "revoked", "none" (nothing on record) or "untracked" (no consent store)
    given_at: datetime | None = None
    revoked_at: datetime | None = None
    ref: str | None = None  # the store's id of the record, for the audit trail


class ConsentLookup(Protocol):
    def consent(self, e164: str, campaign_id: int) -> ConsentRecord: ...


class ReassignedNumbers(Protocol):
    def disconnected_since(self, e164: str, since: date) -> bool | None:
        """Whether the number was permanently disconnected on or after ``since``; None: no data."""
        ...


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    spent: bool
    resets_at: datetime | None = None  # when the budget frees up again; None: not by waiting
    detail: str = ""


class AbandonBudget(Protocol):
    def status(self, campaign_id: int, now: datetime) -> BudgetStatus | None:
        """The campaign's abandonment budget; None when this deployment does not track it."""
        ...


class AttemptHistory(Protocol):
    def attempts(self, target: DialTarget, policy: CampaignPolicy, now: datetime) -> Sequence[Attempt]:
        """Earlier attempts to the target's contact (every number of it) in the campaign, at least 31 days back."""
        ...


class NoDnc:
    """A DNC lookup with nothing listed, for tools that have no list at hand."""

    def listed(self, e164: str, campaign_id: int) -> str | None:
        return None


class NoRegistry:
    """No national registry kept here: registry rules pass and say they checked nothing."""

    def lookup(self, registry: str, e164: str) -> RegistryAnswer | None:
        return None


class NoConsentRecords:
    """No consent store: consent rules pass and say they checked nothing."""

    def consent(self, e164: str, campaign_id: int) -> ConsentRecord:
        return ConsentRecord("untracked")


class NoReassignedData:
    """No reassigned-numbers data: every answer is "no data"."""

    def disconnected_since(self, e164: str, since: date) -> bool | None:
        return None


class NoAbandonBudget:
    """No abandonment accounting: the budget rule passes."""

    def status(self, campaign_id: int, now: datetime) -> BudgetStatus | None:
        return None


class NoHistory:
    """No attempt history: caps pass and say they counted nothing."""

    def attempts(self, target: DialTarget, policy: CampaignPolicy, now: datetime) -> Sequence[Attempt]:
        return ()


# --- rules -----------------------------------------------------------------------------------------


class CallingHoursRule:
    """The campaign's own window, in every candidate zone: it narrows the law's hours, never widens them."""

    id = "hours.campaign_window"
    time_based = True

    def __init__(self) -> None:
        self._passed: dict[tuple[CallingWindow, tuple[str, ...]], RuleResult] = {}

    def check(self, target: DialTarget, policy: CampaignPolicy, now: datetime) -> RuleResult:
        res = target.resolution
        zones = list(res.zoneinfos) if res is not None and res.zones == target.timezones else _zones(target.timezones)
        if not zones:
            return RuleResult(
                self.id,
                "unknown_timezone",
                False,
                f"the called party's time zone is unknown for {target.e164}, so the calling hours "
                "cannot be checked",
            )
        window = policy.window
        outside = [z.key for z in zones if not window.contains(now.astimezone(z).time())]
        if not outside:
            key = (window, target.timezones)
            result = self._passed.get(key)
            if result is None:
                if len(self._passed) > 10_000:
                    self._passed.clear()
                text = f"inside {window} in {', '.join(z.key for z in zones)}"
                result = self._passed[key] = RuleResult(self.id, "ok", True, text)
            return result
        return RuleResult(
            self.id,
            "outside_hours",
            False,
            f"outside the calling window {window} local time in {', '.join(outside)}",
            next_time_inside(window, zones, now),
        )


def next_time_inside(window: CallingWindow, zones: Sequence[ZoneInfo], now: datetime) -> datetime | None:
    """The first instant from ``now`` at which the window is open in every zone (None: not within weeks)."""
    return weekly_next((window.intervals(),) * 7, tuple(zones), now)


def _zones(names: Iterable[str]) -> list[ZoneInfo]:
    """The candidate zones, or none at all when any of them is not a zone we know.

    A candidate we cannot read might be the one where it is 7 in the morning,
    so one unreadable name makes the whole set unknown.
    """
    zones = []
    for name in names:
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory such as "America"
            return []
    return zones


class DoNotCallRule:
    id = "dnc.lists"

    def __init__(self, lookup: DncLookup) -> None:
        self.lookup = lookup

    def check(self, target: DialTarget, policy: CampaignPolicy, now: datetime) -> RuleResult:
        scope = self.lookup.listed(target.e164, policy.campaign_id)
        if scope is None:
            return RuleResult(self.id, "ok", True, "not on the company or campaign do-not-call list")
        return RuleResult(self.id, f"dnc_{scope}", False, f"{target.e164} is on the {scope} do-not-call list")


class LawRules:
    """Every rule of the rule set that binds the call: hours, holidays, caps, lockouts, registries.

    Which rules bind depends on the jurisdictions the number and address
    touch, the campaign's purpose, whether it plays prerecorded messages, and
    the local date; the choice is cached, as is the zone resolution.
    """

    id = "law"
    time_based = True

    def __init__(
        self,
        ruleset: RuleSet | None = None,
        *,
        registry: NationalRegistry | None = None,
        history: AttemptHistory | None = None,
    ) -> None:
        self.ruleset = ruleset or default_ruleset()
        self.registry = registry or NoRegistry()
        self.history = history or NoHistory()
        self._pass_results: dict[tuple[str, tuple[str, ...]], RuleResult] = {}
        self._needs_history: dict[tuple[tuple[str, ...], str], bool] = {}

    def prepare(self, target: DialTarget, policy: CampaignPolicy, now: datetime) -> DialTarget:
        """The target with its candidate zones resolved and, when a rule counts attempts, its history."""
        res = target.resolution or resolve(target.e164, target.state, target.postal_code, target.timezones)
        history = target.history
        if history is None and not isinstance(self.history, NoHistory):
            key = (res.jurisdictions, policy.purpose)
            needed = self._needs_history.get(key)
            if needed is None:
                needed = self._needs_history[key] = self.ruleset.needs_history(*key)
            if needed or policy.caps:
                history = tuple(self.history.attempts(target, policy, now))
        return DialTarget(target.e164, res.zones, target.state, target.postal_code, target.contact_id, history, res)

    def check_all(
        self, target: DialTarget, policy: CampaignPolicy, now: datetime, *, times_only: bool = False
    ) -> tuple[RuleResult, ...]:
        res = target.resolution or resolve(target.e164, target.state, target.postal_code, target.timezones)
        moment = Moment.at(now, res.zoneinfos)
        chosen = self.ruleset.select(res.jurisdictions, policy.purpose, policy.prerecorded, moment.dates)
        out = []
        for rule in chosen:
            kind = rule.kind
            if kind == "hours" or kind == "holidays":
                if not res.zones:
                    out.append(RuleResult(
                        rule.id, "unknown_timezone", False,
                        f"the called party's time zone is unknown for {target.e164}: {rule.id} cannot be checked"))
                elif rule.passes(moment):
                    out.append(self._passed(rule, res.zones))
                else:
                    out.append(RuleResult(rule.id, *rule.check_time(moment)))
            elif kind == "registry":
                if not times_only:
                    answer = self.registry.lookup(rule.params["registry"], target.e164)
                    out.append(RuleResult(rule.id, *rule.check_registry(
                        now, answer.listed if answer else None, answer.copy_at if answer else None, answer is not None
                    )))
            elif target.history is None:
                out.append(RuleResult(rule.id, "ok", True, "no attempt history is available here: not counted"))
            else:
                out.append(RuleResult(rule.id, *rule.check_history(moment, target.history, target.e164)))
        return tuple(out)

    def _passed(self, rule: LawRule, zones: tuple[str, ...]) -> RuleResult:
        """The result of a time rule that passed: the same object for the same rule and zones."""
        key = (rule.id, zones)
        result = self._pass_results.get(key)
        if result is None:
            if len(self._pass_results) > 100_000:
                self._pass_results.clear()
            text = rule.text or "the days the holiday calendar allows"
            result = self._pass_results[key] = RuleResult(rule.id, "ok", True, f"inside {text} in {', '.join(zones)}")
        return result


class CampaignCapRule:
    """The campaign's own caps (``CampaignPolicy.caps``), on top of the law's."""

    id = "campaign.caps"
    time_based = True

    def check_all(
        self, target: DialTarget, policy: CampaignPolicy, now: datetime, *, times_only: bool = False
    ) -> tuple[RuleResult, ...]:
        out = []
        for n, cap in enumerate(policy.caps, 1):
            rule = f"campaign.cap.{n}"
            if target.history is None:
                out.append(RuleResult(rule, "ok", True, "no attempt history is available here: not counted"))
                continue
            times = counted(target.history, now, COUNTED[cap.count])
            seen, until = cap_status(times, now, cap.max_calls, timedelta(hours=cap.window_hours))
            text = f"{seen} {cap.count} in the last {cap.window_hours:g} h, campaign limit {cap.max_calls}"
            if until is None:
                out.append(RuleResult(rule, "ok", True, text))
            else:
                out.append(RuleResult(rule, "frequency_cap", False, f"{text}: next at {until.isoformat()}", until))
        return tuple(out)


class ConsentRule:
    """Prior express written consent where the campaign needs it; a revocation by any channel blocks always."""

    id = "consent"

    def __init__(self, lookup: ConsentLookup) -> None:
        self.lookup = lookup

    def check(self, target: DialTarget, policy: CampaignPolicy, now: datetime) -> RuleResult:
        record = self.lookup.consent(target.e164, policy.campaign_id)
        if record.state == "revoked" and (record.revoked_at is None or record.revoked_at <= now):
            when = f" on {record.revoked_at.isoformat()}" if record.revoked_at else ""
            return RuleResult("us.fcc.revocation", "consent_revoked", False, f"consent was revoked{when}")
        if not policy.requires_consent:
            return RuleResult("us.consent", "ok", True, "the campaign does not need prior express written consent")
        if record.state == "untracked":
            return RuleResult("us.consent", "ok", True, "no consent store is configured: consent not checked")
        if record.given_at is not None and record.given_at <= now and record.state in ("given", "revoked"):
            return RuleResult("us.consent", "ok", True, f"consent given on {record.given_at.isoformat()}")
        return RuleResult("us.consent", "no_consent", False,
                          "the campaign needs prior express written consent and none is on record for this number")


class ReassignedRule:
    """A number disconnected after its consent was given belongs to someone else now (RND, 47 CFR 64.1200(m))."""

    id = "us.rnd"

    def __init__(self, consent: ConsentLookup, reassigned: ReassignedNumbers) -> None:
        self.consent = consent
        self.reassigned = reassigned

    def check(self, target: DialTarget, policy: CampaignPolicy, now: datetime) -> RuleResult:
        if not policy.requires_consent:
            return RuleResult(self.id, "ok", True, "the campaign does not rely on consent")
        record = self.consent.consent(target.e164, policy.campaign_id)
        if record.given_at is None:
            return RuleResult(self.id, "ok", True, "no consent date to check against")
        answer = self.reassigned.disconnected_since(target.e164, record.given_at.date())
        if answer:
            return RuleResult(self.id, "reassigned_number", False,
                              f"the number was disconnected after the consent of {record.given_at.date()}")
        return RuleResult(self.id, "ok", True, "no disconnection since the consent" if answer is False
                          else "no reassigned-numbers data for this number")


class AbandonBudgetRule:
    """An overdialing campaign whose abandonment budget is spent may not overdial (47 CFR 64.1200(a)(7))."""

    id = "us.fcc.abandonment"

    def __init__(self, budget: AbandonBudget) -> None:
        self.budget = budget

    def check(self, target: DialTarget, policy: CampaignPolicy, now: datetime) -> RuleResult:
        if not policy.overdial:
            return RuleResult(self.id, "ok", True, "the campaign does not dial ahead of free agents")
        status = self.budget.status(policy.campaign_id, now)
        if status is None:
            return RuleResult(self.id, "ok", True, "no abandonment accounting is configured: not checked")
        if not status.spent:
            return RuleResult(self.id, "ok", True, status.detail or "abandonment budget left")
        return RuleResult(self.id, "abandon_budget", False,
                          status.detail or "the abandonment budget of this period is spent", status.resets_at)


# --- the gate --------------------------------------------------------------------------------------


class DialGate:
    def __init__(
        self,
        rules: Sequence[Rule | RuleGroup],
        *,
        prepare: LawRules | None = None,
        ruleset_version: str | None = None,
    ) -> None:
        self.rules = tuple(rules)
        self.prepare = prepare
        self.ruleset_version = ruleset_version
        self._plan = tuple((rule, hasattr(rule, "check_all"), getattr(rule, "time_based", False)) for rule in rules)

    def can_dial(self, target: DialTarget, policy: CampaignPolicy, now: datetime) -> Decision:
        if now.tzinfo is None:
            raise ValueError("can_dial needs an aware datetime")
        if self.prepare is not None:
            target = self.prepare.prepare(target, policy, now)
        results = self._check(target, policy, now, times_only=False)
        allowed = all(r.passed for r in results)
        res = target.resolution
        return Decision(
            allowed, now, results, self.ruleset_version,
            res.zones if res else (), res.jurisdictions if res else (), res.notes if res else (),
            UNSET if allowed else self._next(target, policy, results),
        )

    def _check(self, target: DialTarget, policy: CampaignPolicy, now: datetime, *, times_only: bool
               ) -> tuple[RuleResult, ...]:
        out: list[RuleResult] = []
        for rule, group, timed in self._plan:
            if times_only and not timed:
                continue
            if group:
                out.extend(cast(RuleGroup, rule).check_all(target, policy, now, times_only=times_only))
            else:
                out.append(cast(Rule, rule).check(target, policy, now))
        return tuple(out)

    def _next(self, target: DialTarget, policy: CampaignPolicy, results: tuple[RuleResult, ...]) -> datetime | None:
        """The first instant every rule passes at once: each time-based rule is asked again until they agree."""
        blocking = [r.next_allowed_at for r in results if not r.passed]
        if any(t is None for t in blocking):
            return None
        candidate = max(t for t in blocking if t is not None)
        for _ in range(ROUNDS):
            later = candidate
            for r in self._check(target, policy, candidate, times_only=True):
                if not r.passed:
                    if r.next_allowed_at is None:
                        return None
                    later = max(later, r.next_allowed_at)
            if later == candidate:
                return candidate
            candidate = later
        return None


def default_gate(
    dnc: DncLookup | None = None,
    *,
    registry: NationalRegistry | None = None,
    consent: ConsentLookup | None = None,
    reassigned: ReassignedNumbers | None = None,
    budget: AbandonBudget | None = None,
    history: AttemptHistory | None = None,
    ruleset: RuleSet | None = None,
) -> DialGate:
    """Every rule: the campaign's window, the law as data, the campaign's caps, DNC, consent, RND, budget."""
    law = LawRules(ruleset, registry=registry, history=history)
    consent = consent or NoConsentRecords()
    return DialGate(
        [
            CallingHoursRule(),
            law,
            CampaignCapRule(),
            DoNotCallRule(dnc or NoDnc()),
            ConsentRule(consent),
            ReassignedRule(consent, reassigned or NoReassignedData()),
            AbandonBudgetRule(budget or NoAbandonBudget()),
        ],
        prepare=law,
        ruleset_version=law.ruleset.version,
    )
