"""Load benchmark: the whole production stack at the size of a 500-agent floor, on the Twilio stand-in.

Every process of the Procfile that carries calls runs on this machine as in
production, against a real PostgreSQL and a real Redis:

* the web app (gunicorn, gthread workers) taking the stand-in's signed webhooks,
* one ``dialer run`` with DIALER_CARRIER=twilio, ``--agents`` bot agents (each
  a leg in its own room at the stand-in) and TWILIO_CPS=``--cps``,
* one RQ worker (``python worker.py``), idle unless something is queued,
* the Twilio stand-in (``dialer fake-twilio``), which is not part of a deployment,
* every agent's console: the bench signs each bot agent in with an API token and
  holds its ``/agent/events`` stream open, as a browser does for a whole shift.

The database is a fresh PostgreSQL database of the bench's own (created and
dropped), so ``pg_stat_database`` counts only this stack's work; Redis is a
private ``redis-server`` on a free port (unless ``--redis-url`` names one), so
``INFO stats`` counts only this stack's commands.

The world: a low-contact list (a quarter of the calls reach a person, half ring
out the campaign's 45 s ring time) and long conversations, so that at 25 calls
a second about a thousand customer calls are up at once besides the 500 agents'
own legs: the 1,500 lines of a 500-agent floor.  The campaign's fixed-ratio
pacer asks for more than the calls-per-second limit lets through, so the
limit, not the pacer, sets the pace.

Every second the bench samples the CPU (in % of one core) and resident memory
of each process with its children, the PostgreSQL backends serving the
database, the Redis server, and the machine as a whole (the cores are shared);
the dialer's live hash in Redis (lines, agents, dials); and the consoles'
streams (open, events, how long a state change took to reach them).  The dialer runs
with a probe that times each engine tick, bus pump and publish (no change to
the product's code).  After the run it reads every call and webhook from the
stand-in.  Figures are taken over the steady window (after ``--warmup-s``) and
printed as a table and written as JSON to ``--out``, with the first bottleneck
named from the numbers.

    python bench/load.py --out bench-load.json              # 25 calls/s, 500 agents, 300 s
    python bench/load.py --run-s 60 --warmup-s 30           # a quick look
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import csv
import itertools
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The code of the checkout this file is in, whatever else is installed; then the sibling bench.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import twilio_webhooks as tw  # the sibling bench: its process handling, the stand-in's figures

ONE_CORE = 100.0
# Time the machine's cores spent working (guest time is inside user time; steal is the host's, not ours).
BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq")
PROBE_COMMAND = "probe-dialer"


# ---------------------------------------------------------------------------------- the dialer, timed


def probed_dialer(out: Path, argv: list[str]) -> None:
    """Run ``dialer ARGV`` with its engine ticks, bus pumps and publishes timed; the timings go to ``out`` at exit.

    The timing wraps the methods from outside, so the product's code is the
    same as in production; the cost is two clock reads and an append per call.
    """
    from campaigns import live_dialer

    timings: dict[str, list[tuple[float, float]]] = {}

    def timed(owner: type, name: str, label: str) -> None:
        original = getattr(owner, name)
        bucket = timings.setdefault(label, [])

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return original(self, *args, **kwargs)
            finally:
                bucket.append((time.time(), time.perf_counter() - began))

        setattr(owner, name, wrapper)

    timed(live_dialer.FencedEngine, "tick", "tick")
    timed(live_dialer.CampaignRun, "pump", "pump")
    timed(live_dialer.CampaignRun, "publish", "publish")
    # Inside the tick: the hopper's database work, on the loop's own thread.
    timed(live_dialer.FencedLeadSource, "fetch", "tick_fetch_leads")
    timed(live_dialer.FencedLeadSource, "claim", "tick_claim_attempts")
    timed(live_dialer.CampaignRun, "flush_now", "tick_write_before_claim")
    atexit.register(lambda: out.write_text(json.dumps(timings)))
    from campaigns.cli import main

    sys.argv = ["dialer", *argv]
    main()


# ---------------------------------------------------------------------------------- sampling


@dataclass
class Group:
    """Processes counted together: a root and its descendants, or whatever pids ``members`` gives."""

    name: str
    product: bool
    members: Callable[[], Iterable[int]]
    single_core: bool = True  # one Python or Redis process: at most one core, whatever the machine has
    last: dict[int, float] = field(default_factory=dict)
    cpu: list[float] = field(default_factory=list)  # % of one core, per second
    rss_mb: list[float] = field(default_factory=list)
    members_n: list[int] = field(default_factory=list)
    busiest_member: list[float] = field(default_factory=list)  # % of one core of its busiest process
    stamp: float | None = None

    def sample(self) -> None:
        """Add one row: CPU since this group's last sample (each group on its own interval), memory now."""
        import psutil

        now = time.monotonic()
        seconds = max(1e-3, now - (self.stamp if self.stamp is not None else now - 1.0))
        self.stamp = now
        total = busiest = 0.0
        rss = 0
        seen: dict[int, float] = {}
        try:
            pids = list(self.members())
        except Exception:  # a failed look-up is a second with nothing counted, never a dead sampler
            pids = []
        for pid in pids:
            try:
                process = psutil.Process(pid)
                times = process.cpu_times()
                rss += process.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            used = times.user + times.system
            delta = used - self.last.get(pid, used if not self.cpu and not self.last else 0.0)
            seen[pid] = used
            total += delta
            busiest = max(busiest, delta)
        self.last = seen
        self.cpu.append(100.0 * total / seconds)
        self.busiest_member.append(100.0 * busiest / seconds)
        self.rss_mb.append(rss / 1e6)
        self.members_n.append(len(seen))


def tree(pid: int) -> Callable[[], list[int]]:
    def members() -> list[int]:
        import psutil

        try:
            root = psutil.Process(pid)
            return [pid, *(child.pid for child in root.children(recursive=True))]
        except psutil.NoSuchProcess:
            return []

    return members


class Sampler(threading.Thread):
    """Once a second: every group's CPU and memory, the machine's, and the dialer's live hash."""

    def __init__(self, groups: list[Group], live: Callable[[], dict[str, str]], extra: Callable[[], dict[str, Any]]):
        super().__init__(daemon=True)
        self.groups = groups
        self.live = live
        self.extra = extra
        self.rows: list[dict[str, Any]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        import psutil

        last_cpu, last = psutil.cpu_times(), time.monotonic()
        while not self.stop.wait(max(0.0, last + 1.0 - time.monotonic())):
            cpu, now = psutil.cpu_times(), time.monotonic()
            seconds, last = now - last, now
            busy = sum(getattr(cpu, k, 0.0) - getattr(last_cpu, k, 0.0) for k in BUSY_FIELDS)
            steal = getattr(cpu, "steal", 0.0) - getattr(last_cpu, "steal", 0.0)
            last_cpu = cpu
            for group in self.groups:
                group.sample()
            row: dict[str, Any] = {"t": time.time(), "machine_busy_pct": 100.0 * busy / seconds,
                                   "steal_pct": 100.0 * steal / seconds, "load1": os.getloadavg()[0]}
            with contextlib.suppress(Exception):
                row["live"] = self.live()
            with contextlib.suppress(Exception):
                row.update(self.extra())
            self.rows.append(row)


# ---------------------------------------------------------------------------------- servers


def fresh_database(server_url: str) -> tuple[str, str, Callable[[], None]]:
    """A database of the bench's own on the server (its statistics are this stack's alone) and its dropper."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from campaigns.db import make_engine

    name = f"bench_load_{uuid.uuid4().hex[:10]}"
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(server_url).set(database=name).render_as_string(hide_password=False), name, drop


def private_redis(processes: tw.Processes) -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not on PATH: install it or name a server with --redis-url")
    port = tw.free_port()
    processes.start("redis", [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                              "--protected-mode", "yes"], dict(os.environ))
    url = f"redis://127.0.0.1:{port}/0"
    from campaigns.redis_conn import connect_redis

    client = connect_redis(url)
    tw.wait_for(lambda: client.ping(), 15, "the private Redis")
    client.close()
    return url


PG_COUNTERS = ("xact_commit", "xact_rollback", "tup_returned", "tup_fetched", "tup_inserted", "tup_updated",
               "tup_deleted", "blks_read", "blks_hit")


def pg_snapshot(admin: Any, database: str) -> dict[str, int]:
    from sqlalchemy import text

    with admin.connect() as conn:
        row = conn.execute(text(f"SELECT {', '.join(PG_COUNTERS)} FROM pg_stat_database WHERE datname = :d"),
                           {"d": database}).one()
    return {name: int(value) for name, value in zip(PG_COUNTERS, row, strict=True)}


def redis_snapshot(client: Any) -> dict[str, Any]:
    stats = client.info("stats")
    commands = client.info("commandstats")
    memory = client.info("memory")
    cpu = client.info("cpu")
    clients = client.info("clients")
    return {
        "total_commands_processed": int(stats["total_commands_processed"]),
        "commands": {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in commands.items()},
        "used_memory_mb": round(int(memory["used_memory"]) / 1e6, 1),
        "cpu_s": float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"]),
        "connected_clients": int(clients["connected_clients"]),
    }


# ---------------------------------------------------------------------------------- the campaign


def world(args: argparse.Namespace) -> dict[str, Any]:
    """The stand-in's people (and the bots' wrap-up): few answers, long rings, long talks."""
    return {"name": "load", "p_human": args.p_human, "p_machine": 0.15, "p_busy": 0.05, "p_invalid": 0.05,
            "cps": args.cps, "setup_s": [0.5, 1.5], "ring_median_s": 8, "ring_p90_s": 20,
            "ring_timeout_s": args.ring_timeout_s, "amd_s": [2.5, 4.0], "patience_mean_s": 20,
            "talk_mean_s": args.talk_s, "talk_cv": 0.5, "wrap_fixed_s": 3.0, "wrap_exp_mean_s": 3.0}


def agent_tokens(db_url: str, n: int) -> list[str]:
    """An agent account with an API token for each bot agent, so that each can hold its console open.

    One password hash serves every account: the bench never signs in with a
    password, and hashing 500 of them would take minutes.
    """
    from werkzeug.security import generate_password_hash

    from campaigns.account_models import User
    from campaigns.accounts import issue_token
    from campaigns.carrier_bots import bot_agent_ids
    from campaigns.db import make_engine, make_session_factory

    db = make_engine(db_url)
    hashed = generate_password_hash(secrets.token_urlsafe(16))
    tokens = []
    with make_session_factory(db)() as session, session.begin():
        for agent in bot_agent_ids(n):
            user = User(username=agent, display_name=agent, password_hash=hashed, role="agent", agent_login=agent,
                        active=True)
            session.add(user)
            session.flush()
            tokens.append(issue_token(session, user, "load bench console").token)
    db.dispose()
    return tokens


class Consoles(threading.Thread):
    """The agents' consoles: one open Server-Sent Events stream of ``/agent/events`` per agent, read on one thread.

    Each stream holds a thread of the web app for as long as it is open, and
    the web app polls Redis for it every 0.3 s: on a real floor every agent
    has one open.  For every ``state`` event the delay from the agent's state
    change (its ``since``) to the event's arrival here is kept.
    """

    def __init__(self, web_url: str, campaign_id: int, tokens: list[str], *, per_s: float = 50.0) -> None:
        super().__init__(daemon=True)
        self.per_s = per_s  # agents sign in over a few seconds, not all in the same instant
        host, port = web_url.removeprefix("http://").split(":")
        self.address = (host, int(port))
        self.path = f"/agent/events?campaign_id={campaign_id}"
        self.tokens = tokens
        self.stop = threading.Event()
        self.opened = threading.Event()
        self.statuses: Counter[str] = Counter()
        self.open_streams = 0
        self.closed = 0
        self.events = 0
        self.delays: list[tuple[float, float]] = []  # (arrival, seconds since the state change)

    def _connect(self, token: str) -> Any:
        import socket

        sock = socket.create_connection(self.address, timeout=30)
        sock.sendall((f"GET {self.path} HTTP/1.1\r\nHost: {self.address[0]}\r\nAccept: text/event-stream\r\n"
                      f"Authorization: Bearer {token}\r\n\r\n").encode())
        sock.setblocking(False)
        return sock

    def run(self) -> None:
        import selectors

        selector = selectors.DefaultSelector()
        buffers: dict[Any, bytes] = {}
        waiting = list(self.tokens)
        began = time.monotonic()
        while not self.stop.is_set():
            due = min(len(self.tokens), int((time.monotonic() - began) * self.per_s) + 1)
            while waiting and len(self.tokens) - len(waiting) < due:
                try:
                    sock = self._connect(waiting.pop(0))
                except OSError as error:
                    self.statuses[type(error).__name__] += 1
                    continue
                selector.register(sock, selectors.EVENT_READ)
                buffers[sock] = b""
            if not waiting:
                self.opened.set()
            for key, _ in selector.select(0.05 if waiting else 0.5):
                sock = key.fileobj
                try:
                    data = sock.recv(65536)  # type: ignore[union-attr]
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    selector.unregister(sock)
                    sock.close()  # type: ignore[union-attr]
                    self.closed += 1
                    continue
                self._read(sock, buffers[sock] + data, buffers)
            self.open_streams = len(selector.get_map())
        for key in list(selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]

    def _read(self, sock: Any, data: bytes, buffers: dict[Any, bytes]) -> None:
        if data.startswith(b"HTTP/"):
            head, _, data = data.partition(b"\r\n\r\n")
            self.statuses[head.split(b" ", 2)[1].decode()] += 1
        *blocks, rest = data.split(b"\n\n")
        buffers[sock] = rest
        now = time.time()
        for block in blocks:
            # Chunked transfer: a chunk's size line may precede the event; only the event's lines count.
            lines = block.split(b"\n")
            name = next((ln[7:].strip() for ln in lines if ln.startswith(b"event: ")), None)
            if name is None:
                continue
            self.events += 1
            payload = next((ln[6:] for ln in lines if ln.startswith(b"data: ")), None)
            if name == b"state" and payload:
                with contextlib.suppress(ValueError, TypeError):
                    since = json.loads(payload).get("since")
                    if since is not None and now - float(since) < 60:
                        self.delays.append((now, now - float(since)))


def make_campaign(db_url: str, args: argparse.Namespace, contacts: int, place: tuple[str, str, str | None, str],
                  workdir: Path) -> int:
    from sqlalchemy import update

    from campaigns.db import make_engine, make_session_factory
    from campaigns.importer import import_contacts
    from campaigns.models import Campaign
    from campaigns.services import create_campaign, start_campaign

    db = make_engine(db_url)
    sessions = make_session_factory(db)
    cid = random.randrange(100_000_000, 2_000_000_000)  # keys of its own, even on a shared Redis
    with sessions() as session, session.begin():
        created = create_campaign(session, name=f"load {cid}", caller_id=tw.CALLER_ID, pacer=args.pacer,
                                  max_dial_level=args.max_dial_level, max_attempts=1,
                                  ring_timeout_s=args.ring_timeout_s, calling_window="08:00-21:00").id
    with db.begin() as conn:
        conn.execute(update(Campaign).where(Campaign.id == created).values(id=cid))
    path = workdir / "contacts.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["First Name", "Phone", "State"])
        for i in range(contacts):
            writer.writerow([f"Contact {i}", tw.number(place[0], i), place[2] or ""])
    import_contacts(sessions, cid, path, list_name="load list", region=place[3])
    with sessions() as session, session.begin():
        start_campaign(session, session.get_one(Campaign, cid))
    db.dispose()
    return cid


# ---------------------------------------------------------------------------------- figures


def stats(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "mean": None, "min": None, "p50": None, "p95": None, "p99": None, "max": None}
    return {"n": len(values), "mean": round(statistics.fmean(values), 2), "min": round(min(values), 2),
            "p50": round(tw.pct(values, 50) or 0, 2),
            "p95": round(tw.pct(values, 95) or 0, 2), "p99": round(tw.pct(values, 99) or 0, 2),
            "max": round(max(values), 2)}


def in_window(rows: list[dict[str, Any]], start: float, end: float) -> list[dict[str, Any]]:
    return [r for r in rows if start <= r["t"] <= end]


def stand_in_figures(calls: list[dict[str, Any]], start: float, end: float, epoch0: float) -> dict[str, Any]:
    """Lines at the carrier second by second, calls placed, and webhook response times, from the stand-in's record.

    The stand-in's times are seconds since it started; ``epoch0`` puts them on the Unix clock.
    """
    first, last = start - epoch0, end - epoch0
    seconds = range(math.floor(first), math.floor(last))
    customers = [c for c in calls if c["kind"] == "customer"]
    agents = [c for c in calls if c["kind"] == "agent"]

    def level(group: list[dict[str, Any]]) -> list[int]:
        steps: Counter[int] = Counter()
        for call in group:
            began = call["created_at"]
            ended = call["ended_at"] if call["ended_at"] is not None else math.inf
            steps[math.ceil(began)] += 1
            if ended != math.inf:
                steps[math.ceil(ended)] -= 1
        out: list[int] = []
        running = sum(v for k, v in steps.items() if k <= seconds.start) if seconds else 0
        for s in seconds:
            if s > seconds.start:
                running += steps.get(s, 0)
            out.append(running)
        return out

    customer_lines, agent_legs = level(customers), level(agents)
    lines = [a + b for a, b in zip(customer_lines, agent_legs, strict=True)]
    created = Counter(math.floor(c["created_at"]) for c in customers)
    started = Counter(math.floor(c["started_at"]) for c in customers if c["started_at"] is not None)
    placed_per_s = [created.get(s, 0) for s in seconds]
    started_per_s = [started.get(s, 0) for s in seconds]

    hooks = [h for c in calls for h in c["webhooks"] if h["sent_at"] is not None and first <= h["sent_at"] < last]
    done = [h for h in hooks if h["finished_at"] is not None]
    response_ms = [(h["finished_at"] - h["sent_at"]) * 1000 for h in done]
    by_purpose: dict[str, list[float]] = defaultdict(list)
    for h in done:
        by_purpose[h["purpose"]].append((h["finished_at"] - h["sent_at"]) * 1000)
    queued_ms = [(h["sent_at"] - h["queued_at"]) * 1000 for h in done if h["queued_at"] is not None]
    # The p99 minute by minute: a web app falling behind shows as a p99 that grows.
    minutes: dict[int, list[float]] = defaultdict(list)
    for h in done:
        minutes[int((h["sent_at"] - first) // 60)].append((h["finished_at"] - h["sent_at"]) * 1000)
    failed = Counter(str(h["status"] or h["error"]) for h in hooks
                     if h["error"] or not h["status"] or h["status"] >= 400)
    outcomes = Counter(c["end_reason"] or c["status"] for c in customers if first <= c["created_at"] < last)
    return {
        "carrier_lines": stats([float(v) for v in lines]),
        "customer_calls_up": stats([float(v) for v in customer_lines]),
        "agent_legs_up": stats([float(v) for v in agent_legs]),
        "calls_requested_per_s": stats([float(v) for v in placed_per_s]),
        "calls_started_per_s": stats([float(v) for v in started_per_s]),
        "calls_requested": sum(placed_per_s),
        "webhooks": {
            "delivered": len(done),
            "per_s": round(len(done) / max(1.0, last - first), 1),
            "response_ms": stats(response_ms),
            "response_ms_by_purpose": {k: stats(v) for k, v in sorted(by_purpose.items())},
            "p99_ms_by_minute": [round(tw.pct(v, 99) or 0, 1) for _, v in sorted(minutes.items())],
            "queued_in_stand_in_ms": stats(queued_ms),
            "failed": dict(failed),
        },
        "call_ends": dict(outcomes.most_common()),
        "series": {"carrier_lines": lines, "customer_calls_up": customer_lines, "calls_requested": placed_per_s},
    }


def probe_figures(timings: dict[str, list[tuple[float, float]]], start: float, end: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, rows in sorted(timings.items()):
        window = [d * 1000 for t, d in rows if start <= t <= end]
        out[f"{label}_ms"] = stats(window)
        out[f"{label}_per_s"] = round(len(window) / max(1.0, end - start), 1)
        out[f"{label}_busy_share"] = round(sum(window) / 1000 / max(1.0, end - start), 3)
    ticks = sorted(t for t, _ in timings.get("tick", []) if start <= t <= end)
    gaps = [(b - a) * 1000 for a, b in itertools.pairwise(ticks)]
    out["tick_interval_ms"] = stats(gaps)
    minutes: dict[int, list[float]] = defaultdict(list)
    for t, d in timings.get("tick", []):
        if start <= t <= end:
            minutes[int((t - start) // 60)].append(d * 1000)
    out["tick_p99_ms_by_minute"] = [round(tw.pct(v, 99) or 0, 1) for _, v in sorted(minutes.items())]
    return out


def process_figures(groups: list[Group], rows_t: list[float], start: float, end: float) -> dict[str, Any]:
    keep = [i for i, t in enumerate(rows_t) if start <= t <= end]
    out: dict[str, Any] = {}
    for group in groups:
        cpu = [group.cpu[i] for i in keep if i < len(group.cpu)]
        busiest = [group.busiest_member[i] for i in keep if i < len(group.busiest_member)]
        rss = [group.rss_mb[i] for i in keep if i < len(group.rss_mb)]
        members = [group.members_n[i] for i in keep if i < len(group.members_n)]
        out[group.name] = {
            "product": group.product,
            "processes": max(members) if members else 0,
            "cpu_pct_of_a_core": stats(cpu),
            "busiest_process_cpu_pct": stats(busiest),
            "rss_mb_start": round(rss[0], 1) if rss else None,
            "rss_mb_end": round(rss[-1], 1) if rss else None,
            "rss_mb_max": round(max(rss), 1) if rss else None,
        }
    return out


def per_call(before: dict[str, Any], after: dict[str, Any], calls: int, keys: Iterable[str]) -> dict[str, float]:
    return {k: round((after[k] - before[k]) / calls, 2) for k in keys} if calls else {}


def bottleneck(figures: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Rank the stack's parts by how much of their own limit this load uses; the top one saturates first.

    Each part is set against what it can use: one core for a single Python or
    Redis process (the dialer's loop for one campaign cannot be split), the 1 s
    beat for the dialer's tick, every core of the machine for PostgreSQL and
    for the whole stack on one machine.  Load grows them all in proportion, so
    the highest share saturates first and ``1 / share`` is the headroom.  Two
    answers: on this one machine, and of the stack itself (the parts that more
    web or RQ workers, or more hosts, do not relieve).  Other people's work on
    the machine is reported beside, not ranked: it is contention, not load.
    """
    cpus = figures["machine"]["cpus"]
    procs = figures["processes"]
    loop = figures["dialer_loop"]
    ranking: list[dict[str, Any]] = []

    def add(what: str, use: float | None, evidence: str, *, scales_out: bool | None) -> None:
        if use is not None:
            ranking.append({"what": what, "use": round(use, 3), "headroom_x": round(1 / use, 1) if use else None,
                            "scales_out": scales_out, "evidence": evidence})

    machine = figures["machine_cpu"]
    add(f"the machine's {cpus} cores, with the whole stack on them", machine["product_pct_mean"] / (100 * cpus),
        f"the stack used {machine['product_pct_mean']:.0f}% of {cpus * 100}% (the stand-in and the bench "
        f"{machine['harness_pct_mean']:.0f}%, other work on the machine {machine['others_pct_mean']:.0f}%)",
        scales_out=None)
    for name, p in procs.items():
        if not p["product"] or p["cpu_pct_of_a_core"]["mean"] is None:
            continue
        one = p["busiest_process_cpu_pct"]
        if name.startswith("PostgreSQL"):
            every = p["cpu_pct_of_a_core"]
            add("PostgreSQL", every["mean"] / (100 * cpus),
                f"{every['mean']:.0f}% of a core (p95 {every['p95']:.0f}%)", scales_out=False)
        elif name.startswith("dialer"):
            busy = sum(loop.get(f"{k}_busy_share", 0.0) for k in ("tick", "pump", "publish"))
            add("the dialer's loop (one process per campaign)", max(one["mean"] / ONE_CORE, busy),
                f"{one['mean']:.0f}% of a core (p95 {one['p95']:.0f}%); the loop spent {100 * busy:.0f}% of the "
                f"wall time in ticks, bus pumps and publishes", scales_out=False)
        else:
            add(name, one["mean"] / ONE_CORE,
                f"busiest process at {one['mean']:.0f}% of a core on average (p95 {one['p95']:.0f}%)",
                scales_out=not name.startswith("Redis"))
    tick = loop.get("tick_ms", {})
    if tick.get("p99") is not None:
        whole = loop.get("tick_busy_share") or 1.0
        parts = ", ".join(f"{what} {100 * loop.get(f'{key}_busy_share', 0.0) / whole:.0f}%"
                          for key, what in (("tick_claim_attempts", "claiming attempts"),
                                            ("tick_write_before_claim", "of it writing records before the claim"),
                                            ("tick_fetch_leads", "fetching leads")))
        add("the dialer's tick against its 1 s beat", tick["p99"] / 1000,
            f"tick p50 {tick['p50']:.0f} ms, p99 {tick['p99']:.0f} ms (p99 by minute "
            f"{loop['tick_p99_ms_by_minute']}); of the tick's time: {parts}", scales_out=False)
    ranking.sort(key=lambda r: -r["use"])
    notes = []
    reached = figures["stand_in"]["calls_requested_per_s"]["mean"] or 0.0
    if reached < 0.9 * args.cps:
        notes.append(f"the dialer asked for {reached:.1f} calls/s of the {args.cps:g} allowed")
    hooks = figures["stand_in"]["webhooks"]["p99_ms_by_minute"]
    if len(hooks) >= 3 and hooks[-1] > 2 * max(1.0, hooks[0]):
        notes.append(f"the webhook p99 grew from {hooks[0]:.0f} ms to {hooks[-1]:.0f} ms over the run")
    if machine["busy_pct"]["mean"] is not None and machine["busy_pct"]["mean"] >= 0.9 * 100 * cpus:
        notes.append(f"the machine was {machine['busy_pct']['mean']:.0f}% busy of {100 * cpus}%: latencies include "
                     "waiting for a core")
    stack = [r for r in ranking if r["scales_out"] is False]
    failures = failures_seen(figures, args)
    if failures:
        # Something already broke at this load: that, not the busiest part, is the first bottleneck.
        first = {"what": f"what broke at this load: {failures[0]}", "use": None, "headroom_x": None,
                 "scales_out": None, "evidence": "; ".join(failures)}
        return {"on_this_machine": first, "of_the_stack": first, "failures": failures, "ranking": ranking,
                "notes": notes}
    return {"on_this_machine": ranking[0] if ranking else None, "of_the_stack": stack[0] if stack else None,
            "failures": [], "ranking": ranking, "notes": notes}


def failures_seen(figures: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """What went wrong during the run: errors the web app logged, consoles cut off, webhooks refused, legs lost."""
    out = []
    errors = figures.get("web_errors") or {}
    if errors:
        out.append("the web app logged (warm-up included) " + ", ".join(f"{n} {name}" for name, n in errors.items()))
    consoles = figures["consoles"]
    if consoles["closed_early"]:
        out.append(f"{consoles['closed_early']} of {consoles['asked']} agents' console streams ended early "
                   f"(at least {consoles['open']['min']:.0f} open in the window)" if consoles["open"]["min"] is not None
                   else f"{consoles['closed_early']} agents' console streams ended early")
    bad = {k: v for k, v in consoles["http_statuses"].items() if k != "200"}
    if bad:
        out.append(f"agents' consoles refused: {bad}")
    if consoles["never_answered"]:
        out.append(f"{consoles['never_answered']} agents' consoles got no answer at all (their connections wait "
                   "for a thread of a worker whose threads are all held by open streams)")
    failed = figures["stand_in"]["webhooks"]["failed"]
    if failed:
        out.append(f"webhooks failed in the window: {failed}")
    legs = figures["stand_in"]["agent_legs_up"]["mean"] or 0
    if legs < args.agents - 0.5:
        out.append(f"only {legs:.0f} of the {args.agents} agents' legs were up (their TwiML requests failed)")
    return out


# ---------------------------------------------------------------------------------- main


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
                        help="a PostgreSQL server (any database on it): a fresh database is made there and dropped")
    parser.add_argument("--redis-url", default=None,
                        help="a Redis to use (its INFO counts every client's commands); default: a private "
                             "redis-server on a free port")
    parser.add_argument("--cps", type=float, default=25.0, help="calls per second (TWILIO_CPS and the stand-in's)")
    parser.add_argument("--agents", type=int, default=500, help="bot agents, each a leg in its room")
    parser.add_argument("--run-s", type=float, default=300.0, help="seconds the dialer dials")
    parser.add_argument("--warmup-s", type=float, default=None,
                        help="seconds left out of the figures at the start, while the floor fills "
                             "(default: 120, or 40%% of a short run)")
    parser.add_argument("--carrier-cps", type=float, default=None,
                        help="the stand-in's own calls-per-second limit (default: 1.2 x --cps, so the burst of the "
                             "agents' legs at the start drains)")
    parser.add_argument("--talk-s", type=float, default=55.0, help="mean conversation")
    parser.add_argument("--p-human", type=float, default=0.25, help="share of calls a person answers")
    parser.add_argument("--ring-timeout-s", type=int, default=45, help="the campaign's ring time")
    parser.add_argument("--pacer", default="ratio:8", help="the campaign's pacer")
    parser.add_argument("--max-dial-level", type=float, default=4.0)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=None,
                        help="threads per web worker (default: enough for every console plus 32 each)")
    parser.add_argument("--consoles", type=int, default=None,
                        help="agents' consoles held open on /agent/events (default: one per agent)")
    parser.add_argument("--no-rq-worker", action="store_true", help="do not start python worker.py")
    parser.add_argument("--out", type=Path, default=None, help="write the figures here as JSON")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs (their folder is printed)")
    args = parser.parse_args(argv)
    if args.warmup_s is None:
        args.warmup_s = min(120.0, round(args.run_s * 0.4))
    if args.consoles is None:
        args.consoles = args.agents
    if args.web_threads is None:
        args.web_threads = math.ceil(args.consoles / args.web_workers) + 32
    if args.carrier_cps is None:
        args.carrier_cps = args.cps * 1.2
    if not 0 <= args.warmup_s < args.run_s - 10:
        parser.error("--warmup-s must leave at least 10 s of the run")
    if not 1 <= args.agents <= 500:
        parser.error("--agents must be from 1 to 500 (dialer run --bot-agents)")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [PROBE_COMMAND]:
        probed_dialer(Path(argv[1]), argv[2:])
        return 0
    args = parse(argv)
    import psutil
    from sqlalchemy import text

    from campaigns.db import ensure_schema, make_engine
    from campaigns.redis_conn import connect_redis

    contacts = int(args.cps * args.run_s * 1.15) + 500
    place = tw.lawful_place(contacts, args.run_s / 60 + 10)
    workdir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    processes = tw.Processes(workdir)
    db_url, database, drop_database = fresh_database(args.database_url)
    admin = make_engine(args.database_url)
    client: Any = None
    cid = 0
    try:
        redis_url = args.redis_url or private_redis(processes)
        client = connect_redis(redis_url)
        ensure_schema(db_url)
        began = time.monotonic()
        cid = make_campaign(db_url, args, contacts, place, workdir)
        tokens = agent_tokens(db_url, args.consoles)
        print(f"campaign {cid}: {contacts} contacts and {len(tokens)} agent accounts in "
              f"{time.monotonic() - began:.0f} s; stack starting ...", file=sys.stderr)
        world_path = workdir / "world.json"
        world_path.write_text(json.dumps(world(args)))
        account, token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
        env = {**os.environ, "TWILIO_ACCOUNT_SID": account, "TWILIO_AUTH_TOKEN": token, "DIALER_LOG_LEVEL": "WARNING"}
        fake = processes.start("fake", tw.cli("fake-twilio", "--port", "0", "--scenario", str(world_path),
                                              "--cps", f"{args.carrier_cps:g}", "--press-share", "0"), env, pipe=True)
        assert fake.stdout is not None
        found = re.search(r"http://127\.0\.0\.1:\d+", fake.stdout.readline().decode())
        # The stand-in's clock starts just before it says where it listens: its zero on the Unix clock.
        epoch0 = time.time()
        if not found:
            raise SystemExit("the stand-in did not start")
        fake_url = found.group(0)
        web_url = f"http://127.0.0.1:{tw.free_port()}"
        env.update(DATABASE_URL=db_url, REDIS_URL=redis_url, DIALER_CARRIER="twilio", PUBLIC_BASE_URL=web_url,
                   TWILIO_API_URL=fake_url, TWILIO_CPS=f"{args.cps:g}", SECRET_KEY=secrets.token_hex(16))
        import gunicorn

        private = ["--no-control-socket"] if gunicorn.version_info[0] >= 27 else []
        web = processes.start("web", [sys.executable, "-m", "gunicorn", "--bind", web_url.removeprefix("http://"),
                                      "--workers", str(args.web_workers), "--threads", str(args.web_threads),
                                      "--worker-class", "gthread", "--timeout", "60", *private,
                                      "web:create_app()"], env)
        worker = None if args.no_rq_worker else processes.start("worker", [sys.executable, "worker.py"], env)
        tw.wait_for(lambda: urllib.request.urlopen(f"{web_url}/healthz", timeout=2).status == 200, 60, "the web app")
        consoles = Consoles(web_url, cid, tokens)
        consoles.start()
        consoles.opened.wait(60)

        redis_pid = int(client.info("server")["process_id"])
        groups = [
            Group(f"web (gunicorn, {args.web_workers} gthread workers)", True, tree(web.pid), single_core=False),
            Group("dialer run", True, lambda: []),  # its pid is known once it starts
            Group("PostgreSQL (the database's backends, background writers)", True,
                  lambda: backend_pids(admin, database), single_core=False),
            Group("Redis", True, lambda: [redis_pid] if psutil.pid_exists(redis_pid) else []),
            Group("Twilio stand-in", False, tree(fake.pid)),
            Group("bench (sampler, the agents' consoles)", False, lambda: [os.getpid()]),
        ]
        if worker is not None:
            groups.insert(2, Group("RQ worker", True, tree(worker.pid), single_core=False))

        def live() -> dict[str, str]:
            raw = client.hgetall(f"dialer:live:{cid}")
            return {k.decode(): v.decode() for k, v in raw.items()}

        def extra() -> dict[str, Any]:
            with admin.connect() as conn:
                n = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d"),
                                 {"d": database}).scalar_one()
            return {"pg_connections": int(n), "redis_clients": int(client.info("clients")["connected_clients"]),
                    "consoles_open": consoles.open_streams, "console_events": consoles.events}

        probe_path = workdir / "dialer-timings.json"
        redis_idle = redis_snapshot(client)
        print(f"dialing: {args.cps:g} calls/s, {args.agents} bot agents, {args.run_s:g} s "
              f"(figures after {args.warmup_s:g} s) ...", file=sys.stderr)
        dialer = processes.start("dialer", [sys.executable, str(Path(__file__).resolve()), PROBE_COMMAND,
                                            str(probe_path), "run", "--campaign", str(cid), "--bot-agents",
                                            str(args.agents), "--for", str(args.run_s), "--scenario",
                                            str(world_path)], env)
        groups[1].members = tree(dialer.pid)
        dial_started = time.time()
        sampler = Sampler(groups, live, extra)
        sampler.start()
        window_start = dial_started + args.warmup_s
        window_end = dial_started + args.run_s - 1.0
        time.sleep(max(0.0, window_start - time.time()))
        pg_before, redis_before = pg_snapshot(admin, database), redis_snapshot(client)
        dials_before = int(live().get("dials", 0))
        time.sleep(max(0.0, window_end - time.time()))
        pg_after, redis_after = pg_snapshot(admin, database), redis_snapshot(client)
        dials_after = int(live().get("dials", 0))
        dialer.wait(120)
        sampler.stop.set()
        sampler.join(5)
        consoles.stop.set()
        consoles.join(5)
        redis_final = redis_snapshot(client)
        events_len = int(client.xlen(f"dialer:events:{cid}"))
        events_bytes = int(client.memory_usage(f"dialer:events:{cid}", samples=0) or 0)
        print("reading the stand-in's record ...", file=sys.stderr)
        time.sleep(2.0)
        calls = tw.get_json(f"{fake_url}/_fake/calls")["calls"]
        timings = json.loads(probe_path.read_text()) if probe_path.exists() else {}
        twilio = tw.campaign_figures(fake_url, redis_url, cid, db_url, args.run_s)

        rows = sampler.rows
        steady = in_window(rows, window_start, window_end)
        rows_t = [r["t"] for r in rows]
        processes_fig = process_figures(groups, rows_t, window_start, window_end)

        def mean_cpu(chosen: list[Group]) -> float:
            """Mean CPU of the chosen groups together over the window, in % of one core."""
            kept = [i for i, r in enumerate(rows) if window_start <= r["t"] <= window_end]
            return statistics.fmean(sum(g.cpu[i] for g in chosen if i < len(g.cpu)) for i in kept) if kept else 0.0

        busy = [r["machine_busy_pct"] for r in steady]
        live_rows = [r["live"] for r in steady if r.get("live")]

        def live_stat(*keys: str) -> dict[str, Any]:
            return stats([float(sum(float(row.get(k, 0)) for k in keys)) for row in live_rows])

        dials = [int(r.get("dials", 0)) for r in live_rows]
        calls_in_window = dials_after - dials_before
        figures: dict[str, Any] = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "command": "python bench/load.py " + " ".join(argv),
            "machine": {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
                        "python": sys.version.split()[0],
                        "postgresql": server_version(admin),
                        "redis": client.info("server")["redis_version"]},
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "window_s": round(window_end - window_start, 1),
            "machine_cpu": {"busy_pct": stats(busy),
                            "product_pct_mean": mean_cpu([g for g in groups if g.product]),
                            "harness_pct_mean": mean_cpu([g for g in groups if not g.product]),
                            "others_pct_mean": max(0.0, statistics.fmean(busy) - mean_cpu(groups)) if busy else 0.0,
                            "steal_pct_mean": statistics.fmean(r["steal_pct"] for r in steady) if steady else 0.0,
                            "load1_mean": statistics.fmean(r["load1"] for r in steady) if steady else 0.0},
            "processes": processes_fig,
            "dialer_live": {
                "customer_lines": live_stat("calls_ringing", "calls_waiting", "calls_connected"),
                "ringing": live_stat("calls_ringing"), "waiting": live_stat("calls_waiting"),
                "connected": live_stat("calls_connected"), "agents_ready": live_stat("agents_ready"),
                "agents_on_call": live_stat("agents_on_call"), "agents_wrap_up": live_stat("agents_wrap_up"),
                "agents_working": live_stat("agents_working"), "dial_level": live_stat("dial_level"),
                "dials_per_s": stats([float(b - a) for a, b in itertools.pairwise(dials)]),
                "abandon_rate_today": live_rows[-1].get("abandon_rate_today") if live_rows else None,
            },
            "dialer_loop": probe_figures(timings, window_start, window_end),
            "stand_in": stand_in_figures(calls, window_start, window_end, epoch0),
            "answer_to_connect_ms": twilio["answer_to_connect"],
            "calls_in_window": calls_in_window,
            "database_per_call": per_call(pg_before, pg_after, calls_in_window, PG_COUNTERS),
            "database_connections": stats([float(r["pg_connections"]) for r in steady if "pg_connections" in r]),
            "redis_per_call": {
                "commands": round((redis_after["total_commands_processed"]
                                   - redis_before["total_commands_processed"]) / calls_in_window, 1)
                if calls_in_window else None,
                "top": top_commands(redis_before, redis_after, calls_in_window),
                "cpu_ms": round(1000 * (redis_after["cpu_s"] - redis_before["cpu_s"]) / calls_in_window, 3)
                if calls_in_window else None,
            },
            "redis_memory_mb": {"before_dialing": redis_idle["used_memory_mb"],
                                "window_start": redis_before["used_memory_mb"], "end": redis_final["used_memory_mb"],
                                "events_stream_entries": events_len, "events_stream_mb": round(events_bytes / 1e6, 2),
                                # What one carrier event costs in its stream: it sizes a stream at its cap.
                                "bytes_per_event_entry": round(events_bytes / events_len) if events_len else None},
            "redis_clients": stats([float(r["redis_clients"]) for r in steady if "redis_clients" in r]),
            "consoles": {
                "asked": args.consoles, "http_statuses": dict(consoles.statuses), "closed_early": consoles.closed,
                "never_answered": args.consoles - sum(consoles.statuses.values()),
                "open": stats([float(r["consoles_open"]) for r in steady if "consoles_open" in r]),
                "events_per_s": round((steady[-1]["console_events"] - steady[0]["console_events"])
                                      / max(1.0, steady[-1]["t"] - steady[0]["t"]), 1)
                if len(steady) > 1 and "console_events" in steady[0] and "console_events" in steady[-1] else None,
                "state_change_to_console_ms": stats([1000 * d for t, d in consoles.delays
                                                     if window_start <= t <= window_end]),
            },
            "run": {k: twilio[k] for k in ("calls_placed", "attempts_in_database", "connected", "abandoned")},
        }
        figures["web_errors"] = logged_errors(workdir / "web.log")
        figures["bottleneck"] = bottleneck(figures, args)
    finally:
        processes.close()
        if client is not None:
            if cid and args.redis_url:
                keys = list(client.scan_iter(match=f"dialer:*{cid}*", count=1000))
                if keys:
                    client.delete(*keys)
            client.close()
        with contextlib.suppress(Exception):
            admin.dispose()
        drop_database()
        if args.keep_logs:
            print(f"logs of the processes: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print_table(figures)
    if args.out is not None:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def backend_pids(admin: Any, database: str) -> list[int]:
    from sqlalchemy import text

    with admin.connect() as conn:
        return [int(p) for p in conn.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = :d "
                                                  "OR backend_type NOT IN ('client backend', 'autovacuum worker')"),
                                             {"d": database})]


def logged_errors(log: Path) -> dict[str, int]:
    """What the web app logged as errors, by the exception that ended each (the last line of a traceback)."""
    if not log.exists():
        return {}
    found: Counter[str] = Counter()
    in_traceback = False
    last = ""
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("Traceback (most recent call last)"):
            in_traceback = True  # a chained traceback goes on; its last exception is the one that counts
        elif in_traceback and line.startswith("["):  # the next entry of the log
            found[last.split(":", 1)[0] or "unknown"] += 1
            in_traceback = False
        elif in_traceback and line.strip() and not line.startswith(" ") and not line.startswith(
                ("During handling", "The above exception")):
            last = line
    if in_traceback:
        found[last.split(":", 1)[0] or "unknown"] += 1
    return dict(found.most_common())


def server_version(admin: Any) -> str:
    from sqlalchemy import text

    with admin.connect() as conn:
        return str(conn.execute(text("SHOW server_version")).scalar_one())


def top_commands(before: dict[str, Any], after: dict[str, Any], calls: int, n: int = 8) -> dict[str, float]:
    if not calls:
        return {}
    deltas = {name: count - before["commands"].get(name, 0) for name, count in after["commands"].items()}
    return {name: round(count / calls, 2) for name, count in sorted(deltas.items(), key=lambda kv: -kv[1])[:n]
            if count > 0}


def print_table(f: dict[str, Any]) -> None:
    def num(value: Any, digits: int = 0) -> str:
        return "-" if value is None else f"{value:,.{digits}f}"

    s, hooks, loop = f["stand_in"], f["stand_in"]["webhooks"], f["dialer_loop"]
    print(f"\n{f['date']}, {f['machine']['cpus']} cores, steady window {f['window_s']:g} s")
    rows = [
        ("calls requested per second (mean / lowest second)",
         f"{num(s['calls_requested_per_s']['mean'], 1)} / {num(min(s['series']['calls_requested'], default=None))}"),
        ("lines at the carrier (mean / max)", f"{num(s['carrier_lines']['mean'])} / {num(s['carrier_lines']['max'])}"),
        ("  customer calls up (mean / max)",
         f"{num(s['customer_calls_up']['mean'])} / {num(s['customer_calls_up']['max'])}"),
        ("  agents' legs up (mean)", num(s["agent_legs_up"]["mean"])),
        ("dialer's view: ringing / connected / waiting (mean)",
         " / ".join(num(f["dialer_live"][k]["mean"]) for k in ("ringing", "connected", "waiting"))),
        ("dialer's view: agents ready / on call / wrap-up (mean)",
         " / ".join(num(f["dialer_live"][k]["mean"]) for k in ("agents_ready", "agents_on_call", "agents_wrap_up"))),
        ("webhooks per second", num(hooks["per_s"], 1)),
        ("webhook response p50 / p99 / max (ms)",
         f"{num(hooks['response_ms']['p50'], 1)} / {num(hooks['response_ms']['p99'], 1)} / "
         f"{num(hooks['response_ms']['max'], 0)}"),
        ("webhook p99 by minute (ms)", str(hooks["p99_ms_by_minute"])),
        ("answer -> connect p50 / p99 (ms)",
         f"{num(f['answer_to_connect_ms']['p50_ms'], 1)} / {num(f['answer_to_connect_ms']['p99_ms'], 1)}"),
        ("dialer tick p50 / p99 / max (ms)",
         f"{num(loop.get('tick_ms', {}).get('p50'), 1)} / {num(loop.get('tick_ms', {}).get('p99'), 1)} / "
         f"{num(loop.get('tick_ms', {}).get('max'), 0)}"),
        ("dialer bus pump p50 / p99 (ms), per second",
         f"{num(loop.get('pump_ms', {}).get('p50'), 1)} / {num(loop.get('pump_ms', {}).get('p99'), 1)}, "
         f"{num(loop.get('pump_per_s'), 0)}"),
        ("database per call: commits / rows inserted / updated / fetched",
         " / ".join(num(f["database_per_call"].get(k), 1)
                    for k in ("xact_commit", "tup_inserted", "tup_updated", "tup_fetched"))),
        ("Redis commands per call", num(f["redis_per_call"]["commands"], 1)),
        ("  top", ", ".join(f"{k} {v:g}" for k, v in f["redis_per_call"]["top"].items())),
        ("Redis memory before dialing / at the end (MB); events stream: entries, bytes each",
         f"{f['redis_memory_mb']['before_dialing']} / {f['redis_memory_mb']['end']}; "
         f"{num(f['redis_memory_mb']['events_stream_entries'])}, {num(f['redis_memory_mb']['bytes_per_event_entry'])}"),
        ("PostgreSQL connections (max)", num(f["database_connections"]["max"])),
        ("agents' consoles open (min) / HTTP statuses / no answer",
         f"{num(f['consoles']['open']['min'])} of "
         f"{f['consoles']['asked']} / {f['consoles']['http_statuses']} / {f['consoles']['never_answered']}"),
        ("web app errors logged in the whole run (by exception)", str(f["web_errors"] or "none")),
        ("agent's state change -> console p50 / p99 (ms)",
         f"{num(f['consoles']['state_change_to_console_ms']['p50'])} / "
         f"{num(f['consoles']['state_change_to_console_ms']['p99'])}"),
        ("machine busy, % of one core (stack / stand-in and bench / other work)",
         f"{num(f['machine_cpu']['busy_pct']['mean'])} ({num(f['machine_cpu']['product_pct_mean'])} / "
         f"{num(f['machine_cpu']['harness_pct_mean'])} / {num(f['machine_cpu']['others_pct_mean'])})"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:{width}}  {value}")
    print(f"\n{'process':44} {'CPU % mean':>10} {'p95':>6} {'busiest':>8} {'RSS MB end':>10} {'max':>7}")
    for name, p in f["processes"].items():
        cpu, one = p["cpu_pct_of_a_core"], p["busiest_process_cpu_pct"]
        print(f"{name[:44]:44} {num(cpu['mean']):>10} {num(cpu['p95']):>6} {num(one['mean']):>8} "
              f"{num(p['rss_mb_end']):>10} {num(p['rss_mb_max']):>7}")
    b = f["bottleneck"]
    print("\nshare of its own limit this load uses (highest first)")
    for r in b["ranking"]:
        print(f"  {100 * r['use']:5.1f}%  {r['what']}: {r['evidence']}")
    for failure in b.get("failures", []):
        print(f"failure: {failure}")
    for key, where in (("on_this_machine", "on this machine"), ("of_the_stack", "of the stack (not relieved by "
                                                                               "more web or RQ workers or hosts)")):
        if b[key]:
            headroom = f" (headroom about {b[key]['headroom_x']}x)" if b[key]["headroom_x"] else ""
            print(f"first bottleneck {where}: {b[key]['what']}{headroom}")
    for note in b["notes"]:
        print(f"note: {note}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # the finally clauses clean up
    sys.exit(main())
