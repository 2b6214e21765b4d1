"""What happens to a contact after a call: retry when, finish, or stop for good.

Pure rules, so the same outcome gives the same next step live, in tests and
in simulation; the database adapter only writes what this decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialer.calls import AnswerClass

# System dispositions for calls that never reached an agent.
AUTO_DISPOSITION = {
    AnswerClass.NO_ANSWER: "NA",
    AnswerClass.BUSY: "BUSY",
    AnswerClass.MACHINE: "AM",
    AnswerClass.FAX: "AM",
    AnswerClass.FAILED: "BAD",
}
DROPPED = "DROP"
CUSTOMER_HUNG_UP = "HUP"


@dataclass(frozen=True, slots=True)
class DispositionRule:
    code: str
    final: bool = False
    retry_after_min: int | None = None
    adds_to_dnc: bool = False
    callback: bool = False
    human_answered: bool = True


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    retry_delays_min: tuple[int, ...] = (60, 240, 1440)

    def delay_s(self, attempts: int) -> float:
        """The wait after the ``attempts``-th attempt; the last delay repeats."""
        delays = self.retry_delays_min or (60,)
        return 60.0 * delays[min(max(attempts, 1), len(delays)) - 1]


@dataclass(frozen=True, slots=True)
class ContactUpdate:
    status: str  # a campaigns.models.ContactStatus value
    next_eligible_at: float | None
    disposition: str
    add_to_dnc: bool = False
    phone_bad: bool = False


def auto_disposition(answer_class: AnswerClass | None, *, abandoned: bool) -> str:
    if abandoned:
        return DROPPED
    if answer_class is None:
        return "NA"
    return AUTO_DISPOSITION.get(answer_class, CUSTOMER_HUNG_UP)


def next_step(
    rule: DispositionRule,
    *,
    attempts: int,
    policy: RetryPolicy,
    now: float,
    callback_at: float | None = None,
) -> ContactUpdate:
    """Decide the contact's status after an attempt closed with ``rule``'s disposition."""
    if rule.adds_to_dnc:
        return ContactUpdate("dnc", None, rule.code, add_to_dnc=True)
    if rule.code == "BAD":
        return ContactUpdate("bad_number", None, rule.code, phone_bad=True)
    if rule.final:
        return ContactUpdate("done", None, rule.code)
    if rule.callback:
        minutes = 60 if rule.retry_after_min is None else rule.retry_after_min
        when = callback_at if callback_at is not None else now + 60.0 * minutes
        return ContactUpdate("callback", when, rule.code)
    if attempts >= policy.max_attempts:
        return ContactUpdate("exhausted", None, rule.code)
    delay = 60.0 * rule.retry_after_min if rule.retry_after_min is not None else policy.delay_s(attempts)
    return ContactUpdate("retry", now + delay, rule.code)
