"""The web process: pages, JSON API and carrier webhooks, built by ``create_app``.

Engines and Redis clients are made when the app is built, never at import, and
each request gets one database session that is closed when the request ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis
from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from campaigns.db import make_engine, make_session_factory
from campaigns.redis_conn import connect_redis
from campaigns.settings import Settings, get_settings

EXTENSION = "dialer"


@dataclass(frozen=True)
class Resources:
    """What the app's requests share: the engine, its session factory and the Redis client."""

    engine: Engine
    sessions: sessionmaker[Session]
    redis: redis.Redis


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask app from the process settings, or from ``test_config`` in tests.

    With ``test_config`` the environment is not read: the defaults of
    ``Settings`` apply, overridden by the mapping (``DATABASE_URL``,
    ``REDIS_URL``, ``SECRET_KEY``, ``TESTING``...).
    """
    settings = get_settings() if test_config is None else Settings()
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep "ok" first in health answers
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key,
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        DIALER_SETTINGS=settings,
    )
    if test_config is not None:
        app.config.update(test_config)
    if settings.secret_key_generated and test_config is None:
        app.logger.warning("SECRET_KEY is not set: sessions will not survive a restart")

    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions[EXTENSION] = Resources(
        engine=engine,
        sessions=make_session_factory(engine),
        redis=connect_redis(app.config["REDIS_URL"]),
    )
    app.teardown_appcontext(_close_session)

    from web import (
        admin,
        agent_console,
        auth,
        callbacks,
        campaigns_api,
        desk,
        floor,
        health,
        manager,
        softphone,
        survey_ivr,
        twilio_webhooks,
    )
    from web import jobs as jobs_pages
    from web import reports as report_pages

    if settings.public_base_url and settings.public_base_url.startswith("https://"):
        app.config.setdefault("SESSION_COOKIE_SECURE", True)
        app.config.setdefault("REMEMBER_COOKIE_SECURE", True)
    auth.init_app(app)

    app.register_blueprint(health.bp)
    app.register_blueprint(campaigns_api.bp)
    app.register_blueprint(twilio_webhooks.bp)
    app.register_blueprint(jobs_pages.bp)
    app.register_blueprint(softphone.bp)
    app.register_blueprint(agent_console.bp)
    app.register_blueprint(floor.bp)
    app.register_blueprint(manager.bp)
    app.register_blueprint(desk.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(report_pages.bp)
    app.register_blueprint(survey_ivr.bp)
    app.register_blueprint(callbacks.bp)
    from web import api as rest_api
    rest_api.register(app)
    return app


def resources() -> Resources:
    """The shared resources of the app serving this request."""
    found: Resources = current_app.extensions[EXTENSION]
    return found


def get_session() -> Session:
    """This request's database session, opened on first use."""
    if "db_session" not in g:
        g.db_session = resources().sessions()
    session: Session = g.db_session
    return session


def _close_session(error: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is None:
        return
    if error is not None:
        session.rollback()
    session.close()
