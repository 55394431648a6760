"""scopes for existing grants; what ID tokens and userinfo need

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 19:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Before scopes, a token was the whole account: the chat API and userinfo.
EFFECTIVE_SCOPE = "openid profile email api"


def upgrade() -> None:
    for table in ("oauth_grants", "oauth_codes", "oauth_tokens"):
        op.execute(
            sa.text(f"UPDATE {table} SET scope = :scope WHERE scope IS NULL").bindparams(  # noqa: S608
                scope=EFFECTIVE_SCOPE
            )
        )
    # When the user last typed a password in the session a code or token came from
    # (the ID token's auth_time), and the nonce the client sent to authorize.
    op.add_column("web_sessions", sa.Column("authenticated_at", sa.DateTime(timezone=True)))
    op.add_column("oauth_codes", sa.Column("auth_time", sa.DateTime(timezone=True)))
    op.add_column("oauth_codes", sa.Column("nonce", sa.Text()))
    op.add_column("oauth_tokens", sa.Column("auth_time", sa.DateTime(timezone=True)))
    op.add_column(
        "users",
        sa.Column("email_verified", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("users", sa.Column("updated_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE users SET updated_at = created_at")
    op.alter_column("users", "updated_at", nullable=False, server_default=sa.text("now()"))


def downgrade() -> None:
    op.drop_column("users", "updated_at")
    op.drop_column("users", "email_verified")
    op.drop_column("oauth_tokens", "auth_time")
    op.drop_column("oauth_codes", "nonce")
    op.drop_column("oauth_codes", "auth_time")
    op.drop_column("web_sessions", "authenticated_at")
