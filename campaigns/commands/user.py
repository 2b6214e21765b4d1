"""``dialer user``: web accounts (agents, supervisors, compliance officers, administrators) and API tokens."""

from __future__ import annotations

import click
from sqlalchemy.orm import Session, sessionmaker

from campaigns.account_models import ROLES
from campaigns.accounts import AccountError
from campaigns.settings import get_settings


def _sessions() -> sessionmaker[Session]:
    from campaigns.db import ensure_schema, make_engine, make_session_factory

    settings = get_settings()
    ensure_schema(settings.database_url)
    return make_session_factory(make_engine(settings.database_url))


def _password(given: str | None) -> str:
    if given:
        return given
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@click.group("user")
def user_group() -> None:
    """Web accounts and REST API tokens.

    Roles: agent (the agent console), supervisor (floor, campaigns, jobs,
    reports), compliance (call log, do-not-call lists, audit, exports), admin
    (everything a supervisor and a compliance officer can, plus accounts).
    """


@user_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may see and do.")
@click.option("--name", "display_name", default="", help="Name shown in the app (default: the username).")
@click.option("--password", default=None, help="Asked for when omitted (preferred: it stays out of the shell history).")
@click.option("--agent-id", default=None, help="An agent's id in the dialer (default: the username).")
def add_command(username: str, role: str, display_name: str, password: str | None, agent_id: str | None) -> None:
    """Create USERNAME with a role.

    \b
    Examples:
      dialer user add maria --role supervisor --name "Maria Lopez"
      dialer user add agent7 --role agent --password 's3cret-pass'
    """
    from campaigns.accounts import create_user

    with _sessions()() as session, session.begin():
        try:
            user = create_user(session, username, _password(password), role, display_name=display_name,
                               agent_login=agent_id)
        except AccountError as error:
            raise click.ClickException(f"{error.field}: {error}") from error
        click.echo(f"user {user.username} ({user.role}) created")


@user_group.command("list")
def list_command() -> None:
    """Every account, its role and whether it may sign in."""
    from campaigns.accounts import list_users

    with _sessions()() as session:
        users = list_users(session)
        if not users:
            click.echo("no users yet: dialer user add NAME --role admin")
        for user in users:
            state = "active" if user.active else "disabled"
            agent = f" agent id {user.agent_login}" if user.agent_login else ""
            click.echo(f"{user.username:<24} {user.role:<11} {state}{agent}")


@user_group.command("passwd")
@click.argument("username")
@click.option("--password", default=None, help="Asked for when omitted.")
def passwd_command(username: str, password: str | None) -> None:
    """Set USERNAME's password."""
    from campaigns.accounts import get_user, set_password

    with _sessions()() as session, session.begin():
        user = get_user(session, username)
        if user is None:
            raise click.ClickException(f"no user {username!r}")
        try:
            set_password(session, user, _password(password))
        except AccountError as error:
            raise click.ClickException(str(error)) from error
        click.echo(f"password of {user.username} changed")


@user_group.command("disable")
@click.argument("username")
@click.option("--enable", is_flag=True, help="Let the user sign in again.")
def disable_command(username: str, enable: bool) -> None:
    """Stop USERNAME from signing in (their API tokens stop working too)."""
    from campaigns.accounts import get_user

    with _sessions()() as session, session.begin():
        user = get_user(session, username)
        if user is None:
            raise click.ClickException(f"no user {username!r}")
        user.active = enable
        click.echo(f"{user.username} {'enabled' if enable else 'disabled'}")


@user_group.command("token")
@click.argument("username")
@click.option("--name", default="", help="What the token is for, shown in the token list.")
def token_command(username: str, name: str) -> None:
    """Issue a REST API token acting as USERNAME (printed once: store it now).

    \b
    Example:
      dialer user token maria --name "CRM sync"
      curl -H "Authorization: Bearer dlr_..." http://localhost:8000/api/campaigns
    """
    from campaigns.accounts import get_user, issue_token

    with _sessions()() as session, session.begin():
        user = get_user(session, username)
        if user is None:
            raise click.ClickException(f"no user {username!r}")
        issued = issue_token(session, user, name)
        click.echo(issued.token)
        click.echo(f"token {issued.record.id} for {user.username}: shown once, keep it secret", err=True)


@user_group.command("revoke")
@click.argument("token_id", type=int)
def revoke_command(token_id: int) -> None:
    """Revoke API token TOKEN_ID (the number printed when it was issued)."""
    from campaigns.accounts import revoke_token

    with _sessions()() as session, session.begin():
        if not revoke_token(session, token_id):
            raise click.ClickException(f"no live token {token_id}")
        click.echo(f"token {token_id} revoked")
