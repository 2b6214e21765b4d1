"""The product in a browser: `dialer demo` as a newcomer runs it, driven through chromium.

Each role signs in through the sign-in page and lands on its own screen; then
the main path of a working day: an agent goes ready and takes a call from the
simulated carrier, the customer hangs up and the agent dispositions it; a
supervisor watches that agent on the live floor; a compliance officer finds
the call in the call log and exports it.

Run with DIALER_SCREENSHOTS=docs/screenshots to (re)make the README's pictures.
"""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from campaigns.db import make_engine, make_session_factory
from campaigns.models import Agent, CallAttempt
from tests.browser_support import DemoApp, browser, demo_app, expect, person, screenshot, sign_in

pytestmark = pytest.mark.slow

__all__ = ["browser", "demo_app"]  # fixtures, used by name

if TYPE_CHECKING:
    from playwright.sync_api import Browser

LANDING = {
    "agent": r"/agent$",
    "supervisor": r"/floor$",
    "compliance": r"/compliance/calls$",
    "admin": r"/floor$",
}


@pytest.mark.parametrize("username", list(LANDING))
def test_each_demo_account_signs_in_through_the_form_and_lands_on_its_roles_screen(
    browser: Browser, demo_app: DemoApp, username: str,
) -> None:
    context = person(browser)
    try:
        page = sign_in(context, demo_app, username)
        assert re.search(LANDING[username], page.url), f"{username} landed on {page.url}"
        assert page.get_by_role("button", name="Sign in").count() == 0
        # The menu says who is signed in, and the sign-out is there.
        assert page.get_by_role("button", name=re.compile("Sign out", re.I)).count() == 1
    finally:
        context.close()


def test_a_wrong_password_keeps_the_person_on_the_sign_in_page_with_a_message(
    browser: Browser, demo_app: DemoApp,
) -> None:
    context = person(browser)
    try:
        page = sign_in(context, demo_app, "agent", "not-the-password")
        assert page.url.endswith("/login")
        assert page.get_by_text("Wrong username or password.").is_visible()
    finally:
        context.close()


def called_by_the_agent(app: DemoApp, code: str) -> CallAttempt | None:
    """The demo agent's call closed with ``code``, read from the demo's own database."""
    engine = make_engine(app.database_url)
    try:
        with make_session_factory(engine)() as session:
            found = session.scalars(
                select(CallAttempt).join(Agent, Agent.id == CallAttempt.agent_id)
                .where(CallAttempt.campaign_id == app.campaign_id, Agent.login == "agent",
                       CallAttempt.disposition == code)
                .order_by(CallAttempt.id.desc())
            ).first()
            if found is not None:
                session.expunge(found)
            return found
    finally:
        engine.dispose()


def wait_for_record(app: DemoApp, code: str, timeout_s: float = 20.0) -> CallAttempt:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = called_by_the_agent(app, code)
        if found is not None and found.wrap_ended_at is not None:
            return found
        time.sleep(0.3)
    raise AssertionError(f"no call of the demo agent closed with {code} within {timeout_s:g} s")


def test_an_agent_takes_a_call_and_dispositions_it_a_supervisor_sees_it_live_and_compliance_exports_it(
    browser: Browser, demo_app: DemoApp,
) -> None:
    agent_desk, supervisor_desk = person(browser), person(browser)
    compliance_desk = person(browser, downloads=True)
    try:
        # The agent: the demo's campaign is the only active one, so the console has chosen it.
        console = sign_in(agent_desk, demo_app, "agent")
        expect(console.get_by_label("Campaign")).to_have_value(str(demo_app.campaign_id))
        console.get_by_role("button", name=re.compile(r"^Go ready")).click()
        expect(console.locator("#state-label")).to_have_text(re.compile(r"Ready|Connecting|On call"))
        # A call from the simulated carrier is pushed to the console the moment someone answers.
        expect(console.locator("#state-label")).to_have_text("On call", timeout=90_000)
        expect(console.locator("#contact-name")).not_to_be_empty()
        expect(console.locator("#script")).to_contain_text("Example Energy")
        screenshot(console, "agent-console")

        # The supervisor, at another desk, opens the campaign's floor and finds the agent on it.
        floor = sign_in(supervisor_desk, demo_app, "supervisor")
        floor.get_by_role("link", name=re.compile(re.escape(demo_app.campaign_name))).first.click()
        expect(floor).to_have_url(re.compile(rf"/floor/{demo_app.campaign_id}$"))
        agent_row = floor.locator('tr[data-agent="agent"]')
        expect(agent_row).to_be_visible()
        expect(agent_row.locator(".pill").first).to_have_text(re.compile(r"on call|wrap up"))
        screenshot(floor, "supervisor-floor")

        # Nobody hangs up from the console: the customer does after the talk time, and wrap-up follows.
        expect(console.locator("#state-label")).to_have_text("Wrap-up", timeout=60_000)
        console.get_by_label(re.compile("Sale / completed")).check()
        console.get_by_label("Notes").fill("Agreed to a home visit on Thursday")
        console.get_by_role("button", name=re.compile(r"^Save disposition")).click()
        expect(console.locator("#state-label")).to_have_text(re.compile(r"Ready|Connecting|On call"))
        call = wait_for_record(demo_app, "SALE")
        assert call.connected_at is not None and call.notes == "Agreed to a home visit on Thursday"
        # The floor follows: the agent is no longer in wrap-up on this call.
        expect(agent_row.locator(".pill").first).not_to_have_text("wrap up", timeout=15_000)

        # The campaign manager lists the demo campaign with its imported contacts.
        floor.get_by_role("link", name="Campaigns").first.click()
        campaign_row = floor.locator("tr", has_text=demo_app.campaign_name)
        expect(campaign_row).to_contain_text(f"{demo_app.contacts:,}")
        expect(campaign_row).to_contain_text("active")
        screenshot(floor, "campaign-manager")

        # Compliance finds the call by its number and the agent, and exports what it found.
        desk = sign_in(compliance_desk, demo_app, "compliance")
        expect(desk.locator("tr[data-attempt]").first).to_be_visible()
        screenshot(desk, "compliance-call-log")
        desk.get_by_label("Number").fill(call.e164)
        desk.locator("select[name=agent]").select_option("agent")
        desk.get_by_role("button", name="Search").click()
        found = desk.locator(f'tr[data-attempt="{call.id}"]')
        expect(found).to_be_visible()
        expect(found).to_contain_text("SALE")
        with desk.expect_download() as downloading:
            desk.get_by_role("link", name=re.compile("Export CSV")).click()
        exported = Path(downloading.value.path()).read_text(encoding="utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(exported)))
        assert rows, exported[:500]
        mine = [row for row in rows if row["attempt_id"] == str(call.id)]
        assert len(mine) == 1, exported[:1000]
        # The number is written as text (a leading quote), so no spreadsheet reads "+1..." as a formula.
        assert mine[0]["number"].lstrip("'") == call.e164
        assert (mine[0]["agent"], mine[0]["disposition"]) == ("agent", "SALE")

        # Back at the campaign manager, the supervisor pauses the campaign and starts it again.
        campaign_row.get_by_role("button", name="Pause").click()
        expect(floor.get_by_text(f"{demo_app.campaign_name} is paused.")).to_be_visible()
        expect(campaign_row).to_contain_text("paused")
        campaign_row.get_by_role("button", name="Start").click()
        expect(floor.get_by_text(f"{demo_app.campaign_name} is active.")).to_be_visible()
    finally:
        for desk_context in (agent_desk, supervisor_desk, compliance_desk):
            desk_context.close()
