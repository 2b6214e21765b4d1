"""Shared fixtures: a throwaway SQLite session, and the real PostgreSQL and Redis servers.

The servers are named by ``TEST_DATABASE_URL`` and ``TEST_REDIS_URL``.  When one
cannot be reached its tests are skipped with the reason, except under CI
(``CI=true``), where a missing server fails the run instead of hiding tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import campaigns.account_models
import campaigns.callback_models
import campaigns.compliance_models
import campaigns.survey_models  # noqa: F401  (its tables join Base.metadata)
from campaigns.db import make_engine, make_session_factory
from campaigns.models import Base
from campaigns.settings import normalize_database_url

DEFAULT_TEST_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/15"


def unavailable(reason: str) -> None:
    """Skip the test, or fail it under CI, where every test is meant to run."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: integration servers are required)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def engine() -> Iterator[Engine]:
    """A fresh in-memory SQLite database holding every table of the models."""
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on a fresh in-memory SQLite database (tables from ``Base.metadata.create_all``)."""
    with make_session_factory(engine)() as session:
        yield session


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """The PostgreSQL server for integration tests, checked once per run."""
    url = normalize_database_url(os.environ.get("TEST_DATABASE_URL") or DEFAULT_TEST_DATABASE_URL)
    engine = make_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # whatever stops the connection, the reason is shown
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        unavailable(
            f"PostgreSQL at {make_url(url).render_as_string(hide_password=True)} unreachable: {first_line}"
        )
    finally:
        engine.dispose()
    return url


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A URL whose connections land in a new, empty schema, dropped afterwards.

    Each test gets its own schema (via ``search_path``), so runs of several
    people on one server, and tests within one run, never see each other's rows.
    """
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(pg_server_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in pg_server_url else "?"
    try:
        yield f"{pg_server_url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def redis_url() -> str:
    """The Redis server for integration tests (database 15 by default).

    The database is shared with other runs: tests use keys and queues of their
    own and clean up after themselves instead of flushing it.
    """
    import redis

    url = os.environ.get("TEST_REDIS_URL") or DEFAULT_TEST_REDIS_URL
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        unavailable(f"Redis at {url} unreachable: {error}")
    finally:
        client.close()
    return url


@pytest.fixture
def web(tmp_path):  # type: ignore[no-untyped-def]
    """The web app on a throwaway SQLite file with one user per role (see tests/web_support.py)."""
    from tests.web_support import make_rig

    rig = make_rig(tmp_path)
    yield rig
    from web import resources

    with rig.app.app_context():
        resources().engine.dispose()
