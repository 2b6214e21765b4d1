"""How Alembic reaches the database: from the caller, or from the settings.

``campaigns.db.upgrade`` hands over a connection or a URL through
``config.attributes``; the ``alembic`` command line (the Procfile's release
step) reads ``DATABASE_URL`` through the project's settings, or ``-x url=...``.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, text

# Each import adds its tables to Base.metadata.
import campaigns.account_models
import campaigns.callback_models
import campaigns.compliance_models
import campaigns.survey_models  # noqa: F401
from campaigns.db import make_engine
from campaigns.models import Base
from campaigns.settings import get_settings, normalize_database_url

# Two processes upgrading one PostgreSQL database at once take turns on this
# advisory lock instead of both creating the same tables.
MIGRATION_LOCK_KEY = 0x6469616C6572  # "dialer"

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None and not config.attributes:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    if url:
        return normalize_database_url(url)
    return get_settings().database_url


def configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite alters tables by copying them; batch mode does that for us.
        render_as_batch=connection.dialect.name == "sqlite",
    )


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(database_url())
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


def _run(connection: Connection) -> None:
    configure(connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


def run_offline() -> None:
    url = database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
