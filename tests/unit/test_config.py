import pytest

from service.config import (
    EXIT_CONFIG_ERROR,
    ConfigError,
    Settings,
    parse_database_url,
    report_startup_error,
)
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
