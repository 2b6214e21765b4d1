"""``dialer survey``: questionnaires from JSON files, their versions, the campaigns that ask them, and exports.

The work is in ``campaigns.surveys`` and ``campaigns.questionnaire``; these
commands read files, find rows by name and print what was done.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from campaigns import services, surveys
from campaigns.db import session_scope
from campaigns.questionnaire import ivr_problems
from campaigns.settings import get_settings


@contextmanager
def _session() -> Iterator[Session]:
    try:
        with session_scope(get_settings().database_url) as session:
            yield session
    except surveys.SurveyError as error:
        raise click.ClickException(str(error)) from error


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def _read_definition(path: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise click.ClickException(f"cannot read {path}: {error}") from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise click.ClickException(f"{path} is not JSON: {where}: {error.msg}") from error


def _checked(path: str) -> Any:
    definition = _read_definition(path)
    try:
        return definition, surveys.load_definition(definition)
    except surveys.SurveyError as error:
        raise click.ClickException(f"{path}: {error.message}") from error


_file_argument = click.argument("file", type=click.Path(exists=True, dir_okay=False))
_campaign_option = click.option(
    "--campaign", "campaign_ref", required=True, metavar="ID_OR_NAME", help="The campaign (id or name)."
)


@click.group("survey")
def survey_group() -> None:
    """Questionnaires: scripts that agents read and surveys played on the phone.

    A questionnaire is a JSON file of questions, branching rules and quota
    cells (see docs/surveys.md).  Each import of a changed file becomes a new
    version; interviews start on the newest published version and keep the
    version they started on.

    \b
    Examples:
      dialer survey check poll.json
      dialer survey import poll.json --name "Town poll" --publish
      dialer survey assign "Town poll" --campaign Spring --mode ivr
      dialer survey export --campaign Spring --out answers.csv --codebook codebook.csv
    """


@survey_group.command("check")
@_file_argument
def check_command(file: str) -> None:
    """Check a questionnaire file without storing it, and say whether a phone keypad can answer it.

    \b
    Example:
      dialer survey check poll.json
    """
    _, questionnaire = _checked(file)
    click.echo(f"{file}: {len(questionnaire.questions)} questions, {len(questionnaire.quotas)} quota cells, valid")
    for question in questionnaire.questions:
        rules = f", {len(question.rules)} rules" if question.rules else ""
        click.echo(f"  {question.id:<12} {question.type:<9}{'' if question.required else ' (optional)'}{rules}")
    problems = ivr_problems(questionnaire)
    if problems:
        click.echo("Not for a phone survey (agents only):")
        for where, message in problems:
            click.echo(f"  {where}: {message}")
    else:
        click.echo("A phone survey can ask it too.")


@survey_group.command("import")
@_file_argument
@click.option("--name", required=True, help="The questionnaire's name; an existing one gets a new version.")
@click.option("--description", default="", help="What the questionnaire is for.")
@click.option("--publish", "publish_now", is_flag=True, help="Publish the new version: new interviews start on it.")
@click.option("--by", "actor", default=_who, show_default="your login name", help="Who wrote this version.")
def import_command(file: str, name: str, description: str, publish_now: bool, actor: str) -> None:
    """Store a questionnaire file as a new version (the same file twice is stored once).

    \b
    Example:
      dialer survey import poll.json --name "Town poll" --publish
    """
    definition, _ = _checked(file)
    with _session() as session:
        version, new = surveys.add_version(session, name, definition, description=description, created_by=actor)
        if publish_now:
            surveys.publish(session, surveys.get_questionnaire(session, name), version.version)
        state = "published" if version.published_at else "not published"
        click.echo(f"{name}: version {version.version} {'stored' if new else 'unchanged'}, {state}")


@survey_group.command("publish")
@click.argument("questionnaire")
@click.option("--version", "number", type=int, help="The version to publish. [the newest]")
def publish_command(questionnaire: str, number: int | None) -> None:
    """Make a version the one new interviews start on (an older one too, to roll back).

    \b
    Example:
      dialer survey publish "Town poll" --version 2
    """
    with _session() as session:
        version = surveys.publish(session, surveys.get_questionnaire(session, questionnaire), number)
        click.echo(f"{questionnaire}: version {version.version} published")


@survey_group.command("list")
def list_command() -> None:
    """Every questionnaire with its versions; the one new interviews start on is marked.

    \b
    Example:
      dialer survey list
    """
    from sqlalchemy import select

    from campaigns.survey_models import Questionnaire

    with _session() as session:
        rows = session.scalars(select(Questionnaire).order_by(Questionnaire.name)).all()
        if not rows:
            click.echo("No questionnaires yet: dialer survey import FILE --name NAME")
        for row in rows:
            current = surveys.published_version(session, row.id)
            shown = []
            for version in surveys.versions(session, row):
                mark = "*" if current is not None and version.id == current.id else ""
                shown.append(f"{version.version}{mark}")
            click.echo(f"{row.id:>4}  {row.name}  versions {', '.join(shown)}")


@survey_group.command("assign")
@click.argument("questionnaire")
@_campaign_option
@click.option("--mode", type=click.Choice(["agent", "ivr"]), default="agent", show_default=True,
              help="agent: agents read it in the console; ivr: the carrier plays it and gathers key presses.")
def assign_command(questionnaire: str, campaign_ref: str, mode: str) -> None:
    """Have a campaign ask a questionnaire.

    \b
    Example:
      dialer survey assign "Town poll" --campaign Spring --mode ivr
    """
    with _session() as session:
        campaign = services.get_campaign(session, campaign_ref)
        surveys.assign(session, campaign, surveys.get_questionnaire(session, questionnaire), mode)
        click.echo(f"{campaign.name} asks {questionnaire} ({mode})")


@survey_group.command("quotas")
@_campaign_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of text.")
def quotas_command(campaign_ref: str, as_json: bool) -> None:
    """Each quota cell's target and completed interviews; contacts of a full cell are not dialed.

    \b
    Example:
      dialer survey quotas --campaign Spring
    """
    with _session() as session:
        campaign = services.get_campaign(session, campaign_ref)
        report = surveys.quota_report(session, campaign.id)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    if not report:
        click.echo("The questionnaire has no quota cells.")
    for cell in report:
        state = "FULL" if cell["full"] else "open"
        click.echo(f"{cell['id']:<16} {cell['completes']:>6} / {cell['target']:<6} {state}  {cell['label']}")


@survey_group.command("export")
@_campaign_option
@click.option("--out", "out_path", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              metavar="FILE.csv", help="The answers, one row per respondent ('-': standard output).")
@click.option("--codebook", "codebook_path", type=click.Path(dir_okay=False), metavar="FILE.csv",
              help="Also write the codebook: each column's question, type, codes and versions.")
def export_command(campaign_ref: str, out_path: str, codebook_path: str | None) -> None:
    """Export a campaign's interviews as CSV with a codebook, ready for a spreadsheet or a statistics package.

    \b
    Example:
      dialer survey export --campaign Spring --out answers.csv --codebook codebook.csv
    """
    with _session() as session:
        campaign = services.get_campaign(session, campaign_ref)
        if out_path == "-":
            rows = surveys.export_responses(session, campaign.id, sys.stdout)
        else:
            with open(out_path, "w", newline="", encoding="utf-8") as sink:
                rows = surveys.export_responses(session, campaign.id, sink)
        columns = None
        if codebook_path:
            with open(codebook_path, "w", newline="", encoding="utf-8") as sink:
                columns = surveys.export_codebook(session, campaign.id, sink)
    if out_path != "-":
        click.echo(f"{rows} respondents written to {out_path}", err=True)
    if columns is not None:
        click.echo(f"{columns} columns described in {codebook_path}", err=True)
