"""``oauth-apps migrate``: create the database when missing, then ``alembic upgrade head``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from service.config import ConfigError
from service.persistence.database import ensure_database

if TYPE_CHECKING:
    from alembic.config import Config

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def alembic_config_files() -> Config:
    """Alembic's configuration from the project's ``alembic.ini``, without a database."""
    from alembic.config import Config  # Alembic loads only where migrations are read

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["skip_logging_setup"] = True  # keep the service's JSON logging
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return config


def alembic_config(url: URL) -> Config:
    """Return Alembic's configuration for ``url``."""
    config = alembic_config_files()
    set_database_url(config, url)
    return config


def set_database_url(config: Config, url: URL) -> None:
    """Point ``config`` at ``url``."""
    # ConfigParser interpolates '%', which URL-encoded passwords contain.
    config.set_main_option(
        "sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%")
    )


def migrate(url: URL, *, create: bool = False) -> bool:
    """Bring the database to the newest schema; return whether the database was created.

    A missing database is created only when asked (``--create-database``): a mistyped
    name must not quietly become a second, empty system.
    """
    from alembic import command

    created = asyncio.run(ensure_database(url, create=create))
    # Alembic's async env.py runs its own event loop, so this stays synchronous.
    command.upgrade(alembic_config(url), "head")
    return created


# The revision this code needs. Kept here rather than read from migrations/ at start:
# reading it takes Alembic, 10 MB in every process of serve. A test holds it equal to
# the newest migration's.
SCHEMA_REVISION = "0015"


async def check_schema(engine: AsyncEngine) -> None:
    """Fail with a ``ConfigError`` unless the database is at the newest migration."""
    async with engine.connect() as connection:
        exists = await connection.scalar(text("SELECT to_regclass('alembic_version')"))
        current = (
            await connection.scalar(text("SELECT version_num FROM alembic_version"))
            if exists
            else None
        )
    if current != SCHEMA_REVISION:
        state = "has no schema" if current is None else f"is at revision {current}"
        raise ConfigError("DATABASE_URL", f"the database {state}: run `oauth-apps migrate` first")
