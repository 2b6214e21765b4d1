"""Earlier attempts to a number or contact, and counting them over rolling windows.

Frequency caps and lockouts are stated over attempts ("3 calls per 24 hours"),
over calls that connected ("calls that do not connect are not counted", Reg F)
or over conversations ("any call within 7 days after a conversation").  The
history is a plain tuple of ``Attempt`` values, so the same counting serves
the dial gate (fed by the database) and ``dialer compliance explain`` (fed by
a file an officer wrote).

A window includes its start and excludes its end, as calling windows do: an
attempt made at 10:00 counts against a 24-hour cap until 10:00 the next day
and no longer at that instant.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

#: Outcomes an attempt may have, and the spellings accepted for them.
OUTCOMES = ("no-answer", "machine", "human", "abandoned", "busy", "failed", "fax", "unknown")
_ALIASES = {o.replace("-", "_"): o for o in OUTCOMES} | {o: o for o in OUTCOMES} | {"noanswer": "no-answer"}

#: Which outcomes each way of counting takes in.
#: attempts: every dial.  connected: the call reached the dialed line (Reg F
#: leaves out calls that do not connect: busy, failed).  conversations: a person
#: (or an answer the detector could not class, which the engine treats as a person)
#: was reached; an abandoned call reached a person but held no conversation.
COUNTED = {
    "attempts": frozenset(OUTCOMES),
    "connected": frozenset(OUTCOMES) - {"busy", "failed"},
    "conversations": frozenset({"human", "unknown"}),
}


class HistoryError(ValueError):
    """A history entry that cannot be read, with where it is."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One earlier dial: when (aware, any zone), how it ended, and to which number (None: the target's)."""

    at: datetime
    outcome: str
    e164: str | None = None


def parse_outcome(text: str) -> str:
    """The canonical outcome for ``text`` ("no_answer" and "No-Answer" both give "no-answer")."""
    outcome = _ALIASES.get(text.strip().lower())
    if outcome is None:
        raise HistoryError(f"unknown outcome {text!r}; expected one of {', '.join(OUTCOMES)}")
    return outcome


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with its offset (or Z); a time without an offset is refused, not guessed."""
    if not isinstance(text, str):
        raise HistoryError(f"a time must be an ISO 8601 string, not {text!r}")
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw)
    except ValueError:
        raise HistoryError(f"{text!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise HistoryError(f"{text!r} has no UTC offset; write it like 2026-03-08T14:00:00Z")
    return value


def attempt_from(item: object) -> Attempt:
    """An attempt from a mapping with ``at`` and ``outcome`` (and optionally ``phone``)."""
    if not isinstance(item, dict):
        raise HistoryError(f"a history entry must be an object with at and outcome, not {item!r}")
    if "at" not in item or "outcome" not in item:
        raise HistoryError(f"a history entry needs both at and outcome: {item!r}")
    outcome = item["outcome"]
    if not isinstance(outcome, str):
        raise HistoryError(f"outcome must be a string, not {outcome!r}")
    phone = item.get("phone")
    if phone is not None and not isinstance(phone, str):
        raise HistoryError(f"phone must be a string, not {phone!r}")
    return Attempt(parse_instant(item["at"]), parse_outcome(outcome), phone)


def history_from(items: object) -> tuple[Attempt, ...]:
    """A history from a JSON value: a list of attempt objects (None or missing: no attempts)."""
    if items is None:
        return ()
    if not isinstance(items, list):
        raise HistoryError("history must be a list of objects with at and outcome")
    return tuple(attempt_from(item) for item in items)


def read_history(text: str) -> tuple[Attempt, ...]:
    """A history file: a JSON list, JSON lines, or CSV with an ``at,outcome`` header.

    Errors name the entry (list index or line number) so the file can be fixed.
    """
    stripped = text.lstrip("\ufeff").strip()
    if not stripped:
        return ()
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise HistoryError(f"history is not valid JSON: {exc}") from None
        if not isinstance(items, list):
            raise HistoryError("history must be a list of objects with at and outcome")
        return tuple(_located(i + 1, "entry", item) for i, item in enumerate(items))
    if stripped.startswith("{"):
        out = []
        for number, line in enumerate(stripped.splitlines(), 1):
            if line.strip():
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise HistoryError(f"history line {number}: not JSON ({exc.msg})") from None
                out.append(_located(number, "line", item))
        return tuple(out)
    rows = list(csv.reader(io.StringIO(stripped)))
    header = [cell.strip().lower() for cell in rows[0]]
    if "at" not in header or "outcome" not in header:
        raise HistoryError("a CSV history needs a header row with at and outcome")
    out = []
    for number, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise HistoryError(f"history line {number}: {len(row)} cells, the header has {len(header)}")
        out.append(_located(number, "line", dict(zip(header, row, strict=True))))
    return tuple(out)


def _located(number: int, kind: str, item: object) -> Attempt:
    try:
        return attempt_from(item)
    except HistoryError as exc:
        raise HistoryError(f"history {kind} {number}: {exc}") from None


def counted(
    history: Iterable[Attempt], now: datetime, outcomes: frozenset[str], e164: str | None = None
) -> list[datetime]:
    """The times (UTC, oldest first) of the attempts made up to ``now`` that ended in one of ``outcomes``.

    ``outcomes`` is usually ``COUNTED[...]``.  With ``e164`` only attempts to
    that number (or with no number) are taken.  Attempts after ``now`` are
    left out: a decision is replayed as it stood.
    """
    times = [
        a.at.astimezone(UTC)
        for a in history
        if a.outcome in outcomes and a.at <= now and (e164 is None or a.e164 is None or a.e164 == e164)
    ]
    times.sort()
    return times


def cap_status(times: Sequence[datetime], now: datetime, limit: int, window: timedelta) -> tuple[int, datetime | None]:
    """How many of ``times`` fall in the window ending at ``now``, and when one more call may be made.

    The window is ``(now - window, now]``: an attempt exactly ``window`` old has
    left it.  Returns (count, None) when one more call is allowed now, else
    (count, the instant enough attempts have left for one more).
    """
    start = now - window
    inside = [t for t in times if t > start]
    if len(inside) < limit:
        return len(inside), None
    # The call is allowed once only limit - 1 remain: the oldest len - limit + 1 must leave.
    leaving = inside[len(inside) - limit]
    return len(inside), leaving + window
