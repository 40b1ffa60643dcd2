"""grant merges: a grant folded into an earlier grant of the same account, and the grant it became

Revision ID: 0008_grant_merges
Revises: 0007_app_pacing
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_grant_merges"
down_revision = "0007_app_pacing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grant_merges",
        sa.Column("merged_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("into_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["into_id"], ["grants.id"], name=op.f("fk_grant_merges_into_id_grants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("merged_id", name=op.f("pk_grant_merges")),
    )
    op.create_index(op.f("ix_grant_merges_into_id"), "grant_merges", ["into_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_grant_merges_into_id"), table_name="grant_merges")
    op.drop_table("grant_merges")
