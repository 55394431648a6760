import os

import pytest

from service.cli import default_workers
from service.config import (
    DEFAULT_DATABASE_CONNECTIONS,
    EXIT_CONFIG_ERROR,
    ConfigError,
    Settings,
    api_pool_share,
    parse_database_url,
    report_startup_error,
)
from service.domain.oauth2.registration import RegistrationMode
from service.persistence.database import asyncpg_dsn, hosts_of

REPEATED = "postgresql+asyncpg://u:p@/db?host=h1:5601&host=h2:5602&target_session_attrs=read-write"
COMMA = "postgresql+asyncpg://u:p@h1:5601,h2:5602/db?target_session_attrs=read-write"


@pytest.mark.parametrize("raw", [REPEATED, COMMA])
def test_several_database_hosts_in_either_form(raw: str) -> None:
    url = parse_database_url(raw)
    assert hosts_of(url) == ["h1:5601", "h2:5602"] and url.database == "db"
    assert asyncpg_dsn(url) == "postgresql://u:p@h1:5601,h2:5602/db?target_session_attrs=read-write"


def test_one_database_host_is_unchanged() -> None:
    url = parse_database_url("postgresql+asyncpg://u:p@h1:5601/db")
    assert hosts_of(url) == ["h1:5601"]
    assert asyncpg_dsn(url) == "postgresql://u:p@h1:5601/db"


def test_amqp_url_may_list_every_node() -> None:
    env = {"AMQP_URL": "amqp://g:g@n1:5672/,amqp://g:g@n2:5672/"}
    assert Settings.from_env(env).amqp_url == env["AMQP_URL"]
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"AMQP_URL": "amqp://g:g@n1:5672/,http://n2"})
    assert caught.value.variable == "AMQP_URL"


def test_the_report_of_a_bad_url_hides_its_password(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"AMQP_URL": "http://guest:s3cret-pass@rabbit:5672/"})
    assert report_startup_error(caught.value) == EXIT_CONFIG_ERROR
    reported = capsys.readouterr().err
    assert "AMQP_URL" in reported and "guest:[redacted]@rabbit" in reported
    assert "s3cret-pass" not in reported


@pytest.mark.parametrize(
    ("workers", "with_relay", "pool"), [(1, True, 20), (2, True, 18), (4, True, 8), (16, True, 1)]
)
def test_workers_share_the_connections_of_serve(workers: int, with_relay: bool, pool: int) -> None:
    assert api_pool_share(DEFAULT_DATABASE_CONNECTIONS, workers, with_relay) == pool
    assert workers * (pool + 1) + with_relay <= DEFAULT_DATABASE_CONNECTIONS


def test_more_workers_than_the_connections_serve_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError) as caught:
        api_pool_share(DEFAULT_DATABASE_CONNECTIONS, 20, with_relay=True)
    assert caught.value.variable == "DATABASE_CONNECTIONS"
    assert api_pool_share(DEFAULT_DATABASE_CONNECTIONS, 20, with_relay=False) == 1


@pytest.mark.parametrize("cores", [1, 2, 8, 16, 64, 256])
@pytest.mark.parametrize("with_relay", [True, False])
def test_the_default_workers_stay_within_the_budget_on_any_core_count(
    cores: int, with_relay: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: set(range(cores)))
    settings = Settings.from_env({})
    workers = default_workers(settings, with_relay)
    pool = api_pool_share(settings.database_connections, workers, with_relay)
    assert workers == min(cores, 19 if with_relay else 20)
    assert workers * (pool + 1) + with_relay <= DEFAULT_DATABASE_CONNECTIONS


def test_database_connections_is_a_positive_number() -> None:
    assert Settings.from_env({"DATABASE_CONNECTIONS": "12"}).database_connections == 12
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"DATABASE_CONNECTIONS": "0"})
    assert caught.value.variable == "DATABASE_CONNECTIONS"


def test_secret_key_is_required_only_when_asked_for_and_never_shown() -> None:
    with pytest.raises(ConfigError) as missing:
        Settings.from_env({}).require_secret_key()
    assert missing.value.variable == "SECRET_KEY" and "not set" in str(missing.value)
    secret = "a-secret-key-long-enough-for-the-service-0123"
    settings = Settings.from_env({"SECRET_KEY": secret})
    assert settings.require_secret_key() == secret
    assert secret not in repr(settings)
    with pytest.raises(ConfigError) as short:
        Settings.from_env({"SECRET_KEY": "short-secret"})
    assert short.value.variable == "SECRET_KEY" and "short-secret" not in str(short.value)


def test_id_token_lifetime_is_a_positive_number_of_seconds() -> None:
    assert Settings.from_env({}).id_token_lifetime == 3600
    assert Settings.from_env({"ID_TOKEN_LIFETIME_SECONDS": "600"}).id_token_lifetime == 600
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"ID_TOKEN_LIFETIME_SECONDS": "0"})
    assert caught.value.variable == "ID_TOKEN_LIFETIME_SECONDS"


def test_oauth_registration_is_off_unless_token_or_open() -> None:
    assert Settings.from_env({}).oauth_registration is RegistrationMode.OFF
    for mode in RegistrationMode:
        assert Settings.from_env({"OAUTH_REGISTRATION": mode.value}).oauth_registration is mode
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"OAUTH_REGISTRATION": "on"})
    assert caught.value.variable == "OAUTH_REGISTRATION" and "off, token, open" in str(caught.value)
