"""dynamic registration, secrets that overlap a rotation, resource indicators

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-10 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)
Hash = sa.String(length=44)


# Every new column is nullable without a default: catalogue-only, instant on a large table.
def upgrade() -> None:
    # A client registered by nobody in particular (open registration) has no user id.
    op.alter_column("oauth_apps", "created_by_id", existing_type=sa.String(17), nullable=True)
    op.alter_column("audit_log", "actor_id", existing_type=sa.String(17), nullable=True)
    # RFC 7592's registration access token, hashed; null for an app no client manages.
    op.add_column("oauth_apps", sa.Column("registration_token_hash", Hash, nullable=True))
    # The secret before the last rotation, accepted until then (rotateSecret's graceSeconds).
    op.add_column("oauth_apps", sa.Column("previous_secret_hash", Hash, nullable=True))
    op.add_column("oauth_apps", sa.Column("previous_secret_expires_at", Timestamp, nullable=True))
    op.create_index(
        "ix_oauth_apps_previous_secret_expires_at",
        "oauth_apps",
        ["previous_secret_expires_at"],
        postgresql_where=sa.text("previous_secret_expires_at IS NOT NULL"),
    )
    # RFC 7591's initial access tokens, hashed; `uses_left` null: as often as it lives.
    op.create_table(
        "registration_tokens",
        sa.Column("token_hash", Hash, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=True),
        sa.Column("uses_left", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_registration_tokens")),
        sa.CheckConstraint("uses_left >= 0", name=op.f("ck_registration_tokens_uses_left")),
    )
    op.create_index("ix_registration_tokens_expires_at", "registration_tokens", ["expires_at"])
    # RFC 8707: the resource a code and its tokens were issued for.
    op.add_column("oauth_codes", sa.Column("resource", sa.Text(), nullable=True))
    op.add_column("oauth_tokens", sa.Column("resource", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("oauth_tokens", "resource")
    op.drop_column("oauth_codes", "resource")
    op.drop_table("registration_tokens")
    op.drop_index("ix_oauth_apps_previous_secret_expires_at", table_name="oauth_apps")
    op.drop_column("oauth_apps", "previous_secret_expires_at")
    op.drop_column("oauth_apps", "previous_secret_hash")
    op.drop_column("oauth_apps", "registration_token_hash")
    for table, column in (("oauth_apps", "created_by_id"), ("audit_log", "actor_id")):
        op.execute(f"UPDATE {table} SET {column} = '' WHERE {column} IS NULL")  # noqa: S608
        op.alter_column(table, column, existing_type=sa.String(17), nullable=False)
