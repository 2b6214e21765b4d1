"""The hopper: leads put to the gate when taken, blocked ones deferred, every decision logged."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from compliance.gate import CampaignPolicy, Decision, DialTarget, RuleResult, default_gate
from dialer.hopper import Hopper, Lead

START = datetime(2026, 6, 15, 17, 0, tzinfo=UTC).timestamp()  # 13:00 in New York, 10:00 in Los Angeles


class SourceLivelock(RuntimeError):
    pass


class FakeSource:
    """Leads in a table, as the database keeps them.

    A lead can be fetched again and again until it is claimed (by us or by a rival
    dialer) or deferred to a later time, like rows that match a query.
    """

    def __init__(self, leads: Iterable[Lead], *, max_fetches: int = 500) -> None:
        self.leads = list(leads)
        self.claimed: dict[int, Lead] = {}
        self.rivals: set[int] = set()  # contact ids another dialer claims just before we try
        self.deferred: dict[int, float | None] = {}
        self.defer_calls: list[tuple[int, float | None, tuple[str, ...]]] = []
        self.fetches: list[tuple[float, int, frozenset[int]]] = []
        self.claims: list[list[int]] = []
        self.max_fetches = max_fetches

    def available(self, now: float) -> list[Lead]:
        return [
            lead
            for lead in self.leads
            if lead.contact_id not in self.claimed
            and not (lead.contact_id in self.deferred and (self.deferred[lead.contact_id] or float("inf")) > now)
        ]

    def fetch(self, now: float, limit: int, exclude: Collection[int]) -> list[Lead]:
        self.fetches.append((now, limit, frozenset(exclude)))
        if len(self.fetches) > self.max_fetches:
            raise SourceLivelock(f"fetched {len(self.fetches)} times")
        return [lead for lead in self.available(now) if lead.contact_id not in exclude][:limit]

    def claim(self, leads: list[Lead], now: float) -> list[Lead]:
        self.claims.append([lead.contact_id for lead in leads])
        won = []
        for lead in leads:
            if lead.contact_id in self.claimed:
                continue
            if lead.contact_id in self.rivals:
                self.claimed[lead.contact_id] = lead  # the rival has it now
                continue
            mine = replace(lead, attempt_id=1000 + len(self.claimed))
            self.claimed[lead.contact_id] = mine
            won.append(mine)
        return won

    def defer(self, lead: Lead, until: float | None, codes: tuple[str, ...]) -> None:
        self.deferred[lead.contact_id] = until
        self.defer_calls.append((lead.contact_id, until, codes))


@dataclass
class Logged:
    contact_id: int
    decision: Decision
    path: str


class FakeLog:
    def __init__(self) -> None:
        self.entries: list[Logged] = []

    def record(self, lead: Lead, decision: Decision, path: str) -> None:
        self.entries.append(Logged(lead.contact_id, decision, path))

    def contacts(self) -> list[int]:
        return [entry.contact_id for entry in self.entries]


class ScriptedGate:
    """Allows every lead except those given a blocking result; remembers when it was asked."""

    def __init__(self) -> None:
        self.blocks: dict[int, tuple[RuleResult, ...]] = {}
        self.asked: list[tuple[int, float]] = []

    def block(self, contact_id: int, *results: RuleResult) -> None:
        self.blocks[contact_id] = results

    def __call__(self, lead: Lead, now: float) -> Decision:
        self.asked.append((lead.contact_id, now))
        at = datetime.fromtimestamp(now, UTC)
        results = self.blocks.get(lead.contact_id, (RuleResult("test.ok", "ok", True, "fine"),))
        return Decision(all(r.passed for r in results), at, results)


def leads(*ids: int, attempt: int = 1, zones: tuple[str, ...] = ("America/New_York",)) -> list[Lead]:
    return [Lead(i, f"+1212555{i:04d}", attempt, timezones=zones) for i in ids]


def ids(taken: Iterable[Lead]) -> list[int]:
    return [lead.contact_id for lead in taken]


def make(
    source_leads: Iterable[Lead], *, size: int = 200, max_attempts: int = 5
) -> tuple[Hopper, FakeSource, ScriptedGate, FakeLog]:
    source, gate, log = FakeSource(source_leads), ScriptedGate(), FakeLog()
    return Hopper(source, gate, log, max_attempts=max_attempts, size=size), source, gate, log


OUTSIDE = RuleResult(
    "hours.campaign_window", "outside_hours", False, "too early", datetime(2026, 6, 16, 12, 0, tzinfo=UTC)
)
ON_DNC = RuleResult("dnc.lists", "dnc_company", False, "on the list")


# --- taking leads --------------------------------------------------------------------------------


def test_take_returns_claimed_leads_in_the_sources_order_with_their_attempt_ids() -> None:
    hopper, source, _, _ = make(leads(1, 2, 3, 4, 5))
    taken = hopper.take(3, START)
    assert ids(taken) == [1, 2, 3]
    assert all(lead.attempt_id is not None for lead in taken)
    assert len(hopper) == 2  # the rest stays buffered
    assert len(source.fetches) == 1
    assert source.fetches[0][:2] == (START, 200)


def test_take_of_nothing_takes_nothing_and_asks_no_one() -> None:
    hopper, source, gate, log = make(leads(1, 2))
    assert hopper.take(0, START) == []
    assert (source.fetches, gate.asked, log.entries) == ([], [], [])


def test_the_buffer_is_used_before_the_source_is_asked_again() -> None:
    hopper, source, _, _ = make(leads(1, 2, 3, 4), size=3)
    assert ids(hopper.take(2, START)) == [1, 2]
    assert ids(hopper.take(1, START + 1)) == [3]
    assert len(source.fetches) == 1
    assert ids(hopper.take(1, START + 2)) == [4]
    assert len(source.fetches) == 2


def test_leads_are_put_to_the_gate_when_taken_not_when_fetched() -> None:
    hopper, _, gate, _ = make(leads(1, 2, 3))
    hopper.take(1, START)
    assert gate.asked == [(1, START)]
    gate.block(2, OUTSIDE)  # the window closed for contact 2 after it was fetched
    assert ids(hopper.take(1, START + 600)) == [3]
    assert gate.asked == [(1, START), (2, START + 600), (3, START + 600)]


def test_the_real_gate_blocks_a_buffered_lead_once_its_window_has_closed() -> None:
    gate = default_gate()
    policy = CampaignPolicy(campaign_id=7)

    def check(lead: Lead, now: float) -> Decision:
        target = DialTarget(lead.e164, lead.timezones, lead.state, lead.postal_code, lead.contact_id)
        return gate.can_dial(target, policy, datetime.fromtimestamp(now, UTC))

    source, log = FakeSource(leads(1, 2, 3)), FakeLog()
    hopper = Hopper(source, check, log, max_attempts=5)
    evening = datetime(2026, 6, 16, 0, 59, 59, tzinfo=UTC).timestamp()  # 20:59:59 in New York
    assert ids(hopper.take(1, evening)) == [1]
    assert hopper.take(2, evening + 1) == []  # 21:00: too late for 2 and 3
    next_morning = datetime(2026, 6, 16, 12, 0, tzinfo=UTC).timestamp()
    assert source.defer_calls == [(2, next_morning, ("outside_hours",)), (3, next_morning, ("outside_hours",))]
    assert hopper.blocked == {"outside_hours": 2}
    assert [entry.decision.allowed for entry in log.entries] == [True, False, False]


# --- blocked leads -------------------------------------------------------------------------------


def test_a_blocked_lead_is_deferred_until_the_gate_says_it_may_pass_and_counted() -> None:
    hopper, source, gate, _ = make(leads(1, 2, 3))
    gate.block(1, OUTSIDE)
    assert ids(hopper.take(2, START)) == [2, 3]
    assert OUTSIDE.next_allowed_at is not None
    assert source.defer_calls == [(1, OUTSIDE.next_allowed_at.timestamp(), ("outside_hours",))]
    assert hopper.blocked == {"outside_hours": 1}
    assert 1 not in source.claimed


def test_a_lead_blocked_for_good_is_deferred_with_no_time() -> None:
    hopper, source, gate, _ = make(leads(1, 2))
    gate.block(1, OUTSIDE, ON_DNC)
    assert ids(hopper.take(5, START)) == [2]
    assert source.defer_calls == [(1, None, ("outside_hours", "dnc_company"))]
    assert hopper.blocked == {"outside_hours": 1, "dnc_company": 1}


def test_blocked_counts_add_up_across_takes() -> None:
    hopper, _, gate, _ = make(leads(1, 2, 3, 4, 5))
    for contact in (1, 3):
        gate.block(contact, ON_DNC)
    gate.block(4, OUTSIDE)
    hopper.take(1, START)
    hopper.take(5, START + 1)
    assert hopper.blocked == {"dnc_company": 2, "outside_hours": 1}


def test_a_blocked_lead_does_not_count_towards_the_number_asked_for() -> None:
    hopper, _, gate, _ = make(leads(1, 2, 3, 4))
    gate.block(1, ON_DNC)
    gate.block(2, ON_DNC)
    assert ids(hopper.take(2, START)) == [3, 4]


# --- the decision log ----------------------------------------------------------------------------


def test_every_decision_is_logged_allowed_and_blocked_with_the_hopper_path() -> None:
    hopper, _, gate, log = make(leads(1, 2, 3))
    gate.block(2, OUTSIDE)
    hopper.take(2, START)
    assert log.contacts() == [1, 2, 3]
    assert [entry.decision.allowed for entry in log.entries] == [True, False, True]
    assert {entry.path for entry in log.entries} == {"hopper"}
    assert log.entries[1].decision.codes == ("outside_hours",)
    assert [entry.decision.at.timestamp() for entry in log.entries] == [START] * 3


# --- attempts ------------------------------------------------------------------------------------


def test_a_lead_past_the_attempt_limit_is_never_put_to_the_gate_or_claimed() -> None:
    over = Lead(1, "+12125550001", 4, timezones=("America/New_York",))
    at_limit = Lead(2, "+12125550002", 3, timezones=("America/New_York",))
    under = Lead(3, "+12125550003", 1, timezones=("America/New_York",))
    hopper, source, gate, log = make([over, at_limit, under], max_attempts=3)
    assert ids(hopper.take(2, START)) == [2, 3]
    assert [contact for contact, _ in gate.asked] == [2, 3]
    assert 1 not in log.contacts()
    assert all(1 not in claim for claim in source.claims)


def test_a_lead_past_the_attempt_limit_does_not_keep_the_hopper_fetching_it() -> None:
    hopper, _, _, _ = make([Lead(1, "+12125550001", 6), *leads(2)], max_attempts=5)
    assert ids(hopper.take(2, START)) == [2]


# --- races and refills ---------------------------------------------------------------------------


def test_when_a_rival_dialer_wins_a_claim_take_fetches_more_to_make_up_the_number() -> None:
    hopper, source, _, _ = make(leads(1, 2, 3, 4, 5, 6), size=3)
    source.rivals = {2, 3}
    taken = hopper.take(3, START)
    assert ids(taken) == [1, 4, 5]
    assert len(source.fetches) == 2
    assert source.claims == [[1, 2, 3], [4, 5]]


def test_when_every_claim_is_lost_take_returns_what_it_could_get() -> None:
    hopper, source, _, _ = make(leads(1, 2, 3))
    source.rivals = {1, 2, 3}
    assert hopper.take(2, START) == []
    assert hopper.exhausted


def test_a_lead_is_put_to_the_gate_once_per_take_even_when_the_buffer_runs_dry() -> None:
    hopper, _, gate, log = make(leads(1, 2, 3), size=2)
    assert ids(hopper.take(5, START)) == [1, 2, 3]
    assert [contact for contact, _ in gate.asked] == [1, 2, 3]
    assert log.contacts() == [1, 2, 3]


def test_the_hopper_is_exhausted_when_the_source_has_nothing_eligible_and_recovers_when_it_has() -> None:
    hopper, source, _, _ = make(leads(1, 2))
    assert not hopper.exhausted
    assert ids(hopper.take(2, START)) == [1, 2]
    assert not hopper.exhausted
    assert hopper.take(1, START + 1) == []
    assert hopper.exhausted
    source.leads.extend(leads(3))
    assert ids(hopper.take(1, START + 2)) == [3]
    assert not hopper.exhausted


def test_deferred_leads_come_back_once_their_time_has_come() -> None:
    hopper, _, gate, _ = make(leads(1, 2))
    gate.block(1, OUTSIDE)
    assert ids(hopper.take(2, START)) == [2]
    assert hopper.take(1, START + 60) == []
    assert hopper.exhausted
    del gate.blocks[1]
    assert OUTSIDE.next_allowed_at is not None
    assert ids(hopper.take(1, OUTSIDE.next_allowed_at.timestamp())) == [1]


# --- drop_contact --------------------------------------------------------------------------------


def test_a_dropped_contact_leaves_the_buffer_and_is_never_dialed_from_it() -> None:
    hopper, source, gate, log = make(leads(1, 2, 3, 4))
    assert ids(hopper.take(1, START)) == [1]
    assert len(hopper) == 3
    hopper.drop_contact(3)
    assert len(hopper) == 2
    source.leads = [lead for lead in source.leads if lead.contact_id != 3]  # e.g. now on the DNC list
    assert ids(hopper.take(5, START + 1)) == [2, 4]
    assert 3 not in [contact for contact, _ in gate.asked]
    assert 3 not in log.contacts()


def test_dropping_a_contact_that_is_not_buffered_changes_nothing() -> None:
    hopper, _, _, _ = make(leads(1, 2, 3))
    hopper.take(1, START)
    hopper.drop_contact(99)
    assert len(hopper) == 2
