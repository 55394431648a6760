"""The schema revision the service checks for is the newest migration's."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from service.persistence.migrations import SCHEMA_REVISION, alembic_config_files


def test_the_service_expects_the_newest_migration() -> None:
    head = ScriptDirectory.from_config(alembic_config_files()).get_current_head()
    assert head == SCHEMA_REVISION
