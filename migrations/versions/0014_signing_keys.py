"""signing keys of ID tokens, their private halves encrypted under SECRET_KEY

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)


# The first key is made by `oauth-apps migrate` after this (service/usecases/oauth2/keys.py),
# not here: making it needs SECRET_KEY, which a migration does not see.
def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=43), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("public_jwk", JSONB(), nullable=False),
        # AES-256-GCM: a 96-bit nonce, then the PKCS#8 key and its tag (kid authenticated).
        sa.Column("private_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("rotated_at", Timestamp, nullable=True),
        sa.Column("retire_after", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
        sa.CheckConstraint(
            "(rotated_at IS NULL) = (retire_after IS NULL)",
            name=op.f("ck_signing_keys_retires_once_rotated"),
        ),
    )
    # One current key: the one not rotated yet.
    op.create_index(
        "uq_signing_keys_current",
        "signing_keys",
        [sa.text("(true)")],
        unique=True,
        postgresql_where=sa.text("rotated_at IS NULL"),
    )
    # Every process holds the keys in memory: a rotation or a purge tells them to reload.
    op.execute(
        "CREATE TRIGGER signing_keys_auth_changed"
        " AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON signing_keys"
        " FOR EACH STATEMENT EXECUTE FUNCTION auth_changed_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER signing_keys_auth_changed ON signing_keys")
    op.drop_table("signing_keys")
