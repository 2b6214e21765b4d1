"""The ``dialer`` command: one entry point for running and managing the dialer.

Subcommands live in ``campaigns.commands``; this module only assembles them and
turns the errors a user can fix into one clear line instead of a traceback.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from campaigns.commands.agent import agent_group
from campaigns.commands.audit import audit_group
from campaigns.commands.campaign import campaign_group
from campaigns.commands.compliance import compliance_group
from campaigns.commands.compliance_reports import report_group
from campaigns.commands.db import db_group
from campaigns.commands.demo import demo_command
from campaigns.commands.dnc import dnc_group
from campaigns.commands.fake_twilio import fake_twilio_command
from campaigns.commands.importing import import_command
from campaigns.commands.jobs import jobs_group
from campaigns.commands.run import run_command
from campaigns.commands.scheduler import scheduler_command
from campaigns.commands.simulate import simulate_command
from campaigns.commands.survey import survey_group
from campaigns.commands.user import user_group
from campaigns.commands.week import simulate_week_command
from campaigns.db import SchemaError, ensure_schema
from campaigns.services import CampaignError
from campaigns.settings import SettingsError, get_settings

OWN_LOGGERS = ("campaigns", "compliance", "dialer", "web", "worker")


class DialerGroup(click.Group):
    """A group that reports configuration, validation and database errors as plain messages."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (SettingsError, CampaignError, SchemaError) as error:
            raise click.ClickException(str(error)) from error
        except SQLAlchemyError as error:
            raise click.ClickException(_database_problem(error)) from error


@click.group(cls=DialerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="open-dialer")
def main() -> None:
    """Open dialer: a predictive outbound dialer and campaign manager that keeps the law.

    It dials contact lists for a team of agents, paces calls so that live
    answers find a free agent, drops (and counts) the rest with the required
    message, and keeps calling hours, attempt limits and do-not-call lists.

    \b
    Settings come from environment variables (all optional):
      DATABASE_URL       database [sqlite:///dialer.db in the current directory]
      REDIS_URL          live state [memory:// = in-process stand-in]
      DIALER_CARRIER     simulated (default) or twilio
      TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_API_URL, PUBLIC_BASE_URL
                         for DIALER_CARRIER=twilio
      TWILIO_CPS         the account's calls per second [1]
      TWILIO_API_KEY, TWILIO_API_SECRET, TWILIO_TWIML_APP_SID
                         the agents' browser softphone
      TRUST_PROXY_HEADERS  trust X-Forwarded-* for webhook URLs [off]
      DIALER_LEASE_S     a dialer's hold on a campaign without renewal [10]
      SECRET_KEY         signs web sessions
      DIALER_LOG_LEVEL   DEBUG, INFO (default), WARNING, ERROR

    \b
    Examples:
      dialer demo                                  run a whole demo campaign
      dialer campaign create "Spring" --caller-id 2015550123
      dialer import contacts.csv --campaign Spring
      dialer simulate scenario.json --pacer ratio:1.5
      dialer COMMAND --help                        help on one command
    """
    try:
        level = get_settings().log_level_number
    except SettingsError:
        return  # reported by the first command that needs the settings
    configure_logging(level)


def configure_logging(level: int) -> None:
    """Our own packages log at ``level``; libraries only warn, so a command's output stays readable."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)


def _needs_schema(command: click.Command) -> click.Command:
    """Upgrade the database before ``command`` runs: after its options are parsed, so --help needs none."""
    callback = command.callback
    if callback is None:
        return command

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        ensure_schema(get_settings().database_url)
        return callback(*args, **kwargs)

    command.callback = run
    return command


def _database_problem(error: SQLAlchemyError) -> str:
    try:
        where = make_url(get_settings().database_url).render_as_string(hide_password=True)
    except (SettingsError, SQLAlchemyError):
        where = "DATABASE_URL"
    detail = str(error.orig if isinstance(error, DBAPIError) else error).strip().splitlines()
    return f"database problem at {where}: {detail[0] if detail else type(error).__name__}"


main.add_command(campaign_group)
main.add_command(db_group)
main.add_command(compliance_group)
main.add_command(_needs_schema(import_command), name="import")
main.add_command(simulate_command, name="simulate")
main.add_command(_needs_schema(demo_command), name="demo")
main.add_command(dnc_group)
main.add_command(audit_group)
main.add_command(report_group)
main.add_command(fake_twilio_command, name="fake-twilio")
main.add_command(run_command)
main.add_command(scheduler_command)
main.add_command(jobs_group)
main.add_command(agent_group)
main.add_command(user_group)
main.add_command(survey_group)
main.add_command(simulate_week_command, name="simulate-week")
