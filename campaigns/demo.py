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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from campaigns.db import make_session_factory
from campaigns.importer import ImportReport, import_contacts
from campaigns.models import CallAttempt
from campaigns.services import campaign_summary, create_campaign, get_campaign, pause_campaign, start_campaign
from campaigns.simulate import DayPlan, Rig
from dialer.simulation.scenario import parse_scenario

# (area code, where): numbers in four time zones, made up but valid in form.
DEMO_AREAS = (("212", "New York"), ("312", "Chicago"), ("303", "Denver"), ("213", "Los Angeles"),
              ("602", "Phoenix"), ("617", "Boston"), ("713", "Houston"), ("206", "Seattle"))
FIRST_NAMES = ("Ana", "Ben", "Chloe", "Dev", "Eli", "Fatima", "Gus", "Hana", "Ivan", "June", "Kofi", "Lena")
LAST_NAMES = ("Smith", "Garcia", "Nguyen", "Okafor", "Kowalski", "Haddad", "Ito", "Larsen", "Moreau", "Patel")
DEMO_ZONE = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class DemoOptions:
    contacts: int = 1500
    agents: int = 8
    hours: float = 3.0
    pacer: str = "predictive"
    seed: int = 1
    start_hour: int = 10  # New York time


def write_demo_list(path: Path, n: int, seed: int) -> int:
    """A CSV of ``n`` contacts in assorted formats, plus a few rows a real list would have wrong."""
    rng = random.Random(f"demo-list:{seed}")
    used: set[str] = set()
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["First Name", "Last Name", "Phone Number", "State", "Notes"])
        for i in range(n):
            area, _ = rng.choice(DEMO_AREAS)
            while True:
                exchange, line = rng.randint(201, 989), rng.randint(0, 9999)
                digits = f"{area}{exchange}{line:04d}"
                if str(exchange)[1:] != "11" and digits not in used:
                    used.add(digits)
                    break
            style = i % 3
            phone = (f"({area}) {exchange}-{line:04d}" if style == 0 else
                     f"{area}.{exchange}.{line:04d}" if style == 1 else f"+1 {area} {exchange} {line:04d}")
            writer.writerow([rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), phone, "", f"lead {i + 1}"])
        # What real lists bring along: a bad number, a missing one, a duplicate, a formula.
        writer.writerow(["Bad", "Number", "12345", "NY", "too short"])
        writer.writerow(["No", "Phone", "", "CA", "missing"])
        writer.writerow(["Again", "Twice", f"+1{next(iter(used))}", "NY", "duplicate"])
        writer.writerow(["=HYPERLINK(\"x\")", "Formula", "+12125550199", "NY", "stored as text"])
    return n + 4


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
