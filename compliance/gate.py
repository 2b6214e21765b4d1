"""The one answer to "may we dial this number now?".

Every path that can place a call (the hopper, a manual dial, a callback, the
API) asks ``DialGate.can_dial`` and records the ``Decision``.  A decision
lists every rule that was evaluated with its result, so a compliance officer
sees not only why a call was blocked but also which rules a placed call
passed.  Rules are small objects; the compliance package adds more of them
without changing any caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True, slots=True)
class DialTarget:
    """The called party as far as the rules need to know it."""

    e164: str
    timezones: tuple[str, ...] = ()  # candidate IANA zones from the number, postal code, state
    state: str | None = None
    postal_code: str | None = None
    contact_id: int | None = None


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


def _parse_hhmm(text: str) -> time:
    hh, mm = text.strip().split(":")
    return time(int(hh), int(mm))


@dataclass(frozen=True, slots=True)
class CampaignPolicy:
    campaign_id: int
    window: CallingWindow = field(default_factory=CallingWindow)
    purpose: str = "telemarketing"


@dataclass(frozen=True, slots=True)
class RuleResult:
    rule: str  # stable rule id, e.g. "hours.federal"
    code: str  # stable reason code, e.g. "outside_hours"; "ok" when passed
    passed: bool
    detail: str  # a sentence a person understands
    next_allowed_at: datetime | None = None  # when a blocked rule would pass; None: not by waiting


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    at: datetime
    results: tuple[RuleResult, ...]

    @property
    def blocking(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.blocking)

    @property
    def next_allowed_at(self) -> datetime | None:
        """When every blocking rule would pass, or None if waiting alone never helps."""
        if self.allowed:
            return self.at
        times = [r.next_allowed_at for r in self.blocking]
        if any(t is None for t in times):
            return None
        return max(t for t in times if t is not None)

    def to_dict(self) -> dict[str, object]:
        nxt = self.next_allowed_at
        return {
            "allowed": self.allowed,
            "at": self.at.isoformat(),
            "reasons": [
                {"code": r.code, "rule": r.rule, "detail": r.detail} for r in self.blocking
            ],
            "checked": [{"rule": r.rule, "passed": r.passed, "code": r.code} for r in self.results],
            "next_allowed_at": nxt.isoformat() if nxt else None,
        }


class Rule(Protocol):
    id: str

    def check(self, target: DialTarget, policy: CampaignPolicy, now: datetime) -> RuleResult: ...


class DncLookup(Protocol):
    def listed(self, e164: str, campaign_id: int) -> str | None:
        """Return the list that holds the number ("company" or "campaign"), or None."""
        ...


class CallingHoursRule:
    """Allowed only when the time is inside the window in every candidate zone."""

    id = "hours.campaign_window"

    def check(self, target: DialTarget, policy: CampaignPolicy, now: datetime) -> RuleResult:
        zones = _zones(target.timezones)
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
            return RuleResult(self.id, "ok", True, f"inside {window} in {', '.join(z.key for z in zones)}")
        return RuleResult(
            self.id,
            "outside_hours",
            False,
            f"outside the calling window {window} local time in {', '.join(outside)}",
            next_time_inside(window, zones, now),
        )


def next_time_inside(window: CallingWindow, zones: Sequence[ZoneInfo], now: datetime) -> datetime | None:
    """The first instant from ``now`` at which the window is open in every zone."""
    candidate = now
    for _ in range(32):
        later = candidate
        for zone in zones:
            local = candidate.astimezone(zone)
            if window.contains(local.time()):
                continue
            day = local.date() if local.time() < window.start else local.date() + timedelta(days=1)
            opening = datetime.combine(day, window.start, tzinfo=zone).astimezone(UTC)
            later = max(later, opening)
        if later == candidate:
            return candidate
        candidate = later
    return None


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


class NoDnc:
    """A DNC lookup with nothing listed, for tools that have no list at hand."""

    def listed(self, e164: str, campaign_id: int) -> str | None:
        return None


class DialGate:
    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)

    def can_dial(self, target: DialTarget, policy: CampaignPolicy, now: datetime) -> Decision:
        if now.tzinfo is None:
            raise ValueError("can_dial needs an aware datetime")
        results = tuple(rule.check(target, policy, now) for rule in self.rules)
        return Decision(all(r.passed for r in results), now, results)


def default_gate(dnc: DncLookup | None = None) -> DialGate:
    return DialGate([CallingHoursRule(), DoNotCallRule(dnc or NoDnc())])
