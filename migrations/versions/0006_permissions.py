"""permissions: a table of their own, access-permissions for admin, wider event subjects

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERMISSIONS = ("manage-oauth-apps", "api-bypass-rate-limit", "access-permissions")


def upgrade() -> None:
    permissions = op.create_table(
        "permissions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permissions")),
    )
    op.bulk_insert(permissions, [{"id": permission} for permission in PERMISSIONS])
    op.execute(
        "INSERT INTO role_permissions (role, permission) VALUES ('admin', 'access-permissions')"
        " ON CONFLICT DO NOTHING"
    )
    op.create_foreign_key(
        op.f("fk_role_permissions_permission_permissions"),
        "role_permissions",
        "permissions",
        ["permission"],
        ["id"],
        ondelete="CASCADE",
    )
    # Events and audit entries now also concern permissions, whose ids are longer.
    op.alter_column("outbox", "aggregate_id", type_=sa.String(length=64))
    op.alter_column("audit_log", "app_id", type_=sa.String(length=64))


def downgrade() -> None:
    op.alter_column("audit_log", "app_id", type_=sa.String(length=24))
    op.alter_column("outbox", "aggregate_id", type_=sa.String(length=24))
    op.drop_constraint(
        op.f("fk_role_permissions_permission_permissions"), "role_permissions", type_="foreignkey"
    )
    op.execute("DELETE FROM role_permissions WHERE permission = 'access-permissions'")
    op.drop_table("permissions")
