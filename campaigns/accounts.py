"""Accounts: creating users, checking passwords, issuing and reading API tokens.

Passwords are hashed with werkzeug's salted scrypt; API tokens are random and
only their SHA-256 is stored, so a copy of the database signs nobody in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from campaigns.account_models import ROLES, ApiToken, User
from campaigns.models import utcnow

MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = "dlr_"
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
# Checked when a username is unknown, so that a wrong name costs the same time as a wrong password.
_DUMMY_HASH = generate_password_hash("not a real password, only for timing")


class AccountError(ValueError):
    """A request about accounts cannot be done; ``field`` names the input at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}", "role")
    return role


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters", "password")
    return password


def create_user(
    session: Session, username: str, password: str, role: str, *, display_name: str = "",
    agent_login: str | None = None,
) -> User:
    """A new active user; an agent's engine id defaults to their username."""
    username = username.strip()
    if not _USERNAME.fullmatch(username):
        raise AccountError("a username is 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit",
                           "username")
    if get_user(session, username) is not None:
        raise AccountError(f"user {username!r} already exists", "username")
    _check_role(role)
    user = User(
        username=username, display_name=display_name.strip() or username,
        password_hash=generate_password_hash(_check_password(password)), role=role,
        agent_login=(agent_login or username) if role == "agent" else agent_login, active=True,
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username.strip()))


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this name and password, or None (in the same time either way)."""
    user = get_user(session, username)
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    user.last_login_at = utcnow()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    user.password_hash = generate_password_hash(_check_password(password))


def set_role(session: Session, user: User, role: str) -> None:
    user.role = _check_role(role)
    if role == "agent" and not user.agent_login:
        user.agent_login = user.username


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once
    record: ApiToken


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, name: str = "") -> IssuedToken:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(user_id=user.id, name=name.strip()[:100], token_hash=_digest(token))
    session.add(record)
    session.flush()
    return IssuedToken(token, record)


def user_for_token(session: Session, token: str, *, now: datetime | None = None) -> User | None:
    """The active user a live token belongs to, or None for an unknown, revoked or malformed token."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    digest = _digest(token)
    record = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if record is None or record.revoked_at is not None or not hmac.compare_digest(record.token_hash, digest):
        return None
    user = session.get(User, record.user_id)
    if user is None or not user.active:
        return None
    record.last_used_at = now or utcnow()
    return user


def revoke_token(session: Session, token_id: int) -> bool:
    record = session.get(ApiToken, token_id)
    if record is None or record.revoked_at is not None:
        return False
    record.revoked_at = utcnow()
    return True
