"""The dialing schedule: inside or outside its windows, and the next change, across summer time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from campaigns import services
from campaigns.schedule import ScheduleError, describe, parse_schedule, parse_zone, schedule_state, windows_of

NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS_9_TO_5 = [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:30"}]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_a_weekday_window_runs_on_tuesday_afternoon_and_says_when_it_closes():
    state = schedule_state(windows_of(WEEKDAYS_9_TO_5), NEW_YORK, at("2026-12-01T11:30:00-05:00"))

    assert state.running
    assert state.next_change == at("2026-12-01T17:30:00-05:00")


def test_friday_evening_waits_for_monday_morning():
    state = schedule_state(windows_of(WEEKDAYS_9_TO_5), NEW_YORK, at("2026-12-04T18:00:00-05:00"))

    assert not state.running
    assert state.next_change == at("2026-12-07T09:00:00-05:00")


def test_nine_in_the_morning_stays_nine_on_the_wall_clock_after_spring_forward():
    # 2026-03-08 is the Sunday New York moves from EST (-5) to EDT (-4).
    state = schedule_state(windows_of(WEEKDAYS_9_TO_5), NEW_YORK, at("2026-03-06T18:00:00-05:00"))

    assert state.next_change == at("2026-03-09T09:00:00-04:00")
    assert state.next_change == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)


def test_a_window_opening_in_the_skipped_hour_opens_when_the_clock_jumps_past_it():
    sunday_night = [{"days": [6], "start": "02:30", "end": "04:00"}]

    state = schedule_state(windows_of(sunday_night), NEW_YORK, at("2026-03-08T01:00:00-05:00"))

    assert not state.running
    assert state.next_change == at("2026-03-08T03:00:00-04:00")  # 02:00 EST becomes 03:00 EDT
    assert schedule_state(windows_of(sunday_night), NEW_YORK, state.next_change).running


def test_the_hour_that_happens_twice_in_autumn_is_inside_both_times():
    # 2026-11-01: 01:00-02:00 happens first in EDT, then again in EST.
    early = [{"days": [6], "start": "01:15", "end": "01:45"}]
    first = at("2026-11-01T01:20:00-04:00")
    second = at("2026-11-01T01:20:00-05:00")

    assert schedule_state(windows_of(early), NEW_YORK, first).running
    assert schedule_state(windows_of(early), NEW_YORK, second).running
    assert schedule_state(windows_of(early), NEW_YORK, first).next_change == at("2026-11-01T01:45:00-04:00")
    assert not schedule_state(windows_of(early), NEW_YORK, at("2026-11-01T01:50:00-04:00")).running


def test_a_window_ending_at_midnight_joins_the_next_days_window_into_one_run():
    windows = windows_of(
        [{"days": [0], "start": "20:00", "end": "24:00"}, {"days": [1], "start": "00:00", "end": "02:00"}]
    )

    state = schedule_state(windows, NEW_YORK, at("2026-11-30T21:00:00-05:00"))

    assert state.running
    assert state.next_change == at("2026-12-01T02:00:00-05:00")


def test_an_empty_schedule_never_runs_and_never_changes():
    state = schedule_state([], NEW_YORK, at("2026-12-01T12:00:00-05:00"))
    assert not state.running and state.next_change is None


def test_a_stored_schedule_is_normalized_and_described_as_people_read_it():
    stored = parse_schedule([{"days": [4, 0, 1, 2, 3, 3], "start": "9:00", "end": "17:30"}])

    assert stored == [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:30"}]
    assert describe(windows_of(stored)) == ["Mon-Fri 09:00-17:30"]
    assert describe(windows_of([{"days": [5, 6], "start": "10:00", "end": "14:00"}])) == ["Sat, Sun 10:00-14:00"]


@pytest.mark.parametrize(
    ("schedule", "words"),
    [
        ("mornings", "must be a list of windows"),
        ([{"days": [], "start": "09:00", "end": "10:00"}], "window 1: tick at least one day"),
        ([{"days": [7], "start": "09:00", "end": "10:00"}], "7 is not a weekday"),
        ([{"days": [1], "start": "9am", "end": "10:00"}], "start must look like 09:00"),
        ([{"days": [1], "start": "09:00", "end": "25:00"}], "end '25:00' is not a time of day"),
        ([{"days": [1], "start": "22:00", "end": "02:00"}], "must start before it ends"),
    ],
)
def test_a_bad_schedule_is_refused_with_the_window_and_what_is_wrong(schedule, words):
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(schedule)

    assert caught.value.field == "schedule"
    assert words in caught.value.message


@pytest.mark.parametrize("zone", ["EST", "Mars/Olympus", "", "America"])
def test_a_zone_that_is_no_region_is_refused_naming_schedule_tz(zone):
    with pytest.raises(ScheduleError) as caught:
        parse_zone(zone)

    assert caught.value.field == "schedule_tz"


def test_campaign_settings_check_the_schedule_the_zone_and_the_caller_ids():
    base = {"name": "Spring", "caller_id": "+12015550123"}

    values = services.validate_settings(
        {**base, "schedule": WEEKDAYS_9_TO_5, "schedule_tz": "America/Chicago",
         "caller_ids": ["(201) 555-0124", "+12015550124"], "script": "  Hi {first_name}  "}
    )

    assert values["caller_ids"] == ["+12015550124"]
    assert values["schedule_tz"] == "America/Chicago"
    assert values["script"] == "Hi {first_name}"
    for bad, field in (({"schedule_tz": "EST"}, "schedule_tz"), ({"schedule": [{"days": [9]}]}, "schedule"),
                       ({"caller_ids": ["12"]}, "caller_ids"), ({"caller_ids": "+12015550124"}, "caller_ids")):
        with pytest.raises(services.CampaignError) as caught:
            services.validate_settings({**base, **bad})
        assert caught.value.field == field


window_strategy = st.builds(
    lambda days, start, length: {"days": sorted(days), "start": f"{start // 60:02d}:{start % 60:02d}",
                                 "end": f"{(start + length) // 60:02d}:{(start + length) % 60:02d}"},
    st.sets(st.integers(0, 6), min_size=1),
    st.integers(0, 23 * 60),
    st.integers(1, 60),
).filter(lambda w: w["end"] <= "24:00")

zones = st.sampled_from(["America/New_York", "Europe/London", "Australia/Lord_Howe", "America/Sao_Paulo", "UTC"])
instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))


@settings(max_examples=60, deadline=None)
@given(st.lists(window_strategy, min_size=1, max_size=3), zones, instants)
def test_the_answer_holds_until_the_next_change_and_flips_there(schedule, zone_name, now):
    zone = ZoneInfo(zone_name)
    windows = windows_of(schedule)
    state = schedule_state(windows, zone, now)

    assert state.next_change is not None and state.next_change > now
    before = state.next_change - timedelta(seconds=1)
    if before > now:
        assert schedule_state(windows, zone, before).running == state.running
    assert schedule_state(windows, zone, state.next_change).running != state.running
    # Probe the stretch in between: nothing changes before the announced change.
    span = (state.next_change - now) / 7
    for step in range(1, 7):
        assert schedule_state(windows, zone, now + span * step).running == state.running


@pytest.mark.parametrize(
    ("status", "running", "previous", "action"),
    [
        ("paused", True, False, "start"),
        ("draft", True, None, "start"),
        ("active", False, True, "pause"),
        ("active", False, None, "pause"),
        ("paused", True, True, None),  # paused by hand inside the window: obeyed until the next edge
        ("active", False, False, None),  # started by hand outside it: likewise
        ("finished", True, False, None),
        ("active", True, False, None),
    ],
)
def test_the_scheduler_acts_only_when_the_schedules_answer_changes(status, running, previous, action):
    from campaigns.schedule import action_for

    assert action_for(status, running, previous) == action


def scheduled(session, name: str, schedule, **settings):
    campaign = services.create_campaign(session, name=name, caller_id="+12015550199", **settings)
    campaign.schedule = schedule
    campaign.schedule_tz = "America/New_York"
    session.flush()
    return campaign


def test_the_schedule_job_starts_and_pauses_campaigns_and_leaves_the_others_alone(session, caplog):
    from campaigns.commands.scheduler import apply_schedules
    from campaigns.compliance_models import AuditEvent

    tuesday_noon = at("2026-12-01T12:00:00-05:00")
    tuesday_night = at("2026-12-01T19:00:00-05:00")
    opening = scheduled(session, "Opening", WEEKDAYS_9_TO_5)
    by_hand = scheduled(session, "By hand", [])
    done = scheduled(session, "Done", WEEKDAYS_9_TO_5)
    services.finish_campaign(session, done)
    seen: dict[int, bool] = {}

    with caplog.at_level("INFO"):
        first = apply_schedules(session, tuesday_noon, seen)
    again = apply_schedules(session, tuesday_noon, seen)

    assert [(c.name, c.action, c.after) for c in first] == [("Opening", "start", "active")]
    assert again == []
    assert (opening.status, by_hand.status, done.status) == ("active", "draft", "finished")
    assert "Opening" in caplog.text and "started by its schedule" in caplog.text
    services.pause_campaign(session, opening)  # a supervisor pauses it inside the window
    assert apply_schedules(session, tuesday_noon, seen) == []
    assert opening.status == "paused"
    services.start_campaign(session, opening)
    closing = apply_schedules(session, tuesday_night, seen)
    assert [(c.action, c.before, c.after) for c in closing] == [("pause", "active", "paused")]
    recorded = session.scalars(select(AuditEvent).where(AuditEvent.kind == "campaign.status_changed")).all()
    assert len(recorded) == 2  # the scheduler's start and pause; the hand's own are the web's to record


def test_a_campaign_the_services_refuse_to_start_is_reported_and_left_as_it_was(session):
    from campaigns.commands.scheduler import apply_schedules

    lawless = scheduled(session, "Lawless", WEEKDAYS_9_TO_5, drop_message="Goodbye.")

    [change] = apply_schedules(session, at("2026-12-01T12:00:00-05:00"), {})

    assert change.error is not None and "does not name the seller" in change.error
    assert lawless.status == "draft"


def test_a_tick_remembers_what_it_saw_in_redis_across_restarts(tmp_path):
    from campaigns import db
    from campaigns.commands.scheduler import SCHEDULE_SEEN_KEY, schedule_tick
    from campaigns.redis_conn import connect_redis

    url = f"sqlite:///{tmp_path / 'tick.db'}"
    db.ensure_schema(url)
    engine = db.make_engine(url)
    always = [{"days": list(range(7)), "start": "00:00", "end": "24:00"}]
    with db.make_session_factory(engine)() as session, session.begin():
        campaign_id = scheduled(session, "Always", always).id
    client = connect_redis(f"memory://tick-{tmp_path.name}")
    try:
        first = schedule_tick(engine, client)
        second = schedule_tick(engine, client)

        assert [c.action for c in first] == ["start"] and second == []
        assert client.hgetall(SCHEDULE_SEEN_KEY) == {str(campaign_id).encode(): b"1"}
    finally:
        engine.dispose()
