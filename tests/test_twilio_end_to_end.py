"""The three production processes on Twilio's protocol: the web app, the dialer and the Twilio stand-in.

Everything runs as it would in production, only on localhost: the web app
under gunicorn answers the stand-in's signed webhooks and appends them to the
campaign's Redis stream; ``dialer run`` (DIALER_CARRIER=twilio, with its API
requests sent to the stand-in by TWILIO_API_URL) places the calls through the
official twilio library and applies the stream; its bot agents have real legs
in their conference rooms.  The processes share a real Redis (``memory://``
cannot cross processes) and PostgreSQL when reachable, else a SQLite file;
under CI=true an unreachable server fails the test instead of skipping it.

Calling hours are the law's and are not bent for the test: the contacts are
numbers of the first place, from Eastern to Guam time, where the real dial
gate says calling is lawful now and for the next minutes (a UK range covers
the hour and a half of each day when it is night or early morning in every
US zone).  The stand-in runs at speed 1, so the two-second safe harbour is the
real one; the scenario makes calls short instead.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, select, update

from campaigns.db import ensure_schema, make_engine, make_session_factory
from campaigns.dnc_store import list_entries
from campaigns.importer import import_contacts
from campaigns.live_events import events_key, read_carrier_events
from campaigns.models import CallAttempt, Campaign
from campaigns.redis_conn import connect_redis
from campaigns.services import create_campaign, start_campaign
from compliance.gate import CallingWindow, CampaignPolicy, DialTarget, default_gate
from dialer.carriers.fake_twilio import twilio_signature

REPO = Path(__file__).resolve().parent.parent
CONTACTS = 48
BOT_AGENTS = 4
CALLER_ID = "+12125550100"

# Short calls, nearly everyone a person who answers quickly and waits patiently: a ratio
# pacer on a small team then leaves some of them without an agent, so the drop path runs.
WORLD = {
    "name": "end-to-end", "p_human": 0.8, "p_machine": 0.1, "p_busy": 0.05, "p_invalid": 0.05,
    "cps": 20, "setup_s": [0.1, 0.3], "ring_median_s": 1.0, "ring_p90_s": 2.0, "busy_s": [0.5, 1.0],
    "invalid_s": [0.3, 0.6], "amd_s": [1.0, 1.5], "amd_human_as_machine": 0.0, "amd_machine_as_human": 0.0,
    "patience_mean_s": 60, "talk_mean_s": 2.0, "talk_cv": 0.3, "wrap_fixed_s": 0.2, "wrap_exp_mean_s": 0.3,
}

# Places from east to west and a UK range; the first the gate lets us call now and for a while is used.
_PLACES: tuple[tuple[str, str, str | None], ...] = (
    ("+1212{:07d}", "America/New_York", "NY"),
    ("+1312{:07d}", "America/Chicago", "IL"),
    ("+1213{:07d}", "America/Los_Angeles", "CA"),
    ("+1808{:07d}", "Pacific/Honolulu", "HI"),
    ("+1671{:07d}", "Pacific/Guam", "GU"),
    ("+44207946{:04d}", "Europe/London", None),
)


@dataclass(frozen=True)
class Place:
    pattern: str
    zone: str
    state: str | None

    def number(self, i: int) -> str:
        # NANP: exchange 555, lines 1000 and up (valid and dialable in form); UK: Ofcom's drama range.
        return self.pattern.format(5551000 + i if self.pattern.startswith("+1") else i)


def lawful_place(n: int, minutes: int = 5) -> Place:
    gate = default_gate()
    policy = CampaignPolicy(1, CallingWindow.parse("08:00-21:00"), "telemarketing")
    now = datetime.now(UTC)
    for pattern, zone, state in _PLACES:
        place = Place(pattern, zone, state)
        if all(
            gate.can_dial(DialTarget(place.number(i), (zone,), state, None, i + 1), policy, at).allowed
            for i in (0, n - 1)
            for at in (now, now + timedelta(minutes=minutes))
        ):
            return place
    raise AssertionError("no place is inside its calling hours now: the list of places needs another zone")


# ---------------------------------------------------------------------------------- the processes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http(method: str, url: str, data: dict[str, str] | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    body = None if data is None else urllib.parse.urlencode(data).encode()
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_for(condition: Callable[[], bool], timeout: float, what: str,
             processes: tuple[subprocess.Popen[bytes], ...] = ()) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for process in processes:
            if process.poll() is not None:
                raise AssertionError(f"a process ended while waiting for {what}: {process.args!r}")
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Stack:
    """The processes of one run, every one of them killed at the end whatever happened."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str], env: dict[str, str], *, stdout: int = subprocess.DEVNULL,
              log: Path | None = None) -> subprocess.Popen[bytes]:
        stderr = log.open("wb") if log is not None else subprocess.DEVNULL
        process = subprocess.Popen(args, env=env, cwd=REPO, stdout=stdout, stderr=stderr)
        if log is not None:
            stderr.close()  # type: ignore[union-attr]
        self.processes.append(process)
        return process

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)


def gunicorn_private() -> list[str]:
    """No control socket in the home directory (gunicorn 27 and later), which parallel runs would share."""
    import gunicorn

    return ["--no-control-socket"] if tuple(gunicorn.version_info[:1]) >= (27,) else []


def dialer_cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from campaigns.cli import main; main()", *args]


# ---------------------------------------------------------------------------------- fixtures


@pytest.fixture
def shared_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """PostgreSQL in a schema of its own when reachable (CI=true demands it), else a SQLite file."""
    try:
        return str(request.getfixturevalue("pg_url"))
    except pytest.skip.Exception:
        return f"sqlite:///{tmp_path / 'end-to-end.db'}"


@pytest.fixture
def campaign_id(redis_url: str) -> Iterator[int]:
    """A campaign id nobody else on the shared Redis uses; every key naming it is removed afterwards."""
    client = connect_redis(redis_url)
    cid = random.randrange(100_000_000, 2_000_000_000)
    yield cid
    keys = list(client.scan_iter(match=f"dialer:*{cid}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def stack() -> Iterator[Stack]:
    processes = Stack()
    yield processes
    processes.close()


def make_campaign(db: Engine, cid: int, place: Place, tmp_path: Path) -> str:
    """A campaign created and filled through the services and the importer; returns its drop message."""
    sessions = make_session_factory(db)
    with sessions() as session, session.begin():
        campaign = create_campaign(
            session, name=f"end-to-end {cid}", caller_id=CALLER_ID, pacer="ratio:3", max_attempts=1,
            ring_timeout_s=15, calling_window="08:00-21:00",
        )
        created = campaign.id
    with db.begin() as conn:
        conn.execute(update(Campaign).where(Campaign.id == created).values(id=cid))
    contacts = tmp_path / "contacts.csv"
    with contacts.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["First Name", "Phone", "State"])
        for i in range(CONTACTS):
            writer.writerow([f"Contact {i}", place.number(i), place.state or ""])
    report = import_contacts(sessions, cid, contacts, list_name="end-to-end list",
                             region="GB" if place.state is None else "US")
    assert report.imported == CONTACTS, report
    with sessions() as session, session.begin():
        campaign = session.get_one(Campaign, cid)
        start_campaign(session, campaign)
        return campaign.drop_message


def attempts(db: Engine, cid: int) -> list[CallAttempt]:
    with make_session_factory(db)() as session:
        return list(session.scalars(select(CallAttempt).where(CallAttempt.campaign_id == cid)
                                    .order_by(CallAttempt.id)))


def forge(web_url: str, token: str, cid: int, path: str, params: dict[str, str]) -> int:
    """A webhook signed with the wrong key, as anyone who found the URL could send."""
    url = f"{web_url}{path}?campaign={cid}&call=c{cid}-forged"
    wrong = twilio_signature(token + "-not-it", url, params)
    status, _ = http("POST", url, params, {"X-Twilio-Signature": wrong})
    return status


# ---------------------------------------------------------------------------------- the test


@pytest.mark.integration
@pytest.mark.slow
def test_a_campaign_dials_through_the_web_app_the_dialer_and_the_twilio_stand_in_with_a_full_record_of_each_call(
    shared_db_url: str, redis_url: str, campaign_id: int, stack: Stack, tmp_path: Path
) -> None:
    cid = campaign_id
    ensure_schema(shared_db_url)
    db = make_engine(shared_db_url)
    client: redis.Redis = connect_redis(redis_url)
    try:
        place = lawful_place(CONTACTS)
        drop_message = make_campaign(db, cid, place, tmp_path)
        world = tmp_path / "world.json"
        world.write_text(json.dumps(WORLD))
        account, token = "AC" + secrets.token_hex(16), secrets.token_hex(16)  # its own CPS bucket too
        base_env = {**os.environ, "TWILIO_ACCOUNT_SID": account, "TWILIO_AUTH_TOKEN": token,
                    "DIALER_LOG_LEVEL": "WARNING"}

        # 1. The stand-in, on a port of its own choosing.
        started_before = time.time()
        fake = stack.start(dialer_cli("fake-twilio", "--port", "0", "--scenario", str(world), "--seed", "3",
                                      "--cps", "20", "--press-share", "0", "--say-words-per-s", "20"),
                           base_env, stdout=subprocess.PIPE, log=tmp_path / "fake.log")
        assert fake.stdout is not None
        line = fake.stdout.readline().decode()
        started_after = time.time()
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert found, f"the stand-in did not say where it listens: {line!r}"
        fake_url = found.group(0)

        # 2. The web app under gunicorn, as the Procfile runs it.
        web_url = f"http://127.0.0.1:{free_port()}"
        env = {**base_env, "DATABASE_URL": shared_db_url, "REDIS_URL": redis_url, "DIALER_CARRIER": "twilio",
               "PUBLIC_BASE_URL": web_url, "TWILIO_API_URL": fake_url, "TWILIO_CPS": "20",
               "SECRET_KEY": secrets.token_hex(16)}
        web = stack.start([sys.executable, "-m", "gunicorn", "--bind", web_url.removeprefix("http://"),
                           "--workers", "2", "--threads", "8", "--worker-class", "gthread", *gunicorn_private(),
                           "web:create_app()"], env, log=tmp_path / "web.log")
        wait_for(lambda: http("GET", f"{web_url}/healthz")[0] == 200, 30, "the web app", (web,))

        # Forged webhooks before any call: refused, and nothing reaches the bus or the DNC list.
        forged_number = place.number(CONTACTS + 1)
        refusals = [
            forge(web_url, token, cid, "/twilio/status", {"CallSid": "CA" + "f" * 32, "CallStatus": "completed"}),
            forge(web_url, token, cid, "/twilio/amd", {"CallSid": "CA" + "f" * 32, "AnsweredBy": "human"}),
            forge(web_url, token, cid, "/twilio/optout", {"CallSid": "CA" + "f" * 32, "Digits": "9",
                                                           "To": forged_number}),
        ]
        assert refusals == [403, 403, 403]
        assert client.xlen(events_key(cid)) == 0

        # 3. The dialer, with bot agents whose legs wait in their rooms at the stand-in.
        dialer = stack.start(dialer_cli("run", "--campaign", str(cid), "--bot-agents", str(BOT_AGENTS),
                                        "--for", "100", "--lease-s", "5", "--scenario", str(world)),
                             env, log=tmp_path / "dialer.log")
        wait_for(lambda: len(attempts(db, cid)) >= 3, 30, "the first calls", (dialer, web, fake))
        forged_mid_run = forge(web_url, token, cid, "/twilio/conference", {
            "CallSid": "CA" + "f" * 32, "StatusCallbackEvent": "participant-join", "FriendlyName": "agent-agent001"})
        assert forged_mid_run == 403

        def all_closed() -> bool:
            rows = attempts(db, cid)
            return len(rows) == CONTACTS and all(r.ended_at is not None and r.disposition for r in rows)

        wait_for(all_closed, 75, "every contact's attempt to close", (dialer, web, fake))
        dialer.send_signal(signal.SIGTERM)
        assert dialer.wait(15) == 0
        calls = {c["sid"]: c for c in json.loads(http("GET", f"{fake_url}/_fake/calls")[1])["calls"]}
        events = read_carrier_events(client, cid)
        with make_session_factory(db)() as session:
            forged_listed = bool(list_entries(session, phone=forged_number))
    finally:
        logs = {name: (tmp_path / f"{name}.log").read_text(errors="replace")[-3000:]
                for name in ("fake", "web", "dialer") if (tmp_path / f"{name}.log").exists()}
        client.close()
    rows = attempts(db, cid)
    db.dispose()
    assert "Traceback" not in logs.get("dialer", ""), logs["dialer"]
    assert "Traceback" not in logs.get("web", ""), logs["web"]

    # Forged webhooks published nothing and listed nobody.
    assert not any(event.call_sid == "CA" + "f" * 32 for _, event in events)
    assert not forged_listed

    # No attempt twice, no call placed twice, every call of the stand-in is one of ours.
    customers = {sid: c for sid, c in calls.items() if c["kind"] == "customer"}
    assert len(rows) == CONTACTS
    assert len({(r.contact_id, r.attempt_number) for r in rows}) == len(rows)
    sids = [r.carrier_call_id for r in rows]
    assert all(sids) and len(set(sids)) == len(sids)
    assert set(sids) == set(customers)
    assert sorted(c["to"] for c in customers.values()) == sorted(r.e164 for r in rows)

    # Every record is complete and agrees with what happened at the stand-in, on one clock:
    # each milestone is the stand-in's time plus its start (between the two readings above)
    # plus the webhook's trip, well under a second on one machine.
    offsets: list[float] = []
    for row in rows:
        call = customers[row.carrier_call_id]
        assert call["ended_at"] is not None, call
        assert row.ended_at is not None and row.end_reason
        assert row.queued_at is not None
        pairs = [("ringing", row.ringing_at, call["ringing_at"]), ("answered", row.answered_at, call["answered_at"]),
                 ("ended", row.ended_at, call["ended_at"])]
        for name, ours, theirs in pairs:
            assert (ours is None) == (theirs is None), (name, row.id, call)
            if ours is not None:
                offsets.append(ours.timestamp() - theirs)
        assert row.queued_at.timestamp() <= started_after + call["created_at"] + 0.05  # queued, then created
        assert row.ended_at >= (row.answered_at or row.ringing_at or row.queued_at)
        if row.answered_at is not None and row.ringing_at is not None:
            assert row.ringing_at <= row.answered_at
        if call["connected_at"] is not None:
            assert row.connected_at is not None and row.agent_id is not None
    assert min(offsets) >= started_before - 0.05
    assert max(offsets) <= started_after + 1.0
    assert max(offsets) - min(offsets) < 1.0 + (started_after - started_before)

    # People were answered by agents, and the ratio pacer left some without one: the drop message,
    # played within the two seconds, heard at the stand-in.
    assert sum(1 for r in rows if r.connected_at is not None) >= 10
    dropped = [r for r in rows if r.abandoned_at is not None]
    assert dropped, "the scenario is meant to drop some calls"
    for row in dropped:
        assert row.answered_at is not None
        if row.message_played_at is not None:
            assert (row.message_played_at - row.answered_at).total_seconds() <= 2.0
            assert drop_message in customers[row.carrier_call_id]["said"]
