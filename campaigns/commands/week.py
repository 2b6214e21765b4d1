"""``dialer simulate-week``: a simulated week of a sales and a survey campaign, and every report of it as CSV."""

from __future__ import annotations

import io
from pathlib import Path

import click
from sqlalchemy import Engine, event

from campaigns import survey_reports
from campaigns.csv_safety import safe_csv_writer
from campaigns.db import make_engine, make_session_factory
from campaigns.reports import ReportFilter, ReportTable, run_all
from campaigns.simulate import _fast_sqlite
from campaigns.surveys import export_codebook, export_responses
from campaigns.week import WEEK_ZONE, WeekError, WeekPlan, WeekResult, run_week, week_range

ANSWERS_FILE = "survey_answers.csv"
CODEBOOK_FILE = "survey_codebook.csv"
DATABASE_FILE = "week.db"


@click.command("simulate-week")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the CSV files (made if missing).")
@click.option("--db", "database_url", default=None,
              help=f"Database URL to keep the week in (default: {DATABASE_FILE} in --out); it must not hold "
                   "this seed's week already.")
@click.option("--days", type=int, default=7, show_default=True, help="Days from Monday 2 March 2026.")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same week.")
@click.option("--agents", type=int, default=4, show_default=True, help="Agents in the team (both campaigns).")
@click.option("--hours", "shift_hours", type=float, default=2.0, show_default=True,
              help="Length of each campaign's daily shift.")
@click.option("--contacts", type=int, default=1500, show_default=True, help="Contacts in each campaign's list.")
def simulate_week_command(out_dir: Path, database_url: str | None, days: int, seed: int, agents: int,
                          shift_hours: float, contacts: int) -> None:
    """Work a simulated week of a sales and a survey campaign, then write every report table as CSV.

    One team works the sales campaign each morning (sale, not interested,
    callback...) and the survey campaign each afternoon, where every person
    reached is interviewed with the questionnaire (some break off and are
    resumed the next day, some are screened out by a full quota). Real engine,
    hopper, dial gate and recorder against the simulated carrier, in virtual
    time.

    \b
    Written to --out:
      <table>.csv            each report table for the whole week (New York time),
                             e.g. by_day.csv, agent_time.csv, survey_quotas.csv
      survey_answers.csv     one row per respondent, one column per question
      survey_codebook.csv    what each column of survey_answers.csv holds

    \b
    Example:
      dialer simulate-week --days 7 --seed 1 --out week1
    """
    try:
        plan = WeekPlan(days=days, seed=seed, agents=agents, shift_hours=shift_hours, sales_contacts=contacts,
                        survey_contacts=contacts)
    except WeekError as error:
        option = "hours" if error.field == "shift_hours" else "contacts" if "contacts" in error.field else error.field
        raise click.BadParameter(error.message, param_hint=f"--{option}") from error
    if out_dir.exists() and not out_dir.is_dir():
        raise click.BadParameter("is a file, not a directory", param_hint="--out")
    out_dir.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{out_dir / DATABASE_FILE}"
    db = make_engine(url)
    if database_url is None:
        event.listen(db, "connect", _fast_sqlite)  # our own file of a simulation: speed over durability
    try:
        shown: dict[str, int] = {}

        def progress(label: str, done: float) -> None:
            day = int(done * plan.days + 1e-9)
            if day > shown.get(label, 0):
                shown[label] = day
                click.echo(f"{label}: day {day} of {plan.days} worked")

        result = run_week(db, plan, progress=progress)
        written = write_week(db, result, out_dir)
    finally:
        db.dispose()
    outcomes = ", ".join(f"{what} {n}" for what, n in sorted(result.interviews.items()))
    click.echo(f"survey calls: {outcomes}")
    click.echo(f"wrote {len(written)} files to {out_dir} (database: {url})")


def write_week(db: Engine, result: WeekResult, out_dir: Path) -> list[Path]:
    """Every report table of the week's range as ``<key>.csv``, then the survey export and its codebook."""
    survey_reports.install()
    start, end = week_range(result.plan)
    written = []
    with db.connect() as conn:
        report = run_all(conn, ReportFilter(start, end, zone=WEEK_ZONE), now=end)
    for key, table in report.tables.items():
        written.append(_write_table(out_dir / f"{key}.csv", table))
    with make_session_factory(db)() as session:
        answers, codebook = io.StringIO(newline=""), io.StringIO(newline="")
        export_responses(session, result.survey_campaign_id, answers)
        export_codebook(session, result.survey_campaign_id, codebook)
    for name, buffer in ((ANSWERS_FILE, answers), (CODEBOOK_FILE, codebook)):
        path = out_dir / name
        path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
        written.append(path)
    return written


def _write_table(path: Path, table: ReportTable) -> Path:
    with path.open("w", encoding="utf-8", newline="") as sink:
        safe_csv_writer(sink).writerows(table.csv_rows())
    return path
