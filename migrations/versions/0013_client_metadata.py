"""every app carries its RFC 7591 client metadata

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The metadata beyond the name and the redirect URIs (which stay the app's own
# columns, as Rocket.Chat's bodies carry them). An existing app gets '{}': every
# field at its default, and `require_pkce` absent, so it keeps following OAUTH_PKCE.
# A constant default is stored in the catalogue, not written into each row, so this
# is instant on a large table.
def upgrade() -> None:
    op.add_column(
        "oauth_apps",
        sa.Column(
            "client_metadata",
            postgresql.JSONB(),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("oauth_apps", "client_metadata")
