"""The rule set: rules of law loaded from dated data, checked, and picked for one call.

Rules live in JSON files of ``compliance/rules`` (never in code), one object
per rule with its id, jurisdiction ("US", "US-FL", "GB", or "*"), kind,
purposes, ``effective_from`` (first day in force; null: before anything this
set records) and ``effective_to`` (first day no longer in force; null: open),
citation, confidence (H, M, L, ?, or "policy" for dialer policy that is not
law) and parameters.  Kinds:

``hours``       calling hours per day of the week, local time in every candidate zone
                (``days``: "mon-fri": ["09:00-21:00"], a day mapped to null: no calls;
                ``also_zone``: a fixed zone the statute names, checked as well)
``holidays``    no calls (or only ``hours``) on the dates of a calendar of ``holidays.json``,
                on the called party's local date
``cap``         at most ``max`` calls per rolling ``window_hours``, counting attempts,
                connected calls or conversations
``quiet_after`` no call for ``hours`` (or until the local day ``calendar_days`` after)
                an attempt with one of the ``after`` outcomes
``registry``    a national do-not-call registry and the oldest copy that may be used

A call is judged by every rule whose jurisdiction it touches, whose purposes
include the campaign's, and that is in force on the local date in some
candidate zone (a rule starting at midnight binds as soon as it is midnight
anywhere the person may be).  Fallback rules (dialer policy) apply only when
no rule of law sets calling hours.  Campaigns add their own window and caps
on top (see ``compliance.gate``), so they can narrow the rules, never widen
them.  ``RULESET_VERSION`` names the data exactly and is recorded in every
decision, so any decision can be replayed.

Times: a window includes its start and excludes its end; local times come
from zoneinfo at decision time, so daylight-saving changes need no special
case, and a window opening in a skipped hour opens at the transition.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from compliance import rules as rule_data
from compliance.history import COUNTED, OUTCOMES, Attempt, cap_status, counted

__all__ = [
    "KINDS",
    "PURPOSES",
    "RULESET_VERSION",
    "Intervals",
    "LawRule",
    "Moment",
    "RuleSet",
    "RulesetError",
    "first_instant",
    "joint_next",
    "load_ruleset",
    "weekly_next",
]

PURPOSES = ("telemarketing", "debt_collection", "survey")
KINDS = ("hours", "holidays", "cap", "quiet_after", "registry")
CONFIDENCE = ("H", "M", "L", "?", "policy")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
QUIET_CODES = ("abandon_lockout", "frequency_cap", "machine_lockout")
DAY_S = 86400
SCAN_DAYS = 14  # how far one zone's next opening is looked for
ROUNDS = 64  # how many times the zones (or rules) may push the next time later

_RULE_KEYS = {
    "id", "jurisdiction", "kind", "purposes", "prerecorded_only", "fallback", "effective_from",
    "effective_to", "cite", "conf", "summary", "note", "params",
}
_REQUIRED = ("id", "jurisdiction", "kind", "purposes", "effective_from", "effective_to", "cite", "conf", "params")
_PARAMS = {
    "hours": ({"days"}, {"also_zone"}),
    "holidays": ({"calendar", "hours"}, set()),
    "cap": ({"max", "window_hours", "count", "key"}, set()),
    "quiet_after": ({"after", "code"}, {"hours", "calendar_days"}),
    "registry": ({"registry", "max_age_days"}, set()),
}
_ID = re.compile(r"^[a-z][a-z0-9_]*(?:[.-][a-z0-9_]+)*$")
_JURISDICTION = re.compile(r"^(?:\*|[A-Z]{2}(?:-[A-Z]{2,3})?)$")
_HHMM = re.compile(r"^(\d\d):(\d\d)$")

Intervals = tuple[tuple[int, int], ...]  # seconds after local midnight, start in, end out


class RulesetError(ValueError):
    """Rule data that does not hold together; the message names the file and the rule."""


# --- time ----------------------------------------------------------------------------------------


def first_instant(day: date, seconds: int, zone: ZoneInfo) -> datetime:
    """The first UTC instant at which the wall clock in ``zone`` reads ``day`` + ``seconds`` or later.

    An ambiguous wall time (clocks going back) gives its first occurrence; one
    that does not exist (clocks going forward) gives the transition itself.
    """
    wall = datetime.combine(day, time()) + timedelta(seconds=seconds)
    instant = wall.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    lo = int(wall.replace(tzinfo=zone, fold=1).timestamp())  # before the gap
    hi = int(instant.timestamp())  # after it
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def _seconds(local: datetime) -> int:
    return local.hour * 3600 + local.minute * 60 + local.second


def _inside(intervals: Intervals | None, seconds: int) -> bool:
    return intervals is not None and any(start <= seconds < end for start, end in intervals)


def _next_opening(intervals_on: Callable[[date], Intervals | None], local: datetime, zone: ZoneInfo) -> datetime | None:
    """The first opening after ``local`` (which is outside), within SCAN_DAYS; None if there is none."""
    day, now_s = local.date(), _seconds(local)
    for offset in range(SCAN_DAYS + 1):
        for start, _ in intervals_on(day) or ():
            if offset or start > now_s:
                return first_instant(day, start, zone)
        day += timedelta(days=1)
    return None


def joint_next(
    zones: Sequence[ZoneInfo], now: datetime, intervals_on: Callable[[date], Intervals | None]
) -> datetime | None:
    """The first instant from ``now`` at which the local time is inside ``intervals_on`` in every zone."""
    candidate = now
    for _ in range(ROUNDS):
        later = candidate
        for zone in zones:
            local = candidate.astimezone(zone)
            if _inside(intervals_on(local.date()), _seconds(local)):
                continue
            opening = _next_opening(intervals_on, local, zone)
            if opening is None:
                return None
            later = max(later, opening)
        if later == candidate:
            return candidate
        candidate = later
    return None


@dataclass(frozen=True, slots=True)
class Moment:
    """One instant as every candidate zone sees it: local time, date and seconds after midnight."""

    now: datetime
    zones: tuple[ZoneInfo, ...]
    locals: tuple[datetime, ...]
    clock: tuple[tuple[date, int], ...]  # (local date, seconds after local midnight) per zone

    @classmethod
    def at(cls, now: datetime, zones: tuple[ZoneInfo, ...]) -> Moment:
        locals_ = tuple(now.astimezone(z) for z in zones)
        return cls(now, zones, locals_, tuple((local.date(), _seconds(local)) for local in locals_))

    @property
    def dates(self) -> tuple[date, ...]:
        return tuple(sorted({day for day, _ in self.clock})) or (self.now.astimezone(UTC).date(),)


# --- rules ---------------------------------------------------------------------------------------

Outcome = tuple[str, bool, str, datetime | None]  # code, passed, detail, next allowed time
_MISSING: Any = object()
_next_cache: dict[tuple[Any, ...], datetime | None] = {}


def weekly_next(
    days: tuple[Intervals | None, ...], zones: tuple[ZoneInfo, ...], now: datetime
) -> datetime | None:
    """``joint_next`` for a weekly schedule (Monday first), remembered: the FCC, FTC, state and campaign
    windows of one call are often the same hours, and a decision asks for each of them."""
    key = (days, zones, now)
    found = _next_cache.get(key, _MISSING)
    if found is _MISSING:
        if len(_next_cache) > 4096:
            _next_cache.clear()
        found = _next_cache[key] = joint_next(zones, now, lambda day: days[day.weekday()])
    return found


@dataclass(frozen=True, slots=True)
class LawRule:
    """One rule of the data, checked and compiled."""

    id: str
    jurisdiction: str
    kind: str
    purposes: frozenset[str]
    effective_from: date | None
    effective_to: date | None
    cite: str
    conf: str
    params: Mapping[str, Any]
    summary: str = ""
    note: str = ""
    prerecorded_only: bool = False
    fallback: bool = False
    days: tuple[Intervals | None, ...] = ()  # hours: per weekday, Monday first; None = no calls
    text: str = ""  # the hours as people write them
    calendar: Mapping[date, str] = field(default_factory=dict)  # holidays: date -> name
    calendar_years: frozenset[int] = frozenset()
    holiday_hours: Intervals | None = None
    also_zone: ZoneInfo | None = None

    def in_force(self, day: date) -> bool:
        return (self.effective_from is None or self.effective_from <= day) and (
            self.effective_to is None or day < self.effective_to
        )

    @property
    def uses_history(self) -> bool:
        return self.kind in ("cap", "quiet_after")

    @property
    def time_based(self) -> bool:
        return self.kind != "registry"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "jurisdiction": self.jurisdiction, "kind": self.kind, "purposes": sorted(self.purposes),
            "effective_from": self.effective_from.isoformat() if self.effective_from else None,
            "effective_to": self.effective_to.isoformat() if self.effective_to else None,
            "cite": self.cite, "conf": self.conf, "summary": self.summary,
        }

    # hours and holidays ------------------------------------------------------------------------

    def intervals_on(self, day: date) -> Intervals | None:
        if self.kind == "hours":
            return self.days[day.weekday()]
        if day.year not in self.calendar_years:
            return None  # no reviewed calendar: closed, so a next time is never guessed past it
        return self.holiday_hours if day in self.calendar else ((0, DAY_S),)

    def passes(self, moment: Moment) -> bool:
        """Whether an hours or holidays rule passes at ``moment`` in every zone: the fast path of ``check_time``."""
        if self.also_zone is not None:
            return self.check_time(moment)[1]
        if self.kind == "hours":
            days = self.days
            for day, seconds in moment.clock:
                intervals = days[day.weekday()]
                if intervals is None or not any(start <= seconds < end for start, end in intervals):
                    return False
            return True
        return all(_inside(self.intervals_on(day), seconds) for day, seconds in moment.clock)

    def check_time(self, moment: Moment) -> Outcome:
        """An hours or holidays rule at ``moment``, in every candidate zone (and its fixed zone)."""
        zones, locals_ = moment.zones, moment.locals
        if self.also_zone is not None:
            zones = (*zones, self.also_zone)
            locals_ = (*locals_, moment.now.astimezone(self.also_zone))
        failing = [(z, local) for z, local in zip(zones, locals_, strict=True)
                   if not _inside(self.intervals_on(local.date()), _seconds(local))]
        if not failing:
            return "ok", True, "", None
        if self.kind == "holidays":
            missing = sorted({local.year for _, local in failing if local.year not in self.calendar_years})
            if missing:
                return ("no_holiday_calendar", False,
                        f"no reviewed holiday calendar for {missing[0]} ({self.params['calendar']}): "
                        "extend compliance/rules/holidays.json", None)
            names = "; ".join(f"{self.calendar[local.date()]} on {local.date()} in {z.key}" for z, local in failing)
            allowed = "no calls" if self.holiday_hours is None else "calls only " + _intervals_text(self.holiday_hours)
            return "holiday_ban", False, f"{allowed} on holidays: {names} (local date)", joint_next(
                zones, moment.now, self.intervals_on)
        code = "outside_hours"
        for _, local in failing:
            if self.days[local.weekday()] is None:
                code = "sunday_ban" if local.weekday() == 6 else "day_ban"
                break
        where = ", ".join(
            f"{_DAY_NAMES[local.weekday()]} {local.hour:02d}:{local.minute:02d} in {z.key}" for z, local in failing
        )
        return code, False, f"allowed {self.text} local time; it is {where}", weekly_next(self.days, zones, moment.now)

    # history ----------------------------------------------------------------------------------

    def check_history(self, moment: Moment, history: Iterable[Attempt], e164: str) -> Outcome:
        p = self.params
        if self.kind == "cap":
            window = timedelta(hours=p["window_hours"])
            times = counted(history, moment.now, COUNTED[p["count"]], e164 if p["key"] == "number" else None)
            n, until = cap_status(times, moment.now, p["max"], window)
            what = {"attempts": "calls", "connected": "connected calls", "conversations": "conversations"}[p["count"]]
            span = f"{p['window_hours']} h"
            if until is None:
                return "ok", True, f"{n} {what} in the last {span}, limit {p['max']}", None
            return ("frequency_cap", False,
                    f"{n} {what} in the last {span} reach the limit of {p['max']}; "
                    f"the next may be made at {until.isoformat()}, when the oldest counted one leaves the window",
                    until)
        times = counted(history, moment.now, frozenset(p["after"]), None)
        if not times:
            return "ok", True, f"no {'/'.join(p['after'])} attempt recently", None
        if "hours" in p:
            until = times[-1] + timedelta(hours=p["hours"])
            span = f"{p['hours']} h"
        else:
            days = p["calendar_days"]
            span = f"{days} days counting its local date as day 1"
            # The latest attempt decides (an earlier one can only end earlier), in the
            # zone where its day 1 ends last.
            last = times[-1]
            until = max(
                first_instant(last.astimezone(z).date() + timedelta(days=days), 0, z)
                for z in moment.zones or (ZoneInfo("UTC"),)
            )
        if moment.now >= until:
            return "ok", True, f"the last {'/'.join(p['after'])} attempt was more than {span} ago", None
        return (p["code"], False,
                f"a {'/'.join(p['after'])} attempt at {times[-1].isoformat()} bars calls for {span}, "
                f"until {until.isoformat()}", until)

    # registry ---------------------------------------------------------------------------------

    def check_registry(self, now: datetime, listed: bool | None, copy_at: datetime | None, configured: bool) -> Outcome:
        name, max_age = self.params["registry"], self.params["max_age_days"]
        if not configured:
            return "ok", True, f"no {name} registry is configured: not checked", None
        if copy_at is None:
            return "registry_stale", False, f"no copy of the {name} registry covers this number", None
        age = now - copy_at
        if age > timedelta(days=max_age):
            also = " (and that copy lists the number)" if listed else ""
            return ("registry_stale", False,
                    f"the {name} registry copy is {age.days} days old, more than {max_age} days{also}", None)
        if listed:
            text = f"on the {name} national do-not-call registry (copy of {copy_at.date()})"
            return "dnc_national", False, text, None
        return "ok", True, f"not on the {name} registry (copy of {copy_at.date()})", None


def _intervals_text(intervals: Intervals) -> str:
    return " and ".join(f"{_hhmm(s)}-{_hhmm(e)}" for s, e in intervals)


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


# --- loading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSet:
    """Every rule, the version of the data, and a cached choice of rules per call."""

    version: str
    rules: tuple[LawRule, ...]
    by_id: Mapping[str, LawRule]
    _chosen: dict[tuple[Any, ...], tuple[LawRule, ...]] = field(default_factory=dict, repr=False, compare=False)
    _bounds: list[date] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        edges = {d for r in self.rules for d in (r.effective_from, r.effective_to) if d is not None}
        self._bounds.extend(sorted(edges))

    def select(
        self, jurisdictions: Sequence[str], purpose: str, prerecorded: bool, dates: Sequence[date]
    ) -> tuple[LawRule, ...]:
        """The rules that bind a call: jurisdiction touched, purpose, device, in force on one of ``dates``.

        An unknown purpose is judged under the rules of every purpose.
        """
        # Rules change only on their effective dates, so dates between two such
        # boundaries choose alike: the key holds the span of each date, not the date.
        bounds = self._bounds
        spans = tuple(sorted({bisect_right(bounds, d) for d in dates}))
        key = (jurisdictions if isinstance(jurisdictions, tuple) else tuple(jurisdictions), purpose, prerecorded, spans)
        chosen = self._chosen.get(key)
        if chosen is None:
            if len(self._chosen) > 50_000:
                self._chosen.clear()
            chosen = self._chosen[key] = self._select(set(jurisdictions), purpose, prerecorded, dates)
        return chosen

    def _select(self, places: set[str], purpose: str, prerecorded: bool, dates: Sequence[date]) -> tuple[LawRule, ...]:
        def binds(rule: LawRule) -> bool:
            return (
                (rule.jurisdiction == "*" or rule.jurisdiction in places)
                and (purpose in rule.purposes or purpose not in PURPOSES)
                and (prerecorded or not rule.prerecorded_only)
                and any(rule.in_force(d) for d in dates)
            )

        chosen = [r for r in self.rules if not r.fallback and binds(r)]
        if not any(r.kind == "hours" for r in chosen):
            chosen += [r for r in self.rules if r.fallback and binds(r)]
        return tuple(chosen)

    def needs_history(self, jurisdictions: Sequence[str], purpose: str) -> bool:
        """Whether any rule that may bind such a call counts earlier attempts (whatever the date)."""
        places = set(jurisdictions)
        return any(
            r.uses_history and (r.jurisdiction == "*" or r.jurisdiction in places)
            and (purpose in r.purposes or purpose not in PURPOSES)
            for r in self.rules
        )


def load_ruleset(files: Mapping[str, Any] | None = None) -> RuleSet:
    """Load and check the rule set; ``files`` (name -> parsed JSON) replaces the shipped data in tests.

    RulesetError names the file and rule of the first problem found.
    """
    if files is None:
        return default_ruleset()
    return _build(files, _version(files["manifest.json"]["version"], [_canonical(files[n]) for n in sorted(files)]))


@functools.cache
def default_ruleset() -> RuleSet:
    manifest = rule_data.load("manifest.json")
    names = ["manifest.json", *manifest["rule_files"], *manifest["data_files"]]
    files = {name: rule_data.load(name) for name in names}
    return _build(files, _version(manifest["version"], [rule_data.read_bytes(n) for n in names]))


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False).encode()


def _version(version: str, blobs: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for blob in blobs:
        digest.update(len(blob).to_bytes(8, "big"))
        digest.update(blob)
    return f"{version}+{digest.hexdigest()[:12]}"


def _build(files: Mapping[str, Any], version: str) -> RuleSet:
    manifest = files["manifest.json"]
    holidays = files.get("holidays.json", {"years": [], "calendars": {}})
    calendars = _calendars(holidays)
    rules: list[LawRule] = []
    seen: set[str] = set()
    for name in manifest["rule_files"]:
        doc = files[name]
        if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
            raise RulesetError(f"{name}: must be an object with a list of rules")
        for i, raw in enumerate(doc["rules"]):
            where = f"{name} rule {i + 1}" + (f" ({raw.get('id')})" if isinstance(raw, dict) else "")
            try:
                rule = _rule(raw, calendars)
            except (RulesetError, KeyError, TypeError, ValueError) as exc:
                raise RulesetError(f"{where}: {exc}") from None
            if rule.id in seen:
                raise RulesetError(f"{where}: id {rule.id!r} is used twice")
            seen.add(rule.id)
            rules.append(rule)
    return RuleSet(version, tuple(rules), {r.id: r for r in rules})


def _calendars(doc: Mapping[str, Any]) -> dict[str, tuple[dict[date, str], frozenset[int]]]:
    years = frozenset(int(y) for y in doc["years"])
    out = {}
    for name, cal in doc["calendars"].items():
        dates = {}
        for text, holiday in cal["dates"].items():
            day = _date(text)
            if day is None or day.year not in years:
                raise RulesetError(f"holidays.json {name}: {text} is outside the years {sorted(years)}")
            dates[day] = str(holiday)
        if cal.get("conf") not in CONFIDENCE or not cal.get("cite"):
            raise RulesetError(f"holidays.json {name}: needs a cite and a conf of {', '.join(CONFIDENCE)}")
        out[name] = (dates, years)
    return out


def _rule(raw: Any, calendars: Mapping[str, tuple[dict[date, str], frozenset[int]]]) -> LawRule:
    if not isinstance(raw, dict):
        raise RulesetError("a rule must be an object")
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise RulesetError(f"unknown keys {sorted(unknown)}")
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise RulesetError(f"missing {missing}")
    if not isinstance(raw["id"], str) or not _ID.match(raw["id"]):
        raise RulesetError(f"id {raw['id']!r} must be lower-case words joined by dots or dashes")
    if not isinstance(raw["jurisdiction"], str) or not _JURISDICTION.match(raw["jurisdiction"]):
        raise RulesetError(f"jurisdiction {raw['jurisdiction']!r} must be *, a country (US) or a subdivision (US-FL)")
    kind = raw["kind"]
    if kind not in KINDS:
        raise RulesetError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    purposes = raw["purposes"]
    if not isinstance(purposes, list) or not purposes or not set(purposes) <= set(PURPOSES):
        raise RulesetError(f"purposes must be a non-empty list of {', '.join(PURPOSES)}")
    if raw["conf"] not in CONFIDENCE:
        raise RulesetError(f"conf {raw['conf']!r} is not one of {', '.join(CONFIDENCE)}")
    if not isinstance(raw["cite"], str) or not raw["cite"].strip():
        raise RulesetError("cite must say where the rule comes from")
    start, end = _date(raw["effective_from"]), _date(raw["effective_to"])
    if start is not None and end is not None and end <= start:
        raise RulesetError("effective_to must be after effective_from")
    for flag in ("prerecorded_only", "fallback"):
        if not isinstance(raw.get(flag, False), bool):
            raise RulesetError(f"{flag} must be true or false")
    if raw.get("fallback") and kind != "hours":
        raise RulesetError("only hours rules can be fallbacks")
    params = raw["params"]
    if not isinstance(params, dict):
        raise RulesetError("params must be an object")
    needed, optional = _PARAMS[kind]
    if set(params) - needed - optional or needed - set(params):
        raise RulesetError(f"params of a {kind} rule are {sorted(needed)} (optional {sorted(optional)}), "
                           f"got {sorted(params)}")
    fields: dict[str, Any] = {}
    if kind == "hours":
        days, text = _week(params["days"])
        fields.update(days=days, text=text)
        if "also_zone" in params:
            fields["also_zone"] = _zone(params["also_zone"])
    elif kind == "holidays":
        if params["calendar"] not in calendars:
            raise RulesetError(f"calendar {params['calendar']!r} is not in holidays.json")
        dates, years = calendars[params["calendar"]]
        hours = None if params["hours"] is None else _intervals(params["hours"])
        fields.update(calendar=dates, calendar_years=years, holiday_hours=hours)
    elif kind == "cap":
        _positive_int(params["max"], "max")
        if not isinstance(params["window_hours"], int | float) or params["window_hours"] <= 0:
            raise RulesetError("window_hours must be a positive number")
        if params["count"] not in COUNTED:
            raise RulesetError(f"count must be one of {', '.join(COUNTED)}")
        if params["key"] not in ("contact", "number"):
            raise RulesetError("key must be contact or number")
    elif kind == "quiet_after":
        after = params["after"]
        if not isinstance(after, list) or not after or not set(after) <= set(OUTCOMES):
            raise RulesetError(f"after must list outcomes among {', '.join(OUTCOMES)}")
        if ("hours" in params) == ("calendar_days" in params):
            raise RulesetError("a quiet_after rule has either hours or calendar_days")
        _positive_int(params.get("hours", params.get("calendar_days")), "hours or calendar_days")
        if params["code"] not in QUIET_CODES:
            raise RulesetError(f"code must be one of {', '.join(QUIET_CODES)}")
    else:
        _positive_int(params["max_age_days"], "max_age_days")
        if not isinstance(params["registry"], str) or not params["registry"]:
            raise RulesetError("registry must name a registry")
    return LawRule(
        id=raw["id"], jurisdiction=raw["jurisdiction"], kind=kind, purposes=frozenset(purposes),
        effective_from=start, effective_to=end, cite=raw["cite"], conf=raw["conf"], params=params,
        summary=str(raw.get("summary", "")), note=str(raw.get("note", "")),
        prerecorded_only=raw.get("prerecorded_only", False), fallback=raw.get("fallback", False), **fields,
    )


def _positive_int(value: Any, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise RulesetError(f"{name} must be a positive whole number")


def _date(value: Any) -> date | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RulesetError(f"{value!r} is not a date")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RulesetError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _zone(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise RulesetError(f"{name!r} is not a time zone") from None


def _week(spec: Any) -> tuple[tuple[Intervals | None, ...], str]:
    """Seven days of intervals from {"mon-fri": [...], "sat": [...], "sun": null}; every day exactly once."""
    if not isinstance(spec, dict) or not spec:
        raise RulesetError("days must map day groups to intervals")
    week: dict[int, Intervals | None] = {}
    parts = []
    for group, value in spec.items():
        first, _, last = str(group).partition("-")
        if first not in DAYS or (last and last not in DAYS) or (last and DAYS.index(last) < DAYS.index(first)):
            raise RulesetError(f"day group {group!r} must be a day (mon) or a range (mon-fri)")
        intervals = None if value is None else _intervals(value)
        for i in range(DAYS.index(first), DAYS.index(last or first) + 1):
            if i in week:
                raise RulesetError(f"{DAYS[i]} is given twice in days")
            week[i] = intervals
        label = "-".join(d.capitalize() for d in (first, last) if d)
        parts.append(f"{label} {'no calls' if intervals is None else _intervals_text(intervals)}")
    missing = [DAYS[i] for i in range(7) if i not in week]
    if missing:
        raise RulesetError(f"days must cover every day; missing {missing}")
    return tuple(week[i] for i in range(7)), ", ".join(parts)


def _intervals(value: Any) -> Intervals:
    if not isinstance(value, list) or not value:
        raise RulesetError(f"{value!r} must be a list of HH:MM-HH:MM intervals (or null for no calls)")
    out: list[tuple[int, int]] = []
    for text in value:
        start_s, _, end_s = str(text).partition("-")
        start, end = _clock(start_s), _clock(end_s)
        if start >= end or end > DAY_S:
            raise RulesetError(f"interval {text!r} must start before it ends, within the day")
        if out and start < out[-1][1]:
            raise RulesetError(f"interval {text!r} overlaps or precedes the one before it")
        out.append((start, end))
    return tuple(out)


def _clock(text: str) -> int:
    match = _HHMM.match(text.strip())
    if not match or int(match.group(1)) > 24 or int(match.group(2)) > 59:
        raise RulesetError(f"{text!r} is not a time HH:MM")
    seconds = int(match.group(1)) * 3600 + int(match.group(2)) * 60
    if seconds > DAY_S:
        raise RulesetError(f"{text!r} is past 24:00")
    return seconds


#: The version of the shipped rule set: the manifest's version and a hash of every data file.
RULESET_VERSION: str = default_ruleset().version
