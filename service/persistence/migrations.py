"""``oauth-apps migrate``: create the database when missing, then ``alembic upgrade head``."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL

from service.persistence.database import ensure_database

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def alembic_config(url: URL) -> Config:
    """Return Alembic's configuration for ``url``, from the project's ``alembic.ini``."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["skip_logging_setup"] = True  # keep the service's JSON logging
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    set_database_url(config, url)
    return config


def set_database_url(config: Config, url: URL) -> None:
    """Point ``config`` at ``url``."""
    # ConfigParser interpolates '%', which URL-encoded passwords contain.
    config.set_main_option(
        "sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%")
    )


def migrate(url: URL) -> bool:
    """Bring the database to the newest schema; return whether the database was created."""
    created = asyncio.run(ensure_database(url))
    # Alembic's async env.py runs its own event loop, so this stays synchronous.
    command.upgrade(alembic_config(url), "head")
    return created
