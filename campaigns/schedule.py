"""When a campaign's dialing schedule wants it running, and when that next changes.

A schedule is a list of weekly windows in the campaign's own time zone, e.g.
``[{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:30"}]`` (Monday is 0).
The windows are read on the wall clock of that zone, so "09:00" stays nine
in the morning across summer time.  The two days a year that break wall-clock
arithmetic are handled explicitly:

* spring forward: a window edge that falls in the skipped hour (02:30 in New
  York) takes effect when the clock jumps past it (03:00 summer time);
* fall back: a wall time that happens twice is inside a window both times.

Everything here is pure (no database, no clock of its own), so the scheduler
process, the manager's form and the tests share one answer.  A window starts
before it ends on the same day ("24:00" may close it at midnight); a night
window is written as two windows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DAY_NAMES",
    "ScheduleError",
    "ScheduleState",
    "Window",
    "action_for",
    "describe",
    "parse_schedule",
    "parse_zone",
    "schedule_state",
    "windows_of",
]

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_WINDOWS = 28
_HHMM = re.compile(r"(\d{1,2}):(\d{2})")
_MIDNIGHT_END = 24 * 60
# A week and a day: every weekly window starts and ends at least once within it.
_HORIZON = timedelta(days=8)
_STEP = timedelta(hours=1)  # no zone changes its offset twice within an hour


class ScheduleError(ValueError):
    """A schedule or its time zone is not usable; ``field`` names the setting to fix."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True, slots=True)
class Window:
    """One weekly window: on these weekdays (Monday 0), from ``start`` to ``end`` minutes after midnight."""

    days: frozenset[int]
    start: int
    end: int  # exclusive; 1440 is midnight at the end of the day

    def contains(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        return local.weekday() in self.days and self.start <= minute < self.end

    def to_dict(self) -> dict[str, Any]:
        return {"days": sorted(self.days), "start": _hhmm(self.start), "end": _hhmm(self.end)}


@dataclass(frozen=True, slots=True)
class ScheduleState:
    """What the schedule says at one instant: run or not, and from when that changes (None: never)."""

    running: bool
    next_change: datetime | None


def parse_zone(value: Any) -> ZoneInfo:
    """An IANA zone such as America/Chicago; fixed abbreviations (EST) are refused, they ignore summer time."""
    if not isinstance(value, str) or not value.strip():
        raise ScheduleError("schedule_tz", "must be a time zone name such as America/New_York")
    name = value.strip()
    if "/" not in name and name != "UTC":
        raise ScheduleError(
            "schedule_tz", f"{name!r} is not a region's zone: use a name such as America/New_York, not an abbreviation"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError("schedule_tz", f"{name!r} is not a known time zone (e.g. America/Chicago)") from None


def parse_schedule(value: Any) -> list[dict[str, Any]]:
    """The schedule normalized for storage: each window's days sorted, times as HH:MM.

    Raises ScheduleError naming ``schedule`` and the window at fault.
    """
    return [window.to_dict() for window in windows_of(value)]


def windows_of(value: Any) -> list[Window]:
    """The windows of a stored or submitted schedule (a list of {days, start, end})."""
    if value is None:
        return []
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise ScheduleError("schedule", "must be a list of windows, each {days, start, end}")
    items = list(value)
    if len(items) > MAX_WINDOWS:
        raise ScheduleError("schedule", f"holds {len(items)} windows; at most {MAX_WINDOWS} are allowed")
    return [_window(n, item) for n, item in enumerate(items, start=1)]


def schedule_state(windows: Sequence[Window], zone: ZoneInfo, now: datetime) -> ScheduleState:
    """Whether the windows want the campaign running at ``now``, and the next instant that changes.

    ``now`` must be aware.  With no windows the campaign is never running by
    schedule and nothing changes.
    """
    if now.tzinfo is None:
        raise ValueError("give an aware datetime")
    running = _inside(windows, zone, now)
    if not windows:
        return ScheduleState(False, None)
    for moment in _candidates(windows, zone, now):
        if _inside(windows, zone, moment) != running:
            return ScheduleState(running, moment)
    return ScheduleState(running, None)


def action_for(status: str, running: bool, previous: bool | None) -> str | None:
    """What the scheduler does to a campaign: "start", "pause" or nothing.

    It acts when the schedule's answer changes (``previous`` is the answer it
    saw last, None when it never looked), so a supervisor who pauses a campaign
    inside its window, or starts one outside it, is obeyed until the window's
    next edge.  A finished campaign is never touched.
    """
    if status == "finished" or previous == running:
        return None
    if running and status in ("draft", "paused"):
        return "start"
    if not running and status == "active":
        return "pause"
    return None


def describe(windows: Sequence[Window]) -> list[str]:
    """Each window as people read it: "Mon-Fri 09:00-17:30"."""
    return [f"{_days_text(w.days)} {_hhmm(w.start)}-{_hhmm(w.end)}" for w in windows]


# --------------------------------------------------------------------------- internals


def _window(n: int, item: Any) -> Window:
    where = f"window {n}"
    if not isinstance(item, Mapping):
        raise ScheduleError("schedule", f"{where} must be {{days, start, end}}, not {item!r}")
    days_value = item.get("days")
    if isinstance(days_value, str | bytes) or not isinstance(days_value, Iterable):
        raise ScheduleError("schedule", f"{where}: days must be a list of weekdays 0-6 (Monday 0)")
    days: set[int] = set()
    for day in days_value:
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
            raise ScheduleError("schedule", f"{where}: {day!r} is not a weekday 0-6 (Monday 0)")
        days.add(day)
    if not days:
        raise ScheduleError("schedule", f"{where}: tick at least one day")
    start = _minutes(where, "start", item.get("start"), allow_midnight_end=False)
    end = _minutes(where, "end", item.get("end"), allow_midnight_end=True)
    if start >= end:
        raise ScheduleError(
            "schedule", f"{where}: {_hhmm(start)}-{_hhmm(end)} must start before it ends (split a night in two)"
        )
    return Window(frozenset(days), start, end)


def _minutes(where: str, name: str, value: Any, *, allow_midnight_end: bool) -> int:
    match = _HHMM.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ScheduleError("schedule", f"{where}: {name} must look like 09:00, not {value!r}")
    hours, minutes = int(match.group(1)), int(match.group(2))
    total = hours * 60 + minutes
    if allow_midnight_end and total == _MIDNIGHT_END:
        return total
    if hours > 23 or minutes > 59:
        raise ScheduleError("schedule", f"{where}: {name} {value!r} is not a time of day")
    return total


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _days_text(days: frozenset[int]) -> str:
    ordered = sorted(days)
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{DAY_NAMES[ordered[0]]}-{DAY_NAMES[ordered[-1]]}"
    return ", ".join(DAY_NAMES[d] for d in ordered)


def _inside(windows: Sequence[Window], zone: ZoneInfo, moment: datetime) -> bool:
    local = moment.astimezone(zone)
    return any(window.contains(local) for window in windows)


def _candidates(windows: Sequence[Window], zone: ZoneInfo, now: datetime) -> list[datetime]:
    """Every instant after ``now`` (within the horizon) at which the answer may change, in order.

    The answer is constant between two of them: they are the window edges read
    with either offset of an ambiguous or skipped wall time, and the zone's
    offset changes themselves (where the wall clock jumps past an edge).
    """
    now = now.astimezone(UTC)
    end = now + _HORIZON
    found: set[datetime] = set()
    first_day = now.astimezone(zone).date() - timedelta(days=1)
    for offset in range(10):
        day = first_day + timedelta(days=offset)
        for window in windows:
            if day.weekday() in window.days:
                # An end of 24:00 is the next day's midnight (see _instants).
                found.update(_instants(day, window.start, zone))
                found.update(_instants(day, window.end, zone))
    found.update(_offset_changes(zone, now, end))
    return sorted(moment for moment in found if now < moment <= end)


def _instants(day: date, minutes: int, zone: ZoneInfo) -> set[datetime]:
    if minutes == _MIDNIGHT_END:
        day, minutes = day + timedelta(days=1), 0
    wall = datetime.combine(day, time(minutes // 60, minutes % 60))
    return {wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)}


def _offset_changes(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """The instants in (start, end] at which the zone's UTC offset changes, to the second."""

    def offset_at(second: int) -> timedelta | None:
        return datetime.fromtimestamp(second, UTC).astimezone(zone).utcoffset()

    changes = []
    low_bound, high_bound = int(start.timestamp()), int(end.timestamp())
    step = int(_STEP.total_seconds())
    moment = low_bound
    offset = offset_at(moment)
    while moment < high_bound:
        nxt = min(moment + step, high_bound)
        after = offset_at(nxt)
        if after != offset:
            low, high = moment, nxt  # offset(low) is the old one, offset(high) the new one
            while high - low > 1:
                middle = (low + high) // 2
                if offset_at(middle) == offset:
                    low = middle
                else:
                    high = middle
            changes.append(datetime.fromtimestamp(high, UTC))
            offset = after
        moment = nxt
    return changes
