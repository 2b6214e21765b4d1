"""The demo: a whole campaign on embedded defaults, from list import to results.

It goes through the same doors a real floor does: a campaign created by the
campaign service, a CSV list through the importer (with a few broken rows,
so the reject report shows), the real engine, dial gate and database, and
only the carrier and the agents simulated, in virtual time.  Contacts span
the US time zones, so the calling-hours rule visibly holds the West Coast
back in the morning.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from campaigns.db import make_session_factory
from campaigns.importer import ImportReport, import_contacts
from campaigns.models import CallAttempt
from campaigns.services import campaign_summary, create_campaign, get_campaign, pause_campaign, start_campaign
from campaigns.simulate import DayPlan, Rig
from compliance.gate import CampaignPolicy, DialTarget, default_gate
from compliance.phones import PhoneError, analyze_phone
from dialer.simulation.scenario import parse_scenario

# (area code, where): numbers in four time zones, made up but valid in form.
DEMO_AREAS = (("212", "New York"), ("312", "Chicago"), ("303", "Denver"), ("213", "Los Angeles"),
              ("602", "Phoenix"), ("617", "Boston"), ("713", "Houston"), ("206", "Seattle"))
FIRST_NAMES = ("Ana", "Ben", "Chloe", "Dev", "Eli", "Fatima", "Gus", "Hana", "Ivan", "June", "Kofi", "Lena")
LAST_NAMES = ("Smith", "Garcia", "Nguyen", "Okafor", "Kowalski", "Haddad", "Ito", "Larsen", "Moreau", "Patel")
DEMO_ZONE = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class DemoPlace:
    """Where a demo contact lives: a North American area code, or a UK range set aside for drama.

    A North American place draws the seven digits after its area code; a UK
    place (``country`` "44") draws the last ``free_digits`` of an Ofcom range
    reserved for fiction, so no real subscriber is ever written down.
    """

    country: str
    prefix: str
    where: str
    free_digits: int = 7

    @property
    def capacity(self) -> int:
        return 10 ** self.free_digits if self.country != "1" else 789 * 10_000  # exchanges 201-989

    def draw(self, rng: random.Random, style: int) -> tuple[str, str]:
        """(digits without the +, the number as a person would have typed it) of one random number here.

        North American numbers are drawn again until the exchange exists (most
        of Guam's do not), so every generated row imports.
        """
        if self.country == "1":
            while True:
                exchange, line = rng.randint(201, 989), rng.randint(0, 9999)
                if str(exchange)[1:] != "11" and _dialable(f"+1{self.prefix}{exchange}{line:04d}"):
                    break
            digits = f"1{self.prefix}{exchange}{line:04d}"
            shown = (f"({self.prefix}) {exchange}-{line:04d}" if style == 0 else
                     f"{self.prefix}.{exchange}.{line:04d}" if style == 1 else
                     f"+1 {self.prefix} {exchange} {line:04d}")
            return digits, shown
        tail = f"{rng.randrange(10 ** self.free_digits):0{self.free_digits}d}"
        national = f"{self.prefix.replace(' ', '')}{tail}"
        shown = f"+{self.country} {self.prefix}{tail}" if style != 1 else f"+{self.country}{national}"
        return f"{self.country}{national}", shown


def _dialable(e164: str) -> bool:
    try:
        analyze_phone(e164, None)
    except PhoneError:
        return False
    return True


NANP_PLACES = tuple(DemoPlace("1", area, where) for area, where in DEMO_AREAS)
# Further east and west, so that at any hour of the day somewhere is inside its calling hours.
WIDE_PLACES = (
    *NANP_PLACES,
    DemoPlace("1", "787", "San Juan"),
    DemoPlace("1", "808", "Honolulu"),
    DemoPlace("1", "671", "Guam"),
    *(DemoPlace("44", prefix, where, 3) for prefix, where in (
        ("20 7946 0", "London"), ("113 496 0", "Leeds"), ("114 496 0", "Sheffield"), ("116 496 0", "Leicester"),
        ("117 496 0", "Bristol"), ("118 496 0", "Reading"), ("121 496 0", "Birmingham"),
        ("131 496 0", "Edinburgh"), ("141 496 0", "Glasgow"), ("151 496 0", "Liverpool"),
        ("161 496 0", "Manchester"),
    )),
)


@dataclass(frozen=True)
class DemoOptions:
    contacts: int = 1500
    agents: int = 8
    hours: float = 3.0
    pacer: str = "predictive"
    seed: int = 1
    start_hour: int = 10  # New York time


def lawful_places(
    places: Sequence[DemoPlace], policy: CampaignPolicy, at: datetime, *, minutes: float, samples: int = 6,
) -> list[DemoPlace]:
    """The places the dial gate lets ``policy`` call at ``at`` and still ``minutes`` later.

    The real gate judges a few numbers of each place as the importer will
    store them (their candidate zones, no state), so a live demo dials only
    where it is lawful now and the gate still has the last word on every call.
    """
    gate = default_gate()
    rng = random.Random("demo-places")
    checks = (at, at + timedelta(minutes=minutes))
    chosen = []
    for place in places:
        numbers = [analyze_phone(place.draw(rng, 2)[1], "US") for _ in range(samples)]
        if all(gate.can_dial(DialTarget(info.e164, info.timezones), policy, when).allowed
               for info in numbers for when in checks):
            chosen.append(place)
    return chosen


def write_demo_list(path: Path, n: int, seed: int, places: Sequence[DemoPlace] = NANP_PLACES) -> int:
    """A CSV of ``n`` contacts in assorted formats, plus a few rows a real list would have wrong.

    Returns the number of rows written.  ``places`` must hold room for ``n``
    different numbers: a list cannot repeat a number on purpose.
    """
    if not places:
        raise ValueError("places: the demo list needs at least one place to draw numbers from")
    room = sum(place.capacity for place in places)
    if n > room // 2:
        raise ValueError(f"contacts: {n:,} is more than the chosen places can hold without repeats "
                         f"(at most {room // 2:,})")
    rng = random.Random(f"demo-list:{seed}")
    used: set[str] = set()
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["First Name", "Last Name", "Phone Number", "State", "Notes"])
        for i in range(n):
            place = rng.choice(places)
            while True:
                digits, phone = place.draw(rng, i % 3)
                if digits not in used:
                    used.add(digits)
                    break
            writer.writerow([rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), phone, "", f"lead {i + 1}"])
        # What real lists bring along: a bad number, a missing one, a duplicate, a formula.
        writer.writerow(["Bad", "Number", "12345", "NY", "too short"])
        writer.writerow(["No", "Phone", "", "CA", "missing"])
        writer.writerow(["Again", "Twice", f"+{next(iter(used))}", "", "duplicate"])
        writer.writerow(["=HYPERLINK(\"x\")", "Formula", f"+{_formula_number(places[0])}", "", "stored as text"])
    return n + 4


def _formula_number(place: DemoPlace) -> str:
    """A number of ``place`` outside anything ``draw`` gives (line 0199 of exchange 555, or a UK range's 999)."""
    if place.country == "1":
        return f"1{place.prefix}5550199"
    return f"{place.country}{place.prefix.replace(' ', '')}{'9' * place.free_digits}"


def run_demo(
    db: Engine,
    workdir: Path,
    options: DemoOptions,
    *,
    import_progress: Callable[[int, int], None] | None = None,
    run_progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    sessions = make_session_factory(db)
    now = datetime.now(DEMO_ZONE)
    with sessions() as session, session.begin():
        campaign = create_campaign(
            session,
            name=f"Demo {now:%Y-%m-%d %H:%M:%S}",
            caller_id="+12125550100",
            pacer=options.pacer,
            description="Created by `dialer demo`: a generated list dialed by simulated agents.",
        )
        campaign_id = campaign.id

    list_path = workdir / "demo-contacts.csv"
    rejects_path = workdir / "demo-rejects.csv"
    write_demo_list(list_path, options.contacts, options.seed)
    report: ImportReport = import_contacts(
        sessions, campaign_id, list_path, list_name="demo list", rejects=rejects_path, progress=import_progress
    )

    with sessions() as session, session.begin():
        start_campaign(session, get_campaign(session, campaign_id))

    scenario = parse_scenario({"name": "demo", "agents": options.agents, "hours": options.hours, "p_human": 0.25})
    day = now.replace(hour=options.start_hour, minute=0, second=0, microsecond=0)
    plan = DayPlan(day.timestamp(), 86400.0, options.hours * 3600.0, "08:00-21:00")
    rig = Rig.build(db, scenario, options.pacer, options.seed, campaign_id, plan)
    rig.run_days(run_progress)
    figures = rig.figures()

    with sessions() as session, session.begin():
        campaign = get_campaign(session, campaign_id)
        pause_campaign(session, campaign)
        summary = campaign_summary(session, campaign)
        dispositions = {
            code: n
            for code, n in session.execute(
                select(CallAttempt.disposition, func.count())
                .where(CallAttempt.campaign_id == campaign_id)
                .group_by(CallAttempt.disposition)
            )
        }
    return {
        "campaign_id": campaign_id,
        "campaign_name": f"Demo {now:%Y-%m-%d %H:%M:%S}",
        "import": {
            "rows_read": report.rows_read,
            "imported": report.imported,
            "rejected": report.rejected,
            "rejected_by_reason": report.rejected_by_reason,
            "rejects_file": str(rejects_path),
        },
        "run": figures,
        "summary": summary,
        "dispositions": {str(k): v for k, v in dispositions.items()},
        "day_start": day.isoformat(),
    }
