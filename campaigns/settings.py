"""Settings of every dialer process, taken from environment variables once.

Each process (CLI, web, worker, dialer, scheduler) reads the environment in one
place so that a typo in a deploy fails at start with the variable's name, not
later in the middle of a call.  Tests build their own ``Settings`` with
``Settings.from_env({...})`` instead of patching ``os.environ``.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_DATABASE_URL = "sqlite:///dialer.db"
DEFAULT_REDIS_URL = "memory://"
CARRIERS = ("simulated", "twilio")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MIN_SECRET_KEY_LENGTH = 16
DEFAULT_LEASE_S = 10.0

_REDIS_SCHEMES = ("memory", "redis", "rediss", "unix")
_TWILIO_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_TWILIO_API_KEY = re.compile(r"SK[0-9a-fA-F]{32}")
_TWILIO_APP_SID = re.compile(r"AP[0-9a-fA-F]{32}")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = DEFAULT_REDIS_URL
    carrier: str = "simulated"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_api_url: str | None = None
    public_base_url: str | None = None
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    secret_key_generated: bool = True
    log_level: str = "INFO"
    # The Twilio account's calls-per-second limit, shared by every dialer process (Twilio's default is 1).
    twilio_cps: float = 1.0
    # The agents' browser softphone (Twilio Voice SDK): an API key and the TwiML app it calls.
    twilio_api_key: str | None = None
    twilio_api_secret: str | None = field(default=None, repr=False)
    twilio_twiml_app_sid: str | None = None
    # Rebuild webhook URLs from X-Forwarded-Proto/Host: only behind a proxy that overwrites them.
    trust_proxy_headers: bool = False
    # How long a dialer's hold on a campaign lasts without renewal: a dead dialer's
    # campaigns move to another process after about this long.
    dialer_lease_s: float = DEFAULT_LEASE_S

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from a mapping shaped like ``os.environ``.

        A variable set to the empty string counts as unset, because deploy
        tools often write ``NAME=`` for "no value".
        """

        def get(name: str) -> str | None:
            value = environ.get(name, "").strip()
            return value or None

        carrier = (get("DIALER_CARRIER") or "simulated").lower()
        if carrier not in CARRIERS:
            raise SettingsError(f"DIALER_CARRIER must be one of {', '.join(CARRIERS)}, not {carrier!r}")

        sid = get("TWILIO_ACCOUNT_SID")
        if sid is not None and not _TWILIO_SID.fullmatch(sid):
            raise SettingsError("TWILIO_ACCOUNT_SID must be 'AC' followed by 32 hexadecimal characters")
        token = get("TWILIO_AUTH_TOKEN")
        api_url = _http_url("TWILIO_API_URL", get("TWILIO_API_URL"))
        public_url = _http_url("PUBLIC_BASE_URL", get("PUBLIC_BASE_URL"))
        if carrier == "twilio":
            missing = [
                name
                for name, value in (
                    ("TWILIO_ACCOUNT_SID", sid),
                    ("TWILIO_AUTH_TOKEN", token),
                    ("PUBLIC_BASE_URL", public_url),
                )
                if value is None
            ]
            if missing:
                raise SettingsError(f"DIALER_CARRIER=twilio needs {', '.join(missing)} to be set")

        secret = get("SECRET_KEY")
        if secret is not None and len(secret) < MIN_SECRET_KEY_LENGTH:
            raise SettingsError(f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters long")

        level = (get("DIALER_LOG_LEVEL") or "INFO").upper()
        if level not in LOG_LEVELS:
            raise SettingsError(f"DIALER_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {level!r}")

        lease_s = _lease_seconds(get("DIALER_LEASE_S"))

        api_key = get("TWILIO_API_KEY")
        if api_key is not None and not _TWILIO_API_KEY.fullmatch(api_key):
            raise SettingsError("TWILIO_API_KEY must be 'SK' followed by 32 hexadecimal characters")
        app_sid = get("TWILIO_TWIML_APP_SID")
        if app_sid is not None and not _TWILIO_APP_SID.fullmatch(app_sid):
            raise SettingsError("TWILIO_TWIML_APP_SID must be 'AP' followed by 32 hexadecimal characters")
        twilio_cps = _positive_number("TWILIO_CPS", get("TWILIO_CPS"), 1.0, maximum=1000.0)
        trust_proxy = _flag("TRUST_PROXY_HEADERS", get("TRUST_PROXY_HEADERS"))

        return cls(
            database_url=normalize_database_url(get("DATABASE_URL") or DEFAULT_DATABASE_URL),
            redis_url=_redis_url(get("REDIS_URL") or DEFAULT_REDIS_URL),
            carrier=carrier,
            twilio_account_sid=sid,
            twilio_auth_token=token,
            twilio_api_url=api_url,
            public_base_url=public_url,
            # Without a configured key, sessions last as long as the process.
            secret_key=secret or secrets.token_urlsafe(32),
            secret_key_generated=secret is None,
            log_level=level,
            twilio_api_key=api_key,
            twilio_api_secret=get("TWILIO_API_SECRET"),
            twilio_twiml_app_sid=app_sid,
            twilio_cps=twilio_cps,
            trust_proxy_headers=trust_proxy,
            dialer_lease_s=lease_s,
        )

    @property
    def log_level_number(self) -> int:
        return logging.getLevelNamesMapping()[self.log_level]

    @property
    def redis_in_process(self) -> bool:
        """True when Redis is the in-process stand-in, shared only inside this process."""
        return self.redis_url.startswith("memory://")


@functools.cache
def get_settings() -> Settings:
    """The settings of this process, read from ``os.environ`` on first use."""
    return Settings.from_env(os.environ)


def normalize_database_url(url: str) -> str:
    """Give a database URL the driver this project installs.

    Hosting platforms hand out ``postgres://`` and ``postgresql://`` URLs, which
    SQLAlchemy would route to psycopg2; the project ships psycopg 3.
    """
    if "://" not in url:
        raise SettingsError(
            f"DATABASE_URL must look like 'sqlite:///dialer.db' or 'postgresql://user@host/db', not {url!r}"
        )
    scheme, rest = url.split("://", 1)
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    if not re.fullmatch(r"[a-z][a-z0-9]*(\+[a-z0-9_]+)?", scheme):
        raise SettingsError(f"DATABASE_URL has an unreadable scheme {scheme!r}")
    return url


def _redis_url(url: str) -> str:
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in _REDIS_SCHEMES:
        raise SettingsError(
            f"REDIS_URL must start with one of {', '.join(s + '://' for s in _REDIS_SCHEMES)}, not {url!r}"
        )
    return url


def _lease_seconds(value: str | None) -> float:
    if value is None:
        return DEFAULT_LEASE_S
    try:
        seconds = float(value)
    except ValueError:
        raise SettingsError(f"DIALER_LEASE_S must be a number of seconds, not {value!r}") from None
    if not 1.0 <= seconds <= 600.0:
        raise SettingsError(f"DIALER_LEASE_S must be between 1 and 600 seconds, not {value!r}")
    return seconds


def _positive_number(name: str, value: str | None, default: float, *, maximum: float) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {value!r}") from None
    if not 0 < number <= maximum:
        raise SettingsError(f"{name} must be above 0 and at most {maximum:g}, not {value!r}")
    return number


def _flag(name: str, value: str | None) -> bool:
    if value is None:
        return False
    text = value.lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, not {value!r}")


def _http_url(name: str, url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{name} must be an http:// or https:// URL with a host, not {url!r}")
    return url.rstrip("/")
