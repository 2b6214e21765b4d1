from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table, inspect, select, text
from sqlalchemy.exc import IntegrityError

from campaigns import db
from campaigns.models import DEFAULT_DISPOSITIONS, Base, Campaign, DispositionCode

REPO = Path(__file__).resolve().parent.parent


def schema_differences(url: str, metadata: MetaData = Base.metadata) -> list[object]:
    """What Alembic's autogenerate would still change to make the database match ``metadata``."""
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def seeded_dispositions(url: str) -> list[dict[str, object]]:
    engine = db.make_engine(url)
    try:
        with db.make_session_factory(engine)() as session:
            codes = session.scalars(select(DispositionCode).order_by(DispositionCode.id)).all()
            return [
                {
                    "campaign_id": code.campaign_id,
                    "code": code.code,
                    "label": code.label,
                    "human_answered": code.human_answered,
                    "final": code.final,
                    "retry_after_min": code.retry_after_min,
                    "adds_to_dnc": code.adds_to_dnc,
                    "callback": code.callback,
                    "sale": code.sale,
                }
                for code in codes
            ]
    finally:
        engine.dispose()


def expected_dispositions() -> list[dict[str, object]]:
    flags = {"human_answered": True, "final": False, "adds_to_dnc": False, "callback": False, "sale": False}
    return [{"campaign_id": None, "retry_after_min": None, **flags, **d} for d in DEFAULT_DISPOSITIONS]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dialer.db'}"


def test_sqlite_connections_enforce_foreign_keys_and_use_wal(sqlite_url):
    engine = db.make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_a_sqlite_engine_can_be_used_from_another_thread(sqlite_url):
    engine = db.make_engine(sqlite_url)
    Base.metadata.create_all(engine)
    with engine.connect() as connection:  # the pooled connection is made on this thread...
        connection.execute(text("SELECT 1"))
    seen: list[object] = []

    def count() -> None:  # ...and reused on another one
        with engine.connect() as connection:
            seen.append(connection.execute(text("SELECT count(*) FROM campaigns")).scalar())

    worker = threading.Thread(target=count)
    worker.start()
    worker.join()
    engine.dispose()
    assert seen == [0]


def test_an_in_memory_sqlite_database_is_one_database_for_every_connection():
    engine = db.make_engine("sqlite://")
    Base.metadata.create_all(engine)
    with engine.connect() as first, engine.connect() as second:
        assert first.connection.dbapi_connection is second.connection.dbapi_connection
    assert "campaigns" in inspect(engine).get_table_names()
    engine.dispose()


def test_the_foreign_key_pragma_makes_sqlite_refuse_orphans(engine):
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO contact_lists (campaign_id, name, source, default_region, rows_total, "
                "rows_imported, rows_rejected, created_at) VALUES (999, 'x', '', 'US', 0, 0, 0, "
                "'2026-01-01')"
            )
        )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a new SQLite file, or a new schema on the PostgreSQL test server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


def test_migrations_on_an_empty_database_build_exactly_the_models(empty_database_url):
    db.upgrade(empty_database_url)

    assert db.current_revision(empty_database_url) == db.head_revision()
    assert schema_differences(empty_database_url) == []


def test_the_schema_comparison_notices_a_table_the_migrations_lack(sqlite_url):
    # Guards the test above: an empty comparison must mean "same", not "compared nothing".
    db.upgrade(sqlite_url)
    extra = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(extra)
    Table("not_migrated", extra, Column("id", Integer, primary_key=True))

    differences = schema_differences(sqlite_url, extra)

    assert [(d[0], d[1].name) for d in differences] == [("add_table", "not_migrated")]  # type: ignore[index]


def test_migrations_seed_the_default_disposition_codes(empty_database_url):
    db.upgrade(empty_database_url)

    assert seeded_dispositions(empty_database_url) == expected_dispositions()


def test_the_default_disposition_set_cannot_hold_a_code_twice(sqlite_url):
    db.upgrade(sqlite_url)
    engine = db.make_engine(sqlite_url)
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO disposition_codes (campaign_id, code, label, human_answered, final, "
                "adds_to_dnc, callback, sale) VALUES (NULL, 'SALE', 'again', 1, 1, 0, 0, 1)"
            )
        )
    engine.dispose()


def test_ensure_schema_upgrades_an_empty_database_once_and_then_leaves_it_alone(sqlite_url):
    db.ensure_schema(sqlite_url)
    engine = db.make_engine(sqlite_url)
    with db.make_session_factory(engine)() as session, session.begin():
        session.add(Campaign(name="kept", caller_id="+12015550123", drop_message="m"))

    db.ensure_schema(sqlite_url)

    assert db.current_revision(engine) == db.head_revision()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT name FROM campaigns")).scalars().all() == ["kept"]
        assert connection.execute(text("SELECT count(*) FROM disposition_codes")).scalar() == len(
            DEFAULT_DISPOSITIONS
        )
    engine.dispose()


def test_a_database_from_a_newer_dialer_is_refused_with_a_clear_reason(sqlite_url):
    db.upgrade(sqlite_url)
    engine = db.make_engine(sqlite_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()

    with pytest.raises(db.SchemaError, match="migration 9999, which this version of the dialer"):
        db.ensure_schema(sqlite_url)


def test_downgrading_to_base_removes_every_table_and_upgrading_again_restores_them(sqlite_url):
    db.upgrade(sqlite_url)
    command.downgrade(db.alembic_config(sqlite_url), "base")

    engine = db.make_engine(sqlite_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    db.upgrade(sqlite_url)
    assert schema_differences(sqlite_url) == []


def test_migrations_are_found_from_the_installed_package_whatever_the_working_directory(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = "from campaigns.db import ensure_schema; ensure_schema('sqlite:///moved.db')"

    subprocess.run([sys.executable, "-c", code], cwd=elsewhere, check=True, timeout=120)

    assert (elsewhere / "moved.db").exists()
    assert schema_differences(f"sqlite:///{elsewhere / 'moved.db'}") == []


def test_the_release_step_alembic_upgrade_head_uses_database_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'release.db'}"
    alembic = Path(sys.executable).with_name("alembic")
    env = {**os.environ, "DATABASE_URL": url}

    subprocess.run(
        [str(alembic), "upgrade", "head"], cwd=REPO, env=env, check=True, timeout=120, capture_output=True
    )

    assert schema_differences(url) == []


@pytest.mark.integration
def test_postgresql_migrations_can_be_rolled_back_and_replayed(pg_url):
    db.ensure_schema(pg_url)
    command.downgrade(db.alembic_config(pg_url), "base")
    engine = db.make_engine(pg_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()

    db.ensure_schema(pg_url)

    assert schema_differences(pg_url) == []
