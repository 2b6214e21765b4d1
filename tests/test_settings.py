from __future__ import annotations

import pytest

from campaigns.settings import Settings, SettingsError, get_settings

SID = "AC" + "0123456789abcdef" * 2


def test_an_empty_environment_gives_the_embedded_defaults():
    settings = Settings.from_env({})

    assert settings.database_url == "sqlite:///dialer.db"
    assert settings.redis_url == "memory://"
    assert settings.redis_in_process
    assert settings.carrier == "simulated"
    assert settings.log_level == "INFO"
    assert settings.twilio_account_sid is None
    assert settings.public_base_url is None


def test_without_a_secret_key_each_process_makes_a_strong_one_and_says_so():
    first, second = Settings.from_env({}), Settings.from_env({})

    assert first.secret_key_generated
    assert len(first.secret_key) >= 32
    assert first.secret_key != second.secret_key


def test_every_variable_is_read():
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql+psycopg://dialer@db.example/dialer",
            "REDIS_URL": "redis://cache.example:6379/2",
            "DIALER_CARRIER": "twilio",
            "TWILIO_ACCOUNT_SID": SID,
            "TWILIO_AUTH_TOKEN": "token",
            "TWILIO_API_URL": "http://127.0.0.1:8099/",
            "PUBLIC_BASE_URL": "https://dialer.example/",
            "SECRET_KEY": "s" * 40,
            "DIALER_LOG_LEVEL": "debug",
        }
    )

    assert settings.database_url == "postgresql+psycopg://dialer@db.example/dialer"
    assert settings.redis_url == "redis://cache.example:6379/2"
    assert not settings.redis_in_process
    assert settings.carrier == "twilio"
    assert settings.twilio_account_sid == SID
    assert settings.twilio_auth_token == "token"
    assert settings.twilio_api_url == "http://127.0.0.1:8099"
    assert settings.public_base_url == "https://dialer.example"
    assert settings.secret_key == "s" * 40
    assert not settings.secret_key_generated
    assert settings.log_level == "DEBUG"


def test_secrets_stay_out_of_the_repr():
    settings = Settings.from_env({"SECRET_KEY": "k" * 20, "TWILIO_AUTH_TOKEN": "hush-hush"})

    assert "k" * 20 not in repr(settings)
    assert "hush-hush" not in repr(settings)


def test_a_variable_set_to_an_empty_string_counts_as_unset():
    settings = Settings.from_env({"DATABASE_URL": "", "DIALER_CARRIER": " ", "REDIS_URL": ""})

    assert settings.database_url == "sqlite:///dialer.db"
    assert settings.carrier == "simulated"
    assert settings.redis_url == "memory://"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgresql://u@h:5433/db", "postgresql+psycopg://u@h:5433/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////var/lib/dialer.db", "sqlite:////var/lib/dialer.db"),
    ],
)
def test_platform_database_urls_get_the_installed_postgresql_driver(given, expected):
    assert Settings.from_env({"DATABASE_URL": given}).database_url == expected


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"DATABASE_URL": "dialer.db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "my db://x"}, "DATABASE_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"REDIS_URL": "memcached://x"}, "REDIS_URL"),
        ({"DIALER_CARRIER": "asterisk"}, "DIALER_CARRIER"),
        ({"TWILIO_ACCOUNT_SID": "SK123"}, "TWILIO_ACCOUNT_SID"),
        ({"TWILIO_API_URL": "127.0.0.1:8099"}, "TWILIO_API_URL"),
        ({"PUBLIC_BASE_URL": "ftp://dialer.example"}, "PUBLIC_BASE_URL"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"DIALER_LOG_LEVEL": "LOUD"}, "DIALER_LOG_LEVEL"),
    ],
)
def test_a_bad_value_is_refused_with_the_variable_named(environ, variable):
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env(environ)


def test_the_twilio_carrier_needs_its_credentials_and_a_public_url_for_webhooks():
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"DIALER_CARRIER": "twilio", "TWILIO_AUTH_TOKEN": "token"})

    message = str(raised.value)
    assert "TWILIO_ACCOUNT_SID" in message
    assert "PUBLIC_BASE_URL" in message
    assert "TWILIO_AUTH_TOKEN" not in message


def test_settings_are_read_once_per_process(monkeypatch):
    get_settings.cache_clear()
    try:
        monkeypatch.setenv("DIALER_LOG_LEVEL", "WARNING")
        first = get_settings()
        monkeypatch.setenv("DIALER_LOG_LEVEL", "ERROR")

        assert get_settings() is first
        assert get_settings().log_level == "WARNING"
    finally:
        get_settings.cache_clear()


def test_settings_cannot_be_changed_after_reading():
    settings = Settings.from_env({})

    with pytest.raises(AttributeError):
        settings.carrier = "twilio"  # type: ignore[misc]
