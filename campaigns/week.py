"""A simulated working week of two campaigns in one database, so every report has a week to read.

One team of simulated agents works a sales campaign in the morning and a survey
campaign in the afternoon, day after day, on the real engine, hopper, dial gate
and recorder against the simulated carrier, in virtual time (``campaigns.simulate``).
Each campaign has its own list and disposition set:

* sales: ``SALE`` (a sale), ``NI``, ``CB`` (a callback the next day), ``DNC``,
  ``WRONG``, drawn by the agent at the end of each conversation;
* survey (``purpose`` survey, the questionnaire assigned in agent mode): every
  conversation with a person is an interview through ``campaigns.surveys``
  (``start_interview`` / ``record_answer`` with the call's attempt id), and its
  outcome is the disposition: ``COMPLETE``, ``SCREENED`` (a rule or a full quota
  cell), ``BROKE_OFF`` (they stopped partway: a callback the next day resumes
  the interview where it stopped) or ``REFUSED``.

Respondents answer as the same person on every call (their answers are drawn
from the seed and the contact), so a resumed interview goes on consistently.
The survey services stamp wall-clock times; the simulation puts its own
(virtual) times on the interviews it ran, so the export reads the simulated
week.  The whole week is a pure function of the plan: the same plan gives the
same records.
"""

from __future__ import annotations

import functools
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from campaigns.db import make_session_factory, upgrade
from campaigns.models import Agent, Contact, ContactList, ContactPhone
from campaigns.questionnaire import Ask
from campaigns.recycling import replace_dispositions
from campaigns.reports import local_range
from campaigns.services import create_campaign, start_campaign
from campaigns.simulate import SIM_AREA_CODES, SIM_FIRST_DAY, SIM_ZONE, DayPlan, Rig
from campaigns.survey_models import SurveyAnswer, SurveyResponse
from campaigns.surveys import add_version, assign, get_questionnaire, publish, record_answer, start_interview
from dialer.calls import Call
from dialer.clock import VirtualLoop
from dialer.engine import Engine as DialEngine
from dialer.simulation.scenario import Scenario, parse_scenario
from dialer.simulation.world import AgentWorld

__all__ = [
    "SALES_CODES",
    "SURVEY_CODES",
    "Interviewer",
    "WeekError",
    "WeekPlan",
    "WeekResult",
    "questionnaire_definition",
    "respondent_answer",
    "run_week",
    "week_range",
]

WEEK_ZONE = SIM_ZONE
CALLING_WINDOW = "08:00-21:00"
SALES_START_H = 9.0  # local time the sales shift starts
LUNCH_H = 1.0  # between the sales shift's end and the survey shift's start
MAX_DAYS = 14
# A callback "tomorrow" is due 20 hours on: before the next day's shift starts, so it is among its first calls
# (a full day on would fall at the same time of the next shift, too late in it when the shift is short).
NEXT_DAY_MIN = 20 * 60
MAX_AGENTS = 40

SALES_CODES: tuple[dict[str, Any], ...] = (
    {"code": "SALE", "label": "Sale", "final": True, "sale": True},
    {"code": "NI", "label": "Not interested", "final": True},
    {"code": "CB", "label": "Call back tomorrow", "callback": True, "retry_after_min": NEXT_DAY_MIN},
    {"code": "DNC", "label": "Do not call", "final": True, "adds_to_dnc": True},
    {"code": "WRONG", "label": "Wrong number", "final": True, "wrong_number": True},
)
# How often a sales agent records each code after a conversation.
SALES_MIX: tuple[tuple[str, float], ...] = (
    ("SALE", 0.16), ("NI", 0.57), ("CB", 0.19), ("DNC", 0.04), ("WRONG", 0.04),
)

SURVEY_CODES: tuple[dict[str, Any], ...] = (
    # A completed interview is the survey campaign's "sale": its conversion is completes per connected call.
    {"code": "COMPLETE", "label": "Interview complete", "final": True, "sale": True},
    {"code": "SCREENED", "label": "Screened out", "final": True},
    {"code": "BROKE_OFF", "label": "Broke off, resume tomorrow", "callback": True, "retry_after_min": NEXT_DAY_MIN},
    {"code": "REFUSED", "label": "Refused the interview", "final": True},
    {"code": "DNC", "label": "Do not call", "final": True, "adds_to_dnc": True},
)
P_REFUSE = 0.08  # a person reached for the first time who will not start the interview
P_DNC = 0.02  # ... who asks never to be called again
P_BREAK_FIRST = 0.22  # an interview that breaks off on its first call
P_BREAK_AGAIN = 0.08  # ... and again on a call that resumes it
SECONDS_PER_ANSWER = 20.0

FIRST_NAMES = ("Ana", "Ben", "Carla", "Dev", "Elif", "Femi", "Grace", "Hugo", "Ines", "Jun", "Kofi", "Lena",
               "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wen", "Yusuf")
LAST_NAMES = ("Adams", "Brennan", "Castillo", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito",
              "Jensen", "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Patel", "Rossi", "Silva", "Tanaka")
AGENT_NAMES = ("Maya Brooks", "Tomas Rivera", "Aisha Khan", "Leo Fontaine", "Nora Lindqvist", "Sam Osei",
               "Iris Tan", "Diego Marin", "Hana Sato", "Owen Walsh")
COMMENTS = ("More buses in the evening, please.", "The parks are lovely.", "Fix the potholes on Main Street.",
            "Libraries should open on Sundays.", "Keep up the good work.")


class WeekError(ValueError):
    """A week was asked for with a setting it cannot use; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class WeekPlan:
    """How big the week is: days from Monday 2 March 2026, one team on both campaigns, and their lists."""

    days: int = 7
    seed: int = 1
    agents: int = 4
    shift_hours: float = 2.0
    sales_contacts: int = 1500
    survey_contacts: int = 1500
    young_target: int = 80  # completes wanted aged 18 to 34
    senior_target: int = 50  # completes wanted aged 65 and over

    def __post_init__(self) -> None:
        _whole(self, "days", 1, MAX_DAYS)
        _whole(self, "seed", 0, None)
        _whole(self, "agents", 1, MAX_AGENTS)
        _whole(self, "sales_contacts", 10, 200_000)
        _whole(self, "survey_contacts", 10, 200_000)
        _whole(self, "young_target", 0, None)
        _whole(self, "senior_target", 0, None)
        hours = self.shift_hours
        if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0.25 <= hours <= 5.0:
            raise WeekError("shift_hours", f"must be a number of hours from 0.25 to 5, not {hours!r}")

    @property
    def first_day(self) -> date:
        return SIM_FIRST_DAY.date()

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=self.days - 1)


def _whole(plan: WeekPlan, name: str, low: int, high: int | None) -> None:
    value = getattr(plan, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"of {low} or more"
        raise WeekError(name, f"must be a whole number {bounds}, not {value!r}")


@dataclass
class WeekResult:
    """What the week made, for its reports and export to name: the two campaigns, their lists, and how the
    survey calls went."""

    plan: WeekPlan
    sales_campaign_id: int
    survey_campaign_id: int
    sales_list_id: int
    survey_list_id: int
    interviews: Counter[str] = field(default_factory=Counter)


def questionnaire_definition(young_target: int, senior_target: int) -> dict[str, Any]:
    """The survey campaign's questionnaire: a residents' survey with a screener, branching, and two age quotas."""
    return {
        "title": "Neighbourhood services",
        "intro": "Hello {first_name}, we are asking residents a few questions about county services.",
        "closing": "Thank you, {first_name}. That is all.",
        "screen_out_message": "Thank you, that is all we need today. Goodbye.",
        "questions": [
            {"id": "resident", "text": "Do you live in the county?", "type": "yesno",
             "rules": ["if resident == no then goto screen_out"]},
            {"id": "age", "text": "How old are you?", "type": "number", "min": 18, "max": 110},
            {"id": "transport", "text": "How do you usually get around?", "type": "single",
             "choices": ["Car", "Bus or train", "Bicycle", "On foot", {"code": 9, "label": "Other"}],
             "rules": [{"if": "transport in (1, 9)", "goto": "services"}]},
            {"id": "transit", "text": "You said {transport}. How would you rate it, 0 to 10?", "type": "rating"},
            {"id": "services", "text": "Which services matter most to you?", "type": "multiple",
             "choices": ["Parks", "Libraries", "Road repair", "Public transport", "Schools"], "max_choices": 3},
            {"id": "satisfaction", "text": "Overall, how satisfied are you with county services, 0 to 10?",
             "type": "rating"},
            {"id": "moved_in", "text": "Since when do you live at your address?", "type": "date",
             "max": "2026-03-01", "required": False},
            {"id": "comment", "text": "Anything else the county should hear?", "type": "text",
             "required": False, "max_length": 200},
        ],
        "quotas": [
            {"id": "young", "label": "Aged 18 to 34", "target": young_target,
             "when": {"q": "age", "op": "<", "value": 35}},
            {"id": "senior", "label": "Aged 65 and over", "target": senior_target,
             "when": {"q": "age", "op": ">=", "value": 65}},
        ],
    }


# ---------------------------------------------------------------------------------------------- respondents


def respondent_answer(question_id: str, rng: random.Random) -> Any:
    """What a simulated resident says to one question (None: they skip it)."""
    if question_id == "resident":
        return rng.random() < 0.9
    if question_id == "age":
        u = rng.random()
        return rng.randint(18, 34) if u < 0.32 else rng.randint(35, 64) if u < 0.8 else rng.randint(65, 92)
    if question_id == "transport":
        return rng.choices((1, 2, 3, 4, 9), weights=(45, 30, 10, 10, 5))[0]
    if question_id in ("transit", "satisfaction"):
        return min(10, max(0, round(rng.gauss(6.5, 2.2))))
    if question_id == "services":
        return sorted(rng.sample((1, 2, 3, 4, 5), rng.randint(1, 3)))
    if question_id == "moved_in":
        if rng.random() < 0.3:
            return None
        return (date(1965, 1, 1) + timedelta(days=rng.randint(0, 22_000))).isoformat()
    if question_id == "comment":
        return rng.choice(COMMENTS) if rng.random() < 0.25 else None
    raise KeyError(question_id)


class Interviewer:
    """Runs the interview of each survey call with the person who answered, through the survey services."""

    def __init__(self, sessions: sessionmaker[Session], campaign_id: int, seed: int) -> None:
        self.sessions = sessions
        self.campaign_id = campaign_id
        self.seed = seed
        self.outcomes: Counter[str] = Counter()

    def disposition(self, call: Call, now: float) -> str:
        """Interview the person on ``call`` and return the code the agent records for it."""
        if call.attempt_id is None:
            raise WeekError("attempt_id", f"call {call.call_id} has no call attempt to answer on")
        rng = random.Random(f"call:{self.seed}:{call.attempt_id}")
        moment = call.at("connected") or now
        with self.sessions() as session, session.begin():
            known = session.scalar(select(SurveyResponse.id).where(
                SurveyResponse.campaign_id == self.campaign_id, SurveyResponse.contact_id == call.contact_id))
            if known is None:
                u = rng.random()
                if u < P_DNC:
                    return self._outcome("asked not to be called", "DNC")
                if u < P_DNC + P_REFUSE:
                    return self._outcome("refused", "REFUSED")
            state = start_interview(session, self.campaign_id, call.contact_id, attempt_id=call.attempt_id)
            response_id = state.response.id
            if known is None:
                state.response.started_at = _when(moment)
            stamps: list[tuple[str, float]] = []
            step = state.step
            path = state.interview.path_answers()
            if state.response.status == "partial" and not isinstance(step, Ask) and path:
                # Resumed into a cell that filled since: confirming the answer that put them there closes it.
                last = list(path)[-1]
                state = record_answer(session, response_id, last, path[last], attempt_id=call.attempt_id)
                stamps.append((last, moment))
                step = state.step
            breaks_after = None
            if rng.random() < (P_BREAK_FIRST if known is None else P_BREAK_AGAIN):
                breaks_after = rng.randint(1, 4)
            given = 0
            while isinstance(step, Ask) and (breaks_after is None or given < breaks_after):
                question_id = step.question.id
                person = random.Random(f"respondent:{self.seed}:{call.contact_id}:{question_id}")
                state = record_answer(session, response_id, question_id, respondent_answer(question_id, person),
                                      attempt_id=call.attempt_id)
                given += 1
                stamps.append((question_id, moment + SECONDS_PER_ANSWER * given))
                step = state.step
            self._stamp(session, state.response, stamps, call)
            status = state.response.status
        if status == "complete":
            return self._outcome("complete", "COMPLETE")
        if status == "screened_out":
            return self._outcome("screened out", "SCREENED")
        return self._outcome("broke off", "BROKE_OFF")

    def _stamp(self, session: Session, response: SurveyResponse, stamps: list[tuple[str, float]], call: Call) -> None:
        """Put the simulation's clock on what this call wrote (the services stamp the wall clock)."""
        for question_id, at in stamps:
            session.execute(update(SurveyAnswer).where(
                SurveyAnswer.response_id == response.id, SurveyAnswer.question_id == question_id,
                SurveyAnswer.attempt_id == call.attempt_id,
            ).values(answered_at=_when(at)))
        if stamps:
            response.updated_at = _when(stamps[-1][1])
            if response.status != "partial":
                response.completed_at = _when(stamps[-1][1])

    def _outcome(self, what: str, code: str) -> str:
        self.outcomes[what] += 1
        return code


def _when(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


# ---------------------------------------------------------------------------------------------- the teams


def _draw(mix: tuple[tuple[str, float], ...], rng: random.Random) -> str:
    u = rng.random()
    for code, share in mix:
        if u < share:
            return code
        u -= share
    return mix[-1][0]


class SalesTeam(AgentWorld):
    """The team on the sales campaign: a sale, a refusal or a callback, drawn after each conversation."""

    def _disposition(self) -> str:
        return _draw(SALES_MIX, self.outcomes)


class SurveyTeam(AgentWorld):
    """The team on the survey campaign: each conversation is an interview, whose outcome is the disposition."""

    def __init__(self, loop: VirtualLoop, scenario: Scenario, engine: DialEngine, *, seed: int,
                 interviewer: Interviewer) -> None:
        super().__init__(loop, scenario, engine, seed=seed)
        self.interviewer = interviewer
        self._wrapping: str | None = None

    def _finish_wrap(self, agent_id: str) -> None:
        self._wrapping = agent_id  # the disposition below is this agent's call's
        try:
            super()._finish_wrap(agent_id)
        finally:
            self._wrapping = None

    def _disposition(self) -> str:
        agent_id = self._wrapping
        call_id = self.engine.board.get(agent_id).call_id if agent_id else None
        call = next((c for c in self.engine.live_calls() if c.call_id == call_id), None)
        if call is None:
            raise WeekError("call", f"agent {agent_id} wraps up no call the dialer holds")
        return self.interviewer.disposition(call, self.loop.now())


# ---------------------------------------------------------------------------------------------- the week


def _scenario(plan: WeekPlan, talk_mean_s: float, p_human: float) -> Scenario:
    return parse_scenario({
        "name": "week", "hours": plan.shift_hours, "days": plan.days, "p_human": p_human,
        "agents": [{"n": plan.agents, "login_h": [0.0, 0.1]}],
        "talk_mean_s": talk_mean_s, "talk_cv": 0.8, "wrap_fixed_s": 5, "wrap_exp_mean_s": 12,
        "breaks": {"per_hour": 0.5, "min_s": 180, "max_s": 420},
    })


def _day_plan(plan: WeekPlan, start_h: float) -> DayPlan:
    first = SIM_FIRST_DAY + timedelta(hours=start_h)  # wall clock: SIM_FIRST_DAY is local midnight
    return DayPlan(first.timestamp(), 86400.0, plan.shift_hours * 3600.0, CALLING_WINDOW)


class _Numbers:
    """Made-up New York numbers, none used twice in the week's database."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"numbers:{seed}")
        self.used: set[str] = set()

    def next(self) -> str:
        while True:
            number = f"+1{self.rng.choice(SIM_AREA_CODES)}{self.rng.randint(201, 999)}{self.rng.randint(0, 9999):04d}"
            if number[5:7] != "11" and number not in self.used:
                self.used.add(number)
                return number


def _add_list(session: Session, campaign_id: int, name: str, prefix: str, n: int, numbers: _Numbers,
              rng: random.Random) -> int:
    """A list of ``n`` contacts; about one in five has a second (mobile) number, dialed in the next round."""
    contact_list = ContactList(campaign_id=campaign_id, name=name, source="simulation")
    session.add(contact_list)
    session.flush()
    for i in range(n):
        contact = Contact(
            campaign_id=campaign_id, list_id=contact_list.id, external_id=f"{prefix}-{i + 1:05d}",
            first_name=rng.choice(FIRST_NAMES), last_name=rng.choice(LAST_NAMES), state="NY",
            status="new", attempts=0, priority=0, custom_fields={},
        )
        contact.phones = [ContactPhone(campaign_id=campaign_id, e164=numbers.next(), label="home", position=0,
                                       timezones=[WEEK_ZONE.key], status="ok", attempts=0)]
        if rng.random() < 0.2:
            contact.phones.append(ContactPhone(campaign_id=campaign_id, e164=numbers.next(), label="mobile",
                                               position=1, timezones=[WEEK_ZONE.key], status="ok", attempts=0))
        session.add(contact)
    session.flush()
    return contact_list.id


def _set_up(db: Engine, plan: WeekPlan) -> tuple[int, int, int, int]:
    numbers, rng = _Numbers(plan.seed), random.Random(f"lists:{plan.seed}")
    with make_session_factory(db)() as session, session.begin():
        for number in range(1, plan.agents + 1):
            login = f"agent{number:03d}"
            if session.scalar(select(Agent.id).where(Agent.login == login)) is None:
                name = AGENT_NAMES[number - 1] if number <= len(AGENT_NAMES) else f"Agent {number}"
                session.add(Agent(login=login, name=name))
        sales = create_campaign(
            session, name=f"Spring offer (week {plan.seed})", caller_id="+12125550100",
            caller_ids=["+12125550100", "+16465550101"], pacer="predictive", calling_window=CALLING_WINDOW,
            schedule_tz=WEEK_ZONE.key, max_attempts=4, retry_delays_min=[60, 180, 1440], target_abandon=0.03,
        )
        replace_dispositions(session, sales.id, list(SALES_CODES))
        start_campaign(session, sales)
        survey = create_campaign(
            session, name=f"Residents survey (week {plan.seed})", caller_id="+17185550102", purpose="survey",
            pacer="progressive", calling_window=CALLING_WINDOW, schedule_tz=WEEK_ZONE.key, max_attempts=4,
            retry_delays_min=[60, 180, 1440], target_abandon=0.03,
        )
        replace_dispositions(session, survey.id, list(SURVEY_CODES))
        name = f"Neighbourhood services (week {plan.seed})"
        add_version(session, name, questionnaire_definition(plan.young_target, plan.senior_target))
        questionnaire = get_questionnaire(session, name)
        publish(session, questionnaire)
        assign(session, survey, questionnaire, mode="agent")
        start_campaign(session, survey)
        sales_list = _add_list(session, sales.id, "Spring offer prospects", "P", plan.sales_contacts, numbers, rng)
        survey_list = _add_list(session, survey.id, "County residents", "R", plan.survey_contacts, numbers, rng)
        return sales.id, survey.id, sales_list, survey_list


def run_week(db: Engine, plan: WeekPlan, *, progress: Callable[[str, float], None] | None = None) -> WeekResult:
    """Lay out both campaigns in ``db`` (brought to the newest schema) and work the week on them.

    The sales shift runs each morning from 09:00 New York time, the survey
    shift an hour after it ends; the same agents work both.  ``progress`` hears
    the campaign being worked and the share of its week done.
    """
    upgrade(db)
    sales_id, survey_id, sales_list, survey_list = _set_up(db, plan)
    sessions = make_session_factory(db)
    interviewer = Interviewer(sessions, survey_id, plan.seed)
    shifts: tuple[tuple[str, int, Scenario, str, DayPlan, Callable[..., AgentWorld]], ...] = (
        ("sales", sales_id, _scenario(plan, 110.0, 0.3), "predictive", _day_plan(plan, SALES_START_H), SalesTeam),
        ("survey", survey_id, _scenario(plan, 160.0, 0.3), "progressive",
         _day_plan(plan, SALES_START_H + plan.shift_hours + LUNCH_H),
         functools.partial(SurveyTeam, interviewer=interviewer)),
    )
    for label, campaign_id, scenario, pacer, day_plan, team in shifts:
        rig = Rig.build(db, scenario, pacer, plan.seed, campaign_id, day_plan, world_factory=team)
        rig.run_days(functools.partial(progress, label) if progress else None)
    return WeekResult(plan, sales_id, survey_id, sales_list, survey_list, Counter(interviewer.outcomes))


def week_range(plan: WeekPlan) -> tuple[datetime, datetime]:
    """The UTC instants from the week's first local midnight to the midnight after its last day."""
    return local_range(plan.first_day, plan.last_day, WEEK_ZONE)
