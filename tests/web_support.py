"""Web test helpers: an app on a throwaway SQLite file with one user per role, and signed-in clients."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from campaigns import accounts, db
from web import create_app

PASSWORD = "correct-horse-1"
ROLE_USERS = {"agent": "alice", "supervisor": "sam", "compliance": "cora", "admin": "ada"}


@dataclass
class WebRig:
    app: Flask
    database_url: str

    def sessions(self) -> Any:
        from web import resources

        with self.app.app_context():
            return resources().sessions

    def client(self, role: str | None = None) -> FlaskClient:
        """A test client, signed in as the user of ``role`` (None: anonymous)."""
        client = self.app.test_client()
        if role is not None:
            sign_in(client, ROLE_USERS[role])
        return client


def make_rig(tmp_path: Path, *, csrf: bool = True, **config: Any) -> WebRig:
    url = f"sqlite:///{tmp_path / 'web.db'}"
    db.ensure_schema(url)
    engine = db.make_engine(url)
    with db.make_session_factory(engine)() as session, session.begin():
        for role, username in ROLE_USERS.items():
            accounts.create_user(session, username, PASSWORD, role, display_name=username.title())
    engine.dispose()
    app = create_app({"TESTING": True, "DATABASE_URL": url, "REDIS_URL": f"memory://web-{uuid.uuid4().hex}",
                      "SECRET_KEY": "test-secret-key-0123456789", "WTF_CSRF_ENABLED": csrf, **config})
    return WebRig(app, url)


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf-token" content="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> None:
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
