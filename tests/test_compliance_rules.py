"""The rules of law as data, each checked by the gate with its citation in the test id.

Facts from shared/reference/compliance.md; local times are those of the
called party, computed with zoneinfo (so the daylight-saving days 2026-03-08
and 2026-11-01 need nothing special).  A window includes its start and
excludes its end.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest

from compliance import rules as rule_data
from compliance.gate import (
    BudgetStatus,
    CallingWindow,
    CampaignPolicy,
    ConsentRecord,
    Decision,
    DialTarget,
    FrequencyCap,
    RegistryAnswer,
    default_gate,
)
from compliance.history import Attempt, HistoryError, cap_status, read_history
from compliance.ruleset import RULESET_VERSION, RulesetError, default_ruleset, first_instant, load_ruleset

GATE = default_gate()
HOURS = {"hours.campaign_window", "us.fcc.hours", "us.ftc.hours"}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def attempts(*items: str, outcome: str = "no-answer") -> tuple[Attempt, ...]:
    """Attempts at the given UTC times; "TIME outcome" overrides the outcome."""
    out = []
    for item in items:
        at, _, own = item.partition(" ")
        out.append(Attempt(utc(at), own or outcome))
    return tuple(out)


@dataclass(frozen=True)
class Case:
    phone: str
    at: str
    blocking: frozenset[str] = frozenset()  # the rule ids that block; empty: allowed
    next_at: str | None = None  # the decision's next allowed time when blocked
    code: str | None = None  # a code the decision must carry
    state: str | None = None
    purpose: str = "telemarketing"
    window: str = "08:00-21:00"
    history: tuple[Attempt, ...] = ()
    prerecorded: bool = False
    caps: tuple[FrequencyCap, ...] = field(default_factory=tuple)


def decide(case: Case) -> Decision:
    policy = CampaignPolicy(1, CallingWindow.parse(case.window), case.purpose, caps=case.caps,
                            prerecorded=case.prerecorded)
    target = DialTarget(case.phone, state=case.state, history=case.history)
    return GATE.can_dial(target, policy, utc(case.at))


def case(label: str, phone: str, at: str, blocking: set[str] | None = None, next_at: str | None = None,
         **kwargs: object) -> object:
    return pytest.param(Case(phone, at, frozenset(blocking or ()), next_at, **kwargs), id=label)  # type: ignore[arg-type]


NY_NUMBER, FL_NUMBER = "+12125550100", "+13055550100"
FL_HISTORY = attempts("2026-06-14T19:00Z", "2026-06-15T13:00Z", "2026-06-15T15:00Z")

CASES = [
    # --- US federal hours and the window's edges --------------------------------------------------
    case("us.fcc.hours 47 CFR 64.1200(c)(1): 08:00:00 local may be dialed", NY_NUMBER, "2026-06-15T12:00:00Z"),
    case("us.fcc.hours 47 CFR 64.1200(c)(1): 07:59:59 may not, next 08:00", NY_NUMBER, "2026-06-15T11:59:59Z",
         HOURS | {"us-ny.hours"}, "2026-06-15T12:00:00Z", code="outside_hours"),
    case("us.fcc.hours 47 CFR 64.1200(c)(1): 20:59:59 local may be dialed", NY_NUMBER, "2026-06-16T00:59:59Z"),
    case("us.fcc.hours 47 CFR 64.1200(c)(1): 21:00:00 may not, next 08:00 next day", NY_NUMBER,
         "2026-06-16T01:00:00Z", HOURS | {"us-ny.hours"}, "2026-06-16T12:00:00Z"),
    case("us.ftc.hours 16 CFR 310.4(c): DST starts 2026-03-08, 08:30 EDT is 12:30 UTC", NY_NUMBER,
         "2026-03-08T12:30:00Z"),
    case("us.ftc.hours 16 CFR 310.4(c): DST starts 2026-03-08, 07:59 EDT waits for 12:00 UTC", NY_NUMBER,
         "2026-03-08T11:59:00Z", HOURS | {"us-ny.hours"}, "2026-03-08T12:00:00Z"),
    case("us.ftc.hours 16 CFR 310.4(c): DST ends 2026-11-01, 07:30 EST waits for 13:00 UTC", NY_NUMBER,
         "2026-11-01T12:30:00Z", HOURS | {"us-ny.hours"}, "2026-11-01T13:00:00Z"),
    case("us.ftc.hours 16 CFR 310.4(c): DST ends 2026-11-01, 20:59:59 EST is 01:59:59 UTC", NY_NUMBER,
         "2026-11-02T01:59:59Z"),
    case("us.ftc.hours 16 CFR 310.4(c): DST ends 2026-11-01, 21:00 EST is 02:00 UTC", NY_NUMBER,
         "2026-11-02T02:00:00Z", HOURS | {"us-ny.hours"}, "2026-11-02T13:00:00Z"),
    # --- split zones -----------------------------------------------------------------------------
    case("split 423-600 unlisted (reference 3.2): still 07:30 in Chicago", "+14236005555", "2026-06-15T12:30:00Z",
         HOURS | {"us-tn.hours"}, "2026-06-15T13:00:00Z"),
    case("split 423-600 unlisted (reference 3.2): 21:30 in New York though 20:30 in Chicago", "+14236005555",
         "2026-06-16T01:30:00Z", HOURS | {"us-tn.hours"}, "2026-06-16T13:00:00Z"),
    case("split 850-434 Chicago, us-fl.hours Fla. Stat. 501.616(6)(a): 20:30 CDT", "+18504345555",
         "2026-06-16T01:30:00Z", {"us-fl.hours.v2021"}, "2026-06-16T13:00:00Z"),
    case("split 541-889 Denver, us-or.hours ORS 646.563(1)(b): 20:30 MDT", "+15418895555", "2026-06-16T02:30:00Z",
         {"us-or.hours.v2026"}, "2026-06-16T14:00:00Z"),
    case("split 270-781 Chicago, us-ky.hours KRS 367.46955(16): 09:30 CDT", "+12707815555", "2026-06-15T14:30:00Z",
         {"us-ky.hours"}, "2026-06-15T15:00:00Z"),
    # --- states ----------------------------------------------------------------------------------
    case("us-al.hours Ala. Admin. Code r. 770-X-5-.17(2): Sunday ban", "+12055550100", "2026-06-14T15:00:00Z",
         {"us-al.hours"}, "2026-06-15T13:00:00Z", code="sunday_ban"),
    case("us-al.hours Ala. Admin. Code r. 770-X-5-.17(2): Saturday 20:30 waits past Sunday", "+12055550100",
         "2026-06-14T01:30:00Z", {"us-al.hours"}, "2026-06-15T13:00:00Z", code="outside_hours"),
    case("us-al.holidays Ala. Code 1-3-8: Memorial Day", "+12055550100", "2026-05-25T15:00:00Z",
         {"us-al.holidays"}, "2026-05-26T13:00:00Z", code="holiday_ban"),
    case("us-al.holidays Ala. Code 1-3-8: the holiday is the local date (UTC is already the 26th)", "+12055550100",
         "2026-05-26T00:30:00Z", {"us-al.holidays"}, "2026-05-26T13:00:00Z", code="holiday_ban"),
    case("us-al.holidays Ala. Code 1-3-8: no reviewed calendar for 2028 blocks for good", "+12055550100",
         "2028-01-04T15:00:00Z", {"us-al.holidays"}, None, code="no_holiday_calendar"),
    case("us-ct.hours Conn. Gen. Stat. 42-288a(c): 08:30", "+12035550100", "2026-06-15T12:30:00Z",
         {"us-ct.hours"}, "2026-06-15T13:00:00Z"),
    case("us-fl.cap Fla. Stat. 501.616(6)(b): a 4th call in 24 h waits for the oldest to leave", FL_NUMBER,
         "2026-06-15T18:00:00Z", {"us-fl.cap.v2021"}, "2026-06-15T19:00:00Z", code="frequency_cap",
         history=FL_HISTORY),
    case("us-fl.cap Fla. Stat. 501.616(6)(b): a call exactly 24 h old has left the window", FL_NUMBER,
         "2026-06-15T19:00:00Z", history=FL_HISTORY),
    case("us-fl.cap Fla. Stat. 501.616(6)(b): the cap frees up at 20:30, after FL hours: next 08:00", FL_NUMBER,
         "2026-06-15T18:00:00Z", {"us-fl.cap.v2021"}, "2026-06-16T12:00:00Z",
         history=attempts("2026-06-15T00:30Z", "2026-06-15T13:00Z", "2026-06-15T14:00Z")),
    case("us-fl.cap Fla. Stat. 501.616(6)(b): not in force before 2021-07-01", FL_NUMBER, "2021-06-30T18:00:00Z",
         history=attempts("2021-06-29T19:00Z", "2021-06-30T13:00Z", "2021-06-30T15:00Z")),
    case("us-ok.cap 15 Okl. St. 775C.4: 3 per 24 h", "+14055550100", "2026-06-15T18:00:00Z", {"us-ok.cap.v2022"},
         "2026-06-15T19:00:00Z", history=FL_HISTORY),
    case("us-md.cap Md. Com. Law 14-4502(c): not in force in 2023", "+14105550100", "2023-12-29T18:00:00Z",
         history=attempts("2023-12-28T19:00Z", "2023-12-29T13:00Z", "2023-12-29T15:00Z")),
    case("us-md.cap Md. Com. Law 14-4502(c): 3 per 24 h from 2024-01-01", "+14105550100", "2024-01-02T18:00:00Z",
         {"us-md.cap.v2024"}, "2024-01-02T19:00:00Z",
         history=attempts("2024-01-01T19:00Z", "2024-01-02T13:00Z", "2024-01-02T15:00Z")),
    case("us-la.hours LPSC R-29617 s.V(A): Sunday ban", "+12255550100", "2026-06-14T15:00:00Z", {"us-la.hours"},
         "2026-06-15T13:00:00Z", code="sunday_ban"),
    case("us-la.holidays LPSC R-29617 s.V(A): Mardi Gras", "+12255550100", "2026-02-17T15:00:00Z",
         {"us-la.holidays"}, "2026-02-18T14:00:00Z", code="holiday_ban"),
    case("us-ma.hours M.G.L. c.159C s.3: 20:30", "+16175550100", "2026-06-16T00:30:00Z", {"us-ma.hours"},
         "2026-06-16T12:00:00Z"),
    case("us-mi.hours MCL 750.540e(1)(f): 08:30", "+13135550100", "2026-06-15T12:30:00Z", {"us-mi.hours"},
         "2026-06-15T13:00:00Z"),
    case("us-mn.hours Minn. Stat. 325E.30: 08:30 CDT", "+16125550100", "2026-06-15T13:30:00Z", {"us-mn.hours"},
         "2026-06-15T14:00:00Z"),
    case("us-ms.hours Miss. Code 77-3-723(1): 08:30 CDT is 07:30 CST, the statute's clock", "+16015550100",
         "2026-06-15T13:30:00Z", {"us-ms.hours"}, "2026-06-15T14:00:00Z"),
    case("us-nm.hours NMSA 57-12-22(B)(5): 08:30 MDT", "+15055550100", "2026-06-15T14:30:00Z", {"us-nm.hours"},
         "2026-06-15T15:00:00Z"),
    case("us-nv.hours NRS 598.0918(3): 20:30 PDT", "+17025550100", "2026-06-16T03:30:00Z", {"us-nv.hours"},
         "2026-06-16T16:00:00Z"),
    case("us-pa.hours 73 P.S. 2245(a)(1): 19:30 allowed before Act 47", "+12155550100", "2026-10-16T23:30:00Z"),
    case("us-pa.hours.v2026 Act 47 of 2026: 19:30 blocked from 2026-10-18", "+12155550100", "2026-10-19T23:30:00Z",
         {"us-pa.hours.v2026"}, "2026-10-20T13:00:00Z"),
    case("us-pa.hours.v2026 Act 47 of 2026: Sunday ban", "+12155550100", "2026-10-25T15:00:00Z",
         {"us-pa.hours.v2026"}, "2026-10-26T13:00:00Z", code="sunday_ban"),
    case("us-ri.hours R.I. Gen. Laws 5-61-3.6: Saturday opens at 10:00", "+14015550100", "2026-06-13T13:30:00Z",
         {"us-ri.hours"}, "2026-06-13T14:00:00Z"),
    case("us-ri.hours R.I. Gen. Laws 5-61-3.6: weekdays end at 18:00", "+14015550100", "2026-06-15T22:00:00Z",
         {"us-ri.hours"}, "2026-06-16T13:00:00Z"),
    case("us-ri.holidays R.I. Gen. Laws 5-61-3.6: Victory Day", "+14015550100", "2026-08-10T15:00:00Z",
         {"us-ri.holidays"}, "2026-08-11T13:00:00Z", code="holiday_ban"),
    case("us-tx.hours Tex. Bus. & Com. Code 301.051: Sunday opens at 12:00", "+15125550100",
         "2026-06-14T16:30:00Z", {"us-tx.hours"}, "2026-06-14T17:00:00Z"),
    case("us-tx.hours Tex. Bus. & Com. Code 301.051: Saturday opens at 09:00", "+15125550100",
         "2026-06-13T13:30:00Z", {"us-tx.hours"}, "2026-06-13T14:00:00Z"),
    case("us-ut.hours Utah Code 13-25a-103(3): Sunday ban", "+18015550100", "2026-06-14T16:00:00Z",
         {"us-ut.hours"}, "2026-06-15T14:00:00Z", code="sunday_ban"),
    case("us-ut.holidays Utah Code 13-25a-103(3): Pioneer Day", "+18015550100", "2026-07-24T16:00:00Z",
         {"us-ut.holidays"}, "2026-07-25T14:00:00Z", code="holiday_ban"),
    case("us-wa.hours RCW 19.158.110: 20:30 PDT", "+12065550100", "2026-06-16T03:30:00Z", {"us-wa.hours"},
         "2026-06-16T15:00:00Z"),
    case("us-wy.hours Wyo. Stat. 40-12-302(d): 20:30 MDT", "+13075550100", "2026-06-16T02:30:00Z",
         {"us-wy.hours"}, "2026-06-16T14:00:00Z"),
    case("us-me.adad.hours 10 M.R.S. 1498(3): no prerecorded calls on Saturday", "+12075550100",
         "2026-06-13T15:00:00Z", {"us-me.adad.hours"}, "2026-06-15T13:00:00Z", code="day_ban", prerecorded=True),
    case("us-me.adad.hours 10 M.R.S. 1498(3): live calls are not bound", "+12075550100", "2026-06-13T15:00:00Z"),
    case("us-il.adad.hours 815 ILCS 305: prerecorded 08:30 CDT", "+13125550100", "2026-06-15T13:30:00Z",
         {"us-il.adad.hours"}, "2026-06-15T14:00:00Z", prerecorded=True),
    # --- Reg F (debt collection) -----------------------------------------------------------------
    case("us.regf.hours 12 CFR 1006.6(b)(1)(i): 07:30 for a collector", NY_NUMBER, "2026-06-15T11:30:00Z",
         {"hours.campaign_window", "us.regf.hours"}, "2026-06-15T12:00:00Z", purpose="debt_collection"),
    case("us.regf.7in7 12 CFR 1006.14(b)(2)(i)(A): an 8th call in 7 days", NY_NUMBER, "2026-06-15T16:00:00Z",
         {"us.regf.7in7"}, "2026-06-16T14:00:00Z", code="frequency_cap", purpose="debt_collection",
         history=attempts(*(f"2026-06-{d:02d}T14:00Z" for d in range(9, 16)))),
    case("us.regf.7in7 12 CFR 1006.14(b)(2)(i)(A): calls that did not connect are not counted", NY_NUMBER,
         "2026-06-15T16:00:00Z", purpose="debt_collection",
         history=attempts(*(f"2026-06-{d:02d}T14:00Z" for d in range(9, 14)), "2026-06-14T14:00Z busy",
                          "2026-06-15T14:00Z failed")),
    case("us.regf.after_conversation 12 CFR 1006.14(b)(2)(i)(B): day 7 after a conversation", NY_NUMBER,
         "2026-06-21T14:00:00Z", {"us.regf.after_conversation"}, "2026-06-22T12:00:00Z", code="frequency_cap",
         purpose="debt_collection", history=attempts("2026-06-15T19:00Z human")),
    case("us.regf.after_conversation 12 CFR 1006.14(b)(2)(i)(B): day 8 may be called", NY_NUMBER,
         "2026-06-22T12:00:00Z", purpose="debt_collection", history=attempts("2026-06-15T19:00Z human")),
    case("us.regf.after_conversation 12 CFR 1006.14(b)(2)(i)(B): an abandoned call is no conversation", NY_NUMBER,
         "2026-06-16T14:00:00Z", purpose="debt_collection", history=attempts("2026-06-15T19:00Z abandoned")),
    case("us.regf 12 CFR 1006.14: telemarketing campaigns are not bound by Reg F caps", NY_NUMBER,
         "2026-06-15T16:00:00Z", history=attempts(*(f"2026-06-{d:02d}T14:00Z" for d in range(8, 16)))),
    case("us-ma.collection_cap 940 CMR 7.04(1)(f): a 3rd collection call in 7 days", "+16175550100",
         "2026-06-15T16:00:00Z", {"us-ma.collection_cap"}, "2026-06-17T14:00:00Z", purpose="debt_collection",
         history=attempts("2026-06-10T14:00Z", "2026-06-12T14:00Z")),
    case("policy.default_hours: a US survey keeps 08:00-21:00", NY_NUMBER, "2026-06-15T11:30:00Z",
         {"hours.campaign_window", "policy.default_hours"}, "2026-06-15T12:00:00Z", purpose="survey"),
    # --- UK, Canada, Australia, France -----------------------------------------------------------
    case("uk.ofcom.abandoned_72h Ofcom 2016 Annex 1: 48 h after an abandoned call", "+442079460000",
         "2026-06-17T10:00:00Z", {"uk.ofcom.abandoned_72h"}, "2026-06-18T10:00:00Z", code="abandon_lockout",
         history=attempts("2026-06-15T10:00Z abandoned")),
    case("uk.ofcom.abandoned_72h Ofcom 2016 Annex 1: 72 h later the number may be called", "+442079460000",
         "2026-06-18T10:00:00Z", history=attempts("2026-06-15T10:00Z abandoned")),
    case("uk.ofcom.amd_24h Ofcom 2010: 5 h after an answering machine", "+442079460000", "2026-06-15T15:00:00Z",
         {"uk.ofcom.amd_24h"}, "2026-06-16T10:00:00Z", code="machine_lockout",
         history=attempts("2026-06-15T10:00Z machine")),
    case("policy.default_hours: the UK sets no hours, so 07:30 BST waits for 08:00", "+442079460000",
         "2026-06-15T06:30:00Z", {"hours.campaign_window", "policy.default_hours"}, "2026-06-15T07:00:00Z"),
    case("ca.crtc.hours CRTC UTR Part III: 21:15 on a weekday (campaign window 08-22)", "+14165550100",
         "2026-06-16T01:15:00Z", window="08:00-22:00"),
    case("ca.crtc.hours CRTC UTR Part III: 21:30 on a weekday", "+14165550100", "2026-06-16T01:30:00Z",
         {"ca.crtc.hours"}, "2026-06-16T13:00:00Z", window="08:00-22:00"),
    case("ca.crtc.hours CRTC UTR Part III: Saturday opens at 10:00", "+14165550100", "2026-06-13T13:30:00Z",
         {"ca.crtc.hours"}, "2026-06-13T14:00:00Z"),
    case("au.hours Industry Standard 2017: Sunday ban", "+61291234567", "2026-06-14T00:00:00Z", {"au.hours"},
         "2026-06-14T23:00:00Z", code="sunday_ban"),
    case("au.hours Industry Standard 2017: Saturday ends at 17:00", "+61291234567", "2026-06-13T07:30:00Z",
         {"au.hours"}, "2026-06-14T23:00:00Z"),
    case("au.holidays Industry Standard 2017: Good Friday", "+61291234567", "2026-04-03T00:00:00Z",
         {"au.holidays"}, "2026-04-03T22:00:00Z", code="holiday_ban"),
    case("fr.hours Code de la consommation D223-9: no calls 13:00-14:00", "+33142868200", "2026-06-15T11:30:00Z",
         {"fr.hours"}, "2026-06-15T12:00:00Z"),
    case("fr.hours Code de la consommation D223-9: no calls on Saturday", "+33142868200", "2026-06-13T10:00:00Z",
         {"fr.hours"}, "2026-06-15T08:00:00Z", code="day_ban"),
    case("fr.holidays Code de la consommation D223-9: 14 July", "+33142868200", "2026-07-14T10:00:00Z",
         {"fr.holidays"}, "2026-07-15T08:00:00Z", code="holiday_ban"),
    case("fr.cap Code de la consommation D223-9: a 5th attempt in 30 days", "+33142868200", "2026-06-15T10:00:00Z",
         {"fr.cap"}, "2026-06-19T10:00:00Z",
         history=attempts("2026-05-20T10:00Z", "2026-05-27T10:00Z", "2026-06-03T10:00Z", "2026-06-10T10:00Z")),
    # --- campaigns narrow, never widen -----------------------------------------------------------
    case("campaign window 09:00-20:00 narrows the law: 08:30 blocked", NY_NUMBER, "2026-06-15T12:30:00Z",
         {"hours.campaign_window"}, "2026-06-15T13:00:00Z", window="09:00-20:00"),
    case("campaign window 07:00-22:00 cannot widen 47 CFR 64.1200(c)(1): 07:30 blocked", NY_NUMBER,
         "2026-06-15T11:30:00Z", {"us.fcc.hours", "us.ftc.hours", "us-ny.hours"}, "2026-06-15T12:00:00Z",
         window="07:00-22:00"),
    case("campaign cap 1 per 24 h narrows the law", NY_NUMBER, "2026-06-15T16:00:00Z", {"campaign.cap.1"},
         "2026-06-16T14:00:00Z", caps=(FrequencyCap(1, 24),), history=attempts("2026-06-15T14:00Z")),
    # --- unknown zones ---------------------------------------------------------------------------
    case("unknown zone (reference 3.2): a toll-free number with no address is blocked for good", "+18005550100",
         "2026-06-15T16:00:00Z", HOURS, None, code="unknown_timezone"),
    case("unknown zone (reference 3.2): a toll-free number with its state is judged there", "+18005550100",
         "2026-06-15T16:00:00Z", state="NY"),
]


@pytest.mark.parametrize("c", CASES)
def test_each_rule_blocks_and_allows_as_its_citation_says(c: Case) -> None:
    decision = decide(c)
    assert {r.rule for r in decision.blocking} == c.blocking, [r.detail for r in decision.blocking]
    assert decision.allowed is (not c.blocking)
    if c.blocking:
        assert decision.next_allowed_at == (utc(c.next_at) if c.next_at else None)
        if c.next_at:  # and the next time really is allowed
            assert decide(Case(**{**c.__dict__, "at": c.next_at, "blocking": frozenset()})).allowed
    if c.code:
        assert c.code in decision.codes
    assert decision.ruleset_version == RULESET_VERSION
    ruleset = default_ruleset()
    for rule in c.blocking - {"hours.campaign_window"}:
        assert rule.startswith("campaign.") or ruleset.by_id[rule].cite


def test_a_time_based_block_is_never_lifted_before_its_next_time() -> None:
    # one second before each next time the call is still blocked (the next time is the first instant)
    for param in CASES:
        c = param.values[0]  # type: ignore[attr-defined]
        if c.blocking and c.next_at:
            before = (utc(c.next_at) - timedelta(seconds=1)).isoformat()
            assert not decide(Case(**{**c.__dict__, "at": before})).allowed, c


# --- the data itself -------------------------------------------------------------------------------


REFERENCE_STATE_ROWS = {
    "AL": "us-al.hours", "CT": "us-ct.hours", "FL": "us-fl.cap.v2021", "IL": "us-il.hours", "KY": "us-ky.hours",
    "LA": "us-la.holidays", "MA": "us-ma.hours", "MD": "us-md.cap.v2024", "ME": "us-me.adad.hours",
    "MI": "us-mi.hours", "MN": "us-mn.hours", "MS": "us-ms.hours", "NE": "us-ne.adad.hours", "NM": "us-nm.hours",
    "NV": "us-nv.hours", "OK": "us-ok.cap.v2022", "OR": "us-or.cap.v2026", "PA": "us-pa.hours.v2026",
    "RI": "us-ri.holidays", "TX": "us-tx.hours", "UT": "us-ut.holidays", "WA": "us-wa.hours", "WY": "us-wy.hours",
}


@pytest.mark.parametrize(("state", "rule_id"), sorted(REFERENCE_STATE_ROWS.items()))
def test_every_row_of_the_reference_state_table_is_a_rule_with_its_jurisdiction(state: str, rule_id: str) -> None:
    rule = default_ruleset().by_id[rule_id]
    assert rule.jurisdiction == f"US-{state}"
    assert rule.cite and rule.conf in ("H", "M", "L", "?")


def test_every_rule_has_an_id_a_jurisdiction_a_citation_a_confidence_and_dates() -> None:
    rules = default_ruleset().rules
    assert len(rules) > 60
    for rule in rules:
        assert rule.cite.strip() and rule.conf in ("H", "M", "L", "?", "policy"), rule.id
        assert rule.effective_to is None or rule.effective_from is None or rule.effective_from < rule.effective_to


def test_the_rule_set_version_is_the_manifest_version_and_a_hash_of_the_files() -> None:
    manifest = rule_data.load("manifest.json")
    version, _, digest = RULESET_VERSION.partition("+")
    assert version == manifest["version"] and len(digest) == 12


def shipped_files() -> dict[str, object]:
    manifest = rule_data.load("manifest.json")
    return {name: rule_data.load(name) for name in ["manifest.json", *manifest["rule_files"], *manifest["data_files"]]}


def test_changing_one_rule_changes_the_version() -> None:
    files = shipped_files()
    before = load_ruleset(files).version
    changed = copy.deepcopy(files)
    changed["us_states.json"]["rules"][0]["cite"] += " (amended)"  # type: ignore[index]
    assert load_ruleset(changed).version != before
    assert load_ruleset(copy.deepcopy(files)).version == before


def broken(edit: dict[str, object]) -> dict[str, object]:
    files = shipped_files()
    rule = files["us_federal.json"]["rules"][0]  # type: ignore[index]
    for key, value in edit.items():
        if value is None and key.startswith("-"):
            del rule[key[1:]]
        else:
            rule[key] = value
    return files


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"-cite": None}, "missing"),
        ({"cite": " "}, "cite must say"),
        ({"conf": "X"}, "conf"),
        ({"jurisdiction": "Florida"}, "jurisdiction"),
        ({"kind": "vibes"}, "kind"),
        ({"purposes": ["marketing"]}, "purposes"),
        ({"effective_from": "2026-13-01"}, "not a date"),
        ({"effective_from": "2026-01-01", "effective_to": "2025-01-01"}, "after effective_from"),
        ({"params": {"days": {"mon-fri": ["08:00-21:00"]}}}, "missing ['sat', 'sun']"),
        ({"params": {"days": {"mon-sun": ["08:00-21:00"], "sun": None}}}, "given twice"),
        ({"params": {"days": {"mon-sun": ["21:00-08:00"]}}}, "start before it ends"),
        ({"params": {"days": {"mon-sun": ["08:00-13:00", "12:00-20:00"]}}}, "overlaps"),
        ({"params": {"days": {"mon-sun": ["8-21"]}}}, "not a time"),
        ({"params": {"days": {"mon-sun": ["08:00-21:00"]}, "zone": "x"}}, "params of a hours rule"),
        ({"surprise": 1}, "unknown keys"),
    ],
)
def test_a_malformed_rule_is_refused_naming_the_file_and_the_rule(edit: dict[str, object], message: str) -> None:
    with pytest.raises(RulesetError, match=r"us_federal\.json rule 1") as info:
        load_ruleset(broken(edit))
    assert message in str(info.value)


def test_two_rules_with_one_id_are_refused() -> None:
    files = shipped_files()
    rules = files["us_federal.json"]["rules"]  # type: ignore[index]
    rules.append(copy.deepcopy(rules[0]))
    with pytest.raises(RulesetError, match="used twice"):
        load_ruleset(files)


def test_a_holiday_rule_must_name_a_calendar_that_exists() -> None:
    files = shipped_files()
    rule = next(r for r in files["us_states.json"]["rules"] if r["kind"] == "holidays")  # type: ignore[index]
    rule["params"]["calendar"] = "US-ZZ"
    with pytest.raises(RulesetError, match="US-ZZ"):
        load_ruleset(files)


def test_rules_are_picked_by_the_date_they_are_in_force() -> None:
    ruleset = default_ruleset()
    before = {r.id for r in ruleset.select(("US", "US-PA"), "telemarketing", False, (date(2026, 10, 17),))}
    after = {r.id for r in ruleset.select(("US", "US-PA"), "telemarketing", False, (date(2026, 10, 18),))}
    straddling = {r.id for r in ruleset.select(("US", "US-PA"), "telemarketing", False,
                                               (date(2026, 10, 17), date(2026, 10, 18)))}
    assert "us-pa.hours" in before and "us-pa.hours.v2026" not in before
    assert "us-pa.hours.v2026" in after and "us-pa.hours" not in after
    assert {"us-pa.hours", "us-pa.hours.v2026"} <= straddling  # midnight somewhere among the zones


def test_device_rules_bind_only_prerecorded_campaigns_and_fallbacks_only_where_no_law_sets_hours() -> None:
    ruleset = default_ruleset()
    day = (date(2026, 6, 15),)
    live = {r.id for r in ruleset.select(("US", "US-ME"), "telemarketing", False, day)}
    recorded = {r.id for r in ruleset.select(("US", "US-ME"), "telemarketing", True, day)}
    assert "us-me.adad.hours" in recorded - live
    assert "policy.default_hours" not in live
    assert "policy.default_hours" in {r.id for r in ruleset.select(("GB",), "telemarketing", False, day)}
    unknown = {r.id for r in ruleset.select(("US",), "lottery", False, day)}
    assert {"us.fcc.hours", "us.regf.hours", "us.regf.7in7"} <= unknown  # an unknown purpose gets every rule


def test_a_window_starting_in_the_skipped_hour_opens_at_the_transition() -> None:
    from zoneinfo import ZoneInfo

    ny = ZoneInfo("America/New_York")
    assert first_instant(date(2026, 3, 8), 2 * 3600 + 1800, ny) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert first_instant(date(2026, 11, 1), 1 * 3600 + 1800, ny) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


# --- history ---------------------------------------------------------------------------------------


def test_a_history_file_may_be_a_json_list_json_lines_or_csv() -> None:
    expected = (Attempt(utc("2026-06-15T14:00:00Z"), "no-answer"), Attempt(utc("2026-06-15T15:00:00Z"), "human"))
    as_list = ('[{"at": "2026-06-15T14:00:00Z", "outcome": "no_answer"},'
               ' {"at": "2026-06-15T11:00:00-04:00", "outcome": "Human"}]')
    as_lines = ('{"at": "2026-06-15T14:00:00Z", "outcome": "no-answer"}\n\n'
                '{"at": "2026-06-15T15:00:00Z", "outcome": "human"}\n')
    as_csv = "at,outcome\n2026-06-15T14:00:00Z,no-answer\n2026-06-15T15:00:00Z,human\n"
    for text in (as_list, as_lines, as_csv):
        assert read_history(text) == expected
    assert read_history("") == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"at": "2026-06-15T14:00:00", "outcome": "human"}]', "entry 1: .* no UTC offset"),
        ('[{"at": "2026-06-15T14:00:00Z", "outcome": "voicemail"}]', "entry 1: unknown outcome"),
        ('{"at": "2026-06-15T14:00:00Z", "outcome": "human"}\n{"at": "x", "outcome": "human"}', "line 2"),
        ("when,what\n2026,human\n", "header row with at and outcome"),
        ('[{"outcome": "human"}]', "needs both at and outcome"),
    ],
)
def test_a_bad_history_entry_is_refused_naming_where_it_is(text: str, message: str) -> None:
    with pytest.raises(HistoryError, match=message):
        read_history(text)


def test_a_cap_counts_attempts_after_the_window_start_and_frees_up_when_one_leaves() -> None:
    now = utc("2026-06-15T18:00:00Z")
    times = [utc("2026-06-14T18:00:00Z"), utc("2026-06-14T18:00:01Z"), utc("2026-06-15T10:00:00Z")]
    assert cap_status(times, now, 3, timedelta(hours=24)) == (2, None)  # the first is exactly 24 h old: out
    assert cap_status(times, now, 2, timedelta(hours=24)) == (2, utc("2026-06-15T18:00:01Z"))


# --- stores plugged into the gate, with in-memory fakes -------------------------------------------


class FakeRegistry:
    def __init__(self, listed: set[str], copy_at: datetime | None) -> None:
        self.listed, self.copy_at = listed, copy_at

    def lookup(self, registry: str, e164: str) -> RegistryAnswer | None:
        return RegistryAnswer(e164 in self.listed, self.copy_at)


class FakeConsent:
    def __init__(self, records: dict[str, ConsentRecord]) -> None:
        self.records = records

    def consent(self, e164: str, campaign_id: int) -> ConsentRecord:
        return self.records.get(e164, ConsentRecord("none"))


class FakeReassigned:
    def __init__(self, disconnected: dict[str, date]) -> None:
        self.disconnected = disconnected

    def disconnected_since(self, e164: str, since: date) -> bool | None:
        day = self.disconnected.get(e164)
        return None if day is None else day >= since


class FakeBudget:
    def __init__(self, status: BudgetStatus | None) -> None:
        self.value = status

    def status(self, campaign_id: int, now: datetime) -> BudgetStatus | None:
        return self.value


class FakeHistory:
    def __init__(self, items: tuple[Attempt, ...]) -> None:
        self.items, self.asked = items, 0

    def attempts(self, target: DialTarget, policy: CampaignPolicy, now: datetime) -> tuple[Attempt, ...]:
        self.asked += 1
        return self.items


NOON = utc("2026-06-15T16:00:00Z")  # 12:00 in New York


def gate_decision(policy: CampaignPolicy | None = None, phone: str = NY_NUMBER, **stores: object) -> Decision:
    return default_gate(**stores).can_dial(DialTarget(phone), policy or CampaignPolicy(1), NOON)  # type: ignore[arg-type]


def test_a_number_on_the_national_registry_is_blocked_for_telemarketing_only() -> None:
    registry = FakeRegistry({NY_NUMBER}, NOON - timedelta(days=3))
    blocked = gate_decision(registry=registry)
    assert blocked.codes == ("dnc_national",) and blocked.next_allowed_at is None
    assert gate_decision(CampaignPolicy(1, purpose="debt_collection"), registry=registry).allowed


def test_a_registry_copy_older_than_31_days_blocks_telemarketing_as_registry_stale() -> None:
    assert gate_decision(registry=FakeRegistry(set(), NOON - timedelta(days=31))).allowed
    stale = gate_decision(registry=FakeRegistry(set(), NOON - timedelta(days=31, seconds=1)))
    assert stale.codes == ("registry_stale",) and stale.next_allowed_at is None
    assert gate_decision(registry=FakeRegistry(set(), None)).codes == ("registry_stale",)


def test_the_uk_registry_copy_may_be_only_28_days_old() -> None:
    registry = FakeRegistry(set(), NOON - timedelta(days=29))
    assert gate_decision(phone="+442079460000", registry=registry).codes == ("registry_stale",)


def test_a_revoked_consent_blocks_every_campaign_and_no_consent_blocks_one_that_needs_it() -> None:
    consent = FakeConsent({NY_NUMBER: ConsentRecord("revoked", NOON - timedelta(days=30), NOON - timedelta(hours=1))})
    assert gate_decision(consent=consent).codes == ("consent_revoked",)
    needs = CampaignPolicy(1, requires_consent=True)
    assert gate_decision(needs, consent=FakeConsent({})).codes == ("no_consent",)
    given = FakeConsent({NY_NUMBER: ConsentRecord("given", NOON - timedelta(days=30))})
    assert gate_decision(needs, consent=given).allowed
    later = FakeConsent({NY_NUMBER: ConsentRecord("revoked", NOON - timedelta(days=30), NOON + timedelta(hours=1))})
    assert gate_decision(needs, consent=later).allowed  # replaying a decision made before the revocation


def test_a_number_disconnected_after_its_consent_is_a_reassigned_number() -> None:
    needs = CampaignPolicy(1, requires_consent=True)
    consent = FakeConsent({NY_NUMBER: ConsentRecord("given", NOON - timedelta(days=30))})
    after = FakeReassigned({NY_NUMBER: (NOON - timedelta(days=10)).date()})
    before = FakeReassigned({NY_NUMBER: (NOON - timedelta(days=60)).date()})
    assert gate_decision(needs, consent=consent, reassigned=after).codes == ("reassigned_number",)
    assert gate_decision(needs, consent=consent, reassigned=before).allowed


def test_a_spent_abandonment_budget_blocks_overdialing_until_the_store_says() -> None:
    resets = NOON + timedelta(days=2)
    budget = FakeBudget(BudgetStatus(True, resets, "3.1% of 1,000 live answers this period"))
    overdial = CampaignPolicy(1, overdial=True)
    decision = gate_decision(overdial, budget=budget)
    assert decision.codes == ("abandon_budget",) and decision.next_allowed_at == resets
    assert gate_decision(CampaignPolicy(1), budget=budget).allowed  # progressive dialing is not overdialing


def test_the_gate_asks_the_history_store_only_when_a_rule_counts_attempts() -> None:
    store = FakeHistory(attempts("2026-06-15T13:00Z", "2026-06-15T14:00Z", "2026-06-15T15:00Z"))
    assert gate_decision(phone=FL_NUMBER, history=store).codes == ("frequency_cap",)
    assert store.asked == 1
    assert gate_decision(phone=NY_NUMBER, history=store).allowed
    assert store.asked == 1  # no New York rule counts attempts


def test_the_defaults_never_block_and_say_they_checked_nothing() -> None:
    decision = gate_decision(CampaignPolicy(1, requires_consent=True, overdial=True))
    assert decision.allowed
    details = {r.rule: r.detail for r in decision.results}
    assert "not checked" in details["us.national_dnc"]
    assert "not checked" in details["us.consent"]
    assert "not checked" in details["us.fcc.abandonment"]
