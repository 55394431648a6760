"""an exact app count without a scan; an index for purging processed-event marks

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# oauth-apps.list answers an exact total; count(*) over a million apps is a scan
# (~150 ms). Statement triggers keep the count in the statement that inserts or
# deletes, whoever runs it. The count is spread over slots chosen by backend, so
# concurrent writers (one group-commit connection per API worker) rarely wait on
# each other's row lock; the total is the sum of a handful of rows.
SLOTS = 16


def upgrade() -> None:
    op.create_table(
        "oauth_app_counts",
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("apps", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("slot", name=op.f("pk_oauth_app_counts")),
    )
    op.execute(
        f"""
        CREATE FUNCTION oauth_app_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            delta bigint;
        BEGIN
            IF TG_OP = 'INSERT' THEN
                SELECT count(*) INTO delta FROM new_rows;
            ELSE
                SELECT -count(*) INTO delta FROM old_rows;
            END IF;
            IF delta <> 0 THEN
                INSERT INTO oauth_app_counts (slot, apps)
                VALUES (pg_backend_pid() % {SLOTS}, delta)
                ON CONFLICT (slot) DO UPDATE SET apps = oauth_app_counts.apps + EXCLUDED.apps;
            END IF;
            RETURN NULL;
        END
        $$
        """  # noqa: S608 - SLOTS is a constant
    )
    op.execute(
        """
        CREATE FUNCTION oauth_app_counts_reset() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM oauth_app_counts;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER oauth_apps_count_inserted AFTER INSERT ON oauth_apps"
        " REFERENCING NEW TABLE AS new_rows"
        " FOR EACH STATEMENT EXECUTE FUNCTION oauth_app_counts_add()"
    )
    op.execute(
        "CREATE TRIGGER oauth_apps_count_deleted AFTER DELETE ON oauth_apps"
        " REFERENCING OLD TABLE AS old_rows"
        " FOR EACH STATEMENT EXECUTE FUNCTION oauth_app_counts_add()"
    )
    op.execute(
        "CREATE TRIGGER oauth_apps_count_truncated AFTER TRUNCATE ON oauth_apps"
        " FOR EACH STATEMENT EXECUTE FUNCTION oauth_app_counts_reset()"
    )
    # CREATE TRIGGER holds a lock that blocks inserts until this migration commits,
    # so no app slips between the triggers and this count.
    op.execute("INSERT INTO oauth_app_counts (slot, apps) SELECT 0, count(*) FROM oauth_apps")
    op.create_index(op.f("ix_processed_events_processed_at"), "processed_events", ["processed_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_processed_events_processed_at"), table_name="processed_events")
    for trigger in ("inserted", "deleted", "truncated"):
        op.execute(f"DROP TRIGGER oauth_apps_count_{trigger} ON oauth_apps")
    op.execute("DROP FUNCTION oauth_app_counts_reset()")
    op.execute("DROP FUNCTION oauth_app_counts_add()")
    op.drop_table("oauth_app_counts")
