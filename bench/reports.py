"""Benchmark of the reports on a campaign of a million calls, in PostgreSQL and SQLite.

Builds one campaign of ``--attempts`` call attempts over ``--days`` days
(50 agents working 8-hour shifts, 5 lists, 4 caller IDs, one of which carriers
start labelling as spam halfway through), with the agents' state changes that
go with them, then times every report of ``campaigns.reports`` (median of
``--repeat`` runs) over the whole range and over its last day, and prints a table.

The mix, per day between 09:00 and 21:00 New York time: connected calls come
from the agents' timelines (ready ~25 s, talk 15 s + ~100 s, wrap 5 s + ~15 s,
3% of calls followed by a pause of 5-20 minutes with a reason); every other
attempt is no answer (50%), an answering machine (30%), busy (10%), a failed
number (8%), a fax (1%) or a person no agent reached in time (1%, abandoned).
Contacts are dialed in time order: 30% of the attempts reach a new contact,
the rest retry an open one, until a final disposition or the fifth attempt.

Rows are written to tab-separated files first and loaded with COPY on
PostgreSQL (in a schema of the bench's own, dropped at the end) and with
executemany on SQLite (a file in a temporary directory), after the schema is
made by the migrations, so the indexes are the ones production has.

    python bench/reports.py                      # 1,000,000 attempts, both databases
    python bench/reports.py --attempts 100000 --backends sqlite

Measured on 2026-12-01 (2 CPU cores shared with other work, load ~3-6;
PostgreSQL 15, SQLite 3.40; 1,000,000 attempts, 959,381 state changes,
331,344 contacts), seconds, median of 3, whole 30 days / last day / one agent:

    report                          PostgreSQL              SQLite
    calls by day and hour (totals)  0.594 / 0.024 / 0.022   1.652 / 0.038 / 0.019
    calls by campaign               0.272 / 0.045 / 0.012   0.629 / 0.018 / 0.020
    calls by list                   0.528 / 0.089 / 0.071   1.578 / 0.033 / 0.019
    calls by agent                  0.321 / 0.050 / 0.009   0.927 / 0.030 / 0.014
    agent time                      0.641 / 0.128 / 0.021   2.547 / 0.069 / 0.045
    list penetration                0.662 / 0.207 / 0.168   1.453 / 0.236 / 0.174
    answer rate by caller ID        0.458 / 0.017 / 0.018   1.574 / 0.038 / 0.040
    the whole page                  3.699 / 0.839 / 0.566   10.932 / 0.536 / 0.460
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.twilio_webhooks import private_schema
from campaigns import reports
from campaigns.db import ensure_schema, make_engine, make_session_factory
from campaigns.models import Agent, Campaign, Contact, ContactList
from campaigns.reports import ReportFilter

ZONE = ZoneInfo("America/New_York")
AGENTS = 50
LISTS = 5
CALLER_IDS = ("+12125550101", "+12125550102", "+12125550103", "+12125550104")
SPAMMED = CALLER_IDS[3]
PAUSE_REASONS = ("break", "lunch", "coaching", "meeting")
# (disposition, share, final) of connected calls
CONNECTED_CODES = (("SALE", 0.08, True), ("NI", 0.45, True), ("CB", 0.12, False), ("DNC", 0.03, True),
                   ("WRONG", 0.05, True), ("HUP", 0.27, False))
# (answer class, share, disposition, abandoned) of the other attempts
OTHER_OUTCOMES = (("no_answer", 0.50, "NA", False), ("machine", 0.30, "AM", False), ("busy", 0.10, "BUSY", False),
                  ("failed", 0.08, "BAD", False), ("fax", 0.01, "AM", False), ("human", 0.01, "DROP", True))
FINAL = {"SALE", "NI", "DNC", "WRONG", "BAD"}
MAX_ATTEMPTS = 5
ATTEMPT_COLUMNS = ("campaign_id", "contact_id", "e164", "caller_id", "attempt_number", "state", "answer_class",
                   "queued_at", "placed_at", "answered_at", "agent_reserved_at", "connected_at", "abandoned_at",
                   "ended_at", "wrap_ended_at", "agent_id", "talk_s", "wrap_s", "disposition", "notes")
CHANGE_COLUMNS = ("agent_id", "campaign_id", "state", "reason", "at")
NULL = "\\N"


def stamp(moment: datetime | None) -> str:
    """A UTC timestamp as both databases read it from text (SQLite stores exactly this)."""
    return NULL if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def number(value: float | None) -> str:
    return NULL if value is None else f"{value:.3f}"


@dataclass
class Call:
    placed: datetime
    caller: str
    cls: str
    code: str
    answered: datetime | None = None
    connected: datetime | None = None
    abandoned: datetime | None = None
    ended: datetime | None = None
    wrap_ended: datetime | None = None
    agent: int | None = None
    talk: float | None = None
    wrap: float | None = None


class Contacts:
    """Which contact each attempt dials, in time order: new ones or open ones due a retry."""

    def __init__(self, rng: random.Random, first_id: int) -> None:
        self.rng = rng
        self.next_id = first_id
        self.first_id = first_id
        self.open: list[int] = []
        self.attempts: dict[int, int] = {}
        self.status: dict[int, str] = {}

    def take(self) -> tuple[int, int]:
        if not self.open or self.rng.random() < 0.30:
            contact = self.next_id
            self.next_id += 1
            self.open.append(contact)
            self.attempts[contact] = 0
            index = len(self.open) - 1
        else:
            index = self.rng.randrange(len(self.open))
            contact = self.open[index]
        self.attempts[contact] += 1
        self._index = index
        return contact, self.attempts[contact]

    def close(self, contact: int, code: str) -> None:
        final = code in FINAL
        if final or self.attempts[contact] >= MAX_ATTEMPTS:
            index = self._index
            self.open[index] = self.open[-1]
            self.open.pop()
            self.status[contact] = ("dnc" if code == "DNC" else "bad_number" if code == "BAD"
                                    else "done" if final else "exhausted")
        else:
            self.status[contact] = "callback" if code == "CB" else "retry"


def agent_day(rng: random.Random, agent: int, day: date, campaign_id: int, changes: TextIO) -> list[Call]:
    """One agent's shift: the calls put through to them, their state changes written as they happen."""
    shift = datetime.combine(day, datetime.min.time(), ZONE).replace(hour=9) + timedelta(
        minutes=rng.uniform(0, 240))
    end = shift + timedelta(hours=8)

    def move(at: datetime, state: str, reason: str | None = None) -> None:
        changes.write(f"{agent}\t{campaign_id}\t{state}\t{reason or NULL}\t{stamp(at)}\n")

    calls = []
    now = shift
    move(now, "ready")
    while True:
        answered = now + timedelta(seconds=rng.expovariate(1 / 25))
        if answered >= end:
            break
        connected = answered + timedelta(seconds=rng.uniform(0.2, 1.5) if rng.random() < 0.97 else rng.uniform(2, 3))
        talk = 15 + rng.expovariate(1 / 100)
        wrap = 5 + rng.expovariate(1 / 15)
        ended = connected + timedelta(seconds=talk)
        wrapped = ended + timedelta(seconds=wrap)
        placed = answered - timedelta(seconds=rng.uniform(3, 20))
        roll, code = rng.random(), "HUP"
        for name, share, _final in CONNECTED_CODES:
            roll -= share
            if roll < 0:
                code = name
                break
        cls = "human" if rng.random() < 0.92 else "unknown"
        calls.append(Call(placed=placed, caller=rng.choice(CALLER_IDS), cls=cls, code=code, answered=answered,
                          connected=connected, ended=ended, wrap_ended=wrapped, agent=agent, talk=talk, wrap=wrap))
        move(answered, "reserved")
        move(connected, "on_call")
        move(ended, "wrap_up")
        now = wrapped
        if rng.random() < 0.03:
            move(now, "paused", rng.choice(PAUSE_REASONS))
            now += timedelta(minutes=rng.uniform(5, 20))
        move(now, "ready")
    move(max(now, end), "offline")
    return calls


def other_calls(rng: random.Random, day: date, count: int, spam_from: date) -> list[Call]:
    opens = datetime.combine(day, datetime.min.time(), ZONE).replace(hour=9)
    calls = []
    for _ in range(count):
        placed = opens + timedelta(seconds=rng.uniform(0, 12 * 3600))
        caller = rng.choice(CALLER_IDS)
        roll, pick = rng.random(), OTHER_OUTCOMES[0]
        for outcome in OTHER_OUTCOMES:
            roll -= outcome[1]
            if roll < 0:
                pick = outcome
                break
        cls, _share, code, abandoned = pick
        if caller == SPAMMED and day >= spam_from and cls in ("human", "machine") and rng.random() < 0.6:
            cls, code, abandoned = "no_answer", "NA", False  # labelled as spam: people stop picking up
        call = Call(placed=placed, caller=caller, cls=cls, code=code)
        if cls in ("human", "machine", "fax"):
            call.answered = placed + timedelta(seconds=rng.uniform(3, 20))
            call.ended = call.answered + timedelta(seconds=rng.uniform(2, 30))
            if abandoned:
                call.abandoned = call.answered + timedelta(seconds=2)
        else:
            call.ended = placed + timedelta(seconds=rng.uniform(5, 30))
        calls.append(call)
    return calls


def generate(work: Path, attempts: int, days: int, campaign_id: int, first_agent: int, first_contact: int,
             seed: int) -> tuple[Path, Path, Contacts, date, date]:
    """Write the attempts and state changes as tab-separated files; return them and the contacts' fates."""
    rng = random.Random(seed)
    last_day = datetime.now(ZONE).date() - timedelta(days=1)
    first_day = last_day - timedelta(days=days - 1)
    contacts = Contacts(rng, first_contact)
    attempts_path, changes_path = work / "attempts.tsv", work / "changes.tsv"
    per_day = attempts // days
    with attempts_path.open("w") as out, changes_path.open("w") as changes:
        for offset in range(days):
            day = first_day + timedelta(days=offset)
            quota = per_day if offset < days - 1 else attempts - per_day * (days - 1)
            connected = [call for agent in range(AGENTS)
                         for call in agent_day(rng, first_agent + agent, day, campaign_id, changes)][:quota]
            calls = connected + other_calls(rng, day, quota - len(connected), first_day + timedelta(days=days // 2))
            calls.sort(key=lambda call: call.placed)
            for call in calls:
                contact, attempt = contacts.take()
                contacts.close(contact, call.code)
                out.write("\t".join((
                    str(campaign_id), str(contact), f"+1201{contact:07d}", call.caller, str(attempt), "ended",
                    call.cls, stamp(call.placed), stamp(call.placed), stamp(call.answered),
                    stamp(call.answered if call.connected else None), stamp(call.connected), stamp(call.abandoned),
                    stamp(call.ended), stamp(call.wrap_ended), str(call.agent) if call.agent else NULL,
                    number(call.talk), number(call.wrap), call.code, "",
                )) + "\n")
    return attempts_path, changes_path, contacts, first_day, last_day


def setup_rows(engine: Engine) -> tuple[int, int, list[int], int]:
    """The campaign, its lists and the agents; returns their ids and the first free contact id."""
    with make_session_factory(engine)() as session, session.begin():
        campaign = Campaign(name=f"Report bench {datetime.now(UTC):%Y%m%d%H%M%S}", caller_id=CALLER_IDS[0],
                            caller_ids=list(CALLER_IDS[1:]), drop_message="Sorry", dial_mode="predictive",
                            pacer="predictive", status="active", schedule_tz=ZONE.key, calling_window="09:00-21:00")
        session.add(campaign)
        session.flush()
        lists = [ContactList(campaign_id=campaign.id, name=f"List {i + 1}") for i in range(LISTS)]
        agents = [Agent(login=f"bench{campaign.id}-{i:02d}", name=f"Agent {i:02d}") for i in range(AGENTS)]
        session.add_all([*lists, *agents])
        session.flush()
        first_contact = (session.scalar(select(func.max(Contact.id))) or 0) + 1
        return campaign.id, agents[0].id, [lst.id for lst in lists], first_contact


def contact_rows(contacts: Contacts, campaign_id: int, lists: list[int], spare: int) -> Iterator[tuple[Any, ...]]:
    """Every contact dialed, with its fate, plus ``spare`` never dialed (so penetration is below 100%)."""
    created = stamp(datetime.now(UTC))
    for contact in range(contacts.first_id, contacts.next_id + spare):
        attempts = contacts.attempts.get(contact, 0)
        yield (contact, campaign_id, lists[contact % len(lists)], contacts.status.get(contact, "new"), attempts,
               created)


def load_postgresql(engine: Engine, rows: Iterator[tuple[Any, ...]], attempts: Path, changes: Path) -> None:
    raw = engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        with driver.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")
            with cursor.copy("COPY contacts (id, campaign_id, list_id, status, attempts, created_at, first_name,"
                             " last_name, email, custom_fields, priority) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row((*row, "", "", "", "{}", 0))
            for path, table, columns in ((attempts, "call_attempts", ATTEMPT_COLUMNS),
                                         (changes, "agent_state_changes", CHANGE_COLUMNS)):
                with path.open("rb") as source, cursor.copy(
                        f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    while block := source.read(1 << 20):
                        copy.write(block)
            cursor.execute("SELECT setval(pg_get_serial_sequence('contacts', 'id'), (SELECT max(id) FROM contacts))")
        driver.commit()
        driver.autocommit = True
        with driver.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE contacts")
            cursor.execute("VACUUM ANALYZE call_attempts")
            cursor.execute("VACUUM ANALYZE agent_state_changes")
    finally:
        raw.close()


def _tsv(path: Path) -> Iterator[list[str | None]]:
    with path.open() as source:
        for line in source:
            yield [None if cell == NULL else cell for cell in line.rstrip("\n").split("\t")]


def load_sqlite(path: Path, rows: Iterator[tuple[Any, ...]], attempts: Path, changes: Path) -> None:
    db = sqlite3.connect(path)
    try:
        db.executemany("INSERT INTO contacts (id, campaign_id, list_id, status, attempts, created_at, first_name,"
                       " last_name, email, custom_fields, priority) VALUES (?, ?, ?, ?, ?, ?, '', '', '', '{}', 0)",
                       rows)
        for source, table, columns in ((attempts, "call_attempts", ATTEMPT_COLUMNS),
                                       (changes, "agent_state_changes", CHANGE_COLUMNS)):
            marks = ", ".join("?" for _ in columns)
            db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", _tsv(source))
        db.commit()
        db.execute("ANALYZE")
    finally:
        db.close()


def median_s(run: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


REPORTS: dict[str, Callable[[Connection, ReportFilter], Any]] = {
    "calls by day and hour (totals)": reports.call_timeline,
    "calls by campaign": lambda conn, f: reports.calls_by(conn, f, "campaign"),
    "calls by list": lambda conn, f: reports.calls_by(conn, f, "list"),
    "calls by agent": lambda conn, f: reports.calls_by(conn, f, "agent"),
    "agent time": lambda conn, f: reports.agent_time(conn, f),
    "list penetration": reports.list_penetration,
    "answer rate by caller ID": reports.caller_id_answer_rates,
}


def time_reports(engine: Engine, campaign_id: int, first_agent: int, first_day: date, last_day: date,
                 repeat: int) -> dict[str, dict[str, float]]:
    whole = reports.local_range(first_day, last_day, ZONE)
    one_day = reports.local_range(last_day, last_day, ZONE)
    scopes = {
        "whole range": ReportFilter(*whole, ZONE, campaign_id=campaign_id),
        "last day": ReportFilter(*one_day, ZONE, campaign_id=campaign_id),
        "one agent, whole range": ReportFilter(*whole, ZONE, campaign_id=campaign_id, agent_id=first_agent),
    }
    out: dict[str, dict[str, float]] = {}
    with engine.connect() as conn:
        for name, run in REPORTS.items():
            out[name] = {scope: median_s(partial(run, conn, f), repeat) for scope, f in scopes.items()}
        out["the whole page"] = {scope: median_s(partial(reports.run_all, conn, f), repeat)
                                 for scope, f in scopes.items()}
    return out


def build(url: str, work: Path, args: argparse.Namespace, kind: str) -> tuple[Engine, int, int, date, date, float]:
    ensure_schema(url)
    engine = make_engine(url)
    began = time.perf_counter()
    campaign_id, first_agent, lists, first_contact = setup_rows(engine)
    attempts, changes, contacts, first_day, last_day = generate(
        work, args.attempts, args.days, campaign_id, first_agent, first_contact, args.seed)
    rows = contact_rows(contacts, campaign_id, lists, spare=(contacts.next_id - contacts.first_id) // 10)
    if kind == "postgresql":
        load_postgresql(engine, rows, attempts, changes)
    else:
        load_sqlite(Path(engine.url.database or ""), rows, attempts, changes)
    return engine, campaign_id, first_agent, first_day, last_day, time.perf_counter() - began


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("call_attempts", "agent_state_changes", "contacts")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3, help="runs per report; the median is shown")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--backends", default="postgresql,sqlite", help="postgresql, sqlite or both")
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
                        help="the PostgreSQL server (a private schema is made and dropped)")
    args = parser.parse_args(argv)
    if args.attempts < args.days * 10:
        parser.error("--attempts: at least 10 a day")
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        work = Path(tmp)
        for kind in [name.strip() for name in args.backends.split(",") if name.strip()]:
            if kind == "postgresql":
                url, drop = private_schema(args.database_url)
            elif kind == "sqlite":
                url, drop = f"sqlite:///{work / 'bench.db'}", (lambda: None)
            else:
                parser.error(f"--backends: {kind!r} is not postgresql or sqlite")
            try:
                engine, campaign_id, first_agent, first_day, last_day, load_s = build(url, work, args, kind)
                sizes = counts(engine)
                print(f"{kind}: {sizes['call_attempts']:,} attempts, {sizes['agent_state_changes']:,} agent state"
                      f" changes, {sizes['contacts']:,} contacts, {first_day} to {last_day}; built in {load_s:.0f} s",
                      flush=True)
                results[kind] = time_reports(engine, campaign_id, first_agent, first_day, last_day, args.repeat)
                engine.dispose()
            finally:
                drop()
    scopes = ("whole range", "last day", "one agent, whole range")
    for kind, timings in results.items():
        header = f"{kind + ' (median of ' + str(args.repeat) + ', seconds)':<40}" + "".join(
            f"{scope:>24}" for scope in scopes)
        print()
        print(header)
        print("-" * len(header))
        for name in [*REPORTS, "the whole page"]:
            print(f"{name:<40}" + "".join(f"{timings[name][scope]:>24.3f}" for scope in scopes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
