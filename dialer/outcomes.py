"""What happens to a contact after a call: retry when, finish, or stop for good.

Pure rules, so the same outcome gives the same next step live, in tests and
in simulation; the database adapter only writes what this decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

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
INVALID_NUMBER = "BAD"  # the carrier said the number does not exist, whatever the campaign's flags


@dataclass(frozen=True, slots=True)
class DispositionRule:
    code: str
    final: bool = False
    retry_after_min: int | None = None
    adds_to_dnc: bool = False
    callback: bool = False
    human_answered: bool = True
    sale: bool = False
    wrong_number: bool = False
    answering_machine: bool = False
    max_retries: int | None = None  # retries this code allows the contact; None: the campaign's limit only
    different_hour: bool = False  # a retry falls in another hour of the contact's day than this attempt

    @property
    def needs_history(self) -> bool:
        """Whether the next step depends on more than this call: the contact's earlier codes or its zone."""
        return self.max_retries is not None or self.different_hour


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
    code_count: int | None = None,
    last_attempt_at: float | None = None,
    zone: tzinfo | None = None,
) -> ContactUpdate:
    """Decide the contact's status after an attempt closed with ``rule``'s disposition.

    ``code_count`` is how many of the contact's attempts, this one included,
    closed with this code (unknown: this one only); ``last_attempt_at`` and
    ``zone`` place this attempt in the contact's day for ``different_hour``.
    """
    if rule.adds_to_dnc:
        return ContactUpdate("dnc", None, rule.code, add_to_dnc=True)
    if rule.wrong_number or rule.code == INVALID_NUMBER:
        return ContactUpdate("bad_number", None, rule.code, phone_bad=True)
    if rule.final or rule.sale:
        return ContactUpdate("done", None, rule.code)
    if rule.callback:
        minutes = 60 if rule.retry_after_min is None else rule.retry_after_min
        when = callback_at if callback_at is not None else now + 60.0 * minutes
        return ContactUpdate("callback", when, rule.code)
    if attempts >= policy.max_attempts:
        return ContactUpdate("exhausted", None, rule.code)
    if rule.max_retries is not None and (code_count or 1) > rule.max_retries:
        return ContactUpdate("exhausted", None, rule.code)
    delay = 60.0 * rule.retry_after_min if rule.retry_after_min is not None else policy.delay_s(attempts)
    when = now + delay
    if rule.different_hour and last_attempt_at is not None:
        when = in_another_hour(when, last_attempt_at, zone or UTC)
    return ContactUpdate("retry", when, rule.code)


def in_another_hour(when: float, last: float, zone: tzinfo) -> float:
    """``when``, or the start of a later hour when ``when`` falls in the same hour of the day as ``last``.

    The hour is the wall clock's in ``zone``, so a person who never answers at
    nine is not called at nine every day; a retry already in another hour keeps
    its time.  Walking whole hours of wall time handles the daylight-saving
    days (the repeated hour of autumn counts as the same hour).
    """
    last_hour = datetime.fromtimestamp(last, zone).hour
    local = datetime.fromtimestamp(when, zone)
    moved = False
    while local.hour == last_hour:
        start = local.replace(minute=0, second=0, microsecond=0)
        local = datetime.fromtimestamp(start.timestamp() + 3600.0, zone)
        moved = True
    return local.timestamp() if moved else when


def stays_on_phone(rule: DispositionRule, update: ContactUpdate) -> bool:
    """Whether the contact's next dial goes to the phone of this call.

    A person was reached there and the contact goes on (a callback, a retry
    after a conversation): call them where they answer.  After no answer, a
    busy line or a machine the next phone in the campaign's order gets its turn.
    """
    if update.status not in ("retry", "callback"):
        return False
    return update.status == "callback" or (rule.human_answered and not rule.answering_machine)

