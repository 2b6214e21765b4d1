"""What happens to a contact after a call: retry when, finish, or stop for good."""

from __future__ import annotations

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
    next_step,
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
