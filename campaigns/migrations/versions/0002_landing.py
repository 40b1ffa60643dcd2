"""landing: authorization purposes (email, forget), event indexes for erasure

Revision ID: 0002_landing
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_landing"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("authorization_attempts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purpose", sa.String(length=16), server_default="presave", nullable=False)
        )
        batch_op.add_column(
            sa.Column("grant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.alter_column("campaign_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(
            batch_op.f("fk_authorization_attempts_grant_id_grants"),
            "grants",
            ["grant_id"],
            ["id"],
            ondelete="CASCADE",
        )
    with op.batch_alter_table("landing_events", schema=None) as batch_op:
        batch_op.create_index("ix_landing_events_grant_id", ["grant_id"], unique=False)
        batch_op.create_index("ix_landing_events_visitor_id", ["visitor_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("landing_events", schema=None) as batch_op:
        batch_op.drop_index("ix_landing_events_visitor_id")
        batch_op.drop_index("ix_landing_events_grant_id")
    op.execute("DELETE FROM authorization_attempts WHERE campaign_id IS NULL")
    with op.batch_alter_table("authorization_attempts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_authorization_attempts_grant_id_grants"), type_="foreignkey")
        batch_op.alter_column("campaign_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("grant_id")
        batch_op.drop_column("purpose")
