"""The hopper: the short queue of contacts that may be dialed right now.

Leads come from a ``LeadSource`` (the database in production) a batch at a
time; each is put to the dial gate at the moment it is taken, not when it was
fetched, because time moves on (a window closes, a number is added to a DNC
list).  Every decision is logged.  A blocked lead is deferred at the source
until the gate says it may pass, so it is not fetched again and again.  The
leads that pass are claimed atomically at the source, so two dialers never
place the same attempt.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol

from compliance.gate import Decision


@dataclass(frozen=True, slots=True)
class Lead:
    contact_id: int
    e164: str
    attempt_number: int  # the attempt this dial would be (previous attempts + 1)
    phone_id: int | None = None
    timezones: tuple[str, ...] = ()
    state: str | None = None
    postal_code: str | None = None
    priority: int = 0
    callback: bool = False  # a callback someone asked for: dialed even past the attempt limit
    attempt_id: int | None = None  # set by the source when the lead is claimed


class LeadSource(Protocol):
    def fetch(self, now: float, limit: int, exclude: Collection[int]) -> list[Lead]:
        """The next eligible leads, best first, leaving out the contact ids in ``exclude``."""
        ...

    def claim(self, leads: list[Lead], now: float) -> list[Lead]:
        """Claim the attempts atomically; return those claimed (with ``attempt_id`` set)."""
        ...

    def defer(self, lead: Lead, until: float | None, codes: tuple[str, ...]) -> None:
        """Keep a blocked lead out of ``fetch`` until ``until`` (None: until someone acts)."""
        ...


class DecisionLog(Protocol):
    def record(self, lead: Lead, decision: Decision, path: str) -> None: ...


GateCheck = Callable[[Lead, float], Decision]


class Hopper:
    def __init__(
        self,
        source: LeadSource,
        check: GateCheck,
        log: DecisionLog,
        *,
        max_attempts: int,
        size: int = 200,
    ) -> None:
        self.source = source
        self.check = check
        self.log = log
        self.max_attempts = max_attempts
        self.size = size
        self._buffer: deque[Lead] = deque()
        self.blocked: Counter[str] = Counter()  # reason code -> leads blocked, for "why not dialing"
        self.exhausted = False  # the source had nothing eligible at the last refill

    def __len__(self) -> int:
        return len(self._buffer)

    def take(self, n: int, now: float) -> list[Lead]:
        """Up to ``n`` leads that passed the gate now and are claimed for dialing."""
        taken: list[Lead] = []
        while len(taken) < n:
            wanted = n - len(taken)
            passed = self._passing(wanted, now)
            if not passed:
                break
            taken.extend(self.source.claim(passed, now))
        return taken

    def _passing(self, wanted: int, now: float) -> list[Lead]:
        passed: list[Lead] = []
        while len(passed) < wanted:
            if not self._buffer and not self._refill(now, {lead.contact_id for lead in passed}):
                break
            lead = self._buffer.popleft()
            if lead.attempt_number > self.max_attempts and not lead.callback:
                self.blocked["max_attempts"] += 1
                self.source.defer(lead, None, ("max_attempts",))
                continue
            decision = self.check(lead, now)
            self.log.record(lead, decision, "hopper")
            if decision.allowed:
                passed.append(lead)
            else:
                self.blocked.update(decision.codes)
                nxt = decision.next_allowed_at
                self.source.defer(lead, nxt.timestamp() if nxt else None, decision.codes)
        return passed

    def _refill(self, now: float, passed: set[int]) -> bool:
        """Fetch more, leaving out what is buffered and what passed the gate but is not claimed yet."""
        exclude = {lead.contact_id for lead in self._buffer} | passed
        fresh = self.source.fetch(now, self.size, exclude)
        self._buffer.extend(fresh)
        self.exhausted = not fresh
        return bool(fresh)

    def drop_contact(self, contact_id: int) -> None:
        """Forget a buffered lead whose contact changed elsewhere (DNC, edited, deleted)."""
        self._buffer = deque(lead for lead in self._buffer if lead.contact_id != contact_id)
