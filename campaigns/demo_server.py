"""``dialer demo``: the web app, the live dialer and a dialing campaign in one process.

A newcomer runs one command and gets the product as it runs in production,
only smaller: the web app on a local port, the live dialer pacing a demo
campaign on the wall clock, the simulated carrier and a few simulated agents
taking calls.  A person who signs in as the demo agent takes calls from the
same simulated carrier alongside them; supervisors and compliance officers
see those calls on their screens as they happen.

Nothing is faked for the demo's sake: the campaign is created, imported and
started through the campaign service and the importer, the dialer is the one
``dialer run`` starts, and the dial gate judges every call.  The list is
written only with numbers of places where calling is lawful now (the gate is
asked), so the demo dials at any hour without bending the calling-hours rule.

The web app and the dialer share one in-process Redis stand-in
(``memory://`` unless REDIS_URL names a server) and the database of
DATABASE_URL; on the stand-in, a thread of the demo works the background
jobs (list imports, scrubs, exports), since no worker process can reach it.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from campaigns import accounts
from campaigns.db import make_session_factory
from campaigns.demo import WIDE_PLACES, DemoPlace, lawful_places, write_demo_list
from campaigns.importer import ImportReport, import_contacts
from campaigns.live_dialer import DialerOptions, DialerProcess
from campaigns.models import CampaignStatus
from campaigns.services import create_campaign, get_campaign, pause_campaign, start_campaign
from campaigns.settings import Settings
from campaigns.store import recover_interrupted_attempts
from compliance.gate import CallingWindow, CampaignPolicy
from dialer.outcomes import RetryPolicy
from dialer.simulation.scenario import Scenario, parse_scenario

log = logging.getLogger(__name__)

DEMO_PASSWORD = "dialer-demo"
"""The demo accounts' password: printed at start and written in the README, because the demo is for trying out."""


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    display_name: str
    what: str  # what this account is for, in the words printed to the newcomer


DEMO_ACCOUNTS = (
    DemoAccount("agent", "agent", "Alex Agent", "take calls on the agent console, next to the simulated agents"),
    DemoAccount("supervisor", "supervisor", "Sam Supervisor", "watch the floor live, run the campaigns"),
    DemoAccount("compliance", "compliance", "Cora Compliance", "call log, exports, do-not-call lists, audit"),
    DemoAccount("admin", "admin", "Ada Admin", "everything, and the user accounts"),
)

# The simulated world of the demo: calls short enough that a newcomer sees a few in a minute or two.
DEMO_WORLD: dict[str, Any] = {
    "name": "demo floor", "p_human": 0.35, "p_machine": 0.2, "ring_median_s": 6.0, "ring_p90_s": 12.0,
    "patience_mean_s": 8.0, "talk_mean_s": 40.0, "talk_cv": 0.5, "wrap_fixed_s": 4.0, "wrap_exp_mean_s": 6.0,
}

DEMO_SCRIPT = (
    "Hello {first_name}, this is {agent_name} calling from Example Energy about the spring offer on home "
    "insulation. Do you have a minute?\n\n"
    "If yes: explain the offer, then ask whether they would like a visit.\n"
    "If not now: offer a callback at a better time.\n"
    "If they ask not to be called again: say you will add them to the do-not-call list, and choose DNC."
)

# How often the demo's own worker looks for queued jobs (imports, scrubs, exports) on the in-process Redis.
JOBS_POLL_S = 1.0

# Places must stay inside their calling hours this long to be on the list; when none does, a shorter while.
LAWFUL_FOR_MINUTES = (90.0, 20.0, 5.0)


class DemoError(RuntimeError):
    """The demo cannot start; the message says why and what to do."""


@dataclass(frozen=True)
class DemoServerOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    bot_agents: int = 6
    contacts: int = 1500
    seed: int = 1
    pacer: str = "predictive"
    scenario: Scenario | None = None  # default: DEMO_WORLD
    workdir: Path = Path("demo-output")


@dataclass
class DemoAccountReport:
    account: DemoAccount
    created: bool
    password_works: bool


@dataclass
class DemoCampaign:
    campaign_id: int
    name: str
    places: list[DemoPlace]
    report: ImportReport
    accounts: list[DemoAccountReport] = field(default_factory=list)


def demo_scenario(scenario: Scenario | None = None) -> Scenario:
    return scenario if scenario is not None else parse_scenario(DEMO_WORLD)


def ensure_demo_accounts(session: Session, password: str = DEMO_PASSWORD) -> list[DemoAccountReport]:
    """The four demo accounts, created when missing.

    An account that exists already keeps its password: the demo may run on a
    database someone uses, and must not open their accounts to a published
    password.  The report says which accounts the printed password opens.
    """
    reports = []
    for account in DEMO_ACCOUNTS:
        user = accounts.get_user(session, account.username)
        if user is None:
            accounts.create_user(session, account.username, password, account.role,
                                 display_name=account.display_name)
            reports.append(DemoAccountReport(account, created=True, password_works=True))
            continue
        works = user.active and user.role == account.role and \
            accounts.authenticate(session, account.username, password) is not None
        reports.append(DemoAccountReport(account, created=False, password_works=works))
    return reports


def choose_places(policy: CampaignPolicy, at: datetime, places: Sequence[DemoPlace] = WIDE_PLACES) -> list[DemoPlace]:
    """The places lawful to call from ``at`` for as long as possible (see ``LAWFUL_FOR_MINUTES``)."""
    for minutes in LAWFUL_FOR_MINUTES:
        chosen = lawful_places(places, policy, at, minutes=minutes)
        if chosen:
            return chosen
    raise DemoError(
        f"no demo place is inside its calling hours at {at:%H:%M} UTC (checked {len(places)} places from "
        "Guam to London): the demo cannot dial lawfully now"
    )


def prepare_demo_campaign(
    db: Engine, workdir: Path, *, contacts: int, seed: int, pacer: str, now: datetime | None = None,
) -> DemoCampaign:
    """Create, fill and start the demo campaign; the list holds only places where calling is lawful now.

    The campaign is created in the same transaction that chooses its places and
    writes its list, so a demo that cannot dial now leaves no campaign behind.
    """
    sessions = make_session_factory(db)
    now = now or datetime.now(UTC)
    workdir.mkdir(parents=True, exist_ok=True)
    with sessions() as session, session.begin():
        account_reports = ensure_demo_accounts(session)
        name = f"Demo floor {now:%Y-%m-%d %H:%M:%S}"
        campaign = create_campaign(
            session, name=name, caller_id="+12125550100", pacer=pacer,
            description="Created by `dialer demo`: a generated list, simulated agents and the simulated carrier.",
        )
        campaign.script = DEMO_SCRIPT
        campaign_id = campaign.id
        policy = CampaignPolicy(campaign_id, CallingWindow.parse(campaign.calling_window), campaign.purpose,
                                prerecorded=campaign.prerecorded, requires_consent=campaign.requires_consent)
        places = choose_places(policy, now)
        list_path = workdir / f"demo-floor-{campaign_id}.csv"
        try:
            write_demo_list(list_path, contacts, seed, places)
        except ValueError as error:
            raise DemoError(str(error)) from error
    report = import_contacts(sessions, campaign_id, list_path, list_name="demo list",
                             rejects=workdir / f"demo-floor-{campaign_id}-rejects.csv")
    with sessions() as session, session.begin():
        start_campaign(session, get_campaign(session, campaign_id))
    return DemoCampaign(campaign_id, name, places, report, account_reports)


def pause_demo_campaign(db: Engine, campaign_id: int) -> None:
    """The demo's campaign stops with the demo, so no later ``dialer run`` dials it by surprise."""
    with make_session_factory(db)() as session, session.begin():
        campaign = get_campaign(session, campaign_id)
        if campaign.status == CampaignStatus.ACTIVE.value:
            pause_campaign(session, campaign)


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: any free port), as werkzeug's server would open it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def close_open_calls(db: Engine, campaign_id: int) -> int:
    """Close the calls the stopped dialer left open, as its successor would: simulated calls die with it."""
    with make_session_factory(db)() as session:
        campaign = get_campaign(session, campaign_id)
        retry = RetryPolicy(campaign.max_attempts, tuple(campaign.retry_delays_min))
    return recover_interrupted_attempts(db, campaign_id, now=time.time() + 1.0, retry=retry, older_than_s=0.0)


class DemoServer:
    """The three parts of the demo in one process: the dialer on a thread, the web app on threads, and the stop."""

    def __init__(self, settings: Settings, options: DemoServerOptions,
                 *, app_factory: Callable[[Settings], Any] | None = None) -> None:
        from werkzeug.serving import make_server

        from campaigns.db import make_engine
        from campaigns.redis_conn import connect_redis

        self.options = options
        self.settings = settings
        self.db = make_engine(settings.database_url)
        self.redis = connect_redis(settings.redis_url)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.campaign: DemoCampaign | None = None
        self.dialer: DialerProcess | None = None
        try:
            # Bound before the campaign exists, so a busy port is reported before anything is created,
            # and by us: werkzeug would print its own message and exit.
            listener = listen(options.host, options.port)
        except OSError as error:
            self.db.dispose()
            raise DemoError(f"cannot listen on {options.host}:{options.port} ({error.strerror or error}): "
                            "choose another port with --port") from error
        with listener:
            self.port = int(listener.getsockname()[1])
            app = (app_factory or web_app)(settings)
            self.http = make_server(options.host, self.port, app, threaded=True, fd=listener.fileno())
        self.scenario = demo_scenario(options.scenario)

    @property
    def url(self) -> str:
        host = self.options.host
        shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        if ":" in shown:
            shown = f"[{shown}]"
        return f"http://{shown}:{self.port}"

    def prepare(self) -> DemoCampaign:
        """Create and start the campaign, and point the dialer at it alone (other campaigns are left alone)."""
        campaign = prepare_demo_campaign(self.db, self.options.workdir, contacts=self.options.contacts,
                                         seed=self.options.seed, pacer=self.options.pacer)
        self.campaign = campaign
        self.dialer = DialerProcess(self.db, self.redis, DialerOptions(
            campaign_ids=(campaign.campaign_id,), bot_agents=self.options.bot_agents, scenario=self.scenario,
            seed=self.options.seed,
        ))
        return campaign

    def start(self) -> None:
        """The dialer, the web server and (on the in-process Redis) the job worker, each on a thread of its own."""
        self._spawn("demo-dialer", self._run_dialer)
        if self.settings.redis_in_process:
            self._spawn("demo-jobs", self._work_jobs)
        self._spawn("demo-web", self.http.serve_forever)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _run_dialer(self) -> None:
        assert self.dialer is not None, "prepare() first"
        try:
            self.dialer.run()
        except Exception:
            log.exception("the demo's dialer stopped with an error")
            self._stop.set()

    def _work_jobs(self) -> None:
        """Imports, scrubs and exports the web app queues, worked here: no worker process can see memory://.

        A worker in burst mode every ``JOBS_POLL_S``, and the retries whose time
        has come put back on their queue first (RQ's scheduler does that in a
        process of its own, which the in-process Redis cannot reach).
        """
        from rq import Queue, SimpleWorker
        from rq.scheduler import RQScheduler
        from rq.timeouts import TimerDeathPenalty

        from campaigns.jobs import QUEUES

        class ThreadWorker(SimpleWorker):
            death_penalty_class = TimerDeathPenalty  # signals belong to the main thread: time jobs out by timer

            def _install_signal_handlers(self) -> None:
                pass

        queues = [Queue(name, connection=self.redis) for name in QUEUES]
        retries = RQScheduler(list(QUEUES), connection=self.redis)
        retries.prepare_registries(list(QUEUES))
        while not self._stop.is_set():
            try:
                retries.enqueue_scheduled_jobs()
                ThreadWorker(queues, connection=self.redis).work(burst=True, logging_level="WARNING")
            except Exception:
                log.exception("the demo's job worker failed; it tries again")
            self._stop.wait(JOBS_POLL_S)

    def wait(self, for_s: float | None = None) -> None:
        """Until ``stop`` is called (Ctrl-C, SIGTERM), the dialer fails, or ``for_s`` seconds have passed."""
        self._stop.wait(for_s)

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def close(self) -> None:
        """Stop serving, let the dialer give its campaign up cleanly, pause the campaign, close the database."""
        self._stop.set()
        if self._threads:  # shutdown() waits for serve_forever(), which runs only once started
            self.http.shutdown()
        self.http.server_close()
        if self.dialer is not None:
            self.dialer.request_stop()
        for thread in self._threads:
            thread.join(timeout=15.0)
        if self.campaign is not None:
            try:
                pause_demo_campaign(self.db, self.campaign.campaign_id)
                close_open_calls(self.db, self.campaign.campaign_id)
            except Exception:
                log.exception("could not pause the demo campaign %s", self.campaign.campaign_id)
        self.db.dispose()


def web_app(settings: Settings) -> Any:
    """The web app on the demo's own settings (the ones its dialer uses), whatever the environment says."""
    from web import create_app

    return create_app({
        "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url, "SECRET_KEY": settings.secret_key,
        "DIALER_SETTINGS": settings,
    })


def welcome(server: DemoServer, campaign: DemoCampaign, *, for_s: float | None = None) -> str:
    """What the newcomer reads: where to go, how to sign in, what they will see there."""
    url = server.url
    names = [place.where for place in campaign.places]
    where = ", ".join(names) if len(names) <= 6 else f"{', '.join(names[:5])} and {len(names) - 5} more places"
    bots = server.options.bot_agents
    lines = [
        "",
        f"  The dialer demo is running at {url}/",
        "",
        f"  Campaign {campaign.name!r} (id {campaign.campaign_id}) is dialing "
        f"{campaign.report.imported:,} made-up contacts",
        f"  in {where}, where calling is lawful right now.",
        f"  The carrier is simulated; {bots} simulated agent{'s' if bots != 1 else ''} take{'' if bots != 1 else 's'} "
        "calls next to you.",
        "",
        f"  Open {url}/login and sign in with one of these accounts:",
        "",
    ]
    width = max(len(report.account.username) for report in campaign.accounts)
    for report in campaign.accounts:
        account = report.account
        password = DEMO_PASSWORD if report.password_works else "(existing account: its own password)"
        lines.append(f"    {account.username:<{width}}  {password:<14}  {account.what}")
    lines += [
        "",
        "  As the agent, go ready on the campaign: a call arrives within a minute or so, the customer",
        f"  hangs up after about {server.scenario.talk_mean_s:.0f} s, and you pick a disposition. "
        "Sign in as the supervisor",
        "  in another browser (or a private window) to watch it happen on the floor.",
        "",
        f"  Stops by itself after {for_s:g} s." if for_s is not None else "  Stop with Ctrl-C.",
        "",
    ]
    return "\n".join(lines)


__all__ = [
    "DEMO_ACCOUNTS",
    "DEMO_PASSWORD",
    "DEMO_WORLD",
    "DemoAccount",
    "DemoCampaign",
    "DemoError",
    "DemoServer",
    "DemoServerOptions",
    "choose_places",
    "demo_scenario",
    "ensure_demo_accounts",
    "pause_demo_campaign",
    "prepare_demo_campaign",
    "web_app",
    "welcome",
]
