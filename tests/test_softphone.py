"""The agents' browser softphone: a ticket buys a short Twilio Voice token for that agent only."""

from __future__ import annotations

import uuid
from pathlib import Path

import jwt
import pytest
from click.testing import CliRunner

from campaigns.agent_tickets import agent_ticket, read_agent_ticket
from campaigns.cli import main
from campaigns.settings import Settings, get_settings
from web import create_app

SID = "AC" + "1" * 32
KEY = "SK" + "2" * 32
SECRET = "s" * 40
APP_SID = "AP" + "3" * 32
SECRET_KEY = "k" * 32


def make_app(tmp_path: Path, **settings: str):
    full = Settings.from_env({"SECRET_KEY": SECRET_KEY, **settings})
    return create_app({
        "TESTING": True,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "REDIS_URL": f"memory://softphone-{uuid.uuid4().hex}",
        "SECRET_KEY": SECRET_KEY,
        "DIALER_SETTINGS": full,
    })


def twilio_settings() -> dict[str, str]:
    return {"TWILIO_ACCOUNT_SID": SID, "TWILIO_API_KEY": KEY, "TWILIO_API_SECRET": SECRET,
            "TWILIO_TWIML_APP_SID": APP_SID}


def test_an_agent_with_a_ticket_gets_a_voice_token_naming_them_with_incoming_calls_allowed(tmp_path: Path) -> None:
    client = make_app(tmp_path, **twilio_settings()).test_client()
    answer = client.post("/agent/softphone-token",
                         headers={"Authorization": f"Bearer {agent_ticket(SECRET_KEY, 'agent007')}"})
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["identity"] == "agent007"
    claims = jwt.decode(body["token"], SECRET, algorithms=["HS256"])
    assert claims["iss"] == KEY and claims["sub"] == SID
    assert claims["grants"]["identity"] == "agent007"
    assert claims["grants"]["voice"]["incoming"]["allow"] is True
    assert claims["grants"]["voice"]["outgoing"]["application_sid"] == APP_SID
    assert claims["exp"] - claims["nbf"] == body["ttl_s"] == 3600


@pytest.mark.parametrize("authorization", ["", "Bearer ", "Bearer forged", f"Bearer {agent_ticket('x' * 32, 'a1')}"])
def test_a_missing_forged_or_foreign_ticket_gets_401(tmp_path: Path, authorization: str) -> None:
    client = make_app(tmp_path, **twilio_settings()).test_client()
    answer = client.post("/agent/softphone-token", headers={"Authorization": authorization} if authorization else {})
    assert answer.status_code == 401
    assert answer.get_json()["field"] == "Authorization"


def test_without_the_softphone_settings_the_answer_names_what_is_missing(tmp_path: Path) -> None:
    client = make_app(tmp_path, TWILIO_ACCOUNT_SID=SID).test_client()
    ticket = agent_ticket(SECRET_KEY, "a1")
    answer = client.post("/agent/softphone-token", headers={"Authorization": f"Bearer {ticket}"})
    assert answer.status_code == 503
    assert answer.get_json()["field"] == "TWILIO_API_KEY"


def test_a_ticket_expires_after_its_shift() -> None:
    ticket = agent_ticket(SECRET_KEY, "a1")
    assert read_agent_ticket(SECRET_KEY, ticket) == "a1"
    assert read_agent_ticket(SECRET_KEY, ticket, max_age_s=-1) is None


def test_the_command_issues_a_ticket_only_with_the_web_apps_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    monkeypatch.delenv("SECRET_KEY", raising=False)
    get_settings.cache_clear()
    try:
        refused = runner.invoke(main, ["agent", "ticket", "a1"])
        assert refused.exit_code != 0 and "SECRET_KEY" in refused.output
        monkeypatch.setenv("SECRET_KEY", SECRET_KEY)
        get_settings.cache_clear()
        issued = runner.invoke(main, ["agent", "ticket", "a1"])
    finally:
        get_settings.cache_clear()
    assert issued.exit_code == 0
    assert read_agent_ticket(SECRET_KEY, issued.output.splitlines()[0]) == "a1"


def test_bad_softphone_settings_stop_the_process_with_the_variables_name() -> None:
    from campaigns.settings import SettingsError

    with pytest.raises(SettingsError, match="TWILIO_API_KEY"):
        Settings.from_env({"TWILIO_API_KEY": "nope"})
    with pytest.raises(SettingsError, match="TWILIO_TWIML_APP_SID"):
        Settings.from_env({"TWILIO_TWIML_APP_SID": "AC" + "0" * 32})
