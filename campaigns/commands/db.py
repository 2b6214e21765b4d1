"""``dialer db``: look after the database schema."""

from __future__ import annotations

import click
from sqlalchemy.engine import make_url

from campaigns import db
from campaigns.settings import get_settings


@click.group("db")
def db_group() -> None:
    """Manage the database schema (Alembic migrations shipped with the dialer).

    Other commands upgrade the schema by themselves when they need it; run
    this in a deploy's release step, or to see where a database stands.

    \b
    Example:
      DATABASE_URL=postgresql://dialer@db.internal/dialer dialer db upgrade
    """


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Migration to upgrade to.")
def upgrade_command(revision: str) -> None:
    """Bring the database named by DATABASE_URL up to the newest migration.

    Safe to run again: a database already there is left alone.

    \b
    Examples:
      dialer db upgrade
      DATABASE_URL=sqlite:///other.db dialer db upgrade --revision 0001
    """
    url = get_settings().database_url
    db.upgrade(url, revision)
    current = db.current_revision(url)
    shown = make_url(url).render_as_string(hide_password=True)
    click.echo(f"Database {shown} is at revision {current} (newest: {db.head_revision()}).")
