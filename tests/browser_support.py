"""Browser tests' fixtures: Debian's chromium driven by Playwright, and ``dialer demo`` as a real process.

The browser is the distribution's chromium at /usr/bin/chromium, never one
Playwright downloads.  When it is missing and the tests run as root it is
installed with apt-get; otherwise the tests are skipped with the reason, or
fail under CI=true, where every test is meant to run.

The app under test is ``dialer demo`` exactly as a newcomer starts it, on a
throwaway SQLite file and its own in-process Redis, with a scenario whose
calls are short and nearly all answered, so a call reaches the person at the
console within seconds.

``DIALER_SCREENSHOTS=docs/screenshots`` makes the flows save PNGs of the main
screens at 1400x900 (the README's pictures are made this way).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from campaigns.demo_server import DEMO_PASSWORD
from tests.conftest import unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 900}
SCREENSHOTS_ENV = "DIALER_SCREENSHOTS"

# Short calls nearly all answered by people who wait: the console gets a call within seconds.
BROWSER_WORLD = {
    "name": "browser tests", "p_human": 0.9, "p_machine": 0.05, "p_busy": 0.0, "p_invalid": 0.05,
    "ring_median_s": 1.5, "ring_p90_s": 3.0, "patience_mean_s": 60.0, "talk_mean_s": 10.0, "talk_cv": 0.1,
    "wrap_fixed_s": 1.0, "wrap_exp_mean_s": 1.0, "amd_s": [1.0, 1.5], "amd_human_as_machine": 0.0,
    "amd_machine_as_human": 0.0,
}


def ensure_chromium() -> Path:
    """Debian's chromium: installed here when missing and we may (root), else skipped (failed under CI)."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        unavailable(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium` (as root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:  # a fresh machine's package lists may be empty or stale
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=900, check=False)
        done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0 or not CHROMIUM.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        unavailable(f"could not install chromium with apt-get: {' / '.join(tail)}")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless chromium for the session; each test opens its own contexts (one per person)."""
    path = ensure_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is missing: pip install -e '.[test]'")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(path), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class DemoApp:
    """A running ``dialer demo``: its URL, its database and what it printed."""

    url: str
    database_url: str
    log: Path
    process: subprocess.Popen[bytes]
    campaign_id: int
    campaign_name: str
    contacts: int  # imported into the demo's list

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
            return bool(json.loads(answer.read()).get("ok"))
    except (urllib.error.URLError, OSError, ValueError):
        return False


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoApp]:
    """``dialer demo --agents 2`` on a free port, until the module's tests are done."""
    workdir = tmp_path_factory.mktemp("demo-app")
    scenario = workdir / "world.json"
    scenario.write_text(json.dumps(BROWSER_WORLD))
    database_url = f"sqlite:///{workdir / 'demo.db'}"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TWILIO_", "DIALER_"))}
    env.update(DATABASE_URL=database_url, REDIS_URL="memory://browser-tests", PYTHONUNBUFFERED="1")
    env.pop("PUBLIC_BASE_URL", None)
    log = workdir / "demo.log"
    command = [sys.executable, "-c", "from campaigns.cli import main; main()", "demo", "--port", "0",
               "--agents", "2", "--contacts", "400", "--scenario", str(scenario), "--workdir", str(workdir / "out")]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        app = _wait_for_demo(process, log, database_url)
        yield app
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # Ctrl-C: the demo stops cleanly
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert process.returncode == 0, f"dialer demo did not stop cleanly:\n{log.read_text(errors='replace')[-3000:]}"


def _wait_for_demo(process: subprocess.Popen[bytes], log: Path, database_url: str) -> DemoApp:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if process.poll() is not None:
            raise AssertionError(f"dialer demo exited with {process.returncode}:\n{text[-3000:]}")
        url = re.search(r"running at (http://[\d.]+:\d+)/", text)
        campaign = re.search(r"Campaign '([^']+)' \(id (\d+)\) is dialing ([\d,]+) made-up contacts", text)
        if url and campaign and _healthy(url.group(1)):
            return DemoApp(url.group(1), database_url, log, process, int(campaign.group(2)), campaign.group(1),
                           int(campaign.group(3).replace(",", "")))
        time.sleep(0.3)
    raise AssertionError(f"dialer demo did not come up within 120 s:\n{log.read_text(errors='replace')[-3000:]}")


# ---------------------------------------------------------------------------------- people at browsers


def person(browser: Browser, *, downloads: bool = False) -> BrowserContext:
    """A browser context of its own (cookies and all), as a different person at a different desk."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=downloads)  # type: ignore[arg-type]
    context.set_default_timeout(20_000)
    return context


def sign_in(context: BrowserContext, app: DemoApp, username: str, password: str = DEMO_PASSWORD) -> Page:
    """Through the sign-in page, as a person would; returns the page they land on."""
    page = context.new_page()
    page.goto(f"{app.url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return page


def screenshot(page: Page, name: str) -> Path | None:
    """Save ``name``.png under $DIALER_SCREENSHOTS when set (at the viewport's 1400x900)."""
    folder = os.environ.get(SCREENSHOTS_ENV)
    if not folder:
        return None
    target = Path(folder)
    if not target.is_absolute():
        target = REPO / target
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def expect(target: Any) -> Any:
    """Playwright's retrying assertions, imported when a test runs (the ``browser`` fixture says if it can't)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)
