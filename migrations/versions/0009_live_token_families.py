"""index only the live tokens of a refresh family

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Each rotation retires the family's live tokens. Indexing every token of a family
# made that walk grow with the chain (two tokens per refresh, kept until they
# expire); a used refresh token is now retired too, so a family has at most its
# current pair in this index.
def upgrade() -> None:
    op.execute(
        "UPDATE oauth_tokens SET revoked_at = used_at"
        " WHERE used_at IS NOT NULL AND revoked_at IS NULL"
    )
    op.drop_index(op.f("ix_oauth_tokens_family"), table_name="oauth_tokens")
    op.create_index(
        "ix_oauth_tokens_live_family",
        "oauth_tokens",
        ["family"],
        postgresql_where=sa.text("revoked_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_oauth_tokens_live_family", table_name="oauth_tokens")
    op.create_index(op.f("ix_oauth_tokens_family"), "oauth_tokens", ["family"])
