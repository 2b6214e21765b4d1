from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

from campaigns import accounts, db, services
from campaigns.settings import get_settings
from tests.web_support import PASSWORD, sign_in
from web import create_app, resources

UNREACHABLE_DATABASE = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def connections_in_use(engine: Engine) -> int:
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    return pool.checkedout()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'web.db'}"
    db.ensure_schema(url)
    return url


@pytest.fixture
def app(database_url: str) -> Flask:
    return create_app({"TESTING": True, "DATABASE_URL": database_url, "REDIS_URL": "memory://web-tests"})


@pytest.fixture
def staff(app: Flask, database_url: str) -> FlaskClient:
    """A client signed in as a supervisor."""
    engine = db.make_engine(database_url)
    with db.make_session_factory(engine)() as session, session.begin():
        accounts.create_user(session, "sam", PASSWORD, "supervisor")
    engine.dispose()
    client = app.test_client()
    sign_in(client, "sam")
    return client


@pytest.fixture
def campaigns(database_url: str) -> list[int]:
    engine = db.make_engine(database_url)
    with db.make_session_factory(engine)() as session, session.begin():
        ids = [services.create_campaign(session, name=name, caller_id="2015550123").id for name in ("A", "B")]
        services.start_campaign(session, services.get_campaign(session, "B"))
    engine.dispose()
    return ids


def test_health_reports_the_database_and_redis_reachable(app):
    response = app.test_client().get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "database": {"ok": True}, "redis": {"ok": True}}


@pytest.mark.parametrize(
    ("config", "down"),
    [
        ({"DATABASE_URL": UNREACHABLE_DATABASE}, "database"),
        ({"REDIS_URL": UNREACHABLE_REDIS}, "redis"),
    ],
)
def test_health_answers_503_naming_what_is_unreachable(database_url, config, down):
    app = create_app({"DATABASE_URL": database_url, "REDIS_URL": "memory://web-tests", **config})

    response = app.test_client().get("/healthz")

    body = response.get_json()
    assert response.status_code == 503
    assert body["ok"] is False
    assert body[down]["ok"] is False
    assert "Error" in body[down]["error"]
    assert all(check["ok"] for name, check in body.items() if name not in ("ok", down))


def test_building_the_app_connects_to_nothing():
    # Both servers refuse connections: building the app must not try them.
    app = create_app({"DATABASE_URL": UNREACHABLE_DATABASE, "REDIS_URL": UNREACHABLE_REDIS})

    with app.app_context():
        assert connections_in_use(resources().engine) == 0


def test_without_a_test_config_the_app_takes_the_process_settings(monkeypatch, database_url):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", "memory://web-tests")
    monkeypatch.setenv("SECRET_KEY", "a-secret-key-long-enough")
    get_settings.cache_clear()
    try:
        app = create_app()
    finally:
        get_settings.cache_clear()

    assert app.config["DATABASE_URL"] == database_url
    assert app.config["SECRET_KEY"] == "a-secret-key-long-enough"


def test_the_api_lists_campaigns_oldest_first(app, staff, campaigns):
    response = staff.get("/api/campaigns")

    assert response.status_code == 200
    assert [c["id"] for c in response.get_json()["campaigns"]] == campaigns
    assert response.get_json()["campaigns"][0]["caller_id"] == "+12015550123"


def test_the_api_filters_campaigns_by_status_and_refuses_unknown_ones(app, staff, campaigns):
    client = staff

    assert [c["name"] for c in client.get("/api/campaigns?status=active").get_json()["campaigns"]] == ["B"]
    refused = client.get("/api/campaigns?status=running")
    assert refused.status_code == 400
    assert refused.get_json()["field"] == "status"


def test_the_api_shows_one_campaign_with_its_summary_by_id_or_name(app, staff, campaigns):
    client = staff

    by_id = client.get(f"/api/campaigns/{campaigns[1]}").get_json()
    by_name = client.get("/api/campaigns/B").get_json()

    assert by_id == by_name
    assert by_id["status"] == "active"
    assert by_id["summary"]["attempts"] == 0


def test_an_unknown_campaign_is_a_json_404(app, staff, campaigns):
    response = staff.get("/api/campaigns/Nowhere")

    assert response.status_code == 404
    assert response.get_json()["error"] == "no campaign has the id or name 'Nowhere'"


def test_each_request_returns_its_database_connection_when_it_ends(app, staff, campaigns):
    client = staff
    for _ in range(3):
        client.get("/api/campaigns")

    with app.app_context():
        assert connections_in_use(resources().engine) == 0


@pytest.mark.integration
def test_health_is_green_on_real_postgresql_and_redis(pg_url, redis_url):
    app = create_app({"DATABASE_URL": pg_url, "REDIS_URL": redis_url})

    response = app.test_client().get("/healthz")

    assert response.status_code == 200, response.get_json()
