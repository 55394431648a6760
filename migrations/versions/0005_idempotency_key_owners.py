"""idempotency key owners: a reservation belongs to one request of one live process

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 22:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows of earlier versions have no owner: their reservations count as abandoned.
    op.add_column("idempotency_keys", sa.Column("owner", sa.Uuid(), nullable=True))
    op.add_column("idempotency_keys", sa.Column("owner_lock", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("idempotency_keys", "owner_lock")
    op.drop_column("idempotency_keys", "owner")
