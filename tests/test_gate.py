"""The dial gate: calling windows in every candidate zone, do-not-call lists, and the decision record."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from compliance.gate import (
    CallingHoursRule,
    CallingWindow,
    CampaignPolicy,
    Decision,
    DialGate,
    DialTarget,
    DoNotCallRule,
    NoDnc,
    RuleResult,
    default_gate,
    next_time_inside,
)
from compliance.ruleset import RULESET_VERSION

NY = ZoneInfo("America/New_York")
LA = ZoneInfo("America/Los_Angeles")
POLICY = CampaignPolicy(campaign_id=7)
HOURS = CallingHoursRule()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def target(*zones: str, e164: str = "+12125550100") -> DialTarget:
    return DialTarget(e164, tuple(zones))


def inside_everywhere(window: CallingWindow, zones: list[ZoneInfo], at: datetime) -> bool:
    return all(window.contains(at.astimezone(zone).time()) for zone in zones)


# --- CallingWindow.parse -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("08:00-21:00", time(8, 0), time(21, 0)),
        ("09:30-20:15", time(9, 30), time(20, 15)),
        ("  10:00 - 18:00  ", time(10, 0), time(18, 0)),
        ("08:00-24:00", time(8, 0), None),
        ("00:00-24:00", time(0, 0), None),
        ("00:00-00:01", time(0, 0), time(0, 1)),
        ("23:59-24:00", time(23, 59), None),
    ],
)
def test_a_well_formed_window_parses_to_its_start_and_end(text: str, start: time, end: time | None) -> None:
    window = CallingWindow.parse(text)
    assert (window.start, window.end) == (start, end)


def test_the_default_window_is_the_federal_eight_to_nine() -> None:
    assert CallingWindow() == CallingWindow.parse("08:00-21:00")
    assert str(CallingWindow()) == "08:00-21:00"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "08:00",
        "08:00-",
        "-21:00",
        "0800-2100",
        "8-21",
        "08:00-21:00-22:00",
        "08:00:00-21:00",
        "ab:cd-ef:gh",
        "25:00-26:00",
        "08:60-21:00",
        "24:00-24:00",
        "08:00 to 21:00",
    ],
)
def test_a_malformed_window_is_refused_with_the_expected_shape_in_the_message(text: str) -> None:
    with pytest.raises(ValueError, match="must look like 08:00-21:00"):
        CallingWindow.parse(text)


@pytest.mark.parametrize("text", ["21:00-08:00", "08:00-08:00", "12:30-12:29"])
def test_a_window_that_ends_at_or_before_its_start_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="ends before it starts"):
        CallingWindow.parse(text)


@st.composite
def windows(draw: st.DrawFn) -> CallingWindow:
    start = draw(st.integers(0, 24 * 60 - 1))
    end = draw(st.integers(start + 1, 24 * 60))
    return CallingWindow(time(start // 60, start % 60), None if end == 24 * 60 else time(end // 60, end % 60))


@given(windows())
def test_a_window_printed_and_parsed_again_is_the_same_window(window: CallingWindow) -> None:
    assert CallingWindow.parse(str(window)) == window


# --- CallingWindow.contains ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "inside"),
    [
        (time(7, 59, 59, 999999), False),
        (time(8, 0, 0), True),
        (time(12, 0), True),
        (time(20, 59, 59, 999999), True),
        (time(21, 0, 0), False),
        (time(23, 59, 59), False),
        (time(0, 0), False),
    ],
)
def test_a_window_includes_its_start_and_excludes_its_end(local: time, inside: bool) -> None:
    assert CallingWindow().contains(local) is inside


def test_a_window_ending_at_24_00_runs_to_the_last_microsecond_of_the_day() -> None:
    window = CallingWindow.parse("08:00-24:00")
    assert window.contains(time(23, 59, 59, 999999))
    assert window.contains(time(8, 0))
    assert not window.contains(time(0, 0))
    assert not window.contains(time(7, 59))


@given(windows(), st.times())
def test_a_window_contains_exactly_the_times_from_its_start_up_to_its_end(window: CallingWindow, local: time) -> None:
    assert window.contains(window.start)
    if window.end is not None:
        assert not window.contains(window.end)
    expected = window.start <= local and (window.end is None or local < window.end)
    assert window.contains(local) is expected


# --- CallingHoursRule ----------------------------------------------------------------------------


def test_eight_in_the_morning_local_time_may_be_dialed_and_a_microsecond_before_may_not() -> None:
    at_eight = utc(2026, 6, 15, 12, 0)  # 08:00 EDT
    allowed = HOURS.check(target("America/New_York"), POLICY, at_eight)
    assert (allowed.passed, allowed.code, allowed.rule) == (True, "ok", "hours.campaign_window")
    assert allowed.next_allowed_at is None

    blocked = HOURS.check(target("America/New_York"), POLICY, at_eight - timedelta(microseconds=1))
    assert (blocked.passed, blocked.code) == (False, "outside_hours")
    assert blocked.next_allowed_at == at_eight


def test_nine_in_the_evening_local_time_may_not_be_dialed_and_the_next_chance_is_eight_next_morning() -> None:
    at_nine_pm = utc(2026, 6, 16, 1, 0)  # 21:00 EDT on June 15
    blocked = HOURS.check(target("America/New_York"), POLICY, at_nine_pm)
    assert blocked.code == "outside_hours"
    assert blocked.next_allowed_at == utc(2026, 6, 16, 12, 0)
    assert HOURS.check(target("America/New_York"), POLICY, at_nine_pm - timedelta(seconds=1)).passed


def test_a_number_in_new_york_and_los_angeles_is_blocked_while_it_is_still_early_in_los_angeles() -> None:
    result = HOURS.check(target("America/New_York", "America/Los_Angeles"), POLICY, utc(2026, 6, 15, 13, 0))
    # 09:00 in New York but 06:00 in Los Angeles
    assert (result.passed, result.code) == (False, "outside_hours")
    assert "America/Los_Angeles" in result.detail
    assert "America/New_York" not in result.detail
    assert result.next_allowed_at == utc(2026, 6, 15, 15, 0)  # 08:00 PDT


def test_a_number_in_new_york_and_los_angeles_is_allowed_when_both_are_inside() -> None:
    result = HOURS.check(target("America/New_York", "America/Los_Angeles"), POLICY, utc(2026, 6, 15, 17, 0))
    # 13:00 in New York, 10:00 in Los Angeles
    assert (result.passed, result.code) == (True, "ok")
    assert "America/New_York" in result.detail and "America/Los_Angeles" in result.detail


def test_after_nine_in_new_york_the_next_time_waits_for_los_angeles_to_open_the_next_day() -> None:
    result = HOURS.check(target("America/Los_Angeles", "America/New_York"), POLICY, utc(2026, 6, 16, 1, 0))
    # 21:00 in New York (closed), 18:00 in Los Angeles (open): New York opens at 12:00 UTC, when LA is at 05:00
    assert result.code == "outside_hours"
    assert "America/New_York" in result.detail and "America/Los_Angeles" not in result.detail
    assert result.next_allowed_at == utc(2026, 6, 16, 15, 0)


def test_the_order_of_the_candidate_zones_does_not_change_the_answer() -> None:
    at = utc(2026, 1, 10, 14, 30)
    zones = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
    forward = HOURS.check(target(*zones), POLICY, at)
    backward = HOURS.check(target(*reversed(zones)), POLICY, at)
    assert (forward.passed, forward.next_allowed_at) == (backward.passed, backward.next_allowed_at)
    assert forward.next_allowed_at == utc(2026, 1, 10, 16, 0)  # 08:00 PST


def test_the_campaign_window_is_the_one_applied() -> None:
    policy = CampaignPolicy(campaign_id=7, window=CallingWindow.parse("09:00-20:00"))
    at = utc(2026, 6, 15, 12, 30)  # 08:30 EDT: inside the default window, not this campaign's
    assert HOURS.check(target("America/New_York"), POLICY, at).passed
    result = HOURS.check(target("America/New_York"), policy, at)
    assert result.code == "outside_hours"
    assert "09:00-20:00" in result.detail
    assert result.next_allowed_at == utc(2026, 6, 15, 13, 0)


@pytest.mark.parametrize(
    "zones",
    [
        (),
        ("Not/AZone",),
        ("",),
        ("America/New_York ",),
        ("../../etc/passwd",),
        ("/etc/localtime",),
        ("America",),  # a directory of the zone database, not a zone
        ("Nowhere/One", "Nowhere/Two"),
    ],
)
def test_an_unknown_empty_or_invalid_zone_is_unknown_timezone_with_no_next_time(zones: tuple[str, ...]) -> None:
    result = HOURS.check(target(*zones), POLICY, utc(2026, 6, 15, 17, 0))
    assert (result.passed, result.code) == (False, "unknown_timezone")
    assert result.next_allowed_at is None
    assert "+12125550100" in result.detail


def test_a_candidate_zone_that_cannot_be_resolved_blocks_even_when_the_others_are_known() -> None:
    result = HOURS.check(target("America/New_York", "Not/AZone"), POLICY, utc(2026, 6, 15, 17, 0))
    assert (result.passed, result.code) == (False, "unknown_timezone")


# --- next_time_inside ----------------------------------------------------------------------------


def test_next_time_inside_is_now_itself_when_every_zone_is_open() -> None:
    now = utc(2026, 6, 15, 17, 0, 30)
    assert next_time_inside(CallingWindow(), [NY, LA], now) == now


def test_next_time_inside_takes_an_aware_now_in_any_zone() -> None:
    now = datetime(2026, 6, 15, 6, 0, tzinfo=NY)
    assert next_time_inside(CallingWindow(), [NY], now) == utc(2026, 6, 15, 12, 0)


def test_a_window_open_all_day_is_always_inside() -> None:
    now = utc(2026, 3, 8, 7, 0)
    assert next_time_inside(CallingWindow.parse("00:00-24:00"), [NY, LA, ZoneInfo("Asia/Tokyo")], now) == now


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # spring forward, 2026-03-08: 02:00 EST becomes 03:00 EDT, so 08:00 that day is 12:00 UTC, not 13:00
        (utc(2026, 3, 8, 3, 0), utc(2026, 3, 8, 12, 0)),  # 22:00 EST the evening before
        (utc(2026, 3, 8, 5, 0), utc(2026, 3, 8, 12, 0)),  # midnight EST
        (utc(2026, 3, 8, 6, 59), utc(2026, 3, 8, 12, 0)),  # 01:59 EST, just before the jump
        (utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 12, 0)),  # 03:00 EDT, just after it
        (utc(2026, 3, 9, 1, 0), utc(2026, 3, 9, 12, 0)),  # 21:00 EDT on the change day
        # fall back, 2026-11-01: 02:00 EDT becomes 01:00 EST, so 08:00 that day is 13:00 UTC, not 12:00
        (utc(2026, 11, 1, 1, 0), utc(2026, 11, 1, 13, 0)),  # 21:00 EDT the evening before
        (utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 13, 0)),  # 01:30 EDT, the first time round
        (utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 13, 0)),  # 01:30 EST, the second time round
        (utc(2026, 11, 1, 12, 30), utc(2026, 11, 1, 13, 0)),  # 07:30 EST
        (utc(2026, 11, 2, 2, 0), utc(2026, 11, 2, 13, 0)),  # 21:00 EST on the change day
    ],
)
def test_next_time_inside_is_eight_local_time_across_a_daylight_saving_change(
    now: datetime, expected: datetime
) -> None:
    found = next_time_inside(CallingWindow(), [NY], now)
    assert found == expected
    assert found.astimezone(NY).time() == time(8, 0)


def test_the_last_dialable_second_of_a_daylight_saving_change_day_is_before_nine_local() -> None:
    for last in (utc(2026, 3, 9, 0, 59, 59), utc(2026, 11, 2, 1, 59, 59)):
        assert HOURS.check(target("America/New_York"), POLICY, last).passed
        assert not HOURS.check(target("America/New_York"), POLICY, last + timedelta(seconds=1)).passed


def test_zones_whose_windows_never_overlap_have_no_next_time_and_block_for_good() -> None:
    # London 08-21 and Tokyo 08-21 overlap only before 12:00 UTC; New York opens at 12:00 UTC or later.
    names = ("Europe/London", "Asia/Tokyo", "America/New_York")
    for now in (utc(2026, 1, 15, 10, 0), utc(2026, 7, 15, 10, 0)):
        assert next_time_inside(CallingWindow(), [ZoneInfo(n) for n in names], now) is None
        result = HOURS.check(target(*names), POLICY, now)
        assert (result.passed, result.code, result.next_allowed_at) == (False, "outside_hours", None)


def test_zones_whose_windows_first_overlap_after_a_daylight_saving_change_get_that_day() -> None:
    # 10:00-18:00 in Juneau (UTC-8 in summer) and in Harbin (UTC+8) touch but never overlap until
    # Juneau falls back to UTC-9 on 29 October 2000; then both are open 02:00-03:00 UTC.
    zones = [ZoneInfo("America/Juneau"), ZoneInfo("Asia/Harbin")]
    found = next_time_inside(CallingWindow.parse("10:00-18:00"), zones, utc(2000, 10, 15))
    assert found == utc(2000, 10, 30, 2, 0)


ZONE_NAMES = sorted(available_timezones())
REALISTIC_WINDOWS = [CallingWindow.parse(w) for w in ("08:00-21:00", "09:00-21:30", "08:00-20:00", "10:00-18:00")]


@settings(max_examples=120, deadline=None)
@example(  # the windows first overlap two weeks later, when Juneau leaves daylight-saving time
    now=datetime(2000, 10, 15, tzinfo=UTC),
    names=["America/Juneau", "Asia/Harbin"],
    window=CallingWindow(time(10, 0), time(18, 0)),
)
@given(
    now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)),
    names=st.lists(st.sampled_from(ZONE_NAMES), min_size=1, max_size=4, unique=True),
    window=st.sampled_from(REALISTIC_WINDOWS),
)
def test_next_time_inside_is_the_first_minute_inside_the_window_in_every_zone(
    now: datetime, names: list[str], window: CallingWindow
) -> None:
    zones = [ZoneInfo(name) for name in names]
    found = next_time_inside(window, zones, now)
    first_minute = now.replace(second=0, microsecond=0)
    if first_minute < now:
        first_minute += timedelta(minutes=1)
    if found is None:
        # never inside everywhere: no minute of the next three days is
        minute = first_minute
        for _ in range(3 * 24 * 60):
            assert not inside_everywhere(window, zones, minute), minute
            minute += timedelta(minutes=1)
        return
    assert found >= now
    assert inside_everywhere(window, zones, found)
    minute = first_minute
    while minute < found:
        assert not inside_everywhere(window, zones, minute), minute
        minute += timedelta(minutes=1)
    # the rule agrees with the function and with the definition
    result = HOURS.check(DialTarget("+1", tuple(names)), CampaignPolicy(1, window), now)
    assert result.passed is inside_everywhere(window, zones, now)
    assert result.next_allowed_at == (None if result.passed else found)


# --- DoNotCallRule -------------------------------------------------------------------------------


class FakeDnc:
    def __init__(self, company: Collection[str] = (), campaign: Collection[tuple[str, int]] = ()) -> None:
        self.company = set(company)
        self.campaign = set(campaign)
        self.asked: list[tuple[str, int]] = []

    def listed(self, e164: str, campaign_id: int) -> str | None:
        self.asked.append((e164, campaign_id))
        if e164 in self.company:
            return "company"
        if (e164, campaign_id) in self.campaign:
            return "campaign"
        return None


def test_a_number_on_no_list_passes_the_dnc_rule_and_the_lookup_is_asked_with_the_campaign() -> None:
    lookup = FakeDnc(company={"+13105550199"})
    result = DoNotCallRule(lookup).check(target("America/New_York"), POLICY, utc(2026, 6, 15, 17, 0))
    assert (result.rule, result.code, result.passed) == ("dnc.lists", "ok", True)
    assert lookup.asked == [("+12125550100", 7)]


def test_a_number_on_the_company_list_is_blocked_as_dnc_company_with_no_next_time() -> None:
    rule = DoNotCallRule(FakeDnc(company={"+12125550100"}))
    result = rule.check(target("America/New_York"), POLICY, utc(2026, 6, 15, 17, 0))
    assert (result.code, result.passed, result.next_allowed_at) == ("dnc_company", False, None)
    assert "+12125550100" in result.detail and "company" in result.detail


def test_a_number_on_a_campaign_list_is_blocked_only_in_that_campaign() -> None:
    rule = DoNotCallRule(FakeDnc(campaign={("+12125550100", 7)}))
    now = utc(2026, 6, 15, 17, 0)
    blocked = rule.check(target("America/New_York"), CampaignPolicy(7), now)
    assert (blocked.code, blocked.passed, blocked.next_allowed_at) == ("dnc_campaign", False, None)
    assert "campaign" in blocked.detail
    assert rule.check(target("America/New_York"), CampaignPolicy(8), now).passed


def test_no_dnc_lists_nothing() -> None:
    assert NoDnc().listed("+12125550100", 7) is None


# --- Decision ------------------------------------------------------------------------------------


AT = utc(2026, 6, 15, 13, 0)
OK = RuleResult("a.ok", "ok", True, "fine")
LATER = RuleResult("b.hours", "outside_hours", False, "too early", AT + timedelta(hours=2))
LATEST = RuleResult("c.hours", "outside_state_hours", False, "too early here", AT + timedelta(hours=3))
NEVER = RuleResult("d.dnc", "dnc_company", False, "on the list")


def test_an_allowed_decision_may_go_at_its_own_instant_and_has_no_codes() -> None:
    decision = Decision(True, AT, (OK,))
    assert decision.next_allowed_at == AT
    assert decision.codes == ()
    assert decision.blocking == ()


def test_a_blocked_decision_may_go_when_the_last_blocking_rule_opens() -> None:
    decision = Decision(False, AT, (LATEST, OK, LATER))
    assert decision.next_allowed_at == AT + timedelta(hours=3)
    assert decision.codes == ("outside_state_hours", "outside_hours")
    assert decision.blocking == (LATEST, LATER)


def test_a_decision_names_each_blocking_code_once_however_many_rules_give_it() -> None:
    # the federal, state and campaign windows all say outside_hours; the hopper counts the lead once
    decision = Decision(False, AT, (LATER, NEVER, dataclasses.replace(LATER, rule="c.hours")))
    assert decision.codes == ("outside_hours", "dnc_company")
    assert len(decision.blocking) == 3


def test_a_blocked_decision_with_any_rule_that_waiting_cannot_cure_has_no_next_time() -> None:
    assert Decision(False, AT, (LATER, NEVER)).next_allowed_at is None
    assert Decision(False, AT, (NEVER, LATER)).next_allowed_at is None


def test_a_decision_as_a_dict_lists_reasons_for_the_blocking_rules_and_every_rule_checked() -> None:
    data = Decision(False, AT, (OK, LATER)).to_dict()
    assert data == {
        "allowed": False,
        "at": "2026-06-15T13:00:00+00:00",
        "reasons": [{"code": "outside_hours", "rule": "b.hours", "detail": "too early"}],
        "checked": [
            {"rule": "a.ok", "passed": True, "code": "ok"},
            {"rule": "b.hours", "passed": False, "code": "outside_hours"},
        ],
        "next_allowed_at": "2026-06-15T15:00:00+00:00",
    }
    assert json.loads(json.dumps(data)) == data


def test_a_decision_as_a_dict_has_a_null_next_time_when_waiting_never_helps() -> None:
    data = Decision(False, AT, (NEVER,)).to_dict()
    assert data["next_allowed_at"] is None
    assert data["reasons"] == [{"code": "dnc_company", "rule": "d.dnc", "detail": "on the list"}]


def test_an_allowed_decision_as_a_dict_has_no_reasons_and_may_go_now() -> None:
    data = Decision(True, AT, (OK,)).to_dict()
    assert data["allowed"] is True
    assert data["reasons"] == []
    assert data["next_allowed_at"] == "2026-06-15T13:00:00+00:00"


# --- DialGate ------------------------------------------------------------------------------------


class SpyRule:
    def __init__(self, rule_id: str, result: RuleResult) -> None:
        self.id = rule_id
        self.result = result
        self.calls: list[datetime] = []

    def check(self, target: DialTarget, policy: CampaignPolicy, now: datetime) -> RuleResult:
        self.calls.append(now)
        return self.result


def test_the_gate_refuses_a_naive_datetime_before_asking_any_rule() -> None:
    spy = SpyRule("a.ok", OK)
    with pytest.raises(ValueError, match="aware"):
        DialGate([spy]).can_dial(target("America/New_York"), POLICY, datetime(2026, 6, 15, 17, 0))
    assert spy.calls == []


def test_the_gate_asks_every_rule_even_after_one_blocks_and_keeps_their_order() -> None:
    rules = [SpyRule("d.dnc", NEVER), SpyRule("a.ok", OK), SpyRule("b.hours", LATER)]
    decision = DialGate(rules).can_dial(target("America/New_York"), POLICY, AT)
    assert decision.allowed is False
    assert decision.at == AT
    assert decision.results == (NEVER, OK, LATER)
    assert all(rule.calls == [AT] for rule in rules)


def test_the_gate_allows_only_when_every_rule_passes() -> None:
    assert DialGate([SpyRule("a", OK), SpyRule("b", OK)]).can_dial(target(), POLICY, AT).allowed
    assert not DialGate([SpyRule("a", OK), SpyRule("b", LATER)]).can_dial(target(), POLICY, AT).allowed


def test_the_default_gate_checks_the_campaign_window_the_law_the_lists_consent_and_the_budget() -> None:
    # Stricter on purpose since issue 4: the default gate holds every rule, so the engine enforces the law.
    gate = default_gate()
    assert [rule.id for rule in gate.rules] == [
        "hours.campaign_window", "law", "campaign.caps", "dnc.lists", "consent", "us.rnd", "us.fcc.abandonment",
    ]
    decision = gate.can_dial(target("America/New_York", "America/Los_Angeles"), POLICY, utc(2026, 6, 15, 17, 0))
    assert decision.allowed
    assert [r.rule for r in decision.results] == [
        "hours.campaign_window", "us.fcc.hours", "us.ftc.hours", "us.national_dnc", "us-ny.hours",
        "dnc.lists", "us.consent", "us.rnd", "us.fcc.abandonment",
    ]
    assert decision.ruleset_version == RULESET_VERSION


def test_the_default_gate_outside_hours_and_on_a_dnc_list_gives_both_codes_and_no_next_time() -> None:
    gate = default_gate(FakeDnc(company={"+12125550100"}))
    decision = gate.can_dial(target("America/New_York"), POLICY, utc(2026, 6, 15, 3, 0))
    assert decision.codes == ("outside_hours", "dnc_company")
    assert decision.next_allowed_at is None


def test_the_default_gate_outside_hours_only_may_go_when_the_window_opens() -> None:
    decision = default_gate().can_dial(target("America/Los_Angeles"), POLICY, utc(2026, 6, 15, 13, 0))
    assert decision.codes == ("outside_hours",)
    assert decision.next_allowed_at == utc(2026, 6, 15, 15, 0)
    assert decision.to_dict()["next_allowed_at"] == "2026-06-15T15:00:00+00:00"
