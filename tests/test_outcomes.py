"""What happens to a contact after a call: retry when, finish, or stop for good."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialer.calls import AnswerClass
from dialer.outcomes import (
    CUSTOMER_HUNG_UP,
    DROPPED,
    ContactUpdate,
    DispositionRule,
    RetryPolicy,
    auto_disposition,
    in_another_hour,
    next_step,
    stays_on_phone,
)

NOW = 1_000_000.0
POLICY = RetryPolicy(max_attempts=5, retry_delays_min=(60, 240, 1440))


def step(rule: DispositionRule, attempts: int = 1, callback_at: float | None = None) -> ContactUpdate:
    return next_step(rule, attempts=attempts, policy=POLICY, now=NOW, callback_at=callback_at)


# --- stopping for good ---------------------------------------------------------------------------


def test_a_final_disposition_is_done_with_no_next_time() -> None:
    assert step(DispositionRule("SALE", final=True)) == ContactUpdate("done", None, "SALE")


def test_a_final_disposition_is_done_even_with_a_retry_delay_and_attempts_left() -> None:
    update = step(DispositionRule("NI", final=True, retry_after_min=30), attempts=1)
    assert (update.status, update.next_eligible_at) == ("done", None)


def test_a_dnc_disposition_stops_the_contact_and_adds_the_number_to_the_list() -> None:
    update = step(DispositionRule("DNC", final=True, adds_to_dnc=True))
    assert update == ContactUpdate("dnc", None, "DNC", add_to_dnc=True)


@pytest.mark.parametrize(
    "rule",
    [
        DispositionRule("DNC", adds_to_dnc=True, callback=True, retry_after_min=5),
        DispositionRule("DNC", adds_to_dnc=True, final=False),
        DispositionRule("BAD", adds_to_dnc=True),
    ],
)
def test_a_dnc_request_wins_over_every_other_flag(rule: DispositionRule) -> None:
    update = step(rule, callback_at=NOW + 60)
    assert (update.status, update.next_eligible_at, update.add_to_dnc) == ("dnc", None, True)


def test_a_bad_number_marks_the_phone_bad_and_stops() -> None:
    update = step(DispositionRule("BAD", final=True, human_answered=False))
    assert update == ContactUpdate("bad_number", None, "BAD", phone_bad=True)
    assert step(DispositionRule("BAD")).status == "bad_number"  # even when not flagged final


# --- callbacks -----------------------------------------------------------------------------------


def test_a_callback_is_due_at_the_time_the_person_asked_for() -> None:
    update = step(DispositionRule("CB", callback=True, retry_after_min=30), callback_at=NOW + 86_400)
    assert update == ContactUpdate("callback", NOW + 86_400, "CB")


def test_a_callback_without_a_time_is_due_after_the_dispositions_delay() -> None:
    update = step(DispositionRule("CB", callback=True, retry_after_min=30))
    assert (update.status, update.next_eligible_at) == ("callback", NOW + 30 * 60)


def test_a_callback_without_a_time_or_a_delay_is_due_in_an_hour() -> None:
    update = step(DispositionRule("CB", callback=True))
    assert (update.status, update.next_eligible_at) == ("callback", NOW + 3600)


# --- retries -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "delay_min"),
    [(1, 60), (2, 240), (3, 1440), (4, 1440)],
)
def test_a_retry_waits_the_policys_delay_for_that_attempt_and_the_last_delay_repeats(
    attempts: int, delay_min: int
) -> None:
    update = step(DispositionRule("HUP"), attempts=attempts)
    assert update == ContactUpdate("retry", NOW + 60 * delay_min, "HUP")


@pytest.mark.parametrize("attempts", [5, 6, 50])
def test_a_contact_at_its_maximum_attempts_is_exhausted(attempts: int) -> None:
    assert step(DispositionRule("NA", retry_after_min=60, human_answered=False), attempts=attempts) == ContactUpdate(
        "exhausted", None, "NA"
    )


def test_the_last_attempt_before_the_maximum_is_still_retried() -> None:
    assert step(DispositionRule("NA"), attempts=4).status == "retry"


@pytest.mark.parametrize("attempts", [1, 2, 3, 4])
def test_a_dispositions_own_delay_overrides_the_policy(attempts: int) -> None:
    update = step(DispositionRule("BUSY", retry_after_min=15, human_answered=False), attempts=attempts)
    assert update == ContactUpdate("retry", NOW + 15 * 60, "BUSY")


def test_a_disposition_delay_of_zero_retries_at_once() -> None:
    assert step(DispositionRule("DROP", retry_after_min=0)).next_eligible_at == NOW


def test_a_single_attempt_policy_never_retries() -> None:
    update = next_step(DispositionRule("NA"), attempts=1, policy=RetryPolicy(max_attempts=1), now=NOW)
    assert update.status == "exhausted"


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(0, 3600.0), (1, 3600.0), (2, 14_400.0), (3, 86_400.0), (4, 86_400.0), (99, 86_400.0)],
)
def test_the_policy_delay_after_each_attempt(attempts: int, seconds: float) -> None:
    assert POLICY.delay_s(attempts) == seconds


def test_a_policy_without_delays_waits_an_hour() -> None:
    assert RetryPolicy(retry_delays_min=()).delay_s(3) == 3600.0


@given(
    delays=st.lists(st.integers(0, 10_000), min_size=1, max_size=6),
    max_attempts=st.integers(1, 10),
    attempts=st.integers(1, 12),
    now=st.floats(0, 2e9),
)
def test_a_plain_disposition_is_retried_after_the_policy_delay_or_exhausted(
    delays: list[int], max_attempts: int, attempts: int, now: float
) -> None:
    policy = RetryPolicy(max_attempts, tuple(delays))
    update = next_step(DispositionRule("HUP"), attempts=attempts, policy=policy, now=now)
    if attempts >= max_attempts:
        assert (update.status, update.next_eligible_at) == ("exhausted", None)
    else:
        expected = delays[min(attempts, len(delays)) - 1]
        assert (update.status, update.next_eligible_at) == ("retry", now + 60.0 * expected)
        assert update.next_eligible_at is not None and update.next_eligible_at >= now
    assert update.disposition == "HUP"
    assert not update.add_to_dnc and not update.phone_bad


# --- system dispositions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (AnswerClass.NO_ANSWER, "NA"),
        (AnswerClass.BUSY, "BUSY"),
        (AnswerClass.MACHINE, "AM"),
        (AnswerClass.FAX, "AM"),
        (AnswerClass.FAILED, "BAD"),
        (AnswerClass.HUMAN, CUSTOMER_HUNG_UP),
        (AnswerClass.UNKNOWN, CUSTOMER_HUNG_UP),
        (None, "NA"),
    ],
)
def test_a_call_that_never_reached_an_agent_gets_a_system_disposition(answer: AnswerClass | None, code: str) -> None:
    assert auto_disposition(answer, abandoned=False) == code


@pytest.mark.parametrize("answer", [*AnswerClass, None])
def test_an_abandoned_call_is_a_drop_whatever_answered(answer: AnswerClass | None) -> None:
    assert auto_disposition(answer, abandoned=True) == DROPPED == "DROP"


def test_a_failed_call_leads_to_a_bad_number() -> None:
    code = auto_disposition(AnswerClass.FAILED, abandoned=False)
    assert step(DispositionRule(code, final=True)).phone_bad


# --- recycling: wrong numbers, machines, retries per code, another hour of the day --------------

NEW_YORK = ZoneInfo("America/New_York")


def at_new_york(year: int, month: int, day: int, hour: int, minute: int = 0, fold: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK, fold=fold).timestamp()


def test_a_wrong_number_marks_the_phone_bad_even_when_the_code_is_final() -> None:
    update = step(DispositionRule("WRONG", final=True, wrong_number=True))
    assert update == ContactUpdate("bad_number", None, "WRONG", phone_bad=True)


def test_a_sale_is_done_even_when_the_code_forgot_to_be_final() -> None:
    assert step(DispositionRule("CLOSED", sale=True, retry_after_min=30)).status == "done"


def test_an_answering_machine_is_retried_on_the_next_phone_not_the_same_one() -> None:
    rule = DispositionRule("AM", human_answered=False, answering_machine=True, retry_after_min=240)
    update = step(rule)
    assert (update.status, update.next_eligible_at) == ("retry", NOW + 240 * 60)
    assert not stays_on_phone(rule, update)


def test_a_person_reached_is_called_again_on_the_phone_they_answered() -> None:
    hung_up = DispositionRule("HUP", retry_after_min=120)
    assert stays_on_phone(hung_up, step(hung_up))
    callback = DispositionRule("CB", callback=True)
    assert stays_on_phone(callback, step(callback))
    no_answer = DispositionRule("NA", human_answered=False)
    assert not stays_on_phone(no_answer, step(no_answer))
    sale = DispositionRule("SALE", final=True)
    assert not stays_on_phone(sale, step(sale))


@pytest.mark.parametrize(("count", "status"), [(1, "retry"), (2, "retry"), (3, "exhausted"), (9, "exhausted")])
def test_a_code_allows_at_most_its_own_number_of_retries(count: int, status: str) -> None:
    rule = DispositionRule("NA", human_answered=False, retry_after_min=60, max_retries=2)
    update = next_step(rule, attempts=1, policy=POLICY, now=NOW, code_count=count)
    assert (update.status, update.next_eligible_at is None) == (status, status == "exhausted")


def test_a_code_allowing_no_retry_stops_after_its_first_time_even_without_a_count() -> None:
    update = step(DispositionRule("AM", human_answered=False, max_retries=0))
    assert update == ContactUpdate("exhausted", None, "AM")


def test_the_campaigns_attempt_limit_still_holds_when_the_code_allows_more() -> None:
    rule = DispositionRule("NA", human_answered=False, max_retries=10)
    assert next_step(rule, attempts=5, policy=POLICY, now=NOW, code_count=1).status == "exhausted"


def test_a_callback_is_kept_whatever_the_codes_retry_count() -> None:
    rule = DispositionRule("CB", callback=True, max_retries=0)
    assert next_step(rule, attempts=1, policy=POLICY, now=NOW, code_count=5).status == "callback"


def test_a_retry_a_day_later_moves_to_the_next_hour_of_the_contacts_day() -> None:
    last = at_new_york(2026, 3, 10, 9, 15)
    rule = DispositionRule("NA", human_answered=False, retry_after_min=1440, different_hour=True)
    update = next_step(rule, attempts=1, policy=POLICY, now=last + 30, last_attempt_at=last, zone=NEW_YORK)
    assert update.next_eligible_at == at_new_york(2026, 3, 11, 10, 0)


def test_a_retry_already_in_another_hour_keeps_its_time() -> None:
    last = at_new_york(2026, 3, 10, 9, 15)
    rule = DispositionRule("NA", human_answered=False, retry_after_min=90, different_hour=True)
    update = next_step(rule, attempts=1, policy=POLICY, now=last, last_attempt_at=last, zone=NEW_YORK)
    assert update.next_eligible_at == last + 90 * 60


def test_the_hour_repeated_when_clocks_go_back_counts_as_the_same_hour() -> None:
    last = at_new_york(2026, 11, 1, 1, 20)  # 01:20 EDT; clocks go back at 02:00 to 01:00 EST
    wanted = at_new_york(2026, 11, 1, 1, 50, fold=1)  # 01:50 EST, an hour and a half later
    assert in_another_hour(wanted, last, NEW_YORK) == at_new_york(2026, 11, 1, 2, 0)


def test_the_hour_is_the_contacts_not_utcs() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")  # half an hour off every US zone
    last = datetime(2026, 3, 10, 15, 0, tzinfo=UTC).timestamp()  # 20:30 in Kolkata
    day_later = last + 86_400
    assert in_another_hour(day_later, last, kolkata) == datetime(2026, 3, 11, 15, 30, tzinfo=UTC).timestamp()
    assert in_another_hour(day_later, last, UTC) == datetime(2026, 3, 11, 16, 0, tzinfo=UTC).timestamp()


@given(
    last=st.floats(1.5e9, 2.0e9),
    delay_min=st.integers(0, 3 * 1440),
    zone=st.sampled_from(["America/New_York", "America/Los_Angeles", "Asia/Kolkata", "Europe/London", "UTC"]),
)
def test_a_different_hour_retry_is_never_in_the_last_attempts_hour_nor_early_nor_much_later(
    last: float, delay_min: int, zone: str
) -> None:
    tz = ZoneInfo(zone)
    rule = DispositionRule("NA", human_answered=False, retry_after_min=delay_min, different_hour=True)
    update = next_step(rule, attempts=1, policy=POLICY, now=last, last_attempt_at=last, zone=tz)
    assert update.next_eligible_at is not None
    wanted = last + 60.0 * delay_min
    assert datetime.fromtimestamp(update.next_eligible_at, tz).hour != datetime.fromtimestamp(last, tz).hour
    assert wanted <= update.next_eligible_at <= wanted + 2 * 3600
