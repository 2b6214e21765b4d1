"""The campaign's compliance flags reach the dial gate the simulation and the demo build."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import update

from campaigns import consent_store
from campaigns.db import make_engine, make_session_factory, upgrade
from campaigns.models import Campaign
from campaigns.simulate import DayPlan, Rig, create_sim_campaign
from dialer.hopper import Lead
from dialer.simulation.scenario import Scenario

PHONE = "+12125550147"


def _rig(tmp_path: Path, **flags: bool) -> tuple[Rig, DayPlan, int]:
    db = make_engine(f"sqlite:///{tmp_path / 'flags.db'}")
    upgrade(db)
    scenario = Scenario()
    plan = DayPlan.for_scenario(scenario)
    campaign_id, _ = create_sim_campaign(db, scenario, "progressive", 1, plan.window)
    with db.begin() as conn:
        conn.execute(update(Campaign).where(Campaign.id == campaign_id).values(**flags))
    return Rig.build(db, scenario, "progressive", 1, campaign_id, plan), plan, campaign_id


def _codes(rig: Rig, plan: DayPlan) -> tuple[str, ...]:
    lead = Lead(contact_id=1, e164=PHONE, attempt_number=1, timezones=("America/New_York",))
    return rig.hopper.check(lead, plan.first_start + 4 * 3600).codes


def test_a_campaign_requiring_consent_blocks_a_number_without_consent_until_consent_is_recorded(tmp_path):
    rig, plan, _ = _rig(tmp_path, requires_consent=True)
    assert "no_consent" in _codes(rig, plan)

    db = rig.recorder.db
    with make_session_factory(db)() as session:
        consent_store.record_consent(
            session,
            PHONE,
            source="web_form",
            obtained_at=datetime(2026, 1, 5, tzinfo=UTC),
            text_shown="I agree to autodialed calls from Acme.",
            recorded_by="ops",
        )
        session.commit()
    assert "no_consent" not in _codes(rig, plan)


def test_a_campaign_not_requiring_consent_does_not_ask_for_it(tmp_path):
    rig, plan, _ = _rig(tmp_path)
    assert "no_consent" not in _codes(rig, plan)
