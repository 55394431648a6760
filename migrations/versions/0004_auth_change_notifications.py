"""auth change notifications

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 16:54:12.302595
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# API processes cache who a token belongs to; any change that could make a cached
# answer wrong (logout, expiry, deactivation, roles, permissions) tells them to forget.
AUTH_TABLES = {
    "login_tokens": "UPDATE OR DELETE OR TRUNCATE",  # a new token changes nothing cached
    "users": "UPDATE OR DELETE OR TRUNCATE",
    "user_roles": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
    "role_permissions": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
}


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION auth_changed_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('auth_changed', TG_TABLE_NAME);
            RETURN NULL;
        END
        $$
        """
    )
    for table, events in AUTH_TABLES.items():
        op.execute(
            f"CREATE TRIGGER {table}_auth_changed AFTER {events} ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION auth_changed_notify()"
        )


def downgrade() -> None:
    for table in AUTH_TABLES:
        op.execute(f"DROP TRIGGER {table}_auth_changed ON {table}")
    op.execute("DROP FUNCTION auth_changed_notify()")
