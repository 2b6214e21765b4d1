"""Faithful clones of VICIdial's adaptive dial methods, as baselines to beat.

``vicidial-hard`` is ``ADAPT_HARD_LIMIT`` and ``vicidial-tapered`` is
``ADAPT_TAPERED`` (``shared/reference/pacing.md`` sections 1.1 and 1.2, from
``AST_VDadapt.pl`` and ``AST_VDauto_dial.pl``). They are here so the benchmark
compares our pacer with what VICIdial users actually run, not with a straw
man, so the arithmetic follows the Perl, quirks included:

* every second, sample ready agents, all logged-in agents (paused included)
  and answered people waiting for an agent; keep 15-sample moving averages;
* every 60 s, recount dials, drops and human answers for today and for the
  last minute (``calculate_drops``), the figures the clamps read;
* every 15 s (``calculate_dial_level``)::

      r  = (avg_ready - avg_waiting) / avg_total      (0 when either is 0)
      DL = round(DL * (1 + r * g), 3)                 (g from adaptive_intensity)
      DL = clamp(DL, 1.0, adaptive_maximum_level)
      DL = DL / 2     if dials_last_minute > 20 and drops / dials_last_minute > 50 %
      if dials_today > 50 and drops_today / human_answers_today > adaptive_dropped_percentage:
          HARD_LIMIT: DL = 1.0
          TAPERED:    DL = DL * min(1, (HHMM_end - HHMM_now) / 1000), or 1.0 past the end
      DL = max(DL, 1.0)

* every 2.5 s (the auto-dial loop): ``goalcalls = round(DL * working agents)``
  and ``makecalls = goalcalls - calls that exist`` (queued, dialing or ringing,
  answered and waiting, and connected to an agent: VICIdial's ``SENT, RINGING,
  LIVE, XFER, CLOSER``). DL 1.0 is therefore about progressive dialing.

Mapping onto this engine, and where it had to be decided:

* "ready" is the engine's READY (it has no DONE state); "working" agents are
  READY, RESERVED, ON_CALL and WRAP_UP (every non-paused state).
* A drop is an ``abandoned`` event; a human answer is an ``answered`` call
  the detector did not call a machine or fax. Like ``vicidial_log``, a drop
  and an answer are filed under the time its call was placed, so "the last
  minute" means calls placed in the last minute.
* "Today" is the calendar date of the engine clock in ``tz`` (default
  America/New_York, the simulator's calendar). A gap of 30 minutes or more
  between two ticks (the engine was stopped: the simulator's back-to-back
  days) also starts a new day, and clears the agent samples, which VICIdial
  would have filled with empty seconds in the meantime.
* The auto-dial loop runs on the engine's ticks: a placement round happens on
  the first tick at or after each 2.5-s mark (rounds at 0, 3, 5, 8, 10 s
  with 1-s ticks: 2.5 s on average, like the Perl loop); other ticks place
  nothing.
* ``adaptive_dropped_percentage`` defaults to the campaign's abandonment
  target (``Observation.target_abandon``), VICIdial's default being 3 %.
* TAPERED's end of day is ``adaptive_latest_server_time``: ``end=HHMM``
  (default 2100, VICIdial's default and the end of the simulator's calling
  window); the benchmark passes the end of the scenario's working day.

Options (``vicidial-hard:2.5`` or ``vicidial-tapered:max=2.5,end=1600``):
``max`` (adaptive_maximum_level, default 3.0), ``intensity`` (-40..40,
default 0), ``drop`` (adaptive_dropped_percentage, in percent), ``end``
(HHMM or HH:MM), ``tz`` (an IANA zone name).
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialer.pacing import Observation, PacerError, PacerEvent, register_pacer

HARD_LIMIT = "ADAPT_HARD_LIMIT"
TAPERED = "ADAPT_TAPERED"

DEFAULT_ZONE = "America/New_York"
SAMPLE_EVERY_S = 1.0  # AST_VDadapt.pl: $CLIdelay = 1
SAMPLES = 15  # $stat_it: the moving-average window
ADAPT_EVERY_S = 15.0  # $diff_ratio_updater >= 15
DROPS_EVERY_S = 60.0  # calculate_drops
ROUND_EVERY_S = 2.5  # AST_VDauto_dial.pl: $loop_delay = 2500 ms
NEW_DAY_GAP_S = 1800.0
_FORGET_CALL_S = 900.0  # keep a call's record this long after it was placed (late verdicts)


@dataclass(slots=True)
class _CallRecord:
    placed_at: float
    day: int  # the day counter when it was placed
    human: bool = False  # counted as a human answer today
    machine: bool = False


@dataclass(frozen=True, slots=True)
class DropStats:
    """What ``calculate_drops`` last counted: the clamps see figures up to 60 s old, like VICIdial's."""

    calls_today: int = 0
    drops_today: int = 0
    answers_today: int = 0
    calls_one: int = 0
    drops_one: int = 0

    @property
    def drops_one_pct(self) -> float:
        return round(100.0 * self.drops_one / self.calls_one, 2) if self.drops_one and self.calls_one else 0.0

    @property
    def drops_answers_today_pct(self) -> float:
        if not self.drops_today:
            return 0.0
        return round(100.0 * self.drops_today / max(1, self.answers_today), 2)


class VicidialPacer:
    """VICIdial's adaptive dial level (a feedback loop on idle agents minus people on hold)."""

    agent_bound = False

    def __init__(
        self,
        mode: str,
        *,
        max_level: float = 3.0,
        intensity: float = 0.0,
        drop_pct: float | None = None,
        end_hhmm: int = 2100,
        tz: str = DEFAULT_ZONE,
    ) -> None:
        if mode not in (HARD_LIMIT, TAPERED):
            raise PacerError(f"unknown VICIdial dial method {mode!r}")
        if not (math.isfinite(max_level) and 1.0 <= max_level <= 10.0):
            raise PacerError(f"max must be between 1.0 and 10.0, got {max_level}")
        if not -40 <= intensity <= 40:
            raise PacerError(f"intensity must be between -40 and 40, got {intensity}")
        if drop_pct is not None and not (math.isfinite(drop_pct) and 0.0 < drop_pct <= 100.0):
            raise PacerError(f"drop must be a percentage in (0, 100], got {drop_pct}")
        if not 0 <= end_hhmm <= 2400 or end_hhmm % 100 >= 60:
            raise PacerError(f"end must be a time HHMM between 0000 and 2400, got {end_hhmm}")
        try:
            self.zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise PacerError(f"unknown time zone {tz!r}") from exc
        self.mode = mode
        self.name = "vicidial-hard" if mode == HARD_LIMIT else "vicidial-tapered"
        self.max_level = max_level
        self.intensity = intensity
        self.drop_pct = drop_pct
        self.end_hhmm = end_hhmm
        #: The current dial level (lines per working agent): read it to chart the controller.
        self.dial_level = 1.0
        self.drop_stats = DropStats()
        self._samples: deque[tuple[int, int, int]] = deque(maxlen=SAMPLES)  # (ready, total, waiting)
        self._calls: OrderedDict[str, _CallRecord] = OrderedDict()
        self._day = 0
        self._date: date | None = None
        self._midnight = -math.inf  # when the current date ends, in engine time
        self._calls_today = self._drops_today = self._answers_today = 0
        self._dials_recent: deque[float] = deque()  # placement times, last minute
        self._drops_recent: deque[float] = deque()  # placement times of dropped calls, last minute
        self._last_tick: float | None = None
        self._next_sample = self._next_drops = self._next_adapt = self._next_round = 0.0

    # ------------------------------------------------------------------ events
    def observe(self, event: PacerEvent) -> None:
        """Keep the counts ``calculate_drops`` would read from ``vicidial_log``."""
        self._roll_day(event.at)
        kind = event.kind
        if kind == "placed" and event.call_id:
            self._calls[event.call_id] = _CallRecord(event.at, self._day)
            self._calls_today += 1
            self._dials_recent.append(event.at)
            self._forget(event.at)
            return
        record = self._calls.get(event.call_id or "")
        if record is None:
            return
        today = record.day == self._day
        if kind == "answered":
            if not record.machine and not record.human:
                record.human = True
                self._answers_today += int(today)
        elif kind == "amd" and event.detail in ("machine", "fax"):
            record.machine = True
            if record.human:
                record.human = False
                self._answers_today -= int(today)
        elif kind == "abandoned":
            self._drops_today += int(today)
            self._drops_recent.append(record.placed_at)

    def _forget(self, now: float) -> None:
        while self._calls:
            first = next(iter(self._calls.values()))
            if now - first.placed_at <= _FORGET_CALL_S:
                break
            self._calls.popitem(last=False)

    def _roll_day(self, now: float) -> None:
        """Start a new day at midnight in ``tz``: VICIdial's drop clamps count since 00:00:00."""
        if now < self._midnight:
            return
        today = datetime.fromtimestamp(now, self.zone).date()
        self._midnight = datetime.combine(today + timedelta(days=1), time(0), tzinfo=self.zone).timestamp()
        if self._date is None:
            self._date = today
        elif today != self._date:
            self._new_day(today)

    def _new_day(self, today: date) -> None:
        self._date = today
        self._day += 1
        self._calls_today = self._drops_today = self._answers_today = 0
        self._dials_recent.clear()
        self._drops_recent.clear()
        self.drop_stats = DropStats()

    # ------------------------------------------------------------------ the loops
    def calls_to_place(self, obs: Observation) -> int:
        now = obs.now
        self._roll_day(now)
        if self._last_tick is None or now - self._last_tick >= max(NEW_DAY_GAP_S, 3 * obs.tick_s):
            if self._last_tick is not None and self._date is not None:
                self._new_day(self._date)  # the engine was stopped: a new working day
            self._samples.clear()
            self._next_sample = self._next_drops = self._next_round = now
            self._next_adapt = now + ADAPT_EVERY_S
        self._last_tick = now
        due = 0
        while self._next_sample <= now + 1e-9:
            due += 1
            self._next_sample += SAMPLE_EVERY_S
        for _ in range(min(due, SAMPLES)):
            self._samples.append((obs.ready, obs.working + obs.paused, obs.waiting))
        if self._next_drops <= now + 1e-9:
            self.drop_stats = self._count_drops(now)
            while self._next_drops <= now + 1e-9:
                self._next_drops += DROPS_EVERY_S
        if self._next_adapt <= now + 1e-9:
            self.dial_level = self.next_dial_level(now, obs.target_abandon)
            while self._next_adapt <= now + 1e-9:
                self._next_adapt += ADAPT_EVERY_S
        if self._next_round > now + 1e-9:
            return 0
        while self._next_round <= now + 1e-9:
            self._next_round += ROUND_EVERY_S
        return self.make_calls(obs)

    def make_calls(self, obs: Observation) -> int:
        """One round of ``AST_VDauto_dial.pl``: top the lines up to DL per working agent."""
        if obs.working <= 0:
            return 0
        goal = round(self.dial_level * obs.working)  # Perl's sprintf("%.0f"): half to even, like round()
        existing = obs.queued + obs.dialing + obs.waiting + obs.reserved + obs.on_call
        return max(0, goal - existing)

    def _count_drops(self, now: float) -> DropStats:
        cutoff = now - 60.0
        for times in (self._dials_recent, self._drops_recent):
            while times and times[0] <= cutoff:
                times.popleft()
        return DropStats(
            calls_today=self._calls_today,
            drops_today=self._drops_today,
            answers_today=self._answers_today,
            calls_one=len(self._dials_recent),
            drops_one=sum(1 for t in self._drops_recent if t > cutoff),
        )

    def averages(self) -> tuple[float, float, float]:
        """The moving averages (ready, total, waiting) over the last <= 15 samples."""
        n = len(self._samples)
        if n == 0:
            return 0.0, 0.0, 0.0
        return (
            sum(s[0] for s in self._samples) / n,
            sum(s[1] for s in self._samples) / n,
            sum(s[2] for s in self._samples) / n,
        )

    def tapered_rate(self, now: float) -> tuple[int, float]:
        """(HHMM left, rate): the HHMM arithmetic of ``AST_VDadapt.pl`` (1530 to 2100 leaves 570)."""
        local = datetime.fromtimestamp(now, self.zone)
        left = self.end_hhmm - (local.hour * 100 + local.minute)
        return left, 1.0 if left > 1000 else left / 1000.0

    def next_dial_level(self, now: float, target_abandon: float) -> float:
        """``calculate_dial_level``, step by step as in the Perl."""
        ready, total, waiting = self.averages()
        diff = ready - waiting
        mul = diff / total if diff != 0 and total != 0 else 0.0
        pct_raw = mul * 100.0
        intensity_mul = self.intensity / 100.0
        # The intensity scales rises by (1 + I/100) and falls by |I/100 - 1|.
        intensity_diff = pct_raw * (abs(intensity_mul - 1.0) if pct_raw < 0 else intensity_mul + 1.0)
        level = round(self.dial_level * (intensity_diff / 100.0 + 1.0), 3)
        level = min(level, self.max_level)
        level = max(level, 1.0)
        stats = self.drop_stats
        if stats.calls_one > 20 and stats.drops_one_pct > 50:
            level /= 2.0
        limit_pct = self.drop_pct if self.drop_pct is not None else 100.0 * target_abandon
        if stats.calls_today > 50 and stats.drops_answers_today_pct > limit_pct:
            if self.mode == HARD_LIMIT:
                level = 1.0
            else:
                left, rate = self.tapered_rate(now)
                level = 1.0 if left < 0 else level * rate
        return max(level, 1.0)


def _options(name: str, arg: str | None) -> dict[str, str]:
    """``2.5`` (the maximum level) or ``key=value,key=value``."""
    if arg is None or not arg.strip():
        return {}
    out: dict[str, str] = {}
    for part in arg.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            key, value = "max", key
        key = key.strip()
        if key not in ("max", "intensity", "drop", "end", "tz"):
            raise PacerError(f"{name}: unknown option {key!r}; known: max, intensity, drop, end, tz")
        out[key] = value.strip()
    return out


def _number(name: str, key: str, value: str) -> float:
    try:
        return float(value)
    except ValueError as exc:
        raise PacerError(f"{name}: {key} must be a number, got {value!r}") from exc


def _hhmm(name: str, value: str) -> int:
    text = value.replace(":", "")
    if not text.isdigit() or len(text) not in (3, 4):
        raise PacerError(f"{name}: end must be HHMM or HH:MM, got {value!r}")
    return int(text)


def build(mode: str, name: str, arg: str | None) -> VicidialPacer:
    options = _options(name, arg)
    return VicidialPacer(
        mode,
        max_level=_number(name, "max", options["max"]) if "max" in options else 3.0,
        intensity=_number(name, "intensity", options["intensity"]) if "intensity" in options else 0.0,
        drop_pct=_number(name, "drop", options["drop"]) if "drop" in options else None,
        end_hhmm=_hhmm(name, options["end"]) if "end" in options else 2100,
        tz=options.get("tz", DEFAULT_ZONE),
    )


register_pacer("vicidial-hard", lambda arg: build(HARD_LIMIT, "vicidial-hard", arg))
register_pacer("vicidial-tapered", lambda arg: build(TAPERED, "vicidial-tapered", arg))
