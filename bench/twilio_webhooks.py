"""Benchmark of the Twilio path: webhook throughput of the web app, and how fast an answer becomes a bridge.

Three processes run on this machine as in production: the web app (gunicorn on
``web:create_app()``), ``dialer run`` with DIALER_CARRIER=twilio and bot agents,
and the Twilio stand-in (``dialer fake-twilio``), sharing PostgreSQL (a schema of
the bench's own, dropped at the end) or a SQLite file, and a real Redis.

1. **Throughput**: the bench itself posts correctly signed status callbacks to
   the web app from ``--threads`` connections for ``--burst-s`` seconds, as
   fast as the app answers: requests per second, p50/p99 response time.
2. **Campaign**: the dialer dials a campaign at ``--cps`` calls per second
   (the stand-in's and the dialer's limit) with long talk times, so about
   ``cps x call length`` calls are in flight.  Reported:

   * answer -> connect: from the moment the "answered" status callback reached
     the web app to the moment the engine's ``calls(sid).update`` with the
     conference TwiML reached the stand-in, for people an agent was free for.
     The web app's receipt time is the ``at`` it already stamps on every
     event it publishes (no extra code on the hot path); the stand-in notes
     each API request's arrival on its own clock.  The two clocks are joined
     by the stand-in's start time, estimated as the smallest difference
     between a webhook's receipt and its sending (the trip's floor, well under
     a millisecond here), so the figures are an upper bound by that much.
     The engine bridges on the answer, not on the AMD verdict (docs/engine.md,
     "the two seconds after hello"), so the verdict -> connect delay is
     reported only as how often the bridge came before the verdict;
   * the same measured on the stand-in's clock alone (webhook sent -> update
     received), which needs no joining of clocks;
   * webhook deliveries during the run: per second, response times, failures.

The figures are printed as a table and written as JSON to ``--out``.

    python bench/twilio_webhooks.py --out bench-twilio.json
    python bench/twilio_webhooks.py --cps 20 --agents 200 --run-s 60 --database-url sqlite:///bench.db
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text, update

from campaigns.db import ensure_schema, make_engine, make_session_factory
from campaigns.importer import import_contacts
from campaigns.live_events import read_carrier_events
from campaigns.models import CallAttempt, Campaign
from campaigns.redis_conn import connect_redis
from campaigns.services import create_campaign, start_campaign
from compliance.gate import CallingWindow, CampaignPolicy, DialTarget, default_gate
from dialer.carriers.fake_twilio import twilio_signature

REPO = Path(__file__).resolve().parent.parent
CALLER_ID = "+12125550100"

# Places from east to west and a UK range: the first one lawful to call now and for the run is used.
PLACES: tuple[tuple[str, str, str | None, str], ...] = (
    ("+1212{:07d}", "America/New_York", "NY", "US"),
    ("+1312{:07d}", "America/Chicago", "IL", "US"),
    ("+1213{:07d}", "America/Los_Angeles", "CA", "US"),
    ("+1808{:07d}", "Pacific/Honolulu", "HI", "US"),
    ("+1671{:07d}", "Pacific/Guam", "GU", "US"),
    ("+44207946{:04d}", "Europe/London", None, "GB"),
)


def number(pattern: str, i: int) -> str:
    return pattern.format(5550000 + i if pattern.startswith("+1") else i)


def lawful_place(n: int, minutes: float) -> tuple[str, str, str | None, str]:
    gate = default_gate()
    policy = CampaignPolicy(1, CallingWindow.parse("08:00-21:00"), "telemarketing")
    now = datetime.now(UTC)
    for place in PLACES:
        pattern, zone, state, _ = place
        if all(gate.can_dial(DialTarget(number(pattern, i), (zone,), state, None, i + 1), policy, at).allowed
               for i in (0, n - 1) for at in (now, now + timedelta(minutes=minutes))):
            return place
    raise SystemExit("no place is inside its calling hours now")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=120) as answer:
        return json.loads(answer.read())


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def summary(values_s: list[float]) -> dict[str, Any]:
    ms = [v * 1000 for v in values_s]
    return {"n": len(ms), "p50_ms": pct(ms, 50), "p90_ms": pct(ms, 90), "p99_ms": pct(ms, 99),
            "max_ms": max(ms) if ms else None, "mean_ms": statistics.fmean(ms) if ms else None}


class Processes:
    """Every process the bench starts, killed on the way out whatever happened."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, args: list[str], env: dict[str, str], *, pipe: bool = False) -> subprocess.Popen[bytes]:
        with (self.workdir / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(args, env=env, cwd=REPO, stderr=log,
                                       stdout=subprocess.PIPE if pipe else subprocess.DEVNULL)
        self.running.append(process)
        return process

    def close(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.kill()
        for process in self.running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from campaigns.cli import main; main()", *args]


def profiled_cli(stats: Path, *args: str) -> list[str]:
    """The command line under cProfile: where the dialer's wall time goes (its loop waits on I/O, which counts)."""
    code = f"import cProfile; from campaigns.cli import main; cProfile.run('main()', {str(stats.resolve())!r})"
    return [sys.executable, "-c", code, *args]


def wait_for(condition: Any, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(OSError):
            if condition():
                return
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


# ---------------------------------------------------------------------------------- phase 1: throughput


def hammer(web_url: str, token: str, campaign_id: int, threads: int, seconds: float) -> dict[str, Any]:
    """Signed status callbacks as fast as the app takes them, over kept-alive connections."""
    import http.client

    host, port = web_url.removeprefix("http://").split(":")
    latencies: list[list[float]] = [[] for _ in range(threads)]
    failures = Counter[str]()
    stop_at = time.monotonic() + seconds

    def worker(k: int) -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        i = 0
        while time.monotonic() < stop_at:
            i += 1
            sid = f"CA{k:04d}{i:028d}"
            path = f"/twilio/status?campaign={campaign_id}&call=bench-{k}-{i}"
            params = {"CallSid": sid, "CallStatus": "ringing", "SequenceNumber": "1", "AccountSid": "AC" + "0" * 32}
            body = urllib.parse.urlencode(params)
            headers = {"Content-Type": "application/x-www-form-urlencoded",
                       "X-Twilio-Signature": twilio_signature(token, f"{web_url}{path}", params)}
            started = time.perf_counter()
            try:
                connection.request("POST", path, body, headers)
                answer = connection.getresponse()
                answer.read()
                if answer.status != 204:
                    failures[str(answer.status)] += 1
                    continue
            except OSError as error:
                failures[type(error).__name__] += 1
                connection.close()
                connection = http.client.HTTPConnection(host, int(port), timeout=10)
                continue
            latencies[k].append(time.perf_counter() - started)
        connection.close()

    began = time.monotonic()
    workers = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = time.monotonic() - began
    every = [v for part in latencies for v in part]
    return {"threads": threads, "seconds": round(elapsed, 2), "requests": len(every),
            "requests_per_s": round(len(every) / elapsed, 1), "failures": dict(failures), **summary(every)}


# ---------------------------------------------------------------------------------- phase 2: a campaign


def make_campaign(db_url: str, contacts: int, place: tuple[str, str, str | None, str], workdir: Path) -> int:
    db = make_engine(db_url)
    sessions = make_session_factory(db)
    cid = random.randrange(100_000_000, 2_000_000_000)
    with sessions() as session, session.begin():
        created = create_campaign(session, name=f"bench {cid}", caller_id=CALLER_ID, pacer="ratio:2.5",
                                  max_attempts=1, ring_timeout_s=15, calling_window="08:00-21:00").id
    with db.begin() as conn:
        conn.execute(update(Campaign).where(Campaign.id == created).values(id=cid))
    path = workdir / "contacts.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["First Name", "Phone", "State"])
        for i in range(contacts):
            writer.writerow([f"Contact {i}", number(place[0], i), place[2] or ""])
    import_contacts(sessions, cid, path, list_name="bench list", region=place[3])
    with sessions() as session, session.begin():
        start_campaign(session, session.get_one(Campaign, cid))
    db.dispose()
    return cid


def campaign_figures(fake_url: str, redis_url: str, cid: int, db_url: str, run_s: float) -> dict[str, Any]:
    calls = get_json(f"{fake_url}/_fake/calls")["calls"]
    client = connect_redis(redis_url)
    received: dict[tuple[str, str], float] = {}
    after = "0-0"
    while True:
        batch = read_carrier_events(client, cid, after=after, count=5000)
        if not batch:
            break
        for entry, event in batch:
            received.setdefault((event.call_sid, event.kind.value), event.at)
            after = entry
    client.close()

    # The stand-in's start on the Unix clock: the smallest (receipt - sending) over every status callback.
    sent: dict[tuple[str, str], float] = {}
    offsets: list[float] = []
    kinds = {"initiated": "initiated", "ringing": "ringing", "in-progress": "answered"}
    for call in calls:
        for hook in call["webhooks"]:
            if hook["purpose"] == "status-callback" and hook["sent_at"] is not None:
                kind = kinds.get(hook["params"].get("CallStatus", ""), "completed")
                sent.setdefault((call["sid"], kind), hook["sent_at"])
                at = received.get((call["sid"], kind))
                if at is not None:
                    offsets.append(at - hook["sent_at"])
    epoch0 = min(offsets)

    answer_to_connect: list[float] = []
    sent_to_connect: list[float] = []
    before_verdict = after_verdict = 0
    customers = [c for c in calls if c["kind"] == "customer"]
    for call in customers:
        redirect = next((e for e in call["timeline"] if e["event"] == "api-redirect"
                         and "<Conference" in (e.get("twiml") or "")), None)
        answered_at = received.get((call["sid"], "answered"))
        if redirect is None or answered_at is None or call["answered_at"] is None:
            continue
        if redirect["t"] - call["answered_at"] > 1.5:
            continue  # waited for an agent to free up: the trigger was the agent, not the webhook
        answer_to_connect.append(epoch0 + redirect["t"] - answered_at)
        sent_answer = sent.get((call["sid"], "answered"))
        if sent_answer is not None:
            sent_to_connect.append(redirect["t"] - sent_answer)
        verdict = received.get((call["sid"], "amd"))
        if verdict is not None:
            if epoch0 + redirect["t"] < verdict:
                before_verdict += 1
            else:
                after_verdict += 1

    deliveries = [h for c in calls for h in c["webhooks"]]
    done = [h for h in deliveries if h["finished_at"] is not None and h["sent_at"] is not None]
    per_second = Counter(int(h["finished_at"]) for h in done)
    busiest = per_second.most_common(1)[0][1] if per_second else 0
    span = (max(h["finished_at"] for h in done) - min(h["sent_at"] for h in done)) if done else 0.0
    failed = Counter(str(h["status"] or h["error"]) for h in deliveries
                     if h["error"] or not h["status"] or h["status"] >= 400)
    starts = sorted(c["started_at"] for c in customers if c["started_at"] is not None)
    steady = [t for t in starts if t >= starts[0] + 10] if starts else []
    # When the dialer's create requests arrived, before the stand-in's own calls-per-second queue
    # (which the bot agents' legs share) held them.
    creates = sorted(c["created_at"] for c in customers if c["created_at"] is not None)
    steady_creates = [t for t in creates if t >= creates[0] + 10] if creates else []
    in_flight_peak = 0
    if customers:
        edges = sorted([(c["created_at"], 1) for c in customers]
                       + [(c["ended_at"], -1) for c in customers if c["ended_at"] is not None])
        level = 0
        for _, step in edges:
            level += step
            in_flight_peak = max(in_flight_peak, level)

    db = make_engine(db_url)
    with db.connect() as conn:
        rows = conn.execute(select(CallAttempt.connected_at, CallAttempt.abandoned_at, CallAttempt.answered_at)
                            .where(CallAttempt.campaign_id == cid)).all()
    db.dispose()
    return {
        "calls_placed": len(customers),
        "calls_per_s_placed": round(len(steady) / (steady[-1] - steady[0]), 1) if len(steady) > 1 else None,
        "calls_per_s_requested": (round(len(steady_creates) / (steady_creates[-1] - steady_creates[0]), 1)
                                  if len(steady_creates) > 1 else None),
        "calls_in_flight_peak": in_flight_peak,
        "attempts_in_database": len(rows),
        "connected": sum(1 for r in rows if r.connected_at is not None),
        "abandoned": sum(1 for r in rows if r.abandoned_at is not None),
        "answer_to_connect": summary(answer_to_connect),
        "answer_sent_to_connect_on_the_stand_in_clock": summary(sent_to_connect),
        "bridges_before_the_amd_verdict": before_verdict,
        "bridges_after_the_amd_verdict": after_verdict,
        "clock_join_floor_ms": round((min(offsets) - epoch0) * 1000, 3),
        "webhooks": {
            "delivered": len(done),
            "per_s_mean": round(len(done) / span, 1) if span else None,
            "per_s_busiest_second": busiest,
            "response": summary([h["finished_at"] - h["sent_at"] for h in done]),
            "queued_before_sending": summary([h["sent_at"] - h["queued_at"] for h in done]),
            "failed": dict(failed),
        },
        "run_s": run_s,
    }


# ---------------------------------------------------------------------------------- main


def private_schema(url: str) -> tuple[str, Any]:
    """A schema of the bench's own on PostgreSQL (dropped by the returned cleanup); a SQLite URL as is."""
    if not url.startswith("postgres"):
        return url, lambda: None
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in url else "?"

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return f"{url}{separator}options={urllib.parse.quote(f'-csearch_path={schema}')}", drop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
                        help="PostgreSQL (a private schema is made and dropped) or a SQLite URL")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--cps", type=float, default=50.0, help="calls per second of the stand-in and the dialer")
    parser.add_argument("--agents", type=int, default=500, help="bot agents (each a leg in its room)")
    parser.add_argument("--talk-s", type=float, default=15.0, help="mean talk time (long: many calls in flight)")
    parser.add_argument("--run-s", type=float, default=90.0, help="seconds the dialer dials")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=16)
    parser.add_argument("--threads", type=int, default=16, help="connections of the throughput phase")
    parser.add_argument("--burst-s", type=float, default=15.0, help="seconds of the throughput phase (0: skip)")
    parser.add_argument("--out", type=Path, default=None, help="write the figures here as JSON")
    parser.add_argument("--profile-dialer", type=Path, default=None, metavar="FILE",
                        help="run the dialer under cProfile and write its stats here (pstats format; slows it)")
    args = parser.parse_args(argv)

    contacts = int(args.cps * args.run_s * 1.2) + 100
    place = lawful_place(contacts, args.run_s / 60 + 5)
    workdir = Path(tempfile.mkdtemp(prefix="bench-twilio-"))
    db_url, drop_schema = private_schema(args.database_url)
    processes = Processes(workdir)
    client = connect_redis(args.redis_url)
    cid = 0
    try:
        ensure_schema(db_url)
        cid = make_campaign(db_url, contacts, place, workdir)
        world = {"name": "bench", "p_human": 0.5, "p_machine": 0.2, "p_busy": 0.05, "p_invalid": 0.05,
                 "cps": args.cps, "setup_s": [0.5, 1.5], "ring_median_s": 4, "ring_p90_s": 9,
                 "amd_s": [2.5, 4.0], "patience_mean_s": 30, "talk_mean_s": args.talk_s, "talk_cv": 0.5,
                 "wrap_fixed_s": 1.0, "wrap_exp_mean_s": 1.0}
        world_path = workdir / "world.json"
        world_path.write_text(json.dumps(world))
        account, token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
        env = {**os.environ, "TWILIO_ACCOUNT_SID": account, "TWILIO_AUTH_TOKEN": token, "DIALER_LOG_LEVEL": "WARNING"}
        fake = processes.start("fake", cli("fake-twilio", "--port", "0", "--scenario", str(world_path),
                                           "--cps", str(args.cps), "--press-share", "0"), env, pipe=True)
        assert fake.stdout is not None
        found = re.search(r"http://127\.0\.0\.1:\d+", fake.stdout.readline().decode())
        if not found:
            raise SystemExit("the stand-in did not start")
        fake_url = found.group(0)
        web_url = f"http://127.0.0.1:{free_port()}"
        env.update(DATABASE_URL=db_url, REDIS_URL=args.redis_url, DIALER_CARRIER="twilio", PUBLIC_BASE_URL=web_url,
                   TWILIO_API_URL=fake_url, TWILIO_CPS=str(args.cps), SECRET_KEY=secrets.token_hex(16))
        import gunicorn

        private = ["--no-control-socket"] if gunicorn.version_info[0] >= 27 else []
        processes.start("web", [sys.executable, "-m", "gunicorn", "--bind", web_url.removeprefix("http://"),
                                "--workers", str(args.web_workers), "--threads", str(args.web_threads),
                                "--worker-class", "gthread", *private, "web:create_app()"], env)
        wait_for(lambda: urllib.request.urlopen(f"{web_url}/healthz", timeout=2).status == 200, 30, "the web app")

        settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        figures: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
                                   "settings": settings, "database": db_url.split(":", 1)[0]}
        if args.burst_s > 0:
            print(f"throughput: {args.threads} connections for {args.burst_s:g} s ...", file=sys.stderr)
            # A campaign of its own, never started: the events go to a stream nobody reads.
            figures["throughput"] = hammer(web_url, token, cid, args.threads, args.burst_s)
            client.delete(f"dialer:events:{cid}")

        print(f"campaign: {args.cps:g} calls/s, {args.agents} bot agents, {args.run_s:g} s ...", file=sys.stderr)
        run_args = ("run", "--campaign", str(cid), "--bot-agents", str(args.agents), "--for", str(args.run_s),
                    "--scenario", str(world_path))
        dialer = processes.start("dialer", profiled_cli(args.profile_dialer, *run_args) if args.profile_dialer
                                 else cli(*run_args), env)
        dialer.wait(args.run_s + 120)
        time.sleep(2.0)
        figures["campaign"] = campaign_figures(fake_url, args.redis_url, cid, db_url, args.run_s)
    finally:
        processes.close()
        if cid:
            keys = list(client.scan_iter(match=f"dialer:*{cid}*", count=1000))
            if keys:
                client.delete(*keys)
        client.close()
        drop_schema()

    print_table(figures)
    if args.out is not None:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def print_table(figures: dict[str, Any]) -> None:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    rows: list[tuple[str, str, str, str]] = []
    t = figures.get("throughput")
    if t:
        rows.append((f"web app, signed status callbacks ({t['threads']} connections)",
                     f"{t['requests_per_s']:.0f}/s", ms(t["p50_ms"]), ms(t["p99_ms"])))
    c = figures["campaign"]
    hooks = c["webhooks"]
    rows.append((f"webhooks during the campaign (busiest second {hooks['per_s_busiest_second']}/s)",
                 f"{hooks['per_s_mean']}/s", ms(hooks["response"]["p50_ms"]), ms(hooks["response"]["p99_ms"])))
    a = c["answer_to_connect"]
    rows.append((f"answer webhook received -> connect at the stand-in ({a['n']} calls)", "",
                 ms(a["p50_ms"]), ms(a["p99_ms"])))
    s = c["answer_sent_to_connect_on_the_stand_in_clock"]
    rows.append(("answer webhook sent -> connect (stand-in clock)", "", ms(s["p50_ms"]), ms(s["p99_ms"])))
    width = max(len(r[0]) for r in rows)
    print(f"{'':{width}}  {'rate':>8}  {'p50 ms':>8}  {'p99 ms':>8}")
    for name, rate, p50, p99 in rows:
        print(f"{name:{width}}  {rate:>8}  {p50:>8}  {p99:>8}")
    print(f"calls placed {c['calls_placed']} ({c['calls_per_s_placed']}/s steady; requested "
          f"{c.get('calls_per_s_requested')}/s), peak in flight "
          f"{c['calls_in_flight_peak']}, connected {c['connected']}, abandoned {c['abandoned']}, bridges before "
          f"the AMD verdict {c['bridges_before_the_amd_verdict']} / after {c['bridges_after_the_amd_verdict']}, "
          f"webhook failures {hooks['failed'] or 'none'}")


if __name__ == "__main__":
    sys.exit(main())
