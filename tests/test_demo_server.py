"""``dialer demo`` serving the app: one process, a live campaign, bots, and a person who takes a call."""

from __future__ import annotations

import http.cookiejar
import json
import logging
import re
import socket
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from campaigns import accounts
from campaigns.cli import main
from campaigns.db import ensure_schema, make_engine, make_session_factory
from campaigns.demo_server import (
    DEMO_PASSWORD,
    DemoError,
    DemoServer,
    DemoServerOptions,
    ensure_demo_accounts,
    prepare_demo_campaign,
)
from campaigns.jobs import enqueue_scrub, get_job
from campaigns.live_dialer import agents_key
from campaigns.live_events import Command, publish_command
from campaigns.models import Agent, CallAttempt, Campaign
from campaigns.settings import Settings, get_settings
from dialer.simulation.scenario import parse_scenario

# Short, certain calls: people answer and wait, talk two seconds, then hang up themselves.
QUICK_WORLD = {
    "name": "quick", "p_human": 0.9, "p_machine": 0.05, "p_busy": 0.0, "p_invalid": 0.05, "ring_median_s": 1.0,
    "ring_p90_s": 2.0, "patience_mean_s": 30.0, "talk_mean_s": 2.0, "talk_cv": 0.1, "wrap_fixed_s": 0.5,
    "wrap_exp_mean_s": 0.5, "amd_s": [1.0, 1.5], "amd_human_as_machine": 0.0, "amd_machine_as_human": 0.0,
}


def wait_for(what: str, check: Callable[[], Any], timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


def demo_settings(database_url: str) -> Settings:
    return Settings.from_env({"DATABASE_URL": database_url, "REDIS_URL": f"memory://demo-{uuid.uuid4().hex}"})


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoServer]:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    ensure_schema(url)
    options = DemoServerOptions(port=0, bot_agents=1, contacts=200, seed=7, scenario=parse_scenario(QUICK_WORLD),
                                workdir=tmp_path / "out")
    server = DemoServer(demo_settings(url), options)
    try:
        server.prepare()
        server.start()
        yield server
    finally:
        server.close()


def open_browser() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def sign_in(browser: urllib.request.OpenerDirector, base: str, username: str, password: str) -> str:
    """Sign in through the form; returns the path the app sends the user to."""
    page = browser.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no CSRF token on the sign-in page"
    form = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": token.group(1)})
    landed = browser.open(f"{base}/login", data=form.encode())
    return urllib.parse.urlsplit(landed.geturl()).path


def agent_entry(server: DemoServer, campaign_id: int, login: str) -> dict[str, Any] | None:
    raw = server.redis.hget(agents_key(campaign_id), login)
    return None if raw is None else dict(json.loads(raw))


@pytest.mark.slow
def test_the_demo_serves_the_app_and_a_person_takes_a_call_that_ends_by_itself_then_dispositions_it(
    demo: DemoServer,
) -> None:
    assert demo.campaign is not None
    cid = demo.campaign.campaign_id
    health = json.loads(urllib.request.urlopen(f"{demo.url}/healthz", timeout=10).read())
    assert health["ok"] is True

    # Every demo account opens with the printed password and lands somewhere of its own.
    for username in ("agent", "supervisor", "compliance", "admin"):
        landed = sign_in(open_browser(), demo.url, username, DEMO_PASSWORD)
        assert landed not in ("/login", "/"), f"{username} stayed on {landed}"

    # The dialer holds the campaign and its bot is logged in.
    wait_for("the simulated agent", lambda: agent_entry(demo, cid, "agent001"), 30)

    # The person at the console (its commands travel on the bus the web app writes to).
    publish_command(demo.redis, cid, Command("login", "agent", {"ready": True}))
    on_call = wait_for("a call put through to the person",
                       lambda: (e := agent_entry(demo, cid, "agent")) and e["state"] == "on_call" and e)
    assert on_call["bot"] is False and on_call["call_id"]
    # Nobody hangs up from the console: the customer does, after the talk time, and wrap-up follows.
    wait_for("wrap-up after the customer hung up",
             lambda: (e := agent_entry(demo, cid, "agent")) and e["state"] == "wrap_up", 30)
    publish_command(demo.redis, cid, Command("wrap_done", "agent", {"disposition": "SALE", "notes": "demo sale"}))

    sessions = make_session_factory(demo.db)

    def sold() -> CallAttempt | None:
        with sessions() as session:
            return session.scalars(
                select(CallAttempt).join(Agent, Agent.id == CallAttempt.agent_id)
                .where(CallAttempt.campaign_id == cid, Agent.login == "agent", CallAttempt.disposition == "SALE")
            ).first()

    attempt = wait_for("the person's call written with its disposition", sold, 30)
    assert attempt.connected_at is not None and attempt.ended_at is not None
    assert attempt.wrap_ended_at is not None and attempt.end_reason != "interrupted"


@pytest.mark.slow
def test_a_stopped_demo_pauses_its_campaign_and_leaves_no_call_open(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    ensure_schema(url)
    options = DemoServerOptions(port=0, bot_agents=2, contacts=100, scenario=parse_scenario(QUICK_WORLD),
                                workdir=tmp_path / "out")
    server = DemoServer(demo_settings(url), options)
    try:
        campaign = server.prepare()
        server.start()
        sessions = make_session_factory(server.db)

        def dials() -> int:
            with sessions() as session:
                return int(session.scalar(select(func.count()).where(CallAttempt.campaign_id == campaign.campaign_id))
                           or 0)

        wait_for("the dialer's first calls", lambda: dials() >= 2, 30)
    finally:
        server.close()
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            assert session.get_one(Campaign, campaign.campaign_id).status == "paused"
            open_calls = session.scalar(select(func.count()).where(CallAttempt.campaign_id == campaign.campaign_id,
                                                                   CallAttempt.ended_at.is_(None)))
        assert open_calls == 0
    finally:
        engine.dispose()


def test_demo_accounts_that_exist_already_keep_their_own_password(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mine.db'}"
    ensure_schema(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session, session.begin():
            accounts.create_user(session, "admin", "a-secret-of-mine", "admin")
            reports = {r.account.username: r for r in ensure_demo_accounts(session)}
            assert reports["admin"].created is False and reports["admin"].password_works is False
            assert reports["agent"].created is True and reports["agent"].password_works is True
            assert accounts.authenticate(session, "admin", "a-secret-of-mine") is not None
            assert accounts.authenticate(session, "admin", DEMO_PASSWORD) is None
    finally:
        engine.dispose()


def test_the_demo_command_prints_the_url_and_the_logins_and_stops_by_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("REDIS_URL", f"memory://demo-{uuid.uuid4().hex}")
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(main, ["demo", "--port", "0", "--for", "2", "--agents", "1", "--contacts", "50"])
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 0, out.output
    assert re.search(r"running at http://127\.0\.0\.1:\d+/", out.output)
    for username in ("agent", "supervisor", "compliance", "admin"):
        assert re.search(rf"^\s+{username}\s+{DEMO_PASSWORD}\s", out.output, re.M), out.output
    assert "Stops by itself after 2 s" in out.output


def test_the_demo_command_names_the_port_when_it_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    get_settings.cache_clear()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            out = CliRunner().invoke(main, ["demo", "--port", str(port), "--for", "1"])
        finally:
            get_settings.cache_clear()
    assert out.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in out.output and "--port" in out.output
    engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    try:
        with make_session_factory(engine)() as session:
            assert session.scalar(select(func.count()).select_from(Campaign)) == 0
    finally:
        engine.dispose()


def test_the_demo_command_refuses_an_unreadable_scenario_naming_the_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    (tmp_path / "world.json").write_text('{"p_humen": 0.5}')
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(main, ["demo", "--scenario", "world.json", "--port", "0", "--for", "1"])
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 2
    assert "--scenario" in out.output and "p_humen" in out.output



@pytest.mark.slow
def test_a_person_at_the_console_leaves_the_simulated_agents_alone_and_the_dialer_logs_no_error(
    demo: DemoServer, caplog: pytest.LogCaptureFixture,
) -> None:
    assert demo.campaign is not None
    cid = demo.campaign.campaign_id
    caplog.set_level(logging.WARNING, logger="campaigns.live_dialer")
    publish_command(demo.redis, cid, Command("login", "agent", {"ready": True}))
    wait_for("wrap-up of the person's first call",
             lambda: (e := agent_entry(demo, cid, "agent")) and e["state"] == "wrap_up")
    publish_command(demo.redis, cid, Command("wrap_done", "agent", {"disposition": "NI"}))
    wait_for("the person ready again", lambda: (e := agent_entry(demo, cid, "agent")) and e["state"] != "wrap_up")
    time.sleep(1.0)
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == [], [record.getMessage() + (record.exc_text or "") for record in errors]


@pytest.mark.slow
def test_jobs_the_web_app_queues_on_the_in_process_redis_are_worked_by_the_demo_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    ensure_schema(url)
    # Jobs read the process's settings, as they do in a worker: the demo's are the environment's.
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("REDIS_URL", f"memory://demo-{uuid.uuid4().hex}")
    get_settings.cache_clear()
    options = DemoServerOptions(port=0, bot_agents=0, contacts=50, scenario=parse_scenario(QUICK_WORLD),
                                workdir=tmp_path / "out")
    server = DemoServer(get_settings(), options)
    try:
        campaign = server.prepare()
        server.start()
        job_id = enqueue_scrub(server.redis, campaign.campaign_id)
        done = wait_for("the scrub job to finish",
                        lambda: (job := get_job(server.redis, job_id)) and job["status"] == "finished" and job, 30)
        assert done["result"]["kind"] == "scrub"
    finally:
        server.close()
        get_settings.cache_clear()


def test_a_demo_list_too_big_for_the_places_open_now_is_refused_and_leaves_no_campaign(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    ensure_schema(url)
    engine = make_engine(url)
    try:
        # 11:30 UTC in December: only the UK's drama ranges are open, 5,500 numbers at most.
        with pytest.raises(DemoError, match="contacts"):
            prepare_demo_campaign(engine, tmp_path / "out", contacts=6000, seed=1, pacer="predictive",
                                  now=datetime(2026, 12, 1, 11, 30, tzinfo=UTC))
        with make_session_factory(engine)() as session:
            assert session.scalar(select(func.count()).select_from(Campaign)) == 0
        campaign = prepare_demo_campaign(engine, tmp_path / "out", contacts=300, seed=1, pacer="progressive",
                                         now=datetime(2026, 12, 1, 11, 30, tzinfo=UTC))
        assert {place.country for place in campaign.places} == {"44"}
        assert campaign.report.imported == 301 and campaign.report.rejected == 3
        with make_session_factory(engine)() as session:
            row = session.get_one(Campaign, campaign.campaign_id)
            assert (row.status, row.dial_mode, row.pacer) == ("active", "progressive", "progressive")
            assert "{first_name}" in row.script
    finally:
        engine.dispose()
