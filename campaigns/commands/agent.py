"""``dialer agent``: what an agent needs before the web console has logins."""

from __future__ import annotations

import click

from campaigns.agent_tickets import TICKET_MAX_AGE_S, agent_ticket
from campaigns.settings import get_settings


@click.group("agent")
def agent_group() -> None:
    """Agents' credentials for the browser softphone."""


@agent_group.command("ticket")
@click.argument("agent")
def ticket_command(agent: str) -> None:
    """Print a ticket that lets AGENT's browser fetch a softphone token.

    The browser sends it as ``Authorization: Bearer <ticket>`` to
    ``POST /agent/softphone-token``. It is signed with SECRET_KEY (set the same
    key for the web processes) and lasts one shift (12 hours).

    \b
    Example:
      SECRET_KEY=... dialer agent ticket agent007
    """
    settings = get_settings()
    if settings.secret_key_generated:
        raise click.ClickException("set SECRET_KEY (the web app's) first: a ticket signed with a random key is useless")
    click.echo(agent_ticket(settings.secret_key, agent.strip()))
    click.echo(f"valid for {TICKET_MAX_AGE_S // 3600} hours", err=True)
