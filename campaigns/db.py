"""Engines, sessions and the schema, for every process that touches the database.

Nothing here connects at import time: a process builds its engine from its
settings when it starts, and the schema is brought to the newest migration by
Alembic, never by ``create_all``, so SQLite and PostgreSQL get the same tables.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from campaigns.settings import normalize_database_url

log = logging.getLogger(__name__)


class SchemaError(RuntimeError):
    """The database's schema cannot be brought to what this code expects."""


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys, WAL and cross-thread use.

    SQLite ignores foreign keys unless asked on every connection, and WAL lets
    the web process read while the dialer writes.  An in-memory SQLite URL gets
    one shared connection, so every thread sees the same database.
    """
    url = normalize_database_url(url)
    if make_url(url).get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)

    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("check_same_thread", False)
    if _is_memory_sqlite(url):
        kwargs.setdefault("poolclass", StaticPool)
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    event.listen(engine, "connect", _configure_sqlite_connection)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit, so callers can print what they saved."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def upgrade(engine_or_url: Engine | str, revision: str = "head") -> None:
    """Run Alembic's ``upgrade`` to ``revision`` on a database."""
    from alembic import command

    config = alembic_config(engine_or_url)
    if isinstance(engine_or_url, str):
        command.upgrade(config, revision)
        return
    with engine_or_url.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def ensure_schema(url: str) -> None:
    """Bring the database at ``url`` to the newest migration unless it is there already.

    Cheap when nothing is to do, so every CLI command that needs the database
    can call it on start.
    """
    engine = make_engine(url)
    try:
        current, head = current_revision(engine), head_revision()
        if current is not None and current not in known_revisions():
            raise SchemaError(
                f"the database is at migration {current}, which this version of the dialer does not know "
                f"(its newest is {head}): install the newer dialer that wrote it"
            )
        if current != head:
            log.info("upgrading the database schema from %s to %s", current or "empty", head)
            upgrade(engine)
    finally:
        engine.dispose()


def current_revision(engine_or_url: Engine | str) -> str | None:
    """The migration the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        if engine is not engine_or_url:
            engine.dispose()


def known_revisions() -> set[str]:
    """Every migration shipped with this code."""
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def head_revision() -> str | None:
    """The newest migration shipped with this code."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def alembic_config(engine_or_url: Engine | str | None = None) -> Any:
    """An Alembic config pointing at the migrations installed with this package.

    The script location comes from the ``migrations`` package itself, so the
    CLI works from any working directory and from an installed wheel.
    """
    from alembic.config import Config

    import migrations

    config = Config()
    config.set_main_option("script_location", migrations.SCRIPT_LOCATION)
    if isinstance(engine_or_url, str):
        config.attributes["url"] = normalize_database_url(engine_or_url)
    return config


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """One unit of work on an up-to-date schema: commit on success, roll back on error."""
    ensure_schema(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session, session.begin():
            yield session
    finally:
        engine.dispose()


def _is_memory_sqlite(url: str) -> bool:
    database = make_url(url).database
    return database in (None, "", ":memory:") or "mode=memory" in url


def _configure_sqlite_connection(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # Writers from several processes wait for each other instead of failing at once.
        cursor.execute("PRAGMA busy_timeout=5000")
    finally:
        cursor.close()
