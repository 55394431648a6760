"""grants, codes and tokens carry a scope; a grant's user may be absent

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SCOPED = ("oauth_grants", "oauth_codes", "oauth_tokens")


# A scope is a space-separated list (RFC 6749 section 3.3); NULL means "from before
# scopes were recorded". A machine client's grant (client_credentials) has no user.
# Adding a nullable column without a default rewrites nothing, so this is instant on
# a large table.
def upgrade() -> None:
    for table in _SCOPED:
        op.add_column(table, sa.Column("scope", sa.Text(), nullable=True))
    op.alter_column("oauth_grants", "user_id", existing_type=sa.String(17), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM oauth_grants WHERE user_id IS NULL")
    op.alter_column("oauth_grants", "user_id", existing_type=sa.String(17), nullable=False)
    for table in _SCOPED:
        op.drop_column(table, "scope")
