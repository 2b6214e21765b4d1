"""Scenario files: the world a simulated dialer works in.

The format is defined by ``shared/scenarios/README.md``. Every tool that reads a
scenario (the simulator, the fake carrier, the reports) goes through this module so
that a key means exactly one thing everywhere, and so that a typo is an error rather
than a silent fall-back to a default: a benchmark run on the wrong world is worse
than no run at all.

Only the standard library is used, so the loader can run inside any process
(CLI, web worker, fake carrier) without pulling in the numeric stack.
"""

from __future__ import annotations

import bisect
import difflib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = [
    "AgentGroup",
    "Breaks",
    "Lunch",
    "Range",
    "Scenario",
    "ScenarioError",
    "Steps",
    "TimeSpec",
    "load_scenario",
    "parse_scenario",
]

Range = tuple[float, float]
"""A closed interval ``(lo, hi)`` from which a value is drawn uniformly."""

TimeSpec = float | tuple[float, float]
"""An hour of the day, either fixed or drawn uniformly from ``(lo, hi)``."""

Steps = tuple[tuple[float, float], ...]
"""A step function over the working day: ``((hour, value), ...)`` sorted by hour."""

# The law (FTC, 16 CFR 310.4(b)(1)(iii)(B)): a call must ring at least 15 s or 4 rings.
MIN_RING_TIMEOUT_S = 15.0

# Rounding slack when checking that outcome probabilities add up to at most 1, so that
# e.g. 0.7 + 0.2 + 0.05 + 0.05 (which is 1.0000000000000002 in binary) is accepted.
_PROBABILITY_SLACK = 1e-9


class ScenarioError(ValueError):
    """A scenario that cannot be trusted to describe the world its author meant.

    ``key`` is the dotted path of the offending key (``"lunch.frac"``,
    ``"agents[1].login_h"``) so that callers such as a web form can point at the field;
    it is ``None`` only when the problem is the file as a whole (not JSON, not an object).
    """

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def _fail(key: str, detail: str) -> ScenarioError:
    return ScenarioError(f"{key!r} {detail}", key=key)


# ---------------------------------------------------------------------------------------
# The data model
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentGroup:
    """Agents who share a login pattern.

    A ``(lo, hi)`` time is drawn afresh for each agent each day, so that staggered
    arrivals do not all land on the same tick. ``logout_h`` of ``None`` means the agents
    stay until the end of the day.
    """

    n: int
    login_h: TimeSpec = 0.0
    logout_h: TimeSpec | None = None


@dataclass(frozen=True)
class Breaks:
    """Short pauses each agent takes at Poisson times (``per_hour``) for U(min_s, max_s)."""

    per_hour: float
    min_s: float
    max_s: float


@dataclass(frozen=True)
class Lunch:
    """A lunch wave: a share ``frac`` of the agents present pause within ``within_s``
    seconds of ``at_h``, each for ``dur_s`` seconds."""

    at_h: float
    frac: float
    within_s: float
    dur_s: float


@dataclass(frozen=True)
class Scenario:
    """The effective settings of one scenario, defaults filled in.

    Field defaults are exactly those of the README table, so ``Scenario()`` is the
    default world. Construction (including ``dataclasses.replace``) checks value ranges
    and cross-key rules, so an instance is always one the simulator can run; type
    checks on raw JSON happen in :func:`parse_scenario`.
    """

    name: str | None = None
    title: str | None = None
    exposes: str | None = None
    note: str | None = None
    hours: float = 8.0
    days: int = 1
    day_gap_s: float = 120.0
    tick_s: float = 1.0
    target_abandon: float = 0.03
    agents: tuple[AgentGroup, ...] = (AgentGroup(10, 0.0, None),)
    cps: Steps = ((0.0, 1.0),)
    p_human: Steps = ((0.0, 0.2),)
    p_daily_range: Range | None = None
    p_machine: float = 0.20
    p_busy: float = 0.05
    p_invalid: float = 0.05
    setup_s: Range = (0.5, 2.0)
    ring_median_s: float = 8.0
    ring_p90_s: float = 18.0
    ring_timeout_s: float = 25.0
    busy_s: Range = (2.0, 6.0)
    invalid_s: Range = (1.0, 3.0)
    amd_s: Range = (2.5, 4.0)
    amd_human_as_machine: float = 0.05
    amd_machine_as_human: float = 0.15
    machine_heard_s: float = 10.0
    patience_mean_s: float = 6.0
    safe_harbour_s: float = 2.0
    abandon_window_s: float = 2.0
    talk_mean_s: float = 120.0
    talk_cv: float = 1.0
    agent_talk_sigma: float = 0.3
    wrap_fixed_s: float = 5.0
    wrap_exp_mean_s: float = 15.0
    connect_latency_s: float = 0.5
    breaks: Breaks | None = None
    lunch: Lunch | None = None
    abrupt_logouts_h: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        _check_values(self)

    # -- step functions ------------------------------------------------------------------

    def cps_at(self, hour: float) -> float:
        """The carrier's calls-per-second limit ``hour`` hours into the working day."""
        return _step_value(self.cps, hour)

    def p_human_at(self, hour: float) -> float:
        """The scheduled answer probability ``hour`` hours into the working day.

        This ignores ``p_daily_range``: the daily draw belongs to the simulator's random
        stream, not to the scenario, so the caller draws it once per day and uses it
        instead when ``p_daily_range`` is set.
        """
        return _step_value(self.p_human, hour)

    @property
    def total_agents(self) -> int:
        """Headcount over all groups: the most agents who can ever be logged in at once."""
        return sum(g.n for g in self.agents)

    # -- reporting -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The effective settings as plain JSON data, in README order.

        Reports embed this so that a result can be re-run exactly; it round-trips
        through :func:`parse_scenario`. A single step from hour 0 is written as a plain
        number because that is how people write a constant.
        """
        out: dict[str, Any] = {}
        for key in _KEY_ORDER:
            value = getattr(self, key)
            if key in ("cps", "p_human"):
                constant = len(value) == 1 and value[0][0] == 0
                out[key] = value[0][1] if constant else [[h, v] for h, v in value]
            elif key == "agents":
                out[key] = [
                    {"n": g.n, "login_h": _time_to_json(g.login_h), "logout_h": _time_to_json(g.logout_h)}
                    for g in value
                ]
            elif key == "breaks":
                out[key] = (
                    None
                    if value is None
                    else {"per_hour": value.per_hour, "min_s": value.min_s, "max_s": value.max_s}
                )
            elif key == "lunch":
                out[key] = (
                    None
                    if value is None
                    else {
                        "at_h": value.at_h,
                        "frac": value.frac,
                        "within_s": value.within_s,
                        "dur_s": value.dur_s,
                    }
                )
            elif isinstance(value, tuple):
                out[key] = list(value)
            else:
                out[key] = value
        return out


def _time_to_json(value: TimeSpec | None) -> float | list[float] | None:
    return list(value) if isinstance(value, tuple) else value


def _step_value(steps: Steps, hour: float) -> float:
    # Before the first step the first value applies: a file that starts its curve at
    # hour 1 means "this is the level we know about", not "no calls before 1 h".
    i = bisect.bisect_right(steps, hour, key=lambda step: step[0])
    return steps[max(i - 1, 0)][1]


_KEY_ORDER: tuple[str, ...] = tuple(f.name for f in fields(Scenario))
_GROUP_KEYS = ("n", "login_h", "logout_h")
_BREAK_KEYS = ("per_hour", "min_s", "max_s")
_LUNCH_KEYS = ("at_h", "frac", "within_s", "dur_s")


# ---------------------------------------------------------------------------------------
# Value checks (run on every construction)
# ---------------------------------------------------------------------------------------


def _check_values(s: Scenario) -> None:
    if not s.hours > 0:
        raise _fail("hours", f"must be > 0 (the length of a working day), got {s.hours}")
    if s.days < 1:
        raise _fail("days", f"must be at least 1, got {s.days}")
    if not s.tick_s > 0:
        raise _fail("tick_s", f"must be > 0 (how often the pacer is asked), got {s.tick_s}")
    _at_least_zero(
        s,
        "day_gap_s",
        "ring_median_s",
        "machine_heard_s",
        "patience_mean_s",
        "safe_harbour_s",
        "abandon_window_s",
        "talk_mean_s",
        "talk_cv",
        "agent_talk_sigma",
        "wrap_fixed_s",
        "wrap_exp_mean_s",
        "connect_latency_s",
    )
    for key in (
        "target_abandon",
        "p_machine",
        "p_busy",
        "p_invalid",
        "amd_human_as_machine",
        "amd_machine_as_human",
    ):
        _probability(key, getattr(s, key))

    # A lognormal needs a positive median; a p90 below the median would need a negative sigma.
    if not s.ring_median_s > 0:
        raise _fail("ring_median_s", f"must be > 0 (it is the median of a lognormal), got {s.ring_median_s}")
    if s.ring_p90_s < s.ring_median_s:
        raise _fail(
            "ring_p90_s",
            f"must be at least ring_median_s ({s.ring_median_s}), got {s.ring_p90_s}",
        )
    if s.ring_timeout_s < MIN_RING_TIMEOUT_S:
        raise _fail(
            "ring_timeout_s",
            f"must be at least {MIN_RING_TIMEOUT_S:g} s (the law: let a call ring 15 s or 4 rings "
            f"before giving up), got {s.ring_timeout_s}",
        )
    for key in ("setup_s", "busy_s", "invalid_s", "amd_s"):
        _range(key, getattr(s, key), minimum=0.0)

    _check_steps("cps", s.cps, s.hours)
    for hour, cps in s.cps:
        if not cps > 0:
            raise _fail(
                "cps",
                f"must be > 0 at every step (calls above it are queued, not refused), "
                f"got {cps} from hour {hour:g}",
            )
    _check_steps("p_human", s.p_human, s.hours)
    others = s.p_machine + s.p_busy + s.p_invalid
    for hour, p in s.p_human:
        _probability("p_human", p)
        if p + others > 1 + _PROBABILITY_SLACK:
            raise _fail(
                "p_human",
                f"plus the other outcomes exceeds 1: p_human ({p:g} from hour {hour:g}) + p_machine "
                f"({s.p_machine:g}) + p_busy ({s.p_busy:g}) + p_invalid ({s.p_invalid:g}) "
                f"= {p + others:g}, more than 1",
            )
    if s.p_daily_range is not None:
        _, hi = _range("p_daily_range", s.p_daily_range, minimum=0.0)
        _probability("p_daily_range", hi)
        if hi + others > 1 + _PROBABILITY_SLACK:
            raise _fail(
                "p_daily_range",
                f"has an upper end ({hi:g}) that with p_machine + p_busy + p_invalid adds up to "
                f"{hi + others:g}, more than 1",
            )

    for i, group in enumerate(s.agents):
        _check_group(f"agents[{i}]", group, s.hours)

    if s.breaks is not None:
        _at_least_zero(s.breaks, "per_hour", "min_s", "max_s", prefix="breaks.")
        if s.breaks.max_s < s.breaks.min_s:
            raise _fail("breaks.max_s", f"must be at least min_s ({s.breaks.min_s}), got {s.breaks.max_s}")
    if s.lunch is not None:
        _hour_in_day("lunch.at_h", s.lunch.at_h, s.hours)
        _probability("lunch.frac", s.lunch.frac)
        _at_least_zero(s.lunch, "within_s", "dur_s", prefix="lunch.")
    for i, hour in enumerate(s.abrupt_logouts_h):
        _hour_in_day(f"abrupt_logouts_h[{i}]", hour, s.hours)


def _at_least_zero(obj: object, *keys: str, prefix: str = "") -> None:
    for key in keys:
        value = getattr(obj, key)
        if not value >= 0:  # also catches NaN
            raise _fail(prefix + key, f"must not be negative, got {value}")


def _probability(key: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise _fail(key, f"is a probability and must be within [0, 1], got {value}")


def _range(key: str, value: Range, minimum: float) -> Range:
    lo, hi = value
    if not lo >= minimum:
        raise _fail(key, f"must not be below {minimum:g}, got [{lo}, {hi}]")
    if lo > hi:
        raise _fail(key, f"is [lo, hi] and needs lo <= hi, got [{lo}, {hi}]")
    return lo, hi


def _hour_in_day(key: str, hour: float, hours: float) -> None:
    # A time outside the day never happens; it is almost always a clock time (09:00)
    # written where hours-since-start are meant, so say so rather than ignore it.
    if not 0.0 <= hour <= hours:
        raise _fail(
            key, f"is hours since the start of the day and must be within [0, hours={hours:g}], got {hour:g}"
        )


def _time_bounds(key: str, value: TimeSpec, hours: float) -> Range:
    if isinstance(value, tuple):
        lo, hi = _range(key, value, minimum=0.0)
        _hour_in_day(key, lo, hours)
        _hour_in_day(key, hi, hours)
        return lo, hi
    _hour_in_day(key, value, hours)
    return value, value


def _check_group(key: str, group: AgentGroup, hours: float) -> None:
    if group.n < 0:
        raise _fail(f"{key}.n", f"an agent count must not be negative, got {group.n}")
    _, latest_login = _time_bounds(f"{key}.login_h", group.login_h, hours)
    if group.logout_h is not None:
        earliest_logout, _ = _time_bounds(f"{key}.logout_h", group.logout_h, hours)
        # Checked on the ranges, not on a draw, so that no seed can ever produce an
        # agent who leaves before arriving.
        if earliest_logout < latest_login:
            raise _fail(
                f"{key}.logout_h",
                f"can fall before login_h: the earliest logout ({earliest_logout:g} h) must not be "
                f"earlier than the latest login ({latest_login:g} h)",
            )


def _check_steps(key: str, steps: Steps, hours: float) -> None:
    if not steps:
        raise _fail(key, "needs at least one [hour, value] step")
    previous: float | None = None
    for hour, _ in steps:
        # A step outside the day never applies; it is almost always a clock time (09:00)
        # written where hours since the start of the day are meant.
        if not 0.0 <= hour < hours:
            raise _fail(
                key,
                f"has a step at hour {hour:g}, but step hours are hours since the start of the day "
                f"and must be within [0, hours={hours:g}) (is it a clock time?)",
            )
        if previous is not None and hour <= previous:
            raise _fail(key, f"has two steps at hour {hour:g}: which value applies is ambiguous")
        previous = hour


# ---------------------------------------------------------------------------------------
# Parsing raw JSON data (type checks and normalisation)
# ---------------------------------------------------------------------------------------


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _number(key: str, value: object) -> float:
    # bool is an int subclass in Python; `"p_human": true` is a mistake, not 1.0.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(key, f"must be a number, got {_type_name(value)} ({value!r})")
    number = float(value)
    if not math.isfinite(number):
        raise _fail(key, f"must be a finite number, got {value!r}")
    return number


def _integer(key: str, value: object) -> int:
    number = _number(key, value)
    if not number.is_integer():
        raise _fail(key, f"must be a whole number, got {value!r}")
    return int(number)


def _pair(key: str, value: object) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise _fail(key, f"must be a [lo, hi] pair, got {_type_name(value)} ({value!r})")
    return _number(f"{key}[0]", value[0]), _number(f"{key}[1]", value[1])


def _uniform_range(key: str, value: object) -> Range:
    # A plain number is accepted as a fixed duration [x, x]: it has an obvious meaning
    # and the README's [lo, hi] form says nothing against it.
    if isinstance(value, list | tuple):
        return _pair(key, value)
    number = _number(key, value)
    return number, number


def _time_spec(key: str, value: object) -> TimeSpec:
    if isinstance(value, list | tuple):
        return _pair(key, value)
    return _number(key, value)


def _text(key: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _fail(key, f"is free text and must be a string, got {_type_name(value)}")
    return value


def _steps(key: str, value: object) -> Steps:
    if not isinstance(value, list | tuple):
        return ((0.0, _number(key, value)),)
    if not value:
        raise _fail(key, "needs at least one [hour, value] step")
    steps: list[tuple[float, float]] = []
    for i, item in enumerate(value):
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise _fail(f"{key}[{i}]", f"must be an [hour, value] pair, got {item!r}")
        steps.append((_number(f"{key}[{i}][0]", item[0]), _number(f"{key}[{i}][1]", item[1])))
    return tuple(sorted(steps, key=lambda step: step[0]))


def _check_keys(where: str, data: Mapping[str, Any], known: tuple[str, ...]) -> None:
    unknown = [key for key in data if key not in known]
    if not unknown:
        return
    parts = []
    for key in unknown:
        text = f"unknown key {where + str(key)!r}"
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        if close:
            text += f" (did you mean {where + close[0]!r}?)"
        parts.append(text)
    raise ScenarioError("; ".join(parts), key=where + str(unknown[0]))


def _object(key: str, value: object, known: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(key, f"must be an object with keys {', '.join(known)}; got {_type_name(value)}")
    _check_keys(f"{key}.", value, known)
    missing = [k for k in known if k not in value]
    if missing:
        raise _fail(f"{key}.{missing[0]}", "is required (it has no default)")
    return value


def _agents(value: object) -> tuple[AgentGroup, ...]:
    if not isinstance(value, list | tuple):
        if isinstance(value, Mapping):
            raise _fail("agents", "must be an integer or a LIST of groups; wrap the group in [...]")
        return (AgentGroup(_integer("agents", value), 0.0, None),)
    groups = []
    for i, raw in enumerate(value):
        key = f"agents[{i}]"
        if not isinstance(raw, Mapping):
            raise _fail(key, f'must be an object like {{"n": 7, "login_h": 0.5}}, got {raw!r}')
        _check_keys(f"{key}.", raw, _GROUP_KEYS)
        if "n" not in raw:
            raise _fail(f"{key}.n", "is required: the number of agents in the group")
        logout = raw.get("logout_h")
        groups.append(
            AgentGroup(
                n=_integer(f"{key}.n", raw["n"]),
                login_h=_time_spec(f"{key}.login_h", raw.get("login_h", 0.0)),
                logout_h=None if logout is None else _time_spec(f"{key}.logout_h", logout),
            )
        )
    return tuple(groups)


def _breaks(value: object) -> Breaks | None:
    if value is None:
        return None
    raw = _object("breaks", value, _BREAK_KEYS)
    return Breaks(**{k: _number(f"breaks.{k}", raw[k]) for k in _BREAK_KEYS})


def _lunch(value: object) -> Lunch | None:
    if value is None:
        return None
    raw = _object("lunch", value, _LUNCH_KEYS)
    return Lunch(**{k: _number(f"lunch.{k}", raw[k]) for k in _LUNCH_KEYS})


def _logouts(value: object) -> tuple[float, ...]:
    if not isinstance(value, list | tuple):
        raise _fail("abrupt_logouts_h", f"must be a list of hours, got {_type_name(value)}")
    return tuple(sorted(_number(f"abrupt_logouts_h[{i}]", v) for i, v in enumerate(value)))


def _convert(key: str, value: object) -> object:
    if key in ("name", "title", "exposes", "note"):
        return _text(key, value)
    if key == "days":
        return _integer(key, value)
    if key == "agents":
        return _agents(value)
    if key in ("cps", "p_human"):
        return _steps(key, value)
    if key == "p_daily_range":
        return None if value is None else _pair(key, value)
    if key in ("setup_s", "busy_s", "invalid_s", "amd_s"):
        return _uniform_range(key, value)
    if key == "breaks":
        return _breaks(value)
    if key == "lunch":
        return _lunch(value)
    if key == "abrupt_logouts_h":
        return _logouts(value)
    return _number(key, value)


def parse_scenario(data: Mapping[str, Any]) -> Scenario:
    """Build a :class:`Scenario` from decoded JSON, refusing anything ambiguous.

    Every key is optional and falls back to the README default, which is exactly why
    unknown keys must be refused: a misspelt ``p_humen`` would otherwise run the whole
    benchmark on the default answer rate without anyone noticing.
    """
    if not isinstance(data, Mapping):
        raise ScenarioError(f"a scenario must be a JSON object {{...}}, got {_type_name(data)}")
    _check_keys("", data, _KEY_ORDER)
    values = {key: _convert(key, value) for key, value in data.items()}
    return Scenario(**values)  # type: ignore[arg-type]  # each value was converted for its key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.load keeps the last of two equal keys without a word; for a scenario that is
    # the same silent surprise as a typo.
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ScenarioError(f"duplicate key {key!r}: which value is meant is ambiguous", key=key)
        out[key] = value
    return out


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file; every error names the file and, if any, the key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the scenario file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from exc
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise ScenarioError(
            f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from exc
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc}", key=exc.key) from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: the top level must be a JSON object {{...}}, got {_type_name(data)}")
    try:
        return parse_scenario(data)
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc}", key=exc.key) from exc
